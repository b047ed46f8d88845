#include <muster/sim/generators.hpp>

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <sstream>
#include <string>

using namespace muster;
using namespace muster::sim;
using namespace std::chrono_literals;

namespace {

// Cases per property: each case simulates a few minutes of a small cluster, so a few cases keep
// the suite fast while the commit-derived seed explores new schedules on every commit.
constexpr int cases = 25;

// Checks a property with `cases` cases and the seed of RC_PARAMS, and reports rapidcheck's
// message (the shrunk case, its log and the seed) when it fails.
template <class Testable>
void check_property(const std::string& description, Testable&& testable) {
    auto params = rc::detail::configuration().testParams;
    params.maxSuccess = cases;
    rc::detail::TestMetadata metadata;
    metadata.id = description;
    metadata.description = description;
    const auto result = rc::detail::checkTestable(std::forward<Testable>(testable), metadata, params);
    std::ostringstream message;
    rc::detail::printResultMessage(result, message);
    INFO(message.str());
    CHECK(result.template is<rc::detail::SuccessResult>());
}

// What one generated run left behind, for the properties below.
struct outcome {
    scenario_result result;
    std::size_t members_max = 0;   ///< largest member view on a running node, connecting peers included
    std::size_t entries_max = 0;   ///< largest replica (live entries and tombstones) on a running node
};

outcome run(const generated_run& r) {
    return run_generated(r, [](const scenario_result& result, const scenario_runner& runner) {
        outcome o{result};
        for (const auto& n : runner.cluster().nodes()) {
            if (!n.machine) continue;
            const auto& m = n.machine->machine();
            o.members_max = std::max(o.members_max, m.members().peers().size());
            o.entries_max = std::max(o.entries_max, m.names_count());
        }
        return o;
    });
}

fault_kinds node_faults_only() {
    fault_kinds k;
    k.partition = false;
    k.loss = false;
    return k;
}

fault_kinds every_fault() {
    fault_kinds k;
    k.partition = true;
    k.loss = true;
    return k;
}

std::string first_failure(const scenario_result& r) {
    if (r.broken) return r.broken->invariant + ": " + r.broken->detail;
    return r.failures.empty() ? std::string("none") : r.failures.front();
}

}  // namespace

TEST_CASE("generated runs are valid scenario files", "[sim][property]") {
    check_property("every generated run parses", [] {
        const auto r = *gen::run(every_fault());
        const auto parsed = parse_scenario(to_scenario(r));
        RC_LOG() << to_scenario(r);
        RC_ASSERT(parsed.has_value());
    });
}

TEST_CASE("healthy network keeps every invariant", "[sim][property]") {
    check_property("node faults on a healthy network", [] {
        const auto r = *gen::run(node_faults_only());
        RC_LOG() << replay_text(r);
        const auto o = run(r);
        RC_LOG() << "first failure: " << first_failure(o.result) << "\n";
        RC_ASSERT(!o.result.broken.has_value());
        RC_ASSERT(o.result.exit_status() == 0);
    });
}

TEST_CASE("generated partitions converge after heal", "[sim][property]") {
    check_property("one instance per name and agreeing replicas after heal", [] {
        const auto r = *gen::run(every_fault());
        RC_LOG() << replay_text(r);
        const auto o = run(r);
        RC_LOG() << "first failure: " << first_failure(o.result) << "\n";
        RC_ASSERT(o.result.exit_status() == 0);
    });
}

TEST_CASE("every call gets reply in bounded time", "[sim][property]") {
    // A register or unregister call gets its reply by its request timeout. The bound adds one
    // failure timeout for a witness that fails meanwhile and one second of message latency.
    const registry_config defaults;
    const duration bound = defaults.request_timeout + defaults.failure_timeout + 1s;
    check_property("replies within the request timeout", [bound] {
        const auto r = *gen::run(every_fault());
        RC_LOG() << replay_text(r);
        const auto o = run(r);
        RC_LOG() << "longest wait " << std::chrono::duration<double>(o.result.reply_wait_max).count() << " s, "
                 << o.result.requests_unanswered << " calls unanswered\n";
        RC_ASSERT(o.result.requests_unanswered == 0U);
        RC_ASSERT(o.result.reply_wait_max <= bound);
    });
}

TEST_CASE("per-node metadata stays bounded", "[sim][property]") {
    check_property("members and replica entries bounded by nodes and names", [] {
        const auto r = *gen::run(every_fault());
        RC_LOG() << replay_text(r);
        const auto o = run(r);
        RC_LOG() << "members " << o.members_max << ", replica entries " << o.entries_max << "\n";
        RC_ASSERT(o.members_max <= r.nodes - 1);
        RC_ASSERT(o.entries_max <= names_registered(r));
    });
}

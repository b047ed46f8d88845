// Deliberately broken policies plugged into the suite's own runs, each of which must be caught,
// next to the shipped policies, which pass the same runs.

#include <muster/sim/scenario_runner.hpp>
#include <muster/sim/scenarios.hpp>

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

using namespace muster;
using namespace muster::sim;
using namespace std::chrono_literals;

namespace {

// The seeds the suite's rolling-deploy test runs first.
constexpr std::uint64_t seeds_first = 1;
constexpr std::uint64_t seeds_last = 3;

// A broken Discovery: it polls DNS like `dns_poll`, but a failed lookup gives an empty answer, so
// during an outage it proposes no peer at all.
class forgetful_dns {
public:
    forgetful_dns(std::string host, std::string basename, duration interval)
        : host_(std::move(host)), basename_(std::move(basename)), interval_(interval) {}

    duration poll_interval() const { return interval_; }
    discovery_poll poll(time_point) { return {{}, host_}; }
    std::vector<std::string> on_resolved(time_point, const resolve_result& result) {
        std::vector<std::string> names;
        if (result.error) return names;
        for (const auto& address : result.addresses) names.push_back(basename_ + "@" + address);
        return names;
    }

private:
    std::string host_;
    std::string basename_;
    duration interval_;
};

static_assert(discovery<forgetful_dns>);

// Runs a scenario file of tests/scenarios/ with its report discarded, optionally with another
// discovery model for its `discovery dns` nodes.
scenario_result run_file(const std::string& file, std::uint64_t seed, bool forgetful) {
    std::ifstream in(std::string(MUSTER_SCENARIO_DIR) + "/" + file);
    REQUIRE(in.good());
    std::ostringstream text;
    text << in.rdbuf();
    const auto parsed = parse_scenario(text.str());
    REQUIRE(parsed.has_value());
    scenario_run_options o;
    o.seed = seed;
    if (forgetful)
        o.dns_discovery = [](const std::string& host, const std::string& basename, duration interval) {
            return sim_discovery(forgetful_dns(host, basename, interval));
        };
    std::FILE* sink = std::tmpfile();
    REQUIRE(sink != nullptr);
    auto result = run_scenario(*parsed, o, sink);
    std::fclose(sink);
    return result;
}

rolling_deploy_options small_rollout(std::uint64_t seed) {
    rolling_deploy_options o;
    o.seed = seed;
    o.names = 200;
    return o;
}

}  // namespace

TEST_CASE("checker catches new owner starting early", "[sim]") {
    // The host reports a handoff stop at once but lets the old worker run 500 ms longer, so the
    // new owner starts while the old instance still runs.
    for (auto seed = seeds_first; seed <= seeds_last; ++seed) {
        auto o = small_rollout(seed);
        o.handoff_exit_lag = 500ms;
        const auto r = rolling_deploy(o);
        INFO("seed " << seed);
        REQUIRE(r.failure.has_value());
        CHECK(r.failure->invariant == "unique-instance");
    }
}

TEST_CASE("correct host passes same rollouts", "[sim]") {
    for (auto seed = seeds_first; seed <= seeds_last; ++seed) {
        const auto r = rolling_deploy(small_rollout(seed));
        INFO("seed " << seed << ": " << (r.failure ? r.failure->detail : std::string("ok")));
        CHECK(r.ok());
        CHECK(r.protocol.handoffs_accepted > 0);
    }
}

TEST_CASE("scenario catches discovery forgetting peers", "[sim]") {
    for (auto seed = seeds_first; seed <= seeds_last; ++seed) {
        const auto r = run_file("restart_during_dns_outage.scenario", seed, true);
        INFO("seed " << seed);
        CHECK(r.exit_status() == 1);
        REQUIRE_FALSE(r.failures.empty());
        CHECK(r.failures.front().find("expect node c members == 2") != std::string::npos);
    }
}

TEST_CASE("dns_poll passes restart during outage", "[sim]") {
    for (auto seed = seeds_first; seed <= seeds_last; ++seed) {
        const auto r = run_file("restart_during_dns_outage.scenario", seed, false);
        INFO("seed " << seed << ": " << (r.failures.empty() ? std::string("ok") : r.failures.front()));
        CHECK(r.exit_status() == 0);
    }
}

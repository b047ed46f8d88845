#include <muster/sim/scenario_runner.hpp>

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include "support/scenario_run.hpp"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

using namespace muster;
using namespace muster::sim;

namespace {

// Runs a scenario text with its report discarded.
scenario_result run_text(const std::string& text, std::uint64_t seed = 1) {
    return muster::testing::run_scenario_text(text, seed);
}

}  // namespace

TEST_CASE("scenario runner passes true expectations", "[sim]") {
    const auto r = run_text(
        "nodes a b c\n"
        "at 2s register w on a\n"
        "at 3s expect w instances == 1\n"
        "at 3s expect whereis w on b returns instance\n"
        "at 3s expect events register-ok == 1\n"
        "at 3s expect node a members == 2\n"
        "expect read-your-writes\n"
        "expect w acknowledged\n");
    INFO((r.failures.empty() ? std::string("no failures") : r.failures.front()));
    CHECK(r.exit_status() == 0);
    CHECK(r.expectations_passed == 6);
    CHECK(r.failures.empty());
}

TEST_CASE("scenario runner reports false expectation", "[sim]") {
    const auto r = run_text("nodes a b\nat 2s register w on a\nat 3s expect w instances == 2\nat 4s expect w instances == 1\n");
    CHECK(r.exit_status() == 1);
    CHECK(r.expectations_passed == 1);
    REQUIRE(r.failures.size() == 1);
    CHECK_THAT(r.failures.front(), Catch::Contains("line 3"));
    CHECK_THAT(r.failures.front(), Catch::Contains("got 1, expected == 2"));
}

TEST_CASE("scenario runner moves names on crash", "[sim]") {
    const auto r = run_text(
        "nodes a b c\n"
        "handoff restart\n"
        "at 2s register-many 20 w- over 100ms\n"
        "at 10s crash b reset\n"
        "at 20s expect w-* instances == 1\n"
        "at 20s expect node b crashed\n"
        "at 30s restart b\n"
        "at 40s expect node b running\n"
        "expect w-* instances == 1\n");
    INFO((r.failures.empty() ? std::string("no failures") : r.failures.front()));
    CHECK(r.exit_status() == 0);
}

TEST_CASE("scenario runner rejects unknown pod", "[sim]") {
    const auto r = run_text("deployment 3\nat 20s crash app@10.0.9.9\n");
    CHECK(r.exit_status() == 2);
    REQUIRE(r.invalid.has_value());
    CHECK_THAT(*r.invalid, Catch::Contains("no pod named app@10.0.9.9"));
}

TEST_CASE("scenario runner repeats seed exactly", "[sim]") {
    const std::string text =
        "discovery dns\nnodes 5\nloss 0.01\nat 0s dns partial 2\nat 3s register-many 50 w- over 1s\n"
        "at 10s partition n1 n2 | n3 n4 n5\nat 20s heal\nend 60s\n";
    const auto a = run_text(text, 5);
    const auto b = run_text(text, 5);
    const auto c = run_text(text, 6);
    CHECK(a.trace_hash == b.trace_hash);
    CHECK(a.trace_hash != c.trace_hash);
}

TEST_CASE("scenario runner survives random steps", "[sim][property]") {
    // Random but valid files: every step kind on random nodes at random times.
    static const std::vector<std::string> steps{
        "crash a", "crash b reset", "stop c grace 2s", "start a", "start b", "restart c", "partition a | b c",
        "cut a -> b", "heal", "link loss 0.2", "link loss 0", "link latency 1ms 20ms", "dns fail", "dns ok",
        "dns partial 1", "dns remove b", "dns add b", "register w on a", "register t on b transient",
        "register-many 5 x- on c owned-by a over 100ms", "unregister w", "whereis w on c", "exit t normal",
        "exit w crashed", "expect w instances <= 1", "expect converged", "expect node a members >= 0",
        "expect events member-failed by a >= 0"};
    rc::prop("every run ends with a defined status", [] {
        const auto picks = *rc::gen::container<std::vector<std::pair<std::size_t, std::uint32_t>>>(
            rc::gen::pair(rc::gen::inRange<std::size_t>(0, steps.size()), rc::gen::inRange<std::uint32_t>(0, 30'000)));
        auto times = picks;
        std::sort(times.begin(), times.end(), [](const auto& x, const auto& y) { return x.second < y.second; });
        std::string text = "discovery dns\nnodes a b c\nhandoff restart\n";
        for (const auto& [step, ms] : times) text += "at " + std::to_string(ms) + "ms " + steps[step] + "\n";
        const auto parsed = parse_scenario(text);
        RC_ASSERT(parsed.has_value());
        std::FILE* sink = std::tmpfile();
        RC_ASSERT(sink != nullptr);
        const auto r = run_scenario(*parsed, scenario_run_options{*rc::gen::inRange<std::uint64_t>(1, 1000), false, {}, {}}, sink);
        std::fclose(sink);
        RC_ASSERT(r.exit_status() >= 0);
        RC_ASSERT(r.exit_status() <= 1);
    });
}

#include <muster/sim/scenario_export.hpp>

#include <muster/sim/scenario_runner.hpp>

#include <catch2/catch.hpp>

#include "support/scenario_run.hpp"

#include <cmath>
#include <cstdio>
#include <string>

using namespace muster;
using namespace muster::sim;
using namespace std::chrono_literals;

namespace {

scenario_result run_exported(const exported_scenario& e, std::uint64_t seed) {
    return muster::testing::run_scenario_text(e.text, seed);
}

}  // namespace

TEST_CASE("exported netsplit replays exactly", "[sim]") {
    for (const bool one_way : {false, true}) {
        netsplit_options o;
        o.seed = 11;
        o.nodes = 5;
        o.names = 200;
        o.one_way = one_way;
        o.link.loss = 0.01;
        const auto report = netsplit(o);
        const auto e = export_netsplit(o);
        CHECK(e.exact);
        const auto replay = run_exported(e, o.seed);
        INFO(e.text);
        CHECK(replay.trace_hash == report.trace_hash);
        CHECK(replay.exit_status() == (report.ok() ? 0 : 1));
    }
}

TEST_CASE("exported rolling deploy replays exactly", "[sim]") {
    for (const double loss : {0.0, 0.02}) {
        rolling_deploy_options o;
        o.seed = 3;
        o.nodes = 4;
        o.names = 100;
        o.link.loss = loss;
        const auto report = rolling_deploy(o);
        REQUIRE(report.ok());
        REQUIRE(report.quiet_from);
        const auto e = export_rolling_deploy(o, time_point{} + report.simulated, report.quiet_from);
        CHECK(e.exact);
        // The run ends loss when its quiet period begins, and so does the file.
        CHECK((e.text.find("link loss 0\n") != std::string::npos) == (loss > 0));
        const auto replay = run_exported(e, o.seed);
        INFO(e.text);
        CHECK(replay.trace_hash == report.trace_hash);
        CHECK(replay.exit_status() == 0);
    }
}

TEST_CASE("exported churn repeats faults", "[sim]") {
    churn_options o;
    o.seed = 4;
    o.nodes = 5;
    o.names = 100;
    o.names_during = 20;
    o.unregister_during = 10;
    o.churn_for = 40s;
    std::vector<std::pair<time_point, std::string>> faults;
    o.on_fault = [&faults](time_point at, const std::string& step) { faults.emplace_back(at, step); };
    const auto report = churn(o);
    REQUIRE(report.ok());
    REQUIRE_FALSE(faults.empty());
    const auto e = export_churn(o, faults, time_point{} + report.simulated);
    CHECK_FALSE(e.exact);
    // Each removal is a step of the file too, naming the node it went through.
    CHECK(e.text.find("unregister worker-000000 on node-") != std::string::npos);
    const auto replay = run_exported(e, o.seed);
    INFO(e.text);
    CHECK(replay.exit_status() == 0);
}

TEST_CASE("exported probabilities parse back", "[sim]") {
    // Soak runs draw fault rates such as 0.0403319171, with ten digits after the point.
    for (const double p : {0.0403319171, 0.05, 0.0, 1.0, 1e-10, 0.123456789123, 0.9999999999}) {
        const std::string text = sim::detail::decimal_text(p);
        INFO(p << " written as " << text);
        const auto parsed = sim::detail::parse_probability(text);
        REQUIRE(parsed);
        CHECK(std::abs(*parsed - p) <= 5e-10);
    }
}

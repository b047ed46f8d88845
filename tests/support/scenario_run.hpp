#pragma once
// Runs a scenario text for a test, with its printed report discarded.

#include <muster/sim/scenario_runner.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <string>

namespace muster::testing {

inline muster::sim::scenario_result run_scenario_text(const std::string& text, std::uint64_t seed = 1) {
    const auto parsed = muster::sim::parse_scenario(text);
    INFO(text);
    INFO((parsed ? std::string("parsed") : parsed.error().message));
    REQUIRE(parsed.has_value());
    std::FILE* sink = std::tmpfile();
    REQUIRE(sink != nullptr);
    muster::sim::scenario_run_options o;
    o.seed = seed;
    auto result = muster::sim::run_scenario(*parsed, o, sink);
    std::fclose(sink);
    return result;
}

}  // namespace muster::testing

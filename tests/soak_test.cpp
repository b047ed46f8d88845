#include <muster/sim/soak.hpp>

#include <catch2/catch.hpp>

using namespace muster;
using namespace muster::sim;

TEST_CASE("soak plan depends only on seed", "[sim]") {
    for (std::uint64_t seed = 1; seed <= 50; ++seed) {
        const auto a = plan_soak_run(seed);
        const auto b = plan_soak_run(seed);
        CHECK(a.kind == b.kind);
        CHECK(a.common().seed == seed);
        CHECK(a.common().nodes == b.common().nodes);
        CHECK(a.common().names == b.common().names);
        CHECK(a.common().link.loss == b.common().link.loss);
        CHECK(a.common().link.duplicate == b.common().link.duplicate);
        CHECK(a.common().link.reorder == b.common().link.reorder);
    }
}

TEST_CASE("soak plans switch fault kinds on and off", "[sim]") {
    // Over 200 seeds, swarm testing must give runs with each fault kind off, runs with it on, and
    // every scenario, handoff policy and placement model.
    soak_totals totals;
    std::uint64_t no_faults = 0;
    std::uint64_t all_faults = 0;
    std::array<std::uint64_t, placement_kinds.size()> placements{};
    for (std::uint64_t seed = 1; seed <= 200; ++seed) {
        const auto p = plan_soak_run(seed);
        totals.add(p, run_report{});
        no_faults += !p.loss && !p.duplicate && !p.reorder ? 1 : 0;
        all_faults += p.loss && p.duplicate && p.reorder ? 1 : 0;
        CHECK((p.common().link.loss > 0) == p.loss);
        CHECK((p.common().link.duplicate > 0) == p.duplicate);
        CHECK((p.common().link.reorder > 0) == p.reorder);
        CHECK(p.common().nodes >= 3);
        CHECK(p.common().nodes <= 7);
        for (std::size_t k = 0; k < placement_kinds.size(); ++k)
            if (placement_kinds[k].first == p.common().placement.kind) ++placements[k];
    }
    CHECK(totals.runs == 200);
    for (const auto count : totals.runs_by_kind) CHECK(count > 0);
    for (const auto count : totals.runs_by_handoff) CHECK(count > 0);
    for (const auto count : placements) CHECK(count > 0);
    CHECK(totals.runs_with_loss > 0);
    CHECK(totals.runs_with_loss < 200);
    CHECK(totals.runs_with_duplicate > 0);
    CHECK(totals.runs_with_duplicate < 200);
    CHECK(totals.runs_with_reorder > 0);
    CHECK(totals.runs_with_reorder < 200);
    CHECK(no_faults > 0);
    CHECK(all_faults > 0);
}

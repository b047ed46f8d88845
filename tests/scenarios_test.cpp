#include <muster/sim/scenarios.hpp>

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <string>

using namespace muster;
using namespace muster::sim;
using namespace std::chrono_literals;

namespace {

// Prints the failure and the command that replays it, so a red test explains itself.
std::string explain(const run_report& r) {
    if (r.ok()) return "invariants held";
    std::string text = r.failure->invariant + ": " + r.failure->detail + "\nreplay: muster-sim " + r.scenario +
                       " --seed " + std::to_string(r.seed) + " --handoff " + r.handoff;
    for (const auto& line : r.trace) text += "\n  " + line;
    return text;
}

handoff_choice::mode pick_mode(int m) {
    if (m == 0) return handoff_choice::mode::restart;
    if (m == 1) return handoff_choice::mode::resume;
    return handoff_choice::mode::ignore;
}

// A deliberately broken Handoff policy: every holder declares itself the conflict winner, so
// two instances that meet after a netsplit both keep running. Workers do not move on topology
// changes, so no handoff removes the duplicate either.
struct selfish_handoff {
    bool moves_on_topology_change() const { return false; }
    bool transfers_state() const { return false; }
    int pick_conflict_winner(std::string_view, const conflict_claim&, const conflict_claim&,
                             std::optional<std::string_view>) const {
        return 0;
    }
};

}  // namespace

TEST_CASE("rolling deploy keeps every invariant", "[sim]") {
    for (std::uint64_t seed = 1; seed <= 10; ++seed) {
        rolling_deploy_options o;
        o.seed = seed;
        const auto r = rolling_deploy(o);
        INFO("seed " << seed << ": " << explain(r));
        CHECK(r.ok());
        CHECK(r.acknowledged == 1000);
        CHECK(r.rollout.has_value());
        CHECK(r.unavailable_max < 5s);
    }
}

TEST_CASE("rolling deploy resumes state", "[sim]") {
    rolling_deploy_options o;
    o.names = 200;
    o.deep_checks = true;
    const auto r = rolling_deploy(o);
    INFO(explain(r));
    REQUIRE(r.ok());
    CHECK(r.protocol.handoffs_accepted > 0);
    CHECK(r.moves_mean > 0.5);
}

TEST_CASE("same seed gives same trace hash", "[sim]") {
    churn_options o;
    o.seed = 7;
    o.names = 300;
    const auto a = churn(o);
    const auto b = churn(o);
    CHECK(a.trace_hash == b.trace_hash);
    CHECK(a.events == b.events);
    o.seed = 8;
    const auto c = churn(o);
    CHECK(c.trace_hash != a.trace_hash);
}

TEST_CASE("kubernetes rollout rounds limits", "[sim]") {
    cluster<hash_ring, resume> c(cluster_config{}, hash_ring(), resume{});
    deployment<cluster<hash_ring, resume>> d(c, deployment_config{});
    CHECK(d.max_surge() == 3);
    CHECK(d.max_unavailable() == 2);
    d.deploy();
    c.run_until(time_point{} + 20s);
    CHECK(d.serving_slots().size() == 10);
    d.start_rollout();
    c.run_until(time_point{} + 5min);
    REQUIRE(d.rollout_done().has_value());
    CHECK(d.pods().size() == 20);
    CHECK(d.serving_slots().size() == 10);
    CHECK_FALSE(c.failure().has_value());
}

TEST_CASE("checker catches selfish conflict policy", "[sim]") {
    // The suite must be able to fail: with a policy that never yields, the final check after a
    // netsplit finds two instances of some name.
    cluster_config cc;
    cc.seed = 3;
    cc.check_placement = false;
    cluster<hash_ring, selfish_handoff> c(cc, hash_ring(), selfish_handoff{});
    const auto names = muster::sim::detail::static_names(4);
    std::vector<std::uint32_t> slots;
    for (const auto& n : names)
        slots.push_back(c.add_node(n, [names] { return sim_discovery(static_list(names, 5s)); }, time_point{}));
    c.run_until(time_point{} + 10s);
    for (int i = 0; i < 50; ++i) {
        std::string name = "w";  // appended, not `"w" + ...`, which trips a GCC 12 -Wrestrict false positive
        name += std::to_string(i);
        c.register_name(slots[i % 4], name, worker_spec{"counter"});
    }
    c.run_until(time_point{} + 15s);
    c.net().partition({{names[0], names[1]}, {names[2], names[3]}});
    c.note_network_fault();
    c.run_until(time_point{} + 40s);
    c.net().heal();
    c.note_network_fault();
    c.run_until(time_point{} + 100s);
    const auto v = c.check_converged();
    REQUIRE(v.has_value());
    CHECK(v->invariant == "converged-unique");
}

TEST_CASE("churn keeps invariants on healthy network", "[sim][property]") {
    rc::prop("random churn schedules", [] {
        churn_options o;
        o.seed = *rc::gen::arbitrary<std::uint64_t>();
        o.nodes = *rc::gen::inRange<std::uint32_t>(3, 9);
        o.names = *rc::gen::inRange<std::uint32_t>(1, 300);
        o.names_during = *rc::gen::inRange<std::uint32_t>(0, 50);
        o.handoff.m = pick_mode(*rc::gen::inRange(0, 3));
        o.crash_share = *rc::gen::inRange(0, 101) / 100.0;
        o.churn_for = std::chrono::seconds(*rc::gen::inRange(5, 90));
        o.churn_interval_min = std::chrono::milliseconds(*rc::gen::inRange(200, 3000));
        o.churn_interval_max = o.churn_interval_min + std::chrono::milliseconds(*rc::gen::inRange(0, 8000));
        const auto r = churn(o);
        RC_LOG() << "nodes " << o.nodes << ", names " << o.names << " + " << o.names_during << " during churn, crash share "
                 << o.crash_share << ", churn " << std::chrono::duration<double>(o.churn_for).count() << " s, interval "
                 << std::chrono::duration<double>(o.churn_interval_min).count() << "-"
                 << std::chrono::duration<double>(o.churn_interval_max).count() << " s\n"
                 << explain(r);
        RC_ASSERT(r.ok());
    });
}

TEST_CASE("partitions converge after heal", "[sim][property]") {
    rc::prop("random netsplits and one-way cuts", [] {
        netsplit_options o;
        o.seed = *rc::gen::arbitrary<std::uint64_t>();
        o.nodes = *rc::gen::inRange<std::uint32_t>(2, 9);
        o.names = *rc::gen::inRange<std::uint32_t>(1, 300);
        o.handoff.m = pick_mode(*rc::gen::inRange(0, 3));
        o.one_way = *rc::gen::arbitrary<bool>();
        o.split_for = std::chrono::milliseconds(*rc::gen::inRange(100, 60000));
        o.link.loss = *rc::gen::inRange(0, 6) / 100.0;
        o.link.duplicate = *rc::gen::inRange(0, 6) / 100.0;
        o.link.reorder = *rc::gen::inRange(0, 11) / 100.0;
        const auto r = netsplit(o);
        RC_LOG() << explain(r);
        RC_ASSERT(r.ok());
    });
}

TEST_CASE("same seed same hash property", "[sim][property]") {
    rc::prop("rolling deploy is deterministic", [] {
        rolling_deploy_options o;
        o.seed = *rc::gen::arbitrary<std::uint64_t>();
        o.nodes = *rc::gen::inRange<std::uint32_t>(2, 8);
        o.names = *rc::gen::inRange<std::uint32_t>(0, 200);
        const auto a = rolling_deploy(o);
        const auto b = rolling_deploy(o);
        RC_ASSERT(a.trace_hash == b.trace_hash);
        RC_ASSERT(a.ok());
    });
}

#include <muster/sim/scenarios.hpp>

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <map>
#include <string>
#include <vector>

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

// Adds one node per name, booting at time zero, that finds the others through a static list.
template <class Cluster>
std::vector<std::uint32_t> add_static_nodes(Cluster& c, const std::vector<std::string>& names) {
    std::vector<std::uint32_t> slots;
    for (const auto& n : names)
        slots.push_back(c.add_node(n, [names] { return sim_discovery(static_list(names, 5s)); }, time_point{}));
    return slots;
}

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
    const auto slots = add_static_nodes(c, names);
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
        o.unregister_during = *rc::gen::inRange<std::uint32_t>(0, o.names / 3 + 1);
        o.handoff.m = pick_mode(*rc::gen::inRange(0, 3));
        o.crash_share = *rc::gen::inRange(0, 101) / 100.0;
        o.churn_for = std::chrono::seconds(*rc::gen::inRange(5, 90));
        o.churn_interval_min = std::chrono::milliseconds(*rc::gen::inRange(200, 3000));
        o.churn_interval_max = o.churn_interval_min + std::chrono::milliseconds(*rc::gen::inRange(0, 8000));
        const auto r = churn(o);
        RC_LOG() << "nodes " << o.nodes << ", names " << o.names << " + " << o.names_during << " during churn, "
                 << o.unregister_during << " removed, crash share "
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
        // Loss ends when the quiet period begins, so the split may have heavy loss.
        o.link.loss = *rc::gen::inRange(0, 31) / 100.0;
        o.link.duplicate = *rc::gen::inRange(0, 6) / 100.0;
        o.link.reorder = *rc::gen::inRange(0, 11) / 100.0;
        const auto r = netsplit(o);
        RC_LOG() << explain(r);
        RC_ASSERT(r.ok());
    });
}

TEST_CASE("ready-made runs end loss before quiet", "[sim]") {
    // With 15% loss kept through the quiet period, lost heartbeats made a member declare a live
    // one failed 2 s before the final check of this run, which then found a name running twice.
    netsplit_options o;
    o.seed = 22;
    o.link.loss = 0.15;
    const auto r = netsplit(o);
    INFO(explain(r));
    CHECK(r.ok());
    REQUIRE(r.quiet_from);
    CHECK(*r.quiet_from == o.split_at + o.split_for);
    CHECK(r.acknowledged < o.names);  // loss made some registrations fail
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

TEST_CASE("every placement model keeps the invariants through a rolling deploy", "[sim]") {
    for (const auto& [kind, spelling] : placement_kinds) {
        for (std::uint64_t seed = 1; seed <= 2; ++seed) {
            rolling_deploy_options o;
            o.seed = seed;
            o.placement.kind = kind;
            o.placement.quorum = 6;
            const auto r = rolling_deploy(o);
            INFO(spelling << " seed " << seed << ": " << explain(r));
            CHECK(r.ok());
            CHECK(r.acknowledged == 1000);
        }
    }
}

TEST_CASE("every placement model keeps the invariants through churn and a netsplit", "[sim]") {
    // Churn seed 2 once made two nodes restart the same orphan under rollout-aware placement,
    // and netsplits left two instances: both came from decisions taken on replica-dependent
    // owners, which now come from the view alone.
    for (const auto& [kind, spelling] : placement_kinds) {
        for (std::uint64_t seed = 1; seed <= 3; ++seed) {
            churn_options c;
            c.seed = seed;
            c.placement.kind = kind;
            c.placement.quorum = 5;
            const auto churned = churn(c);
            INFO(spelling << " churn seed " << seed << ": " << explain(churned));
            CHECK(churned.ok());

            netsplit_options n;
            n.seed = seed;
            n.placement.kind = kind;
            n.placement.quorum = 4;
            const auto split = netsplit(n);
            INFO(spelling << " netsplit seed " << seed << ": " << explain(split));
            CHECK(split.ok());
        }
    }
}

TEST_CASE("rollout-aware placement moves each name about once, never onto an old pod", "[sim]") {
    for (const bool one_at_a_time : {false, true}) {
        for (std::uint64_t seed = 1; seed <= 3; ++seed) {
            rolling_deploy_options o;
            o.seed = seed;
            o.names = 2000;
            if (one_at_a_time) {
                o.deployment.max_surge = rollout_limit{1, false};
                o.deployment.max_unavailable = rollout_limit{0, false};
            }
            o.placement.kind = placement_kind::rollout_aware;
            const auto aware = rolling_deploy(o);
            INFO("seed " << seed << (one_at_a_time ? ", one at a time: " : ", 25%/25%: ") << explain(aware));
            REQUIRE(aware.ok());
            CHECK(aware.moves_mean <= 1.05);
            CHECK(aware.moves_into_old == 0);

            // The plain ring, on the same rollout, moves names onto old pods: the check can fail.
            o.placement.kind = placement_kind::ring;
            const auto ring = rolling_deploy(o);
            REQUIRE(ring.ok());
            CHECK(ring.moves_into_old > 0);
            CHECK(ring.moves_mean > aware.moves_mean);
        }
    }
}

namespace {

// Splits five nodes 2 | 3 for 20 s and returns the workers the minority side runs at the end of
// the split, with the report after the heal.
std::pair<std::size_t, run_report> minority_workers(placement_kind kind) {
    run_options o;
    o.seed = 4;
    o.nodes = 5;
    o.names = 200;
    o.placement.kind = kind;
    o.placement.quorum = 3;
    sim_cluster c(muster::sim::detail::make_cluster_config(o), placement_choice(o.placement), o.handoff);
    const auto slots = muster::sim::detail::boot_static(c, o.nodes, 5s);
    c.run_until(time_point{} + 10s);
    muster::sim::detail::register_names(c, slots, o.names, "worker-", c.now(), 1s);
    c.run_until(time_point{} + 20s);
    const auto names = muster::sim::detail::static_names(o.nodes);
    c.net().partition({{names[0], names[1]}, {names[2], names[3], names[4]}});
    c.note_network_fault();
    c.run_until(c.now() + 20s);
    const std::size_t minority = c.nodes()[slots[0]].workers.size() + c.nodes()[slots[1]].workers.size();
    c.net().heal();
    c.note_network_fault();
    c.run_until(c.now() + 60s);
    return {minority, muster::sim::detail::finish(c, o, "netsplit", true)};
}

}  // namespace

TEST_CASE("quorum placement stops the minority side's workers during a split", "[sim]") {
    const auto [quorum_minority, quorum_report] = minority_workers(placement_kind::quorum);
    INFO(explain(quorum_report));
    CHECK(quorum_minority == 0);
    CHECK(quorum_report.ok());
    CHECK(quorum_report.protocol.workers_suspended > 0);

    // Without a quorum the minority keeps its workers: the check above can fail.
    const auto [ring_minority, ring_report] = minority_workers(placement_kind::ring);
    CHECK(ring_minority > 0);
    CHECK(ring_report.ok());
}

TEST_CASE("orphans restart at failure detection", "[sim]") {
    // A crashed node's names restart on the survivors as soon as they declare it failed, not
    // `rebalance_delay` later, and a leave queued earlier does not hold that up.
    cluster_config cc;
    cc.seed = 5;
    cc.node_defaults.rebalance_delay = 500ms;
    sim_cluster c(cc, placement_choice(), handoff_choice{});
    const auto names = muster::sim::detail::static_names(4);
    const auto slots = add_static_nodes(c, names);
    c.run_until(time_point{} + 10s);
    for (int i = 0; i < 200; ++i) {
        std::string name = "w";
        name += std::to_string(i);
        REQUIRE(c.register_name(slots[i % 4], name, worker_spec{"counter"}).has_value());
    }
    c.run_until(time_point{} + 15s);

    std::map<std::uint32_t, time_point> failed_at;  // per survivor
    std::map<std::uint32_t, time_point> last_start;
    c.observe_effects([&](std::uint32_t slot, const effect& e) {
        if (std::holds_alternative<member_failed>(e)) failed_at.emplace(slot, c.now());
        if (std::holds_alternative<start_worker_effect>(e)) last_start[slot] = c.now();
    });
    c.terminate(slots[0], 30s);  // a graceful leave, queued one heartbeat later
    c.run_until(time_point{} + 15s + 100ms);
    c.crash(slots[3], true);  // connections reset: detected at once, between heartbeats
    c.run_until(time_point{} + 30s);

    REQUIRE(failed_at.size() == 2);
    for (const auto& [slot, at] : failed_at) {
        INFO("survivor " << names[slot]);
        REQUIRE(last_start.contains(slot));
        REQUIRE(last_start.at(slot) >= at);
        REQUIRE(last_start.at(slot) - at < cc.node_defaults.rebalance_delay);
    }
    REQUIRE_FALSE(c.check_converged().has_value());
}

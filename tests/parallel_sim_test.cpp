// The simulator with several threads must give exactly the run one thread gives: the same
// trace hash, counters and report, and the same violation when one happens.

#include <muster/sim/scenarios.hpp>
#include <muster/sim/worker_pool.hpp>

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

using namespace muster;
using namespace muster::sim;
using namespace std::chrono_literals;

namespace {

std::string describe(const run_report& r) {
    std::string text = r.scenario + " seed " + std::to_string(r.seed) + " trace " + std::to_string(r.trace_hash) +
                       " events " + std::to_string(r.events) + " messages " + std::to_string(r.messages);
    if (r.failure) text += " violation " + r.failure->invariant + ": " + r.failure->detail;
    return text;
}

void require_same(const run_report& single, const run_report& threaded) {
    INFO("one thread: " << describe(single));
    INFO("threads:    " << describe(threaded));
    REQUIRE(single.trace_hash == threaded.trace_hash);
    REQUIRE(single.events == threaded.events);
    REQUIRE(single.messages == threaded.messages);
    REQUIRE(single.messages_by_kind == threaded.messages_by_kind);
    REQUIRE(single.acknowledged == threaded.acknowledged);
    REQUIRE(single.moves_mean == threaded.moves_mean);
    REQUIRE(single.moves_max == threaded.moves_max);
    REQUIRE(single.unavailable_max == threaded.unavailable_max);
    REQUIRE(single.convergence == threaded.convergence);
    REQUIRE(single.protocol.handoffs_accepted == threaded.protocol.handoffs_accepted);
    REQUIRE(single.failure.has_value() == threaded.failure.has_value());
    if (single.failure) {
        REQUIRE(single.failure->invariant == threaded.failure->invariant);
        REQUIRE(single.failure->detail == threaded.failure->detail);
        REQUIRE(single.failure->at == threaded.failure->at);
        REQUIRE(single.trace == threaded.trace);
    }
}

template <class Options, class Run>
void compare_threads(Options o, Run run, std::initializer_list<unsigned> counts = {2, 3}) {
    o.threads = 1;
    const auto single = run(o);
    for (const unsigned t : counts) {
        o.threads = t;
        require_same(single, run(o));
    }
}

}  // namespace

TEST_CASE("rolling deploy on threads matches", "[sim][threads]") {
    rolling_deploy_options o;
    o.nodes = 12;
    o.names = 600;
    SECTION("ring, resume") { compare_threads(o, rolling_deploy); }
    SECTION("rollout-aware, restart, one pod at a time") {
        o.placement.kind = placement_kind::rollout_aware;
        o.handoff.m = handoff_choice::mode::restart;
        o.deployment.max_surge = rollout_limit{1, false};
        o.deployment.max_unavailable = rollout_limit{0, false};
        compare_threads(o, rolling_deploy);
    }
    SECTION("lossy, duplicating, reordering links with deep checks") {
        o.link.loss = 0.02;
        o.link.duplicate = 0.05;
        o.link.reorder = 0.1;
        o.deep_checks = true;
        compare_threads(o, rolling_deploy);
    }
}

TEST_CASE("churn and netsplit on threads match", "[sim][threads]") {
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
        churn_options c;
        c.seed = seed;
        c.nodes = 10;
        c.names = 400;
        c.churn_for = 40s;
        compare_threads(c, churn);

        netsplit_options n;
        n.seed = seed;
        n.names = 300;
        n.one_way = seed == 2;
        n.link.loss = seed == 3 ? 0.05 : 0.0;
        compare_threads(n, netsplit);
    }
}

TEST_CASE("window cut by action matches", "[sim][threads]") {
    // 3,000 names registered within a second put an action every 333 µs, closer together than
    // the window, while nodes arm timers that fall after the next action.
    churn_options c;
    c.nodes = 20;
    c.names = 3000;
    c.churn_for = 20s;
    compare_threads(c, churn, {2});
}

TEST_CASE("violation on threads matches", "[sim][threads]") {
    // A broken host lets a worker stopped for a handoff run 500 ms longer, so the new owner
    // starts while the old instance runs, and the checker stops the run at that event.
    rolling_deploy_options o;
    o.names = 200;
    o.handoff_exit_lag = 500ms;
    o.threads = 1;
    const auto single = rolling_deploy(o);
    REQUIRE(single.failure.has_value());
    REQUIRE(single.failure->invariant == "unique-instance");
    o.threads = 2;
    require_same(single, rolling_deploy(o));
}

TEST_CASE("random churn on threads matches", "[sim][threads]") {
    rc::prop("same trace hash for 1 and N threads", [] {
        churn_options c;
        c.seed = *rc::gen::inRange<std::uint64_t>(1, 1'000'000);
        c.nodes = *rc::gen::inRange<std::uint32_t>(3, 8);
        c.names = *rc::gen::inRange<std::uint32_t>(0, 150);
        c.churn_for = 15s;
        c.quiet = 30s;
        c.crash_share = *rc::gen::element(0.0, 0.5, 1.0);
        c.link.loss = *rc::gen::element(0.0, 0.0, 0.03);
        c.link.duplicate = *rc::gen::element(0.0, 0.05);
        c.link.reorder = *rc::gen::element(0.0, 0.1);
        c.handoff.m = *rc::gen::element(handoff_choice::mode::restart, handoff_choice::mode::resume,
                                        handoff_choice::mode::ignore);
        const unsigned threads = *rc::gen::inRange(2u, 5u);
        c.threads = 1;
        const auto single = churn(c);
        c.threads = threads;
        const auto threaded = churn(c);
        RC_ASSERT(single.trace_hash == threaded.trace_hash);
        RC_ASSERT(single.events == threaded.events);
        RC_ASSERT(single.ok() == threaded.ok());
    });
}

TEST_CASE("cluster rejects invalid thread count", "[sim][threads]") {
    cluster_config cc;
    cc.threads = 0;
    REQUIRE_THROWS_AS(sim_cluster(cc, placement_choice(), handoff_choice{}), std::invalid_argument);
    cc.threads = 65;
    REQUIRE_THROWS_AS(sim_cluster(cc, placement_choice(), handoff_choice{}), std::invalid_argument);
}

TEST_CASE("worker pool runs each task once", "[sim][threads]") {
    for (const unsigned threads : {1u, 2u, 4u}) {
        worker_pool pool(threads);
        REQUIRE(pool.size() == threads);
        for (std::size_t count : {0u, 1u, 2u, 7u, 100u}) {
            std::vector<std::atomic<int>> runs(count);
            auto task = [&](std::size_t i) { runs[i].fetch_add(1); };
            for (int round = 0; round < 50; ++round) {
                pool.start(count, task);
                while (pool.help()) {
                }
                pool.finish();
            }
            for (std::size_t i = 0; i < count; ++i) REQUIRE(runs[i].load() == 50);
        }
        std::vector<std::atomic<int>> runs(20);
        auto failing = [&](std::size_t i) {
            runs[i].fetch_add(1);
            if (i == 3 || i == 11) throw std::runtime_error("task " + std::to_string(i));
        };
        pool.start(runs.size(), failing);
        REQUIRE_THROWS_AS(pool.finish(), std::runtime_error);
        for (const auto& r : runs) REQUIRE(r.load() == 1);
        // The pool stays usable after a task threw.
        auto fine = [&](std::size_t i) { runs[i].fetch_add(1); };
        pool.start(runs.size(), fine);
        pool.finish();
        for (const auto& r : runs) REQUIRE(r.load() == 2);
    }
}

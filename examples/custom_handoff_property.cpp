// Checks a user-defined Handoff policy with the simulator. For each of 20 seeds, a cluster of real
// muster nodes running the policy goes through a netsplit, a heal and a crash drawn from the seed.
// Every invariant must hold, checked at every event and once more after quiescence. Exits 0 when
// every seed passes, and prints each failing seed, which replays its run.

#include <muster/policy/placement/hash_ring.hpp>
#include <muster/sim/cluster.hpp>

#include <cstdio>
#include <string>
#include <vector>

using namespace muster;
using namespace std::chrono_literals;

// The policy under test: workers move with their state, and after a netsplit the instance with
// the higher version wins, ties going to the lower node name. Symmetric, as the concept requires.
struct newest_wins {
    bool moves_on_topology_change() const { return true; }
    bool transfers_state() const { return true; }
    int pick_conflict_winner(std::string_view, const conflict_claim& a, const conflict_claim& b,
                             std::optional<std::string_view>) const {
        if (a.version != b.version) return a.version > b.version ? 0 : 1;
        if (a.node != b.node) return a.node < b.node ? 0 : 1;
        return a.incarnation >= b.incarnation ? 0 : 1;
    }
};
static_assert(handoff<newest_wins>);

int main() {
    int failed = 0;
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
        sim::cluster_config config;
        config.seed = seed;
        sim::cluster<hash_ring, newest_wins> c(config, hash_ring(), newest_wins{});
        auto& random = c.random("schedule");
        const std::vector<std::string> names{"a", "b", "c", "d", "e"};
        std::vector<std::uint32_t> slots;
        for (const auto& n : names)
            slots.push_back(c.add_node(n, [names] { return sim::sim_discovery(static_list(names, 2s)); }, time_point{}));
        c.run_until(time_point{} + 5s);
        for (std::size_t i = 0; i < 40; ++i) {
            std::string name = "w";  // appended, not "w" + ..., which trips a GCC 12 -Wrestrict false positive
            name += std::to_string(i);
            c.register_name(slots[i % slots.size()], name, worker_spec{"counter"});
        }

        // The schedule drawn from the seed: where the cluster splits, for how long, and which node crashes.
        const auto cut = random.uniform<std::size_t>(1, names.size() - 1);
        c.run_until(c.now() + random.duration_between(1s, 10s));
        c.net().partition({{names.begin(), names.begin() + cut}, {names.begin() + cut, names.end()}});
        c.note_network_fault();
        c.run_until(c.now() + random.duration_between(1s, 30s));
        c.net().heal();
        c.note_network_fault();
        c.run_until(c.now() + 30s);
        c.crash(slots[random.uniform<std::size_t>(0, slots.size() - 1)], random.chance(0.5));
        c.run_until(c.now() + 60s);

        auto problem = c.failure();
        if (!problem) problem = c.check_converged();
        if (problem) {
            ++failed;
            std::printf("seed %llu: %s: %s\n", static_cast<unsigned long long>(seed), problem->invariant.c_str(),
                        problem->detail.c_str());
        }
    }
    std::printf("20 seeds, %d failed\n", failed);
    return failed == 0 ? 0 : 1;
}

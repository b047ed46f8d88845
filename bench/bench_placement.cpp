// Lookup cost of the hash ring at 10, 100 and 1000 members with 128 points each, against a
// std::lower_bound over the same sorted positions as a floor.
#include <muster/policy/placement/hash_ring.hpp>
#include <muster/sim/rng.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace {

constexpr std::uint32_t vnodes = 128;
constexpr std::size_t lookups_count = 1 << 16;  // a power of two, indexed by a mask

std::vector<muster::member_info> make_members(std::size_t count) {
    std::vector<muster::member_info> members;
    for (std::size_t i = 0; i < count; ++i) members.push_back({"app-" + std::to_string(i) + "@10.0.0.1", 1, 1});
    std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return members;
}

std::vector<std::string> make_names() {
    std::vector<std::string> names;
    for (std::size_t i = 0; i < lookups_count; ++i) names.push_back("worker-" + std::to_string(i));
    return names;
}

std::vector<std::uint64_t> make_keys() {
    muster::sim::rng random{2};
    std::vector<std::uint64_t> keys(lookups_count);
    for (auto& key : keys) key = random.next_u64();
    return keys;
}

muster::hash_ring make_ring(std::size_t members_count) {
    muster::hash_ring ring{muster::hash_ring_config{vnodes}};
    ring.rebuild(make_members(members_count));
    return ring;
}

// Full lookup: hash64 of a name of about 11 bytes plus the ring search.
void ring_owner_of(benchmark::State& state) {
    const auto ring = make_ring(static_cast<std::size_t>(state.range(0)));
    const auto names = make_names();
    std::size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(ring.owner_of(names[i++ & (lookups_count - 1)]));
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["memory_bytes"] = static_cast<double>(ring.memory_bytes());
}

// Ring search alone, from precomputed random keys.
void ring_owner_of_hash(benchmark::State& state) {
    const auto ring = make_ring(static_cast<std::size_t>(state.range(0)));
    const auto keys = make_keys();
    std::size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(ring.owner_of_hash(keys[i++ & (lookups_count - 1)]));
    }
    state.SetItemsProcessed(state.iterations());
}

// Floor: std::lower_bound over the same sorted positions, with the same wrap, no owner read.
void sorted_points_lower_bound(benchmark::State& state) {
    const auto members = make_members(static_cast<std::size_t>(state.range(0)));
    std::vector<std::uint64_t> positions;
    for (const auto& member : members) {
        for (std::uint32_t v = 0; v < vnodes; ++v) positions.push_back(muster::hash64(member.name, v));
    }
    std::sort(positions.begin(), positions.end());
    const auto keys = make_keys();

    std::size_t i = 0;
    for (auto _ : state) {
        const std::uint64_t key = keys[i++ & (lookups_count - 1)];
        auto found = std::lower_bound(positions.begin(), positions.end(), key);
        if (found == positions.end()) found = positions.begin();
        benchmark::DoNotOptimize(found);
    }
    state.SetItemsProcessed(state.iterations());
}

// hash64 alone over the same names, to separate hashing from searching.
void hash64_names(benchmark::State& state) {
    const auto names = make_names();
    std::size_t i = 0;
    for (auto _ : state) benchmark::DoNotOptimize(muster::hash64(names[i++ & (lookups_count - 1)]));
    state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(ring_owner_of)->Arg(10)->Arg(100)->Arg(1000);
BENCHMARK(ring_owner_of_hash)->Arg(10)->Arg(100)->Arg(1000);
BENCHMARK(sorted_points_lower_bound)->Arg(10)->Arg(100)->Arg(1000);
BENCHMARK(hash64_names);

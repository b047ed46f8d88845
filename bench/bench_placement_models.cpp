// Every placement model side by side: lookup latency, balance, movement on a join or a leave,
// and rebuild time and memory, at 10, 100 and 1,000 members.
//
// Balance and movement are not timings: their benchmarks run once and report the figures as
// counters (max_over_mean, moved_over_ideal), so one command prints every number RESULTS.md
// records.
#include <muster/core/hash.hpp>
#include <muster/policy/placement/bounded_load.hpp>
#include <muster/policy/placement/hash_ring.hpp>
#include <muster/policy/placement/rendezvous.hpp>
#include <muster/policy/placement/rollout_aware.hpp>
#include <muster/policy/placement/static_quorum.hpp>
#include <muster/sim/rng.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

using muster::member_info;
using muster::placed_name;

constexpr std::size_t lookups_count = 1 << 16;  // a power of two, indexed by a mask
constexpr std::size_t balance_names = 1'000'000;
constexpr std::size_t movement_names = 200'000;

std::vector<member_info> make_members(std::size_t count, const std::string& tag = "") {
    std::vector<member_info> members;
    for (std::size_t i = 0; i < count; ++i) members.push_back({"app-" + std::to_string(i) + tag + "@10.0.0.1", 1, 1, 0});
    std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return members;
}

std::vector<std::uint64_t> name_hashes(std::size_t count) {
    std::vector<std::uint64_t> hashes;
    hashes.reserve(count);
    for (std::size_t i = 0; i < count; ++i) hashes.push_back(muster::hash64("worker-" + std::to_string(i)));
    return hashes;
}

std::vector<placed_name> unowned(const std::vector<std::uint64_t>& hashes) {
    std::vector<placed_name> list;
    list.reserve(hashes.size());
    for (const auto h : hashes) list.push_back({h, placed_name::no_member});
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.hash < b.hash; });
    return list;
}

std::vector<std::uint64_t> random_keys() {
    muster::sim::rng random{2};
    std::vector<std::uint64_t> keys(lookups_count);
    for (auto& key : keys) key = random.next_u64();
    return keys;
}

enum model_id { ring, rendezvous, bounded, bounded_tight, rollout, quorum };

// One model behind a common face, so each measurement is written once.
struct any_model {
    model_id id;
    muster::hash_ring r{muster::hash_ring_config{128}};
    muster::rendezvous hrw;
    muster::bounded_load b{muster::bounded_load_config{1.25, 128}};
    muster::bounded_load b_tight{muster::bounded_load_config{1.10, 128}};
    muster::rollout_aware<> ra;
    muster::static_quorum<muster::hash_ring> q{1};

    explicit any_model(model_id m) : id(m) {}

    void rebuild(const std::vector<member_info>& members) {
        switch (id) {
        case ring: r.rebuild(members); break;
        case rendezvous: hrw.rebuild(members); break;
        case bounded: b.rebuild(members); break;
        case bounded_tight: b_tight.rebuild(members); break;
        case rollout: ra.rebuild(members); break;
        case quorum: q.rebuild(members); break;
        }
    }
    void assign(const std::vector<placed_name>& names) {
        if (id == bounded) b.assign(names);
        if (id == bounded_tight) b_tight.assign(names);
        if (id == rollout) ra.assign(names);
    }
    std::optional<std::size_t> owner(std::uint64_t key) const {
        switch (id) {
        case ring: return r.owner_of_hash(key);
        case rendezvous: return hrw.owner_of_hash(key);
        case bounded: return b.owner_of_hash(key);
        case bounded_tight: return b_tight.owner_of_hash(key);
        case rollout: return ra.owner_of_hash(key);
        case quorum: return q.has_quorum() ? q.inner().owner_of_hash(key) : std::nullopt;
        }
        return std::nullopt;
    }
    bool reads_names() const { return id == bounded || id == bounded_tight || id == rollout; }
};

// Lookup from precomputed keys. The name-set models first assign 100,000 names, and the keys
// are drawn from those names, since the registry looks up registered names.
void lookup(benchmark::State& state, model_id id) {
    any_model m(id);
    const auto count = static_cast<std::size_t>(state.range(0));
    m.rebuild(make_members(count));
    std::vector<std::uint64_t> keys = random_keys();
    if (m.reads_names()) {
        const auto hashes = name_hashes(100'000);
        m.assign(unowned(hashes));
        for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = hashes[(i * 7919) % hashes.size()];
    }
    std::size_t i = 0;
    for (auto _ : state) benchmark::DoNotOptimize(m.owner(keys[i++ & (lookups_count - 1)]));
    state.SetItemsProcessed(state.iterations());
}

// Floor: one binary search over a sorted array with as many entries as the ring has points.
void binary_search_floor(benchmark::State& state) {
    const auto points = static_cast<std::size_t>(state.range(0)) * 128;
    muster::sim::rng random{3};
    std::vector<std::uint64_t> sorted(points);
    for (auto& v : sorted) v = random.next_u64();
    std::sort(sorted.begin(), sorted.end());
    const auto keys = random_keys();
    std::size_t i = 0;
    for (auto _ : state) {
        const auto key = keys[i++ & (lookups_count - 1)];
        benchmark::DoNotOptimize(std::upper_bound(sorted.begin(), sorted.end(), key));
    }
    state.SetItemsProcessed(state.iterations());
}

// Max and mean names per member over 1,000,000 names.
void balance(benchmark::State& state, model_id id) {
    const auto count = static_cast<std::size_t>(state.range(0));
    const auto hashes = name_hashes(balance_names);
    double ratio = 0;
    for (auto _ : state) {
        any_model m(id);
        m.rebuild(make_members(count));
        m.assign(unowned(hashes));
        std::vector<std::uint64_t> loads(count, 0);
        for (const auto h : hashes) ++loads[*m.owner(h)];
        const double mean = static_cast<double>(balance_names) / static_cast<double>(count);
        ratio = static_cast<double>(*std::max_element(loads.begin(), loads.end())) / mean;
    }
    state.counters["max_over_mean"] = ratio;
}

// Fraction of names whose owner changes when one member joins (range 1 = 0) or leaves, over
// the ideal 1/n. The sticky model gets the names with their owners before the change.
void movement(benchmark::State& state, model_id id) {
    const auto count = static_cast<std::size_t>(state.range(0));
    const bool join = state.range(1) == 0;
    const auto hashes = name_hashes(movement_names);
    double ratio = 0;
    for (auto _ : state) {
        const auto small = make_members(count);
        auto large = small;
        large.push_back({"app-new@10.0.0.2", 1, 1, 0});
        std::sort(large.begin(), large.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
        const auto& before = join ? small : large;
        const auto& after = join ? large : small;

        any_model m(id);
        m.rebuild(before);
        m.assign(unowned(hashes));
        std::vector<std::string> owner_before;
        owner_before.reserve(hashes.size());
        for (const auto h : hashes) owner_before.push_back(before[*m.owner(h)].name);

        std::vector<placed_name> placed;
        if (m.reads_names()) {
            std::map<std::string, std::uint32_t> index;
            for (std::size_t k = 0; k < after.size(); ++k) index.emplace(after[k].name, static_cast<std::uint32_t>(k));
            for (std::size_t k = 0; k < hashes.size(); ++k) {
                const auto it = index.find(owner_before[k]);
                placed.push_back({hashes[k], it == index.end() ? placed_name::no_member : it->second});
            }
            std::sort(placed.begin(), placed.end(), [](const auto& a, const auto& b) { return a.hash < b.hash; });
        }
        m.rebuild(after);
        if (m.reads_names()) m.assign(id == rollout ? placed : unowned(hashes));
        std::size_t moved = 0;
        for (std::size_t k = 0; k < hashes.size(); ++k)
            if (after[*m.owner(hashes[k])].name != owner_before[k]) ++moved;
        const double ideal = 1.0 / static_cast<double>(large.size());
        ratio = static_cast<double>(moved) / static_cast<double>(hashes.size()) / ideal;
    }
    state.counters["moved_over_ideal"] = ratio;
}

// A full rebuild from an empty model, with the heap memory the model then holds.
void rebuild(benchmark::State& state, model_id id) {
    const auto members = make_members(static_cast<std::size_t>(state.range(0)));
    std::size_t bytes = 0;
    for (auto _ : state) {
        any_model m(id);
        m.rebuild(members);
        benchmark::DoNotOptimize(m.owner(42));
        if (id == ring) bytes = m.r.memory_bytes();
        if (id == rendezvous) bytes = m.hrw.memory_bytes();
    }
    state.counters["memory_bytes"] = static_cast<double>(bytes);
}

// A rebuild of an existing view after one member joins: the ring keeps the other points.
void rebuild_after_join(benchmark::State& state, model_id id) {
    const auto count = static_cast<std::size_t>(state.range(0));
    const auto small = make_members(count);
    auto large = small;
    large.push_back({"app-new@10.0.0.2", 1, 1, 0});
    std::sort(large.begin(), large.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    any_model m(id);
    bool grown = false;
    for (auto _ : state) {
        m.rebuild(grown ? small : large);
        grown = !grown;
    }
}

}  // namespace

BENCHMARK_CAPTURE(lookup, ring, ring)->Arg(10)->Arg(100)->Arg(1000);
BENCHMARK_CAPTURE(lookup, rendezvous, rendezvous)->Arg(10)->Arg(100)->Arg(1000);
BENCHMARK_CAPTURE(lookup, bounded_load, bounded)->Arg(10)->Arg(100)->Arg(1000);
BENCHMARK_CAPTURE(lookup, rollout_aware, rollout)->Arg(10)->Arg(100)->Arg(1000);
BENCHMARK_CAPTURE(lookup, static_quorum_ring, quorum)->Arg(10)->Arg(100)->Arg(1000);
BENCHMARK(binary_search_floor)->Arg(10)->Arg(100)->Arg(1000);

BENCHMARK_CAPTURE(balance, ring, ring)->Arg(10)->Arg(100)->Arg(1000)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(balance, rendezvous, rendezvous)->Arg(10)->Arg(100)->Arg(1000)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(balance, bounded_load, bounded)->Arg(10)->Arg(100)->Arg(1000)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(balance, bounded_load_c110, bounded_tight)->Arg(10)->Arg(100)->Arg(1000)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(balance, rollout_aware, rollout)->Arg(10)->Arg(100)->Arg(1000)->Iterations(1)->Unit(benchmark::kMillisecond);

BENCHMARK_CAPTURE(movement, ring, ring)->ArgsProduct({{10, 100, 1000}, {0, 1}})->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(movement, rendezvous, rendezvous)->ArgsProduct({{10, 100, 1000}, {0, 1}})->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(movement, bounded_load, bounded)->ArgsProduct({{10, 100, 1000}, {0, 1}})->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(movement, bounded_load_c110, bounded_tight)->ArgsProduct({{10, 100, 1000}, {0, 1}})->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(movement, rollout_aware, rollout)->ArgsProduct({{10, 100, 1000}, {0, 1}})->Iterations(1)->Unit(benchmark::kMillisecond);

BENCHMARK_CAPTURE(rebuild, ring, ring)->Arg(1000)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(rebuild, rendezvous, rendezvous)->Arg(1000)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(rebuild_after_join, ring, ring)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

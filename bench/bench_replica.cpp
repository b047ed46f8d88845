// Cost of the replica table when a simulator process keeps 100 replicas of 100,000 names, as
// the 100-node rollout does. Inserts arrive in batches of 1,000 per replica, as broadcasts do.
// Updates of existing entries come in a scattered order. Nearly every access misses the caches,
// so the figures show memory layout more than instruction counts.
#include <muster/core/detail/name_table.hpp>

#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace {

constexpr int replicas_count = 100;
constexpr int names_count = 100000;
constexpr int batch_size = 1000;
constexpr int owners_count = 100;

struct fixture {
    std::vector<std::string> names;
    std::vector<muster::node_id> owners;
    muster::worker_spec spec{"counter", muster::restart_policy::permanent};
    std::vector<std::unique_ptr<muster::detail::name_table>> tables;

    fixture() {
        for (int i = 0; i < names_count; ++i) {
            char name[32];
            std::snprintf(name, sizeof name, "worker-%06d", i);
            names.emplace_back(name);
        }
        for (int i = 0; i < owners_count; ++i) owners.push_back({"app@10.0.0." + std::to_string(i), 7});
        for (int r = 0; r < replicas_count; ++r) tables.push_back(std::make_unique<muster::detail::name_table>(1024));
    }

    void fill() {
        for (int b = 0; b < names_count; b += batch_size)
            for (auto& t : tables)
                for (int i = b; i < b + batch_size; ++i) t->upsert(names[i], owners[i % owners_count], 1, spec, false);
    }

    // Gives every name a new owner and version, visiting the names in a scattered order.
    void update_all(std::uint64_t version) {
        for (int b = 0; b < names_count; b += batch_size)
            for (auto& t : tables)
                for (int i = b; i < b + batch_size; ++i) {
                    const int k = static_cast<int>((static_cast<long>(i) * 7919) % names_count);
                    t->upsert(names[k], owners[(k + version) % owners_count], version, spec, false);
                }
    }
};

void replica_inserts(benchmark::State& state) {
    for (auto _ : state) {
        state.PauseTiming();
        auto f = std::make_unique<fixture>();
        state.ResumeTiming();
        f->fill();
        state.PauseTiming();
        f.reset();
        state.ResumeTiming();
    }
    state.counters["time_per_insert"] = benchmark::Counter(static_cast<double>(state.iterations()) * replicas_count * names_count,
                                                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void replica_updates(benchmark::State& state) {
    for (auto _ : state) {
        state.PauseTiming();
        auto f = std::make_unique<fixture>();
        f->fill();
        state.ResumeTiming();
        f->update_all(2);
        f->update_all(3);
        state.PauseTiming();
        f.reset();
        state.ResumeTiming();
    }
    state.counters["time_per_update"] = benchmark::Counter(static_cast<double>(state.iterations()) * 2 * replicas_count * names_count,
                                                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

BENCHMARK(replica_inserts)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(replica_updates)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

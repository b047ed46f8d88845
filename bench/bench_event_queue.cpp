// Event queue throughput in the hold model: the queue keeps a fixed number of pending events, and
// each step pops the earliest event and pushes one at its time plus a random delay.
#include <muster/sim/event_queue.hpp>
#include <muster/sim/rng.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <functional>
#include <queue>
#include <tuple>
#include <vector>

namespace {

using namespace std::chrono_literals;

constexpr muster::duration delay_max = 1ms;

// Pops one event and pushes one per iteration; one item is one pop plus one push.
void hold_event_queue(benchmark::State& state) {
    const auto pending = static_cast<std::size_t>(state.range(0));
    muster::sim::rng random{1};
    muster::sim::event_queue<std::uint64_t> queue;
    queue.reserve(pending);
    for (std::size_t i = 0; i < pending; ++i) {
        queue.push(muster::time_point{random.duration_between(0ns, delay_max)}, i);
    }

    for (auto _ : state) {
        auto event = queue.pop();
        queue.push(event.at + random.duration_between(0ns, delay_max), event.payload);
    }
    state.SetItemsProcessed(state.iterations());
}

// The same hold model over std::priority_queue of (time, seq, payload), for comparison.
void hold_std_priority_queue(benchmark::State& state) {
    const auto pending = static_cast<std::size_t>(state.range(0));
    using item = std::tuple<std::int64_t, std::uint64_t, std::uint64_t>;
    std::vector<item> storage;
    storage.reserve(pending + 1);
    std::priority_queue<item, std::vector<item>, std::greater<>> queue{std::greater<>{}, std::move(storage)};

    muster::sim::rng random{1};
    std::uint64_t seq = 0;
    for (std::size_t i = 0; i < pending; ++i) {
        queue.emplace(random.duration_between(0ns, delay_max).count(), seq++, i);
    }

    for (auto _ : state) {
        const auto [time, popped_seq, payload] = queue.top();
        queue.pop();
        benchmark::DoNotOptimize(popped_seq);
        queue.emplace(time + random.duration_between(0ns, delay_max).count(), seq++, payload);
    }
    state.SetItemsProcessed(state.iterations());
}

// The cost of the delay draws alone, to subtract from the figures above.
void hold_rng_only(benchmark::State& state) {
    muster::sim::rng random{1};
    for (auto _ : state) benchmark::DoNotOptimize(random.duration_between(0ns, delay_max));
    state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(hold_event_queue)->Arg(1 << 10)->Arg(1 << 16)->Arg(1 << 20);
BENCHMARK(hold_std_priority_queue)->Arg(1 << 10)->Arg(1 << 16)->Arg(1 << 20);
BENCHMARK(hold_rng_only);

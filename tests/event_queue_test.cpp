#include <muster/sim/event_queue.hpp>

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <utility>
#include <vector>

namespace {

muster::time_point at_ns(std::int64_t ns) { return muster::time_point{muster::duration{ns}}; }

// Reference model: a multimap keeps equal keys in insertion order, which is the queue's contract.
struct model_event {
    std::uint64_t seq;
    int payload;
};
using model_queue = std::multimap<std::int64_t, model_event>;

// Runs a random sequence of pushes and pops against both the queue and the model. Times come from
// a narrow range so that ties are frequent.
template <unsigned SlotBits>
void check_against_model() {
    muster::sim::event_queue<int, SlotBits> queue;
    model_queue model;
    std::uint64_t next_seq = 0;

    const auto steps_count = *rc::gen::inRange<std::size_t>(0, 2000);
    for (std::size_t step = 0; step < steps_count; ++step) {
        const bool can_push = queue.size() < std::min<std::size_t>(queue.pending_max, 500);
        const bool push = can_push && (model.empty() || *rc::gen::inRange(0, 100) < 55);
        if (push) {
            const auto time = *rc::gen::inRange<std::int64_t>(-20, 20);
            const auto payload = *rc::gen::arbitrary<int>();
            queue.push(at_ns(time), payload);
            model.emplace(time, model_event{next_seq++, payload});
        } else if (!model.empty()) {
            RC_ASSERT(queue.top_time() == at_ns(model.begin()->first));
            const auto popped = queue.pop();
            const auto expected = model.begin();
            RC_ASSERT(popped.at == at_ns(expected->first));
            RC_ASSERT(popped.seq == expected->second.seq);
            RC_ASSERT(popped.payload == expected->second.payload);
            model.erase(expected);
        }
        RC_ASSERT(queue.size() == model.size());
        RC_ASSERT(queue.empty() == model.empty());
    }
}

}  // namespace

TEST_CASE("event_queue orders by time then push order", "[sim]") {
    muster::sim::event_queue<int> queue;
    CHECK(queue.empty());

    queue.push(at_ns(30), 1);
    queue.push(at_ns(10), 2);
    queue.push(at_ns(30), 3);
    queue.push(at_ns(-5), 4);
    queue.push(at_ns(10), 5);
    queue.push(at_ns(30), 6);
    REQUIRE(queue.size() == 6);
    CHECK(queue.top_time() == at_ns(-5));

    const std::vector<std::pair<std::int64_t, int>> expected{{-5, 4}, {10, 2}, {10, 5},
                                                             {30, 1}, {30, 3}, {30, 6}};
    for (const auto& [time, payload] : expected) {
        const auto event = queue.pop();
        CHECK(event.at == at_ns(time));
        CHECK(event.payload == payload);
    }
    CHECK(queue.empty());
    CHECK(queue.pushed_count() == 6);
}

TEST_CASE("event_queue seq counts pushes", "[sim]") {
    muster::sim::event_queue<int> queue;
    queue.push(at_ns(2), 0);
    queue.push(at_ns(1), 1);
    CHECK(queue.pop().seq == 1);
    queue.push(at_ns(0), 2);
    CHECK(queue.pop().seq == 2);
    CHECK(queue.pop().seq == 0);
}

TEST_CASE("event_queue keeps FIFO order for many ties", "[sim]") {
    muster::sim::event_queue<int> queue;
    queue.reserve(10'000);
    for (int i = 0; i < 10'000; ++i) queue.push(at_ns(i % 3), i);

    for (int time = 0; time < 3; ++time) {
        int previous = -1;
        for (int n = 0; n < 10'000 / 3 + (time < 10'000 % 3 ? 1 : 0); ++n) {
            const auto event = queue.pop();
            REQUIRE(event.at == at_ns(time));
            REQUIRE(event.payload > previous);
            previous = event.payload;
        }
    }
    CHECK(queue.empty());
}

TEST_CASE("event_queue moves move-only payloads", "[sim]") {
    muster::sim::event_queue<std::unique_ptr<int>> queue;
    queue.push(at_ns(5), std::make_unique<int>(50));
    queue.push(at_ns(1), std::make_unique<int>(10));

    auto first = queue.pop();
    REQUIRE(first.payload != nullptr);
    CHECK(*first.payload == 10);

    auto second = queue.pop();
    REQUIRE(second.payload != nullptr);
    CHECK(*second.payload == 50);
}

TEST_CASE("event_queue releases payloads on pop and clear", "[sim]") {
    auto tracked = std::make_shared<int>(1);
    muster::sim::event_queue<std::shared_ptr<int>> queue;
    queue.push(at_ns(1), tracked);
    queue.push(at_ns(2), tracked);
    CHECK(tracked.use_count() == 3);

    { const auto event = queue.pop(); }
    CHECK(tracked.use_count() == 2);

    queue.clear();
    CHECK(queue.empty());
    CHECK(tracked.use_count() == 1);
}

TEST_CASE("event_queue rejects push beyond pending_max", "[sim]") {
    // 56 slot bits leave 8 bits of tie counter, so at most 2^7 events may be pending.
    muster::sim::event_queue<int, 56> queue;
    REQUIRE(queue.pending_max == 128);
    for (std::size_t i = 0; i < queue.pending_max; ++i) queue.push(at_ns(0), 0);
    CHECK_THROWS_AS(queue.push(at_ns(0), 0), std::length_error);
    CHECK(queue.size() == queue.pending_max);
}

TEST_CASE("event_queue matches multimap model", "[sim][property]") {
    rc::prop("default layout", [] { check_against_model<24>(); });

    // An 8-bit tie counter wraps every few hundred pushes, which exercises renumbering.
    rc::prop("tie counter wrapping", [] { check_against_model<56>(); });
}

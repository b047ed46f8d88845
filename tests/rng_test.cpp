#include <muster/sim/rng.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace {

std::vector<std::uint64_t> draw(muster::sim::rng& random, std::size_t count) {
    std::vector<std::uint64_t> values;
    for (std::size_t i = 0; i < count; ++i) values.push_back(random.next_u64());
    return values;
}

}  // namespace

TEST_CASE("rng same seed gives same stream", "[sim]") {
    muster::sim::rng first{42};
    muster::sim::rng second{42};
    CHECK(draw(first, 1000) == draw(second, 1000));

    muster::sim::rng other{43};
    muster::sim::rng again{42};
    CHECK(draw(other, 100) != draw(again, 100));
}

TEST_CASE("rng zero seed gives varied output", "[sim]") {
    muster::sim::rng random{0};
    const auto values = draw(random, 64);
    CHECK(std::count(values.begin(), values.end(), std::uint64_t{0}) <= 1);
    CHECK(std::adjacent_find(values.begin(), values.end()) == values.end());
}

TEST_CASE("rng split labels give different streams", "[sim]") {
    const muster::sim::rng root{7};
    auto network = root.split("network");
    auto churn = root.split("churn");
    auto root_copy = root;
    const auto network_values = draw(network, 100);
    CHECK(network_values != draw(churn, 100));
    CHECK(network_values != draw(root_copy, 100));
}

TEST_CASE("rng split is deterministic", "[sim]") {
    muster::sim::rng first{99};
    muster::sim::rng second{99};

    // Drawing from the parent first must not change the child's stream.
    draw(second, 17);
    auto child_first = first.split("kubernetes");
    auto child_second = second.split("kubernetes");
    CHECK(draw(child_first, 100) == draw(child_second, 100));

    muster::sim::rng other_parent{100};
    auto child_other = other_parent.split("kubernetes");
    auto child_again = first.split("kubernetes");
    CHECK(draw(child_other, 100) != draw(child_again, 100));
}

TEST_CASE("rng uniform bounds are inclusive", "[sim]") {
    muster::sim::rng random{5};
    bool seen_lo = false;
    bool seen_hi = false;
    for (int i = 0; i < 10'000; ++i) {
        const int value = random.uniform(-3, 3);
        REQUIRE(value >= -3);
        REQUIRE(value <= 3);
        seen_lo = seen_lo || value == -3;
        seen_hi = seen_hi || value == 3;
    }
    CHECK(seen_lo);
    CHECK(seen_hi);

    CHECK(random.uniform(9, 9) == 9);
    CHECK(random.uniform<std::uint8_t>(0, 255) <= 255);

    constexpr auto lowest = std::numeric_limits<std::int64_t>::min();
    constexpr auto highest = std::numeric_limits<std::int64_t>::max();
    for (int i = 0; i < 100; ++i) {
        const auto value = random.uniform(lowest, highest);
        CHECK(value >= lowest);
        CHECK(value <= highest);
    }
    CHECK(random.uniform(highest - 1, highest) >= highest - 1);
}

TEST_CASE("rng uniform covers range evenly", "[sim]") {
    muster::sim::rng random{11};
    std::vector<int> counts(6, 0);
    const int draws_count = 60'000;
    for (int i = 0; i < draws_count; ++i) ++counts[static_cast<std::size_t>(random.uniform(0, 5))];
    for (const int count : counts) {
        CHECK(count > 9'000);
        CHECK(count < 11'000);
    }
}

TEST_CASE("rng uniform_real stays in unit interval", "[sim]") {
    muster::sim::rng random{3};
    double sum = 0;
    for (int i = 0; i < 10'000; ++i) {
        const double value = random.uniform_real();
        REQUIRE(value >= 0.0);
        REQUIRE(value < 1.0);
        sum += value;
    }
    CHECK(sum / 10'000 == Approx(0.5).margin(0.02));
}

TEST_CASE("rng chance honors extremes", "[sim]") {
    muster::sim::rng random{8};
    int hits = 0;
    for (int i = 0; i < 10'000; ++i) {
        REQUIRE_FALSE(random.chance(0.0));
        REQUIRE(random.chance(1.0));
        hits += random.chance(0.25) ? 1 : 0;
    }
    CHECK(hits > 2'200);
    CHECK(hits < 2'800);
}

TEST_CASE("rng duration_between stays in bounds", "[sim]") {
    using namespace std::chrono_literals;
    muster::sim::rng random{13};
    for (int i = 0; i < 1000; ++i) {
        const muster::duration value = random.duration_between(1ms, 2ms);
        REQUIRE(value >= 1ms);
        REQUIRE(value <= 2ms);
    }
    CHECK(random.duration_between(5ms, 5ms) == 5ms);
}

TEST_CASE("rng works with standard distributions", "[sim]") {
    muster::sim::rng random{21};
    std::uniform_int_distribution<int> dice{1, 6};
    for (int i = 0; i < 100; ++i) {
        const int value = dice(random);
        CHECK(value >= 1);
        CHECK(value <= 6);
    }
}

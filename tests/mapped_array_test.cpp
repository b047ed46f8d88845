#include <muster/core/detail/mapped_array.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <utility>

using muster::detail::mapped_array;

namespace {

struct record {
    std::uint64_t key = 0;
    std::uint32_t value = 0;
};

// Returns an array of `count` records. From 256 KiB of records on, it lives in its own mapping.
mapped_array<record> filled(std::size_t count) {
    mapped_array<record> array;
    for (std::size_t i = 0; i < count; ++i) array.push_back({i * 3, static_cast<std::uint32_t>(i)});
    return array;
}

constexpr std::size_t large = 100000;  // 1.6 MB of records

}  // namespace

TEST_CASE("mapped_array keeps values across growth", "[core]") {
    auto array = filled(large);
    REQUIRE(array.size() == large);
    REQUIRE(array.capacity() >= large);
    for (std::size_t i = 0; i < large; ++i) {
        REQUIRE(array[i].key == i * 3);
        REQUIRE(array[i].value == i);
    }
}

TEST_CASE("mapped_array pop_back and reuse", "[core]") {
    auto array = filled(large);
    for (std::size_t i = 0; i < 1000; ++i) array.pop_back();
    REQUIRE(array.size() == large - 1000);
    REQUIRE(array.back().value == large - 1001);
    array.push_back({7, 7});
    REQUIRE(array.back().key == 7);
    REQUIRE(array[large - 1002].value == large - 1002);
}

TEST_CASE("mapped_array copies and moves", "[core]") {
    for (const std::size_t count : {std::size_t{0}, std::size_t{10}, large}) {
        INFO("count " << count);
        const auto original = filled(count);
        auto copy = original;
        REQUIRE(copy.size() == count);
        for (std::size_t i = 0; i < count; ++i) REQUIRE(copy[i].value == original[i].value);

        // A copy is independent of its source.
        if (count > 0) {
            copy[0].value = 99;
            REQUIRE(original[0].value == 0);
        }

        auto moved = std::move(copy);
        REQUIRE(moved.size() == count);
        REQUIRE(copy.size() == 0);
        REQUIRE(copy.capacity() == 0);

        mapped_array<record> assigned;
        assigned.push_back({1, 1});
        assigned = original;
        REQUIRE(assigned.size() == count);
        assigned = std::move(moved);
        REQUIRE(assigned.size() == count);
    }
}

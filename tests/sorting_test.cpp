#include <muster/core/detail/sorting.hpp>

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

using muster::detail::sort_nearly_sorted;

TEST_CASE("sort_nearly_sorted sorts any input", "[core][property]") {
    rc::prop("random values", [](std::vector<std::uint32_t> values) {
        auto expected = values;
        std::sort(expected.begin(), expected.end());
        sort_nearly_sorted(values, std::less<>{});
        RC_ASSERT(values == expected);
    });
    rc::prop("sorted values with a few swapped neighbours", [] {
        const auto count = *rc::gen::inRange<std::size_t>(0, 2000);
        std::vector<std::uint32_t> values(count);
        for (std::size_t i = 0; i < count; ++i) values[i] = static_cast<std::uint32_t>(i * 3);
        auto expected = values;
        const auto swaps = *rc::gen::inRange<std::size_t>(0, count / 4 + 1);
        for (std::size_t k = 0; k + 1 < count && k < swaps; ++k) {
            const auto at = *rc::gen::inRange<std::size_t>(0, count - 1);
            std::swap(values[at], values[at + 1]);
        }
        sort_nearly_sorted(values, std::less<>{});
        RC_ASSERT(values == expected);
    });
}

TEST_CASE("sort_nearly_sorted reversed input", "[core]") {
    // Every item is out of place, so the insertion sort runs out of moves and the general sort
    // finishes the work.
    std::vector<int> values;
    for (int i = 5000; i > 0; --i) values.push_back(i);
    sort_nearly_sorted(values, std::less<>{});
    CHECK(std::is_sorted(values.begin(), values.end()));
    CHECK(values.front() == 1);
    CHECK(values.back() == 5000);
}

TEST_CASE("sort_nearly_sorted orders pairs by key", "[core]") {
    // Items compare by their first member only, so the result is ordered by it.
    std::vector<std::pair<int, int>> items{{3, 0}, {1, 1}, {2, 2}, {1, 3}, {0, 4}};
    sort_nearly_sorted(items, [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<int> keys;
    for (const auto& item : items) keys.push_back(item.first);
    CHECK(keys == std::vector<int>{0, 1, 1, 2, 3});
}

TEST_CASE("sort_by_hash sorts any keys", "[core][property]") {
    using item = std::pair<std::uint64_t, std::uint32_t>;
    const auto key = [](const item& i) { return i.first; };
    rc::prop("spread and crowded keys", [&] {
        auto items = *rc::gen::container<std::vector<item>>(rc::gen::arbitrary<item>());
        // Half of the runs give every key the same top bits, which fills one bucket.
        if (*rc::gen::arbitrary<bool>())
            for (auto& i : items) i.first &= 0xffffU;
        auto expected = items;
        std::sort(expected.begin(), expected.end());
        muster::detail::sort_by_hash(items, key, std::less<>{});
        RC_ASSERT(items == expected);
    });
}

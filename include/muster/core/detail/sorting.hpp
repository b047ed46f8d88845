#pragma once
// Sorting for lists keyed by hashes. Buckets by the top bits of evenly spread hashes leave such a
// list nearly sorted, and an insertion sort finishes it in linear time.

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace muster::detail {

/// Sorts `items` by `less`, in O(n + d) time for d element moves when they are nearly sorted.
/// An insertion sort runs first. Once its moves pass a few per item, a general sort takes over,
/// so no input costs more than O(n log n) plus that budget.
template <class T, class Less>
void sort_nearly_sorted(std::vector<T>& items, Less less) {
    const std::size_t budget = 4 * items.size() + 64;
    std::size_t moves = 0;
    for (std::size_t i = 1; i < items.size(); ++i) {
        if (!less(items[i], items[i - 1])) continue;
        T item = std::move(items[i]);
        std::size_t j = i;
        for (; j > 0 && less(item, items[j - 1]); --j) items[j] = std::move(items[j - 1]);
        items[j] = std::move(item);
        moves += i - j;
        if (moves > budget) {
            std::sort(items.begin(), items.end(), less);
            return;
        }
    }
}

/// Sorts `items` by `less`, where `key(item)` is a 64-bit hash that orders the items as `less`
/// does wherever the keys differ. The top bits of the keys pick one of about as many buckets as
/// there are items. For evenly spread keys, a counting pass and a scatter pass then leave the
/// items nearly sorted, and `sort_nearly_sorted` finishes in linear time.
template <class T, class Key, class Less>
void sort_by_hash(std::vector<T>& items, Key key, Less less) {
    if (items.size() < 2) return;
    // The bucket counters are 32 bits wide.
    if (items.size() > UINT32_MAX) {
        std::sort(items.begin(), items.end(), less);
        return;
    }
    // At least 2 items, so at least 1 bit and 2 buckets.
    const unsigned bits = static_cast<unsigned>(std::bit_width(items.size()) - 1);
    const unsigned shift = 64 - bits;
    std::vector<std::uint32_t> starts((std::size_t{1} << (64 - shift)) + 1, 0);
    for (const auto& item : items) ++starts[(key(item) >> shift) + 1];
    for (std::size_t b = 1; b < starts.size(); ++b) starts[b] += starts[b - 1];
    std::vector<T> sorted(items.size());
    for (auto& item : items) sorted[starts[key(item) >> shift]++] = std::move(item);
    items.swap(sorted);
    sort_nearly_sorted(items, less);
}

}  // namespace muster::detail

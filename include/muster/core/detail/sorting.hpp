#pragma once
// Sorting for lists that arrive almost in order, such as names listed in the order of a hash
// table's slots.

#include <algorithm>
#include <cstddef>
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

}  // namespace muster::detail

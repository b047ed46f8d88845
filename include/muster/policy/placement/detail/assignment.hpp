#pragma once
/// Shared parts of the placements that assign every registered name: per-member capacities and
/// the table of assigned owners.

#include <muster/policy/placement.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace muster::detail {

/// Converts a load factor to thousandths once, so every capacity is integer arithmetic, identical
/// on every platform and under every floating-point setting.
inline std::uint64_t load_factor_millis(double c) noexcept {
    return static_cast<std::uint64_t>(c * 1000.0 + 0.5);
}

/// A 128-bit unsigned integer, so the product of three 64-bit factors below cannot overflow.
/// `__extension__` keeps `-Wpedantic` quiet about the GCC and Clang type.
__extension__ typedef unsigned __int128 uint128;

/// Returns ⌈c · names · weight / total_weight⌉ for c in thousandths, or 0 without any weight.
inline std::uint64_t capacity(std::uint64_t c_millis, std::uint64_t names, std::uint32_t weight,
                              std::uint64_t total_weight) noexcept {
    if (total_weight == 0) return 0;
    const uint128 numerator = static_cast<uint128>(c_millis) * names * weight;
    const uint128 denominator = static_cast<uint128>(1000) * total_weight;
    return static_cast<std::uint64_t>((numerator + denominator - 1) / denominator);
}

/// Returns the sum of the members' weights.
inline std::uint64_t total_weight(std::span<const member_info> members) noexcept {
    std::uint64_t total = 0;
    for (const auto& m : members) total += m.weight;
    return total;
}

/// Owners assigned to a sorted list of name hashes, with each member's load and capacity.
class assignment {
public:
    /// Sets each member's capacity for `names` names: ⌈c · names · w / W⌉ for its weight w of
    /// the total W, with c in thousandths. Loads restart at 0 and the table empties.
    void reset(std::span<const member_info> members, std::uint64_t c_millis, std::uint64_t names) {
        const std::uint64_t total = total_weight(members);
        capacities_.assign(members.size(), 0);
        for (std::size_t i = 0; i < members.size(); ++i) capacities_[i] = detail::capacity(c_millis, names, members[i].weight, total);
        loads_.assign(members.size(), 0);
        entries_.clear();
        entries_.reserve(static_cast<std::size_t>(names));
    }

    /// Records `hash` as owned by `owner`. Call `finish` after the last one.
    void add(std::uint64_t hash, std::size_t owner) {
        entries_.push_back({hash, static_cast<std::uint32_t>(owner)});
        ++loads_[owner];
    }

    /// Sorts the table for `find`. Names added in two passes, each in hash order, form two
    /// sorted runs, which are merged in linear time. Any other order gets a general sort.
    void finish() {
        const auto less = [](const entry& a, const entry& b) {
            return a.hash != b.hash ? a.hash < b.hash : a.owner < b.owner;
        };
        const auto middle = std::is_sorted_until(entries_.begin(), entries_.end(), less);
        if (middle == entries_.end()) return;
        if (std::is_sorted(middle, entries_.end(), less)) std::inplace_merge(entries_.begin(), middle, entries_.end(), less);
        else std::sort(entries_.begin(), entries_.end(), less);
    }

    /// Returns whether member `i` has fewer names than its capacity.
    bool has_room(std::size_t i) const noexcept { return loads_[i] < capacities_[i]; }

    /// Returns the assigned owner of `hash`, if the table contains it. Two names with the same 64-bit hash
    /// both get the owner with the lower index.
    std::optional<std::size_t> find(std::uint64_t hash) const noexcept {
        const auto it = std::lower_bound(entries_.begin(), entries_.end(), hash,
                                         [](const entry& e, std::uint64_t h) { return e.hash < h; });
        if (it == entries_.end() || it->hash != hash) return std::nullopt;
        return it->owner;
    }

    std::uint64_t load(std::size_t i) const noexcept { return i < loads_.size() ? loads_[i] : 0; }
    std::uint64_t capacity(std::size_t i) const noexcept { return i < capacities_.size() ? capacities_[i] : 0; }
    std::size_t size() const noexcept { return entries_.size(); }

    std::size_t memory_bytes() const noexcept {
        return entries_.capacity() * sizeof(entry) + (loads_.capacity() + capacities_.capacity()) * sizeof(std::uint64_t);
    }

private:
    struct entry {
        std::uint64_t hash;
        std::uint32_t owner;
    };

    std::vector<std::uint64_t> capacities_;
    std::vector<std::uint64_t> loads_;
    std::vector<entry> entries_;  // sorted by hash after `finish`
};

}  // namespace muster::detail

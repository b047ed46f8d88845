#pragma once
/// Consistent hashing with bounded loads, a model of `muster::placement` that reads the whole set
/// of registered names.

#include <muster/core/hash.hpp>
#include <muster/core/types.hpp>
#include <muster/policy/placement.hpp>
#include <muster/policy/placement/detail/assignment.hpp>
#include <muster/policy/placement/hash_ring.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace muster {

/// Settings of a `bounded_load` placement.
struct bounded_load_config {
    /// No member gets more than ⌈c · N · w / W⌉ of N names, for its weight w of the total W
    /// (⌈c · N / m⌉ for m members of equal weight). Valid range: 1 to 16. Lower values even the
    /// load out and move more names on a membership change.
    double c = 1.25;
    /// Points per unit of weight on the underlying ring (see `hash_ring_config::vnodes`).
    std::uint32_t vnodes = 128;
};

/// Consistent hashing with bounded loads: names are taken in order of their hash, and each goes
/// to the first member clockwise from it on a `hash_ring` that still has room below its cap.
///
/// The owners are a pure function of the view and the set of registered names, so every node
/// holding the same replica agrees. The registry passes that set through `assign` (see
/// `name_set_placement`); where names run now does not matter to this model. A name missing from
/// the last set, such as one being registered, gets the first member clockwise with room left,
/// the owner it would get if it were the last name taken.
///
/// Cost: `assign` is O(N log N) for N names (a sort, then a walk that ends after a few points on
/// average for c ≥ 1.1). `owner_of` is a binary search over the assigned names. Memory: 16 bytes
/// per name plus the ring.
class bounded_load {
public:
    bounded_load() : bounded_load(bounded_load_config{}) {}

    /// Throws `std::invalid_argument` when `validate(config)` reports an error.
    explicit bounded_load(bounded_load_config config) : ring_(hash_ring_config{config.vnodes}) {
        if (validate(config)) {
            throw std::invalid_argument("muster::bounded_load: c is " + std::to_string(config.c) + " and vnodes " +
                                        std::to_string(config.vnodes) + ", expected c in [1, 16] and vnodes in [1, " +
                                        std::to_string(hash_ring_vnodes_max) + "]");
        }
        c_millis_ = detail::load_factor_millis(config.c);
    }

    /// Returns `errc::invalid_config` when `c` is outside [1, 16] (or not a number) or `vnodes`
    /// is outside what `hash_ring` accepts.
    static std::optional<errc> validate(const bounded_load_config& config) noexcept {
        if (!(config.c >= 1.0 && config.c <= 16.0)) return errc::invalid_config;
        return hash_ring::validate(hash_ring_config{config.vnodes});
    }

    /// Replaces the view and assigns the last set of names again.
    void rebuild(std::span<const member_info> members) {
        ring_.rebuild(members);
        members_.assign(members.begin(), members.end());
        assign_hashes();
    }

    /// Returns false: owners depend on the names and the view, not on where the names run.
    static constexpr bool uses_owners() noexcept { return false; }

    /// Assigns owners to `names` (see `name_set_placement`); their current owners are ignored.
    void assign(std::span<const placed_name> names) {
        hashes_.clear();
        hashes_.reserve(names.size());
        for (const auto& n : names) hashes_.push_back(n.hash);
        if (!std::is_sorted(hashes_.begin(), hashes_.end())) std::sort(hashes_.begin(), hashes_.end());
        assign_hashes();
    }

    /// Returns the owner of `name`: its assigned owner when the last set holds it, otherwise the
    /// first member clockwise with room left. `std::nullopt` when no member has a weight.
    std::optional<std::size_t> owner_of(std::string_view name) const { return owner_of_hash(hash64(name)); }

    /// Returns the owner of a name whose `hash64` is `key`, as `owner_of` does.
    std::optional<std::size_t> owner_of_hash(std::uint64_t key) const {
        if (const auto owner = table_.find(key)) return owner;
        if (const auto owner = ring_.first_accepted(key, [&](std::size_t i) { return table_.has_room(i); })) return owner;
        return ring_.owner_of_hash(key);
    }

    /// Returns the plain ring owner of `name`, which depends on the view alone (see
    /// `name_set_placement`).
    std::optional<std::size_t> view_owner_of(std::string_view name) const noexcept {
        return ring_.owner_of_hash(hash64(name));
    }

    std::size_t members_count() const noexcept { return ring_.members_count(); }

    /// Returns the names assigned to member `i` by the last `assign` or `rebuild`.
    std::uint64_t load(std::size_t i) const noexcept { return table_.load(i); }

    /// Returns the most names member `i` may hold under the last set.
    std::uint64_t capacity(std::size_t i) const noexcept { return table_.capacity(i); }

    /// Returns the heap memory held, in bytes.
    std::size_t memory_bytes() const noexcept {
        return ring_.memory_bytes() + table_.memory_bytes() + hashes_.capacity() * sizeof(std::uint64_t);
    }

private:
    void assign_hashes() {
        table_.reset(members_, c_millis_, hashes_.size());
        if (ring_.points_count() == 0) return;
        for (const std::uint64_t key : hashes_) {
            // The capacities add up to at least the number of names, so a member with room exists.
            const auto owner = ring_.first_accepted(key, [&](std::size_t i) { return table_.has_room(i); });
            table_.add(key, *owner);
        }
        table_.finish();
    }

    hash_ring ring_;
    std::uint64_t c_millis_ = 1250;
    std::vector<member_info> members_;
    std::vector<std::uint64_t> hashes_;  // the last set, sorted
    detail::assignment table_;
};

static_assert(name_set_placement<bounded_load>);

}  // namespace muster

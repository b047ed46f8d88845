#pragma once
/// Consistent hashing with bounded loads, a model of `muster::placement` that reads the whole set
/// of registered names.

#include <muster/core/hash.hpp>
#include <muster/core/types.hpp>
#include <muster/policy/placement.hpp>
#include <muster/policy/placement/hash_ring.hpp>

#include <algorithm>
#include <cmath>
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
    /// No member holds more than ⌈c · N · w / W⌉ of N names, for its weight w of the total W
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
/// `name_set_placement`). A name missing from the last set, such as one being registered, gets
/// the first member clockwise with room left, which is the owner it would get if it were the
/// last name taken.
///
/// Cost: `assign` is O(N log N) for N names (a sort, then a walk that ends after a few points on
/// average for c ≥ 1.1). `owner_of` is a binary search over the assigned hashes. Memory: 12 bytes
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
        // A fixed-point factor keeps every capacity an integer computation, identical on every
        // platform and compiler setting.
        c_millis_ = static_cast<std::uint64_t>(std::llround(config.c * 1000.0));
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
        weights_.clear();
        for (const auto& m : members) weights_.push_back(m.weight);
        std::vector<std::uint64_t> hashes = std::move(hashes_);
        assign_sorted(std::move(hashes));
    }

    /// Assigns owners to the names whose `hash64` values are `hashes` (any order, repeats allowed).
    void assign(std::span<const std::uint64_t> hashes) {
        std::vector<std::uint64_t> sorted(hashes.begin(), hashes.end());
        if (!std::is_sorted(sorted.begin(), sorted.end())) std::sort(sorted.begin(), sorted.end());
        assign_sorted(std::move(sorted));
    }

    /// Returns the owner of `name`: its assigned owner when the last set holds it, otherwise the
    /// first member clockwise with room left. `std::nullopt` when no member has a weight.
    std::optional<std::size_t> owner_of(std::string_view name) const noexcept { return owner_of_hash(hash64(name)); }

    /// Returns the owner of a name whose `hash64` is `key`, as `owner_of` does.
    std::optional<std::size_t> owner_of_hash(std::uint64_t key) const noexcept {
        if (ring_.points_count() == 0) return std::nullopt;
        const auto it = std::lower_bound(hashes_.begin(), hashes_.end(), key);
        if (it != hashes_.end() && *it == key) return owners_[static_cast<std::size_t>(it - hashes_.begin())];
        return walk(key);
    }

    std::size_t members_count() const noexcept { return ring_.members_count(); }

    /// Returns the names assigned to member `i` by the last `assign` or `rebuild`.
    std::uint64_t load(std::size_t i) const noexcept { return i < loads_.size() ? loads_[i] : 0; }

    /// Returns the most names member `i` may hold under the last set.
    std::uint64_t capacity(std::size_t i) const noexcept { return i < capacities_.size() ? capacities_[i] : 0; }

    /// Returns the heap memory held, in bytes.
    std::size_t memory_bytes() const noexcept {
        return ring_.memory_bytes() + hashes_.capacity() * sizeof(std::uint64_t) +
               owners_.capacity() * sizeof(std::uint32_t) +
               (loads_.capacity() + capacities_.capacity()) * sizeof(std::uint64_t) +
               weights_.capacity() * sizeof(std::uint32_t);
    }

private:
    void assign_sorted(std::vector<std::uint64_t> sorted) {
        const std::size_t m = weights_.size();
        std::vector<std::uint64_t> capacities(m, 0);
        std::uint64_t total_weight = 0;
        for (const auto w : weights_) total_weight += w;
        const std::uint64_t n = sorted.size();
        if (total_weight != 0) {
            for (std::size_t i = 0; i < m; ++i) {
                // ⌈c · n · w / W⌉ in 128-bit integers, c in thousandths.
                const unsigned __int128 numerator =
                    static_cast<unsigned __int128>(c_millis_) * n * weights_[i];
                const unsigned __int128 denominator = static_cast<unsigned __int128>(1000) * total_weight;
                capacities[i] = static_cast<std::uint64_t>((numerator + denominator - 1) / denominator);
            }
        }
        capacities_.swap(capacities);
        loads_.assign(m, 0);
        std::vector<std::uint32_t> owners;
        owners.reserve(sorted.size());
        if (ring_.points_count() != 0) {
            for (const std::uint64_t key : sorted) {
                const std::size_t owner = *walk(key);
                ++loads_[owner];
                owners.push_back(static_cast<std::uint32_t>(owner));
            }
        } else {
            sorted.clear();
        }
        hashes_.swap(sorted);
        owners_.swap(owners);
    }

    // The first member clockwise from `key` whose load is below its capacity. The capacities add
    // up to at least the number of names, so while names are assigned one always has room. For a
    // name outside the set every member may be full; the plain ring owner answers then.
    std::optional<std::size_t> walk(std::uint64_t key) const noexcept {
        const std::size_t points = ring_.points_count();
        std::size_t p = ring_.point_at_or_after(key);
        for (std::size_t step = 0; step < points; ++step) {
            const std::size_t owner = ring_.point_owner(p);
            if (loads_[owner] < capacities_[owner]) return owner;
            p = p + 1 == points ? 0 : p + 1;
        }
        return ring_.point_owner(ring_.point_at_or_after(key));
    }

    hash_ring ring_;
    std::uint64_t c_millis_ = 1250;
    std::vector<std::uint32_t> weights_;
    std::vector<std::uint64_t> capacities_;
    std::vector<std::uint64_t> loads_;
    std::vector<std::uint64_t> hashes_;  // the assigned names' hashes, sorted
    std::vector<std::uint32_t> owners_;  // owner of each entry of hashes_
};

static_assert(name_set_placement<bounded_load>);

}  // namespace muster

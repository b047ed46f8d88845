#pragma once
/// A consistent-hash ring with virtual nodes, the default model of `muster::placement`.

#include <muster/core/hash.hpp>
#include <muster/core/types.hpp>
#include <muster/policy/placement.hpp>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace muster {

/// Settings of a `hash_ring`.
struct hash_ring_config {
    /// Points on the ring per unit of member weight. More points give a more even share of names
    /// per member at the cost of memory (16 to 20 bytes per point) and rebuild time.
    /// Valid range: 1 to `hash_ring_vnodes_max`.
    std::uint32_t vnodes = 128;
};

/// Upper bound of `hash_ring_config::vnodes`.
inline constexpr std::uint32_t hash_ring_vnodes_max = 65536;

/// Upper bound on the points of one member. A larger `vnodes * weight` is clamped to it, so shares
/// stop growing with weight there. With 128 vnodes the clamp starts at weight 8192.
inline constexpr std::uint64_t hash_ring_member_points_max = std::uint64_t{1} << 20;

/// Consistent hashing with virtual nodes: each member places `vnodes * weight` points on a 64-bit
/// ring, and a name belongs to the member owning the first point at or after the name's hash,
/// wrapping past the end to the first point.
///
/// Point positions depend only on member names (`hash64(name, point number)`), never on
/// incarnations, so a node restarted under the same name gets its old points and its old names.
/// Adding a member moves only names that the new member then owns.
///
/// Lookup reads a first-level table indexed by the top bits of the hash, which narrows the search
/// to a few points (about one on average, since the table has at least as many buckets as points),
/// and then scans them. Cost: one `hash64` of the name plus three memory reads.
class hash_ring {
public:
    /// Builds an empty ring with the default settings.
    hash_ring() = default;

    /// Builds an empty ring. Throws `std::invalid_argument` when `validate(config)` reports an
    /// error; use `make` to get an error code instead.
    explicit hash_ring(hash_ring_config config) : config_(config) {
        if (validate(config)) {
            throw std::invalid_argument("muster::hash_ring: vnodes is " + std::to_string(config.vnodes) +
                                        ", expected 1 to " + std::to_string(hash_ring_vnodes_max) +
                                        "; set hash_ring_config::vnodes in that range");
        }
    }

    /// Checks `config`; returns `errc::invalid_config` when `vnodes` is 0 or above
    /// `hash_ring_vnodes_max`.
    static constexpr std::optional<errc> validate(const hash_ring_config& config) noexcept {
        if (config.vnodes == 0) return errc::invalid_config;
        if (config.vnodes > hash_ring_vnodes_max) return errc::invalid_config;
        return std::nullopt;
    }

    /// Builds an empty ring, or returns the error from `validate(config)`.
    static result<hash_ring> make(hash_ring_config config) {
        if (const auto error = validate(config)) return *error;
        return hash_ring{config};
    }

    /// Replaces the view with `members`, which the registry passes sorted by name without
    /// duplicates. A member of weight 0 gets no points and owns no names.
    /// Cost: O(p + a log a) for p points in total and a points of members new to the view (or
    /// with a changed weight), because the points of members already present are kept and only
    /// renumbered. The first build is O(p log p). Memory is 16 to 20 bytes per point. On an
    /// exception the previous view stays in place.
    /// Throws `std::length_error` when the points would not fit 32-bit indices.
    void rebuild(std::span<const member_info> members);

    /// Returns the index, into the span last passed to `rebuild`, of the member owning `name`.
    /// Returns `std::nullopt` when no member has points (an empty view, or every weight 0).
    /// Deterministic: the same view and name give the same member on every node and build.
    std::optional<std::size_t> owner_of(std::string_view name) const noexcept {
        return owner_of_hash(hash64(name));
    }

    /// Returns the owner of a name whose `hash64` is `key`, as `owner_of` does.
    std::optional<std::size_t> owner_of_hash(std::uint64_t key) const noexcept;

    /// Returns the number of members in the last view, those of weight 0 included.
    std::size_t members_count() const noexcept { return members_count_; }

    /// Returns the number of points on the ring.
    std::size_t points_count() const noexcept { return positions_.size(); }

    /// Returns the index of the first point at or after `key`, wrapping to 0 past the last point.
    /// Points are numbered in ring order, so a walk from a key visits `i`, `i + 1`, ... modulo
    /// `points_count()`. Precondition: the ring has points.
    std::size_t point_at_or_after(std::uint64_t key) const noexcept;

    /// Returns the member index (into the last view) owning point `i < points_count()`.
    std::size_t point_owner(std::size_t i) const noexcept { return owners_[i]; }

    /// Offers the owners of the points from `key` clockwise to `accept` and returns the first one
    /// it accepts (see `ordered_placement`). A member is offered once per point it owns on the
    /// way, so a walk that accepts no member costs one call per point.
    template <class Accept>
    std::optional<std::size_t> first_accepted(std::uint64_t key, Accept&& accept) const {
        const std::size_t n = positions_.size();
        if (n == 0) return std::nullopt;
        std::size_t p = point_at_or_after(key);
        for (std::size_t step = 0; step < n; ++step) {
            const std::size_t owner = owners_[p];
            if (accept(owner)) return owner;
            p = p + 1 == n ? 0 : p + 1;
        }
        return std::nullopt;
    }

    /// Returns the heap memory held by the ring, in bytes (allocated capacity, not size).
    std::size_t memory_bytes() const noexcept {
        return positions_.capacity() * sizeof(std::uint64_t) +
               owners_.capacity() * sizeof(std::uint32_t) +
               bucket_starts_.capacity() * sizeof(std::uint32_t);
    }

    /// Returns the settings the ring was built with.
    const hash_ring_config& config() const noexcept { return config_; }

private:
    struct point {
        std::uint64_t position;
        std::uint32_t owner;
    };

    // Places the points of the `added` members (at `added_index` in `members`), after checking
    // that the whole view fits 32-bit indices.
    static std::vector<point> place_points(std::span<const member_info> members, std::span<const member_info> added,
                                           std::span<const std::uint32_t> added_index, std::uint32_t vnodes);
    static unsigned bucket_shift_for(std::size_t points_count) noexcept;
    static std::vector<std::uint32_t> build_buckets(const std::vector<std::uint64_t>& positions,
                                                    unsigned bucket_shift);

    struct member_key {
        std::string name;
        std::uint32_t weight = 0;
    };

    static std::uint64_t member_points(const member_info& member, std::uint32_t vnodes) noexcept {
        return std::min(std::uint64_t{vnodes} * member.weight, hash_ring_member_points_max);
    }

    hash_ring_config config_{};
    std::size_t members_count_ = 0;
    std::vector<member_key> previous_;  // the last view's names and weights, sorted by name

    // Point i sits at positions_[i] and belongs to member owners_[i]. Points are sorted by
    // position, then by member index, so equal positions resolve the same way everywhere.
    std::vector<std::uint64_t> positions_;
    std::vector<std::uint32_t> owners_;

    // bucket_starts_[b] is the first point whose position is at or above b << bucket_shift_, and a
    // final entry is points_count(). There are 2^(64 - bucket_shift_) buckets, and the table
    // is empty while the ring has no points.
    std::vector<std::uint32_t> bucket_starts_;
    unsigned bucket_shift_ = 63;
};

static_assert(ordered_placement<hash_ring>);

inline void hash_ring::rebuild(std::span<const member_info> members) {
    const bool sorted = std::adjacent_find(members.begin(), members.end(), [](const auto& a, const auto& b) {
                            return !(a.name < b.name);
                        }) == members.end();

    // Members of the previous view with the same name and weight keep their points under their new
    // index. The others, and every member when the view is not sorted, get points placed afresh.
    constexpr std::uint32_t gone = std::numeric_limits<std::uint32_t>::max();
    std::vector<std::uint32_t> renumbered(previous_.size(), gone);
    std::vector<bool> kept(members.size(), false);
    if (sorted) {
        std::size_t a = 0;
        std::size_t b = 0;
        while (a < previous_.size() && b < members.size()) {
            if (previous_[a].name < members[b].name) {
                ++a;
            } else if (members[b].name < previous_[a].name) {
                ++b;
            } else {
                if (previous_[a].weight == members[b].weight) {
                    renumbered[a] = static_cast<std::uint32_t>(b);
                    kept[b] = true;
                }
                ++a;
                ++b;
            }
        }
    }

    std::vector<member_info> added;
    std::vector<std::uint32_t> added_index;
    for (std::size_t b = 0; b < members.size(); ++b) {
        if (kept[b]) continue;
        added.push_back(members[b]);
        added_index.push_back(static_cast<std::uint32_t>(b));
    }
    std::vector<point> fresh = place_points(members, added, added_index, config_.vnodes);
    std::sort(fresh.begin(), fresh.end(), [](const point& x, const point& y) {
        return x.position != y.position ? x.position < y.position : x.owner < y.owner;
    });

    // Renumbering is monotone, because both views are sorted by name, so the kept points stay in
    // (position, owner) order and one merge with the fresh points sorts the whole ring. The
    // output is sized for every old point plus the fresh ones and cut to what was written.
    std::vector<std::uint64_t> positions(positions_.size() + fresh.size());
    std::vector<std::uint32_t> owners(positions.size());
    std::size_t out = 0;
    std::size_t f = 0;
    for (std::size_t i = 0; i < positions_.size(); ++i) {
        const std::uint32_t owner = renumbered[owners_[i]];
        if (owner == gone) continue;
        const std::uint64_t position = positions_[i];
        while (f < fresh.size() &&
               (fresh[f].position < position || (fresh[f].position == position && fresh[f].owner < owner))) {
            positions[out] = fresh[f].position;
            owners[out] = fresh[f].owner;
            ++out;
            ++f;
        }
        positions[out] = position;
        owners[out] = owner;
        ++out;
    }
    for (; f < fresh.size(); ++f, ++out) {
        positions[out] = fresh[f].position;
        owners[out] = fresh[f].owner;
    }
    positions.resize(out);
    owners.resize(out);

    const unsigned bucket_shift = bucket_shift_for(positions.size());
    std::vector<std::uint32_t> bucket_starts = build_buckets(positions, bucket_shift);
    std::vector<member_key> previous;
    if (sorted) {
        previous.reserve(members.size());
        for (const auto& m : members) previous.push_back({m.name, m.weight});
    }

    // The new tables are built aside and swapped in, so a failed allocation keeps the old view.
    positions_.swap(positions);
    owners_.swap(owners);
    bucket_starts_.swap(bucket_starts);
    previous_.swap(previous);
    bucket_shift_ = bucket_shift;
    members_count_ = members.size();
}

inline std::vector<hash_ring::point> hash_ring::place_points(std::span<const member_info> members,
                                                             std::span<const member_info> added,
                                                             std::span<const std::uint32_t> added_index,
                                                             std::uint32_t vnodes) {
    // Owners and bucket starts are 32-bit, so both the member count and the point total must
    // stay below 2^32.
    constexpr std::uint64_t index_max = std::numeric_limits<std::uint32_t>::max();
    if (members.size() >= index_max) {
        throw std::length_error("muster::hash_ring: " + std::to_string(members.size()) +
                                " members exceed the ring's 32-bit member index");
    }

    std::uint64_t total = 0;
    for (const member_info& member : members) total += member_points(member, vnodes);
    if (total >= index_max) {
        throw std::length_error("muster::hash_ring: " + std::to_string(total) +
                                " points exceed the ring's 32-bit point index; lower vnodes or weights");
    }

    std::uint64_t added_total = 0;
    for (const member_info& member : added) added_total += member_points(member, vnodes);
    std::vector<point> points;
    points.reserve(static_cast<std::size_t>(added_total));
    for (std::size_t k = 0; k < added.size(); ++k) {
        const std::uint64_t count = member_points(added[k], vnodes);
        for (std::uint64_t vnode = 0; vnode < count; ++vnode) {
            points.push_back({hash64(added[k].name, vnode), added_index[k]});
        }
    }
    return points;
}

inline unsigned hash_ring::bucket_shift_for(std::size_t points_count) noexcept {
    // The smallest power of two at or above the point count keeps about one point per bucket.
    // At least two buckets keep the shift below 64, and at most 2^24 cap the table at 64 MiB.
    const std::size_t highest_index = points_count == 0 ? 0 : points_count - 1;
    const auto bucket_bits = std::clamp(static_cast<unsigned>(std::bit_width(highest_index)), 1U, 24U);
    return 64 - bucket_bits;
}

inline std::vector<std::uint32_t> hash_ring::build_buckets(const std::vector<std::uint64_t>& positions,
                                                           unsigned bucket_shift) {
    if (positions.empty()) return {};

    // The first point at or above bucket b is the number of points in the buckets below b: a
    // count per bucket and a running sum give it without a branch per bucket.
    const std::size_t buckets_count = std::size_t{1} << (64 - bucket_shift);
    std::vector<std::uint32_t> starts(buckets_count + 1);
    for (const std::uint64_t position : positions) ++starts[static_cast<std::size_t>(position >> bucket_shift) + 1];
    for (std::size_t bucket = 1; bucket <= buckets_count; ++bucket) starts[bucket] += starts[bucket - 1];
    return starts;
}

inline std::optional<std::size_t> hash_ring::owner_of_hash(std::uint64_t key) const noexcept {
    if (positions_.empty()) return std::nullopt;
    return owners_[point_at_or_after(key)];
}

inline std::size_t hash_ring::point_at_or_after(std::uint64_t key) const noexcept {
    const auto bucket = static_cast<std::size_t>(key >> bucket_shift_);
    std::size_t index = bucket_starts_[bucket];
    const std::size_t end = bucket_starts_[bucket + 1];

    // Every point from `end` on lies in a later bucket and so above `key`. When no point of this
    // bucket is at or after `key`, the owner is therefore point `end`.
    while (index < end && positions_[index] < key) ++index;
    return index == positions_.size() ? 0 : index;
}

}  // namespace muster

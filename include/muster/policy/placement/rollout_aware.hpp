#pragma once
/// A placement that keeps names where they run, bounds every member's load, and places names
/// that need a node on the newest generation of members, so a rollout moves each name once.

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
#include <utility>
#include <vector>

namespace muster {

/// Settings of a `rollout_aware` placement.
struct rollout_aware_config {
    /// No member is given names beyond ⌈c · N · w / W⌉ of N names (see `bounded_load_config::c`).
    /// Valid range: 1 to 16. Lower than `bounded_load`'s default, because kept names do not move
    /// when caps shift, so a tight cap costs no extra movement here.
    double c = 1.10;
    /// A name stays on its current owner while the owner has fewer than ⌈keep · N · w / W⌉
    /// names. A `keep` above `c` leaves room for the swings of a rollout (a surge pod raises the
    /// member count for a while, which lowers every cap) without moving names back and forth.
    /// Max/mean load stays at most `keep`. Valid range: `c` to 16.
    double keep = 1.5;
};

/// Sticky placement with bounded loads that detects a rollout from member generations.
///
/// Every registered name is assigned in two passes over the names sorted by hash:
///
/// 1. A name stays on its current owner while that owner is a member below its keep cap. The
///    cap is `rollout_aware_config::keep` times the mean plus three times the square root of
///    the mean, so chance variations among few names per member move nothing.
/// 2. Every other name (new, owner gone or leaving, owner over its cap) goes to the first member,
///    in `Inner`'s order of preference for the name, that has room and belongs to the newest
///    generation present. When all of those are full, it goes to the first member of the newest
///    generation in that order.
///
/// Caps count every member of the view, old generations included, so while a rollout runs the
/// new members fill up to about the share they will hold once the old ones are gone. A name thus
/// moves when its node leaves, straight to a node of the new generation, and not again: no name
/// moves between two old nodes that are about to go, and new nodes do not pull names off old
/// nodes that still run them. When one generation remains, it behaves like `bounded_load` that
/// keeps names in place: a joining member takes names only as other members exceed the lower
/// keep cap the join brings, so max/mean load stays at most `keep` (plus the slack), and
/// movement stays near the minimum. New names and names of failed members even the load out over time.
///
/// A generation is a number that grows with each release, such as the Deployment revision of a
/// pod (`registry_config::generation`); members announce theirs in their hello.
///
/// The answer is a pure function of the view and the list given to `assign` (names with their
/// current owners), so every node holding the same replica agrees.
template <ordered_placement Inner = hash_ring>
class rollout_aware {
public:
    explicit rollout_aware(Inner inner = Inner{}, rollout_aware_config config = {}) : inner_(std::move(inner)) {
        if (validate(config)) {
            throw std::invalid_argument("muster::rollout_aware: c is " + std::to_string(config.c) + " and keep " +
                                        std::to_string(config.keep) + ", expected 1 ≤ c ≤ keep ≤ 16");
        }
        c_millis_ = detail::load_factor_millis(config.c);
        keep_millis_ = detail::load_factor_millis(config.keep);
    }

    /// Returns `errc::invalid_config` unless 1 ≤ c ≤ keep ≤ 16.
    static std::optional<errc> validate(const rollout_aware_config& config) noexcept {
        if (!(config.c >= 1.0 && config.c <= 16.0)) return errc::invalid_config;
        if (!(config.keep >= config.c && config.keep <= 16.0)) return errc::invalid_config;
        return std::nullopt;
    }

    /// Replaces the view and assigns the last list again; current owners not in the new view
    /// count as gone. Cost: a rebuild of `Inner` plus an `assign`.
    void rebuild(std::span<const member_info> members) {
        // Current owners are view indices: translate them to the new view by name.
        std::vector<std::uint32_t> renumbered(members_.size(), placed_name::no_member);
        for (std::size_t i = 0, j = 0; i < members_.size() && j < members.size();) {
            if (members_[i].name < members[j].name) {
                ++i;
            } else if (members[j].name < members_[i].name) {
                ++j;
            } else {
                if (members_[i].incarnation == members[j].incarnation) renumbered[i] = static_cast<std::uint32_t>(j);
                ++i;
                ++j;
            }
        }
        for (auto& n : names_)
            if (n.owner != placed_name::no_member) n.owner = n.owner < renumbered.size() ? renumbered[n.owner] : placed_name::no_member;

        inner_.rebuild(members);
        members_.assign(members.begin(), members.end());
        newest_ = 0;
        oldest_ = 0;
        for (std::size_t i = 0; i < members_.size(); ++i) {
            newest_ = i == 0 ? members_[i].generation : std::max(newest_, members_[i].generation);
            oldest_ = i == 0 ? members_[i].generation : std::min(oldest_, members_[i].generation);
        }
        assign_names();
    }

    /// Assigns `names`, sorted by hash, with their current owners (see `name_set_placement`).
    void assign(std::span<const placed_name> names) {
        names_.assign(names.begin(), names.end());
        if (!std::is_sorted(names_.begin(), names_.end(), by_hash)) std::sort(names_.begin(), names_.end(), by_hash);
        assign_names();
    }

    /// Returns the assigned owner of `name`, or for a name outside the last list, the member
    /// pass 2 would give it.
    std::optional<std::size_t> owner_of(std::string_view name) const { return owner_of_hash(hash64(name)); }

    /// Returns the owner of a name whose `hash64` is `key`, as `owner_of` does.
    std::optional<std::size_t> owner_of_hash(std::uint64_t key) const {
        if (const auto owner = table_.find(key)) return owner;
        return place(key);
    }

    /// Returns the first member of the newest generation in `Inner`'s order for `name`, which
    /// depends on the view alone (see `name_set_placement`).
    std::optional<std::size_t> view_owner_of(std::string_view name) const {
        return inner_.first_accepted(hash64(name), [&](std::size_t i) { return newest(i); });
    }

    std::size_t members_count() const noexcept { return members_.size(); }

    /// Returns whether the last view contains members of more than one generation.
    bool rollout_in_progress() const noexcept { return newest_ != oldest_; }

    /// Returns the names assigned to member `i` by the last `assign` or `rebuild`.
    std::uint64_t load(std::size_t i) const noexcept { return table_.load(i); }

    /// Returns the most names member `i` is given under the last list.
    std::uint64_t capacity(std::size_t i) const noexcept { return table_.capacity(i); }

private:
    static bool by_hash(const placed_name& a, const placed_name& b) noexcept { return a.hash < b.hash; }

    static std::uint64_t isqrt(std::uint64_t x) noexcept {
        std::uint64_t r = 0;
        for (std::uint64_t bit = std::uint64_t{1} << 62; bit != 0; bit >>= 2) {
            if (x >= r + bit) {
                x -= r + bit;
                r = (r >> 1) + bit;
            } else {
                r >>= 1;
            }
        }
        return r;
    }

    bool newest(std::size_t i) const noexcept { return members_[i].generation == newest_ && members_[i].weight != 0; }

    std::optional<std::size_t> place(std::uint64_t key) const {
        // When every newest member is full, the first search would visit every point of the
        // inner order for each name placed. The count skips that search.
        if (newest_with_room_ > 0) {
            if (const auto owner = inner_.first_accepted(key, [&](std::size_t i) { return newest(i) && table_.has_room(i); }))
                return owner;
        }
        return inner_.first_accepted(key, [&](std::size_t i) { return newest(i); });
    }

    // Adds `hash` to the table under `owner` and keeps `newest_with_room_` up to date.
    void add(std::uint64_t hash, std::size_t owner) {
        const bool had_room = table_.has_room(owner);
        table_.add(hash, owner);
        if (had_room && !table_.has_room(owner) && newest(owner)) --newest_with_room_;
    }

    void assign_names() {
        table_.reset(members_, c_millis_, names_.size());
        newest_with_room_ = 0;
        if (members_.empty()) return;
        const std::uint64_t total = detail::total_weight(members_);
        std::vector<std::uint64_t> keep_caps(members_.size());
        for (std::size_t i = 0; i < members_.size(); ++i) {
            // With few names per member, chance alone puts some members well above the mean. A
            // slack of three standard deviations of that noise (√mean) keeps those names in place.
            const std::uint64_t mean = detail::capacity(1000, names_.size(), members_[i].weight, total);
            keep_caps[i] = detail::capacity(keep_millis_, names_.size(), members_[i].weight, total) + 3 * isqrt(mean);
        }
        for (std::size_t i = 0; i < members_.size(); ++i)
            if (newest(i) && table_.has_room(i)) ++newest_with_room_;
        std::vector<std::uint64_t> unplaced;
        for (const auto& n : names_) {
            if (n.owner < members_.size() && table_.load(n.owner) < keep_caps[n.owner]) add(n.hash, n.owner);
            else unplaced.push_back(n.hash);
        }
        for (const std::uint64_t key : unplaced) {
            if (const auto owner = place(key)) add(key, *owner);
        }
        table_.finish();
    }

    Inner inner_;
    std::uint64_t c_millis_ = 1100;
    std::uint64_t keep_millis_ = 1500;
    std::vector<member_info> members_;
    std::uint64_t newest_ = 0;
    std::uint64_t oldest_ = 0;
    std::vector<placed_name> names_;  // the last list, sorted by hash, owners as view indices
    std::size_t newest_with_room_ = 0;  // members of the newest generation below their capacity
    detail::assignment table_;
};

static_assert(name_set_placement<rollout_aware<>>);

}  // namespace muster

#pragma once
/// A wrapper of any `muster::placement` that knows a rollout is under way from member generations.

#include <muster/policy/placement.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace muster {

/// Places names with `Inner`, and changes two things while members of several generations are in
/// the view (a rollout is under way):
///
/// - a name whose owner is still a member stays where it is, so no name moves between two old
///   nodes and new nodes do not pull names off old nodes that still run them;
/// - a name that needs an owner (new, or its owner left or failed) goes to the newest generation
///   present, placed by `Inner` over those members only.
///
/// Each name therefore moves once during the rollout, from the old node it ran on to a new node,
/// when that old node leaves. Once one generation remains, `Inner` alone decides again and the
/// registry's rebalance moves the names whose new node is not their `Inner` owner in the final
/// view (about 1 − k/n of the names that moved while only k of the n new nodes were members).
///
/// A generation is a number that grows with each release, such as the Deployment revision of a
/// pod (`registry_config::generation`). Members announce theirs in their hello.
template <placement Inner>
class rollout_aware {
public:
    explicit rollout_aware(Inner inner = Inner{}) : all_(inner), newest_(std::move(inner)) {}

    /// Replaces the view. Cost: two rebuilds of `Inner` while generations are mixed, one otherwise.
    void rebuild(std::span<const member_info> members) {
        std::uint64_t newest = 0;
        std::uint64_t oldest = 0;
        for (std::size_t i = 0; i < members.size(); ++i) {
            newest = i == 0 ? members[i].generation : std::max(newest, members[i].generation);
            oldest = i == 0 ? members[i].generation : std::min(oldest, members[i].generation);
        }
        std::vector<member_info> subset;
        std::vector<std::size_t> subset_index;
        const bool mixed = newest != oldest;
        if (mixed) {
            for (std::size_t i = 0; i < members.size(); ++i) {
                if (members[i].generation != newest) continue;
                subset.push_back(members[i]);
                subset_index.push_back(i);
            }
            newest_.rebuild(subset);
        }
        all_.rebuild(members);
        newest_index_.swap(subset_index);
        mixed_ = mixed;
        members_count_ = members.size();
    }

    /// Returns the owner of a name without a current owner: with mixed generations the `Inner`
    /// owner among the newest generation, otherwise the `Inner` owner among all members.
    std::optional<std::size_t> owner_of(std::string_view name) const {
        if (!mixed_) return all_.owner_of(name);
        const auto index = newest_.owner_of(name);
        if (!index || *index >= newest_index_.size()) return std::nullopt;
        return newest_index_[*index];
    }

    /// Returns `current` while generations are mixed and `current` is a member, and
    /// `owner_of(name)` otherwise.
    std::optional<std::size_t> owner_of(std::string_view name, std::optional<std::size_t> current) const {
        if (mixed_ && current && *current < members_count_) return current;
        return owner_of(name);
    }

    std::size_t members_count() const noexcept { return members_count_; }

    /// Returns whether the last view held members of more than one generation.
    bool rollout_in_progress() const noexcept { return mixed_; }

private:
    Inner all_;
    Inner newest_;
    std::vector<std::size_t> newest_index_;  // view index of each member of the newest generation
    bool mixed_ = false;
    std::size_t members_count_ = 0;
};

}  // namespace muster

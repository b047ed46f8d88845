#pragma once
/// A wrapper of any `muster::placement` that places nothing without a quorum of members.

#include <muster/core/types.hpp>
#include <muster/policy/placement.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace muster {

/// Places names with `Inner` while the view contains at least `quorum` members, and places nothing
/// otherwise.
///
/// Set `quorum` to a majority of the cluster's expected size (3 of 5, say). After a netsplit the
/// minority side then has fewer members than the quorum in its view. Its registry stops the
/// workers it runs (keeping their state) and rejects registrations with `errc::no_members`. The majority
/// side restarts those names once it declares the other side failed. When the view regains the
/// quorum, stopped workers are placed again, or give their kept state to the instance that ran on
/// the majority side.
///
/// NOTE: this narrows the window with two instances to the failure timeout; it does not close
/// it, since each side only learns of the split through that timeout. Leaving members are not in
/// the view, so a rollout that takes more than `size - quorum` nodes away at once pauses the
/// workers until new nodes join.
template <placement Inner>
class static_quorum {
public:
    /// Wraps `inner`. Throws `std::invalid_argument` when `quorum` is 0.
    explicit static_quorum(std::size_t quorum, Inner inner = Inner{}) : inner_(std::move(inner)), quorum_(quorum) {
        if (quorum == 0) {
            throw std::invalid_argument("muster::static_quorum: quorum is 0; use at least 1, typically a majority "
                                        "of the cluster's size");
        }
    }

    /// Replaces the view; the inner placement is rebuilt even without a quorum, so lookups are
    /// ready the moment the quorum returns.
    void rebuild(std::span<const member_info> members) {
        inner_.rebuild(members);
        has_quorum_ = members.size() >= quorum_;
    }

    /// Returns the inner placement's owner, or `std::nullopt` without a quorum.
    std::optional<std::size_t> owner_of(std::string_view name) const noexcept(noexcept(std::declval<const Inner&>().owner_of(name))) {
        if (!has_quorum_) return std::nullopt;
        return inner_.owner_of(name);
    }

    /// Forwards the registered names to an inner placement that reads them.
    void assign(std::span<const placed_name> names)
        requires name_set_placement<Inner>
    {
        inner_.assign(names);
    }

    /// Returns whether the inner placement reads the current owners: true unless it declares
    /// otherwise.
    bool uses_owners() const
        requires name_set_placement<Inner>
    {
        return reads_owners(inner_);
    }

    /// Forwards to an inner placement with a view-only owner, without a quorum `std::nullopt`.
    std::optional<std::size_t> view_owner_of(std::string_view name) const
        requires requires(const Inner& i, std::string_view n) { i.view_owner_of(n); }
    {
        if (!has_quorum_) return std::nullopt;
        return inner_.view_owner_of(name);
    }

    std::size_t members_count() const noexcept { return inner_.members_count(); }

    /// Returns whether the last view held at least `quorum()` members.
    bool has_quorum() const noexcept { return has_quorum_; }
    std::size_t quorum() const noexcept { return quorum_; }
    const Inner& inner() const noexcept { return inner_; }

private:
    Inner inner_;
    std::size_t quorum_;
    bool has_quorum_ = false;
};

}  // namespace muster

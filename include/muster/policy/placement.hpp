#pragma once
/// The Placement concept: which member owns a worker name.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace muster {

/// One member as placement sees it. The registry passes members sorted by `name`, and excludes
/// members that are leaving, so every node holding the same member set passes the same span.
struct member_info {
    std::string name;
    std::uint64_t incarnation = 0;
    std::uint32_t weight = 1;       ///< relative share of names; placement models may ignore it
    std::uint64_t generation = 0;   ///< the member's release (`registry_config::generation`)
};

/// A placement model maps a worker name to one member of the current view.
///
/// Requirements:
/// - `p.rebuild(members)`: replaces the view. Called by the registry after every membership
///   change, with members sorted by name and without duplicates. Cost is the model's own
///   (the ring's is O(m·v·log(m·v)) for m members and v virtual nodes).
/// - `cp.owner_of(name)`: returns the index into the span last given to `rebuild`, or
///   `std::nullopt` when the view is empty (or when the model declines to place, as a quorum
///   model would). Must be a pure function of the name and the view: deterministic, identical on
///   every node and every build, independent of the order of earlier calls.
/// - `cp.members_count()`: the size of the last view.
template <class P>
concept placement = requires(P& p, const P& cp, std::span<const member_info> members,
                             std::string_view name) {
    { p.rebuild(members) } -> std::same_as<void>;
    { cp.owner_of(name) } -> std::same_as<std::optional<std::size_t>>;
    { cp.members_count() } -> std::convertible_to<std::size_t>;
};

/// A placement that also reads where a name runs now, such as `rollout_aware`, which keeps names
/// where they are while a rollout is under way.
///
/// `cp.owner_of(name, current)` gets the index, in the last view, of the member the registry
/// replica names as the name's owner, or `std::nullopt` when the name is new, removed, or owned by
/// a node outside the view (failed, leaving). The answer must be a pure function of the name, the
/// view and `current`, so every node with the same view and replica agrees. `cp.owner_of(name)`
/// stays the answer for a name without a current owner.
template <class P>
concept owner_aware_placement =
    placement<P> && requires(const P& cp, std::string_view name, std::optional<std::size_t> current) {
        { cp.owner_of(name, current) } -> std::same_as<std::optional<std::size_t>>;
    };

/// A placement whose owners depend on the whole set of registered names, such as `bounded_load`.
///
/// `p.assign(hashes)` receives the `hash64` of every registered name (sorted, possibly with
/// repeats) after `rebuild`, and again whenever the registry's names change, at most once per
/// heartbeat interval. Owners must be a pure function of the view and that set, so every node
/// holding the same replica agrees. Between two calls, names not in the last set get an answer
/// consistent with the last set.
template <class P>
concept name_set_placement = placement<P> && requires(P& p, std::span<const std::uint64_t> hashes) {
    { p.assign(hashes) } -> std::same_as<void>;
};

}  // namespace muster

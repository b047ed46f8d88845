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

/// A placement that can list members in its order of preference for a name, such as
/// `hash_ring` (clockwise from the name) and `rendezvous` (by descending score). Load-bounded
/// models build on it: they take the first member in that order that still has room.
///
/// `cp.first_accepted(key, accept)` calls `accept(index)` for members in preference order for the
/// name whose `hash64` is `key`, and returns the first index for which `accept` returns true, or
/// `std::nullopt` when it accepts none. A member may be offered more than once.
template <class P>
concept ordered_placement = placement<P> && requires(const P& cp, std::uint64_t key, bool (*accept)(std::size_t)) {
    { cp.first_accepted(key, accept) } -> std::same_as<std::optional<std::size_t>>;
};

/// One registered name as passed to a `name_set_placement`.
struct placed_name {
    static constexpr std::uint32_t no_member = 0xffffffffU;
    std::uint64_t hash = 0;             ///< `hash64` of the name
    std::uint32_t owner = no_member;    ///< index in the view of its current owner, if a member
};

/// A placement whose owners depend on the registered names and where they run now, such as
/// `bounded_load` (which caps each member's load) and `rollout_aware` (which keeps names where
/// they run).
///
/// `p.assign(names)` receives every registered name, sorted by hash, with the view index of its
/// current owner. The registry calls it after each `rebuild`, at each rebalance and on each
/// heartbeat, whenever the names or their owners changed since the last call. Owners must be a
/// pure function of the view and that list, so every node holding the same replica agrees.
/// Between two calls, `owner_of` returns, for a name outside the last list, the owner it would
/// get as the next name assigned.
///
/// A model whose owners depend on the names alone, not on where they run now, may declare this
/// by returning false from `cp.uses_owners()`. The registry then skips the calls after moves that
/// left the set of names as it was.
///
/// Replicas lag each other, so two nodes can briefly disagree on such owners. A model may
/// therefore offer `cp.view_owner_of(name)`, an owner that depends on the view alone. The
/// registry uses it where all nodes must decide alike: which node restarts a failed member's
/// name, and which instance survives a conflict. Without it, `owner_of` is used there too.
template <class P>
concept name_set_placement = placement<P> && requires(P& p, std::span<const placed_name> names) {
    { p.assign(names) } -> std::same_as<void>;
};

/// Returns whether name-set placement `p` reads the names' current owners: `p.uses_owners()`
/// where `P` declares it, and true otherwise.
template <class P>
bool reads_owners(const P& p) {
    if constexpr (requires { p.uses_owners(); }) return p.uses_owners();
    else return true;
}

}  // namespace muster

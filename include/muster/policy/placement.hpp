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
    std::uint32_t weight = 1;  ///< relative share of names; placement models may ignore it
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

}  // namespace muster

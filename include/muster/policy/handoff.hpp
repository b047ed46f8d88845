#pragma once
/// The Handoff concept: what happens to a worker whose owner changes, and which instance survives
/// when a netsplit heals with two instances of one name.

#include <concepts>
#include <cstdint>
#include <optional>
#include <string_view>

namespace muster {

/// One instance of a name involved in a conflict.
struct conflict_claim {
    std::string_view node;
    std::uint64_t incarnation = 0;
    std::uint64_t version = 0;
};

/// Chooses the default conflict winner: the instance on the node placement picks; otherwise the
/// higher version; otherwise the lower node name. Returns 0 for `a`, 1 for `b`. Symmetric:
/// swapping `a` and `b` swaps the result, so both holders agree when they share a view.
constexpr int default_conflict_winner(const conflict_claim& a, const conflict_claim& b,
                                      std::optional<std::string_view> placed) noexcept {
    if (placed) {
        const bool a_placed = a.node == *placed;
        const bool b_placed = b.node == *placed;
        if (a_placed != b_placed) return a_placed ? 0 : 1;
    }
    if (a.version != b.version) return a.version > b.version ? 0 : 1;
    if (a.node != b.node) return a.node < b.node ? 0 : 1;
    return a.incarnation >= b.incarnation ? 0 : 1;
}

/// A handoff model.
///
/// Requirements:
/// - `h.moves_on_topology_change()`: true if a worker moves when placement picks another live
///   node; false keeps it where it is until its node leaves or fails.
/// - `h.transfers_state()`: true if the old worker's state is asked for and given to the new one.
/// - `h.pick_conflict_winner(name, a, b, placed)`: 0 keeps `a`, 1 keeps `b`. Must be a pure,
///   symmetric function, because both holders evaluate it. The loser's state goes to the winner.
template <class H>
concept handoff = requires(const H& h, std::string_view name, const conflict_claim& a,
                           const conflict_claim& b, std::optional<std::string_view> placed) {
    { h.moves_on_topology_change() } -> std::convertible_to<bool>;
    { h.transfers_state() } -> std::convertible_to<bool>;
    { h.pick_conflict_winner(name, a, b, placed) } -> std::same_as<int>;
};

}  // namespace muster

#pragma once
/// Handoff with state: the old worker hands its state to the new owner.

#include <muster/policy/handoff.hpp>

namespace muster {

/// Moves a worker when its owner changes; the old worker stops and returns its state, and the new
/// owner starts with it. The old holder keeps the state until the new owner confirms.
struct resume {
    bool moves_on_topology_change() const { return true; }
    bool transfers_state() const { return true; }
    int pick_conflict_winner(std::string_view, const conflict_claim& a, const conflict_claim& b,
                             std::optional<std::string_view> placed) const {
        return default_conflict_winner(a, b, placed);
    }
};

static_assert(handoff<resume>);

}  // namespace muster

#pragma once
/// Handoff by restart: the new owner starts the worker from scratch.

#include <muster/policy/handoff.hpp>

namespace muster {

/// Moves a worker when its owner changes; the old worker stops and the new one starts fresh.
struct restart {
    bool moves_on_topology_change() const { return true; }
    bool transfers_state() const { return false; }
    int pick_conflict_winner(std::string_view, const conflict_claim& a, const conflict_claim& b,
                             std::optional<std::string_view> placed) const {
        return default_conflict_winner(a, b, placed);
    }
};

static_assert(handoff<restart>);

}  // namespace muster

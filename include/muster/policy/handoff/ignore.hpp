#pragma once
/// No handoff: a worker stays on its node until that node leaves or fails.

#include <muster/policy/handoff.hpp>

namespace muster {

/// Keeps workers where they run when members join. A node that leaves still hands its workers
/// over (without state), and a failed node's workers restart on their new owners.
struct ignore {
    bool moves_on_topology_change() const { return false; }
    bool transfers_state() const { return false; }
    int pick_conflict_winner(std::string_view, const conflict_claim& a, const conflict_claim& b,
                             std::optional<std::string_view> placed) const {
        return default_conflict_winner(a, b, placed);
    }
};

static_assert(handoff<ignore>);

}  // namespace muster

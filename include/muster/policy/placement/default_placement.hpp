#pragma once
/// The placement to start with when no other need decides.

#include <muster/policy/placement/hash_ring.hpp>
#include <muster/policy/placement/rollout_aware.hpp>

namespace muster {

/// `rollout_aware` over a `hash_ring`: names stay where they run, no member is given more than
/// 1.10 times the mean after a fresh assignment, a join moves nothing, and a rollout moves each
/// name once, to the newest generation. It reads the registered names, so each membership change
/// costs every node O(N log N) for N names. `hash_ring` alone costs nothing per name and is what
/// Swarm and Horde use. Its price is about 1.8 moves per name in a rollout, and a busiest member
/// at about 1.27 times the mean at 1,000 members. `bench/RESULTS.md` compares every model.
using default_placement = rollout_aware<hash_ring>;

}  // namespace muster

#pragma once
/// Reconnect backoff of the runtime's links: a doubling wait with a cap, and jitter.

#include <muster/core/types.hpp>

#include <algorithm>
#include <cstdint>

namespace muster::runtime::detail {

/// The wait before the next connection attempt to one peer.
struct backoff_state {
    duration wait{};       ///< the last wait chosen before jitter; zero before the first failure
    time_point ready_at{}; ///< no attempt starts before this time
};

/// Returns the wait after one more failed attempt: `wait_min` after the first failure, then twice
/// the previous wait, at most `wait_max`.
constexpr duration next_backoff(duration previous, duration wait_min, duration wait_max) noexcept {
    if (previous <= duration::zero()) return std::min(wait_min, wait_max);
    if (previous >= wait_max / 2) return wait_max;
    return std::min(previous * 2, wait_max);
}

/// A small random generator (SplitMix64) for jitter; not for anything secret.
class splitmix {
public:
    explicit splitmix(std::uint64_t seed) noexcept : state_(seed) {}

    std::uint64_t next() noexcept {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }

private:
    std::uint64_t state_;
};

/// Returns a wait drawn uniformly from [wait / 2, wait], so peers that lost a node at the same
/// moment do not all reconnect at the same moment.
inline duration jittered(duration wait, splitmix& random) noexcept {
    const auto half = wait.count() / 2;
    if (half <= 0) return wait;
    const auto extra = static_cast<duration::rep>(random.next() % static_cast<std::uint64_t>(half + 1));
    return duration(wait.count() - half + extra);
}

}  // namespace muster::runtime::detail

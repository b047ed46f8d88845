#pragma once
/// The simulator's random number generator: xoshiro256** seeded through splitmix64, with
/// labelled sub-streams so each simulator component draws from its own deterministic sequence.

#include <muster/core/hash.hpp>
#include <muster/core/types.hpp>

#include <array>
#include <cassert>
#include <concepts>
#include <cstdint>
#include <limits>
#include <random>
#include <string_view>
#include <type_traits>

namespace muster::sim {

/// A deterministic pseudo-random generator (xoshiro256**, period 2^256 - 1).
///
/// The whole state derives from one 64-bit seed, so a seed reproduces every draw. `split` derives
/// an independent generator from the seed and a label, which lets a component own its stream:
/// adding draws in one component leaves the streams of the others unchanged.
/// Satisfies `std::uniform_random_bit_generator`. Not thread-safe, and uses no global state.
/// NOTE: needs GCC or Clang, because `uniform` uses `unsigned __int128`.
class rng {
public:
    using result_type = std::uint64_t;

    /// Seeds the four state words with consecutive splitmix64 outputs of `seed`. Every seed,
    /// zero included, gives a valid non-zero state.
    explicit rng(std::uint64_t seed) noexcept : seed_(seed) {
        std::uint64_t sequence = seed;
        for (auto& word : state_) word = splitmix64_next(sequence);
    }

    /// Returns the seed this generator was built from.
    std::uint64_t seed() const noexcept { return seed_; }

    /// Returns the next 64 uniformly distributed bits and advances the state.
    std::uint64_t next_u64() noexcept {
        const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
        const std::uint64_t shifted = state_[1] << 17;

        state_[2] ^= state_[0];
        state_[3] ^= state_[1];
        state_[1] ^= state_[2];
        state_[0] ^= state_[3];
        state_[2] ^= shifted;
        state_[3] = rotl(state_[3], 45);

        return result;
    }

    /// Returns `next_u64()`; this is the `std::uniform_random_bit_generator` interface.
    result_type operator()() noexcept { return next_u64(); }
    static constexpr result_type min() noexcept { return 0; }
    static constexpr result_type max() noexcept { return std::numeric_limits<result_type>::max(); }

    /// Returns an integer drawn uniformly from the closed range [lo, hi], without modulo bias
    /// (Lemire's multiply-and-reject method). Precondition: `lo <= hi`.
    /// Cost: one draw, rarely more (the rejection chance is below range / 2^64).
    template <std::integral T>
    T uniform(T lo, T hi) noexcept {
        assert(lo <= hi);
        using unsigned_type = std::make_unsigned_t<T>;

        // The width fits in 64 bits for every integral type, and signed ranges are measured in
        // unsigned arithmetic so that [INT64_MIN, INT64_MAX] does not overflow.
        const std::uint64_t span = static_cast<std::uint64_t>(
            static_cast<unsigned_type>(static_cast<unsigned_type>(hi) - static_cast<unsigned_type>(lo)));
        const std::uint64_t offset = (span == max()) ? next_u64() : bounded(span + 1);
        return static_cast<T>(static_cast<unsigned_type>(static_cast<unsigned_type>(lo) + offset));
    }

    /// Returns a double drawn uniformly from [0, 1) with 53 random bits.
    double uniform_real() noexcept {
        return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
    }

    /// Returns true with probability `probability`. Values at or below 0 always give false and
    /// values at or above 1 always give true.
    bool chance(double probability) noexcept { return uniform_real() < probability; }

    /// Returns a duration drawn uniformly from [lo, hi] at nanosecond resolution.
    /// Precondition: `lo <= hi`.
    duration duration_between(duration lo, duration hi) noexcept {
        return duration{uniform<duration::rep>(lo.count(), hi.count())};
    }

    /// Derives a new generator from this generator's seed and `label`. The result depends only on
    /// those two values, not on how many numbers this generator has produced, and different
    /// labels give unrelated streams.
    rng split(std::string_view label) const noexcept { return rng{hash64(label, seed_)}; }

private:
    static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept {
        return (x << k) | (x >> (64 - k));
    }

    // splitmix64: advances `sequence` by the golden-ratio increment and mixes the result.
    static constexpr std::uint64_t splitmix64_next(std::uint64_t& sequence) noexcept {
        sequence += 0x9e3779b97f4a7c15ULL;
        return mix64(sequence);
    }

    // Returns a value in [0, bound) for bound >= 1. The 128-bit product maps a 64-bit draw onto
    // the range; draws whose low half falls below 2^64 mod bound are rejected to remove bias.
    std::uint64_t bounded(std::uint64_t bound) noexcept {
        unsigned __int128 product = static_cast<unsigned __int128>(next_u64()) * bound;
        auto low = static_cast<std::uint64_t>(product);
        if (low < bound) {
            const std::uint64_t threshold = (0 - bound) % bound;
            while (low < threshold) {
                product = static_cast<unsigned __int128>(next_u64()) * bound;
                low = static_cast<std::uint64_t>(product);
            }
        }
        return static_cast<std::uint64_t>(product >> 64);
    }

    std::uint64_t seed_;
    std::array<std::uint64_t, 4> state_{};
};

static_assert(std::uniform_random_bit_generator<rng>);

}  // namespace muster::sim

#pragma once
/// Stable 64-bit hashing: the same bytes give the same value on every platform and build, so
/// every node that sees the same member set computes the same placement.

#include <cstdint>
#include <string_view>

namespace muster {

/// Mixes a 64-bit value so that nearby inputs give unrelated outputs (the splitmix64 finalizer).
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/// Hashes bytes with 64-bit FNV-1a followed by `mix64`, seeded by `seed`.
/// Cost: one multiply per byte. Stable across platforms, releases and processes.
constexpr std::uint64_t hash64(std::string_view bytes, std::uint64_t seed = 0) noexcept {
    std::uint64_t h = 0xcbf29ce484222325ULL ^ mix64(seed);
    for (const char c : bytes) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ULL;
    }
    return mix64(h);
}

/// Combines two hashes; the result depends on the order of the arguments.
constexpr std::uint64_t hash_combine(std::uint64_t a, std::uint64_t b) noexcept {
    return mix64(a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2)));
}

}  // namespace muster

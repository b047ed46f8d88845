#pragma once
/// Rendezvous (highest-random-weight) hashing, a model of `muster::placement`.

#include <muster/core/hash.hpp>
#include <muster/policy/placement.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace muster {

/// Highest-random-weight hashing: every member scores every name, and the highest score wins.
///
/// A member's score for a name comes from `hash_combine(hash64(name), hash64(member name))`, so
/// it depends on the two names only. A join therefore moves exactly the names the new member now
/// wins, and a departure moves exactly the departed member's names, each to its second choice:
/// movement is the ideal 1/n on average. The price is a lookup that scores every member, O(m)
/// for m members, where a ring needs O(1).
///
/// Weights: when every member has the same weight, scores are compared as integers. Otherwise a
/// member of weight w scores `w / -ln(u)` for its hash mapped to u in (0, 1), which gives each
/// member a share of names proportional to its weight. A member of weight 0 owns no names.
/// NOTE: the weighted score goes through `std::log`, so two platforms whose `log` differ in the
/// last bit could disagree on a name whose two best scores are that close. Equal weights, the
/// default, involve no floating point.
class rendezvous {
public:
    /// Replaces the view. Cost: one `hash64` per member; memory 16 bytes per member.
    void rebuild(std::span<const member_info> members) {
        std::vector<std::uint64_t> seeds;
        std::vector<double> weights;
        seeds.reserve(members.size());
        weights.reserve(members.size());
        bool uniform = true;
        bool any = false;
        for (const member_info& m : members) {
            seeds.push_back(hash64(m.name));
            weights.push_back(static_cast<double>(m.weight));
            if (m.weight != members.front().weight) uniform = false;
            if (m.weight != 0) any = true;
        }
        seeds_.swap(seeds);
        weights_.swap(weights);
        uniform_ = uniform;
        any_weight_ = any;
    }

    /// Returns the index of the member with the highest score for `name`, or `std::nullopt`
    /// when no member has a weight above 0. Ties go to the lower index.
    std::optional<std::size_t> owner_of(std::string_view name) const noexcept {
        return owner_of_hash(hash64(name));
    }

    /// Returns the owner of a name whose `hash64` is `key`, as `owner_of` does.
    std::optional<std::size_t> owner_of_hash(std::uint64_t key) const noexcept {
        if (!any_weight_) return std::nullopt;
        std::size_t best = 0;
        if (uniform_) {
            std::uint64_t best_score = 0;
            for (std::size_t i = 0; i < seeds_.size(); ++i) {
                const std::uint64_t score = hash_combine(key, seeds_[i]);
                if (i == 0 || score > best_score) {
                    best_score = score;
                    best = i;
                }
            }
            return best;
        }
        double best_score = -1.0;
        for (std::size_t i = 0; i < seeds_.size(); ++i) {
            if (weights_[i] == 0.0) continue;
            // The top 53 bits, centred in their interval, map the hash into the open (0, 1).
            const double u = (static_cast<double>(hash_combine(key, seeds_[i]) >> 11) + 0.5) * 0x1p-53;
            const double score = weights_[i] / -std::log(u);
            if (score > best_score) {
                best_score = score;
                best = i;
            }
        }
        return best;
    }

    /// Returns the number of members in the last view.
    std::size_t members_count() const noexcept { return seeds_.size(); }

    /// Returns the heap memory held, in bytes.
    std::size_t memory_bytes() const noexcept {
        return seeds_.capacity() * sizeof(std::uint64_t) + weights_.capacity() * sizeof(double);
    }

private:
    std::vector<std::uint64_t> seeds_;  // hash64 of each member's name, in view order
    std::vector<double> weights_;
    bool uniform_ = true;
    bool any_weight_ = false;
};

static_assert(placement<rendezvous>);

}  // namespace muster

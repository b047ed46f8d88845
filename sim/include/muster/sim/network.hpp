#pragma once
/// The simulated network: per-message latency, loss, duplication and reordering, plus partitions
/// (symmetric or one-way) between named nodes.

#include <muster/core/types.hpp>
#include <muster/sim/rng.hpp>

#include <array>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace muster::sim {

/// Link behaviour, applied to every message.
struct link_config {
    duration latency_min = std::chrono::microseconds(200);
    duration latency_max = std::chrono::milliseconds(2);
    double loss = 0.0;         ///< probability a message is dropped, in [0, 1]
    double duplicate = 0.0;    ///< probability a message is delivered twice, in [0, 1]
    double reorder = 0.0;      ///< probability a message gets extra delay (up to 10× latency_max)
};

/// The delivery times of one message: none, one, or two when it is duplicated.
class arrivals {
public:
    void push_back(time_point at) { at_[count_++] = at; }
    bool empty() const noexcept { return count_ == 0; }
    std::size_t size() const noexcept { return count_; }
    time_point front() const noexcept { return at_[0]; }
    const time_point* begin() const noexcept { return at_.data(); }
    const time_point* end() const noexcept { return at_.data() + count_; }

private:
    std::array<time_point, 2> at_{};
    std::size_t count_ = 0;
};

/// Decides whether and when messages arrive. Deterministic given its random stream.
class network {
public:
    explicit network(link_config config) : config_(config) {}

    const link_config& config() const { return config_; }
    void set_config(const link_config& config) { config_ = config; }

    /// Returns the delivery times of one message from `from` to `to` sent at `now` (none if it is
    /// lost or the link is cut, two if it is duplicated).
    arrivals deliveries(const std::string& from, const std::string& to, time_point now, rng& random) const {
        arrivals out;
        if (!reachable(from, to)) return out;
        if (config_.loss > 0 && random.chance(config_.loss)) return out;
        out.push_back(now + delay(random));
        if (config_.duplicate > 0 && random.chance(config_.duplicate)) out.push_back(now + delay(random));
        return out;
    }

    /// Draws one message delay from the latency range, with the reorder tail.
    duration delay(rng& random) const {
        duration d = random.duration_between(config_.latency_min, config_.latency_max);
        if (config_.reorder > 0 && random.chance(config_.reorder))
            d += random.duration_between(duration::zero(), config_.latency_max * 10);
        return d;
    }

    /// Returns whether messages from `from` reach `to` (ignoring loss).
    bool reachable(const std::string& from, const std::string& to) const {
        if (cuts_.contains({from, to})) return false;
        if (sides_.empty()) return true;
        const auto a = sides_.find(from);
        const auto b = sides_.find(to);
        const int side_a = a == sides_.end() ? 0 : a->second;
        const int side_b = b == sides_.end() ? 0 : b->second;
        return side_a == side_b;
    }

    /// Splits the nodes into groups that cannot reach each other; unnamed nodes join group 0.
    void partition(const std::vector<std::vector<std::string>>& groups) {
        sides_.clear();
        for (std::size_t g = 0; g < groups.size(); ++g)
            for (const auto& name : groups[g]) sides_[name] = static_cast<int>(g);
    }

    /// Drops every message from `from` to `to`, but not the reverse.
    void cut(const std::string& from, const std::string& to) { cuts_.insert({from, to}); }

    /// Removes every partition and cut.
    void heal() {
        sides_.clear();
        cuts_.clear();
    }

    /// Returns whether any partition or cut is in force.
    bool split() const { return !sides_.empty() || !cuts_.empty(); }

private:
    link_config config_;
    std::map<std::string, int> sides_;
    std::set<std::pair<std::string, std::string>> cuts_;
};

}  // namespace muster::sim

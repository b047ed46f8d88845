#pragma once
/// Cluster-wide invariant checking for simulated runs. The cluster reports every worker start and
/// stop; the checker keeps the live instances of every name and flags, at the event that causes
/// it: (1) two live instances of one name while the network is healthy, and (4) a graceful
/// `resume` handoff whose new instance does not start from the handed state. The end-of-run
/// checks (2) one instance per registered name on the placement owner with every replica agreeing,
/// and (3) no acknowledged registration lost, run in `cluster::check_converged`.

#include <muster/core/types.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace muster::sim {

/// A broken invariant: which one, at what simulated time, and the details.
struct violation {
    std::string invariant;  ///< for example "unique-instance"
    std::string detail;
    time_point at{};
};

/// Per-name history used for invariants and the report.
struct name_track {
    std::vector<std::uint32_t> live;        ///< node slots running an instance now
    std::optional<std::uint64_t> handed;    ///< state handed off and not yet resumed
    std::uint32_t handed_by = 0;            ///< slot of the node keeping the handed state
    std::int64_t last_slot = -1;            ///< slot of the previous instance, for counting moves
    std::uint32_t moves = 0;
    std::uint32_t starts = 0;
    time_point down_since{};
    duration down_total{};
    bool acknowledged = false;  ///< a registration of it was acknowledged to the workload
    bool retired = false;       ///< unregistered or exited for good: expected to have no instance
    bool ever_started = false;
};

class checker {
public:
    /// Records a worker start. `healthy` tells whether the network has been healthy long enough
    /// that a second instance is a violation. Returns the violation, if any.
    std::optional<violation> on_start(time_point now, std::string_view name, std::uint32_t slot,
                                      std::optional<std::uint64_t> state, bool healthy, bool check_state) {
        auto& t = tracks_[std::string(name)];
        last_change_ = now;
        if (t.live.empty() && t.ever_started) t.down_total += now - t.down_since;
        if (t.last_slot >= 0 && static_cast<std::uint32_t>(t.last_slot) != slot) ++t.moves;
        t.last_slot = slot;
        t.ever_started = true;
        ++t.starts;
        t.retired = false;
        t.live.push_back(slot);
        std::optional<violation> v;
        if (t.live.size() > 1 && healthy)
            v = violation{"unique-instance",
                          "name " + std::string(name) + " has " + std::to_string(t.live.size()) +
                              " live instances while the network is healthy",
                          now};
        if (check_state && t.handed && !v) {
            if (!state || *state < *t.handed)
                v = violation{"handoff-state",
                              "name " + std::string(name) + " resumed with state " +
                                  (state ? std::to_string(*state) : std::string("none")) + " after handing off " +
                                  std::to_string(*t.handed),
                              now};
        }
        t.handed.reset();
        return v;
    }

    /// Records a worker stop. `handed` is the state given away for a resume handoff.
    void on_stop(time_point now, std::string_view name, std::uint32_t slot, std::optional<std::uint64_t> handed) {
        const auto it = tracks_.find(std::string(name));
        if (it == tracks_.end()) return;
        auto& t = it->second;
        last_change_ = now;
        const auto pos = std::find(t.live.begin(), t.live.end(), slot);
        if (pos != t.live.end()) t.live.erase(pos);
        if (t.live.empty()) t.down_since = now;
        if (handed) {
            t.handed = handed;
            t.handed_by = slot;
        }
    }

    /// Forgets the handed states kept by a crashed node, because they are lost with it.
    void on_node_lost(std::uint32_t slot) {
        for (auto& [name, t] : tracks_)
            if (t.handed && t.handed_by == slot) t.handed.reset();
    }

    void on_acknowledged(std::string_view name) { tracks_[std::string(name)].acknowledged = true; }

    /// Marks a name removed or exited for good, so it is expected to have no instance.
    void on_retired(std::string_view name) {
        auto& t = tracks_[std::string(name)];
        t.retired = true;
        t.acknowledged = false;
    }

    /// Closes the unavailability of names that are down at the end of the run.
    void finish(time_point now) {
        for (auto& [name, t] : tracks_)
            if (t.live.empty() && t.ever_started && !t.retired) {
                t.down_total += now - t.down_since;
                t.down_since = now;
            }
    }

    const std::unordered_map<std::string, name_track>& tracks() const { return tracks_; }

    /// The time of the last worker start or stop.
    time_point last_change() const { return last_change_; }
    const name_track* find(std::string_view name) const {
        const auto it = tracks_.find(std::string(name));
        return it == tracks_.end() ? nullptr : &it->second;
    }

private:
    std::unordered_map<std::string, name_track> tracks_;
    time_point last_change_{};
};

}  // namespace muster::sim

#pragma once
/// A model of a Kubernetes Deployment whose pods run muster nodes. It covers RollingUpdate with
/// maxSurge and maxUnavailable (rounded as Kubernetes rounds them, terminating pods not counted),
/// pod boot and readiness delays, and a headless-service DNS view that lags pod changes and may
/// return stale answers. Deleting a pod starts SIGTERM and the removal from DNS together, and the
/// grace period ends in a kill.

#include <muster/sim/cluster.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

namespace muster::sim {

using namespace std::chrono_literals;

/// A maxSurge or maxUnavailable value: a count, or a percentage of the replicas.
struct rollout_limit {
    std::uint32_t value = 25;
    bool percent = true;

    /// Resolves against `replicas`, rounding up (maxSurge) or down (maxUnavailable).
    std::uint32_t resolve(std::uint32_t replicas, bool round_up) const {
        if (!percent) return value;
        const double exact = static_cast<double>(value) * replicas / 100.0;
        return static_cast<std::uint32_t>(round_up ? std::ceil(exact) : std::floor(exact));
    }
};

/// Settings of the Deployment and of the cluster around it. Ranges are drawn per pod.
struct deployment_config {
    std::uint32_t replicas = 10;
    rollout_limit max_surge{25, true};
    rollout_limit max_unavailable{25, true};
    duration boot_min = 1s;              ///< pod created → muster node started
    duration boot_max = 3s;
    duration ready_min = 1s;             ///< node started → readiness probe passes
    duration ready_max = 5s;
    duration min_ready = 0s;             ///< minReadySeconds
    duration endpoint_delay_max = 500ms; ///< pod condition change → visible to DNS
    duration dns_stale_max = 5s;         ///< cache age of a DNS answer, drawn per lookup
    duration grace = 30s;                ///< terminationGracePeriodSeconds
    duration controller_delay_min = 10ms;
    duration controller_delay_max = 500ms;
    duration dns_poll_interval = 10s;
    std::string service = "app.default.svc.cluster.local";
    std::string basename = "app";
};

/// Drives a `cluster` as a Deployment controller would.
template <class Cluster>
class deployment {
public:
    enum class pod_phase : std::uint8_t { starting, ready, terminating, gone };

    struct pod {
        std::string ip;
        std::uint32_t slot = 0;
        std::uint32_t generation = 0;
        pod_phase phase = pod_phase::starting;
        time_point available_at = time_point::max();
    };

    deployment(Cluster& cluster, deployment_config config)
        : cluster_(cluster), config_(std::move(config)), random_(cluster.random("kubernetes")) {
        surge_ = config_.max_surge.resolve(config_.replicas, true);
        unavailable_ = config_.max_unavailable.resolve(config_.replicas, false);
        // Kubernetes rejects 0/0; it is treated here as one unavailable pod so the rollout moves.
        if (surge_ == 0 && unavailable_ == 0) unavailable_ = 1;
        cluster_.set_dns([this](const std::string& host, time_point now, rng& r) { return answer(host, now, r); });
        snapshots_.push_back({time_point{}, {}});
    }

    std::uint32_t max_surge() const { return surge_; }
    std::uint32_t max_unavailable() const { return unavailable_; }

    /// Creates the initial ReplicaSet's pods at once.
    void deploy() {
        for (std::uint32_t i = 0; i < config_.replicas; ++i) create_pod(0);
    }

    /// Starts a rolling update to a new pod template.
    void start_rollout() {
        ++generation_;
        rollout_started_ = cluster_.now();
        rollout_done_.reset();
        reconcile_soon();
    }

    /// The time the rollout finished (every new pod available, every old pod gone), if it has.
    std::optional<time_point> rollout_done() const { return rollout_done_; }
    std::optional<time_point> rollout_started() const { return rollout_started_; }
    const std::vector<pod>& pods() const { return pods_; }
    std::uint32_t waves() const { return waves_; }

    /// Slots of pods whose node is running and not terminating.
    std::vector<std::uint32_t> serving_slots() const {
        std::vector<std::uint32_t> out;
        for (const auto& p : pods_)
            if (p.phase == pod_phase::ready && cluster_.nodes()[p.slot].machine) out.push_back(p.slot);
        return out;
    }

private:
    void create_pod(std::uint32_t generation) {
        const std::uint32_t k = next_ip_++;
        pod p;
        p.ip = "10.0." + std::to_string(k / 250) + "." + std::to_string(k % 250 + 1);
        p.generation = generation;
        const std::string name = config_.basename + "@" + p.ip;
        const auto boot = cluster_.now() + random_.duration_between(config_.boot_min, config_.boot_max);
        const auto service = config_.service;
        const auto basename = config_.basename;
        const auto interval = config_.dns_poll_interval;
        p.slot = cluster_.add_node(name, [service, basename, interval] { return sim_discovery(dns_poll(service, basename, interval)); }, boot,
                                  generation);
        const std::size_t index = pods_.size();
        pods_.push_back(p);
        const auto ready = boot + random_.duration_between(config_.ready_min, config_.ready_max);
        cluster_.schedule(ready, [this, index] { on_ready(index); });
    }

    void on_ready(std::size_t index) {
        auto& p = pods_[index];
        if (p.phase != pod_phase::starting) return;
        if (!cluster_.nodes()[p.slot].machine) return;  // the process is not up: never ready
        p.phase = pod_phase::ready;
        p.available_at = cluster_.now() + config_.min_ready;
        publish_endpoints_soon();
        cluster_.schedule(p.available_at, [this] { reconcile_soon(); });
    }

    bool available(const pod& p) const { return p.phase == pod_phase::ready && cluster_.now() >= p.available_at; }

    void reconcile_soon() {
        if (reconcile_pending_) return;
        reconcile_pending_ = true;
        cluster_.schedule(cluster_.now() + random_.duration_between(config_.controller_delay_min, config_.controller_delay_max),
                          [this] {
                              reconcile_pending_ = false;
                              reconcile();
                          });
    }

    // One pass of the rolling-update rules: scale the new ReplicaSet up within maxSurge, then the
    // old one down within maxUnavailable. Terminating pods count for neither.
    void reconcile() {
        std::uint32_t new_count = 0, old_count = 0, new_available = 0, old_available = 0;
        for (const auto& p : pods_) {
            if (p.phase == pod_phase::terminating || p.phase == pod_phase::gone) continue;
            if (p.generation == generation_) {
                ++new_count;
                if (available(p)) ++new_available;
            } else {
                ++old_count;
                if (available(p)) ++old_available;
            }
        }
        bool changed = false;
        const std::uint32_t max_total = config_.replicas + surge_;
        if (new_count + old_count < max_total && new_count < config_.replicas) {
            const std::uint32_t up = std::min(max_total - (new_count + old_count), config_.replicas - new_count);
            for (std::uint32_t i = 0; i < up; ++i) create_pod(generation_);
            new_count += up;
            changed = changed || up > 0;
            if (up > 0) ++waves_;
        }
        const std::int64_t min_available = static_cast<std::int64_t>(config_.replicas) - unavailable_;
        const std::int64_t new_unavailable = static_cast<std::int64_t>(new_count) - new_available;
        std::int64_t scale_down = static_cast<std::int64_t>(new_count + old_count) - min_available - new_unavailable;
        scale_down = std::min<std::int64_t>(scale_down, old_count);
        if (scale_down > 0) {
            delete_old_pods(static_cast<std::uint32_t>(scale_down));
            changed = true;
        }
        if (changed) reconcile_soon();
        if (old_count == 0 && new_available == config_.replicas && rollout_started_ && !rollout_done_) {
            bool all_gone = true;
            for (const auto& p : pods_)
                if (p.generation != generation_ && p.phase != pod_phase::gone) all_gone = false;
            if (all_gone) rollout_done_ = cluster_.now();
            else cluster_.schedule(cluster_.now() + 1s, [this] { reconcile_soon(); });
        }
    }

    // Old pods are deleted not-ready first, then in a seeded random order (they share one age).
    void delete_old_pods(std::uint32_t count) {
        std::vector<std::size_t> candidates;
        for (std::size_t i = 0; i < pods_.size(); ++i)
            if (pods_[i].generation != generation_ && (pods_[i].phase == pod_phase::starting || pods_[i].phase == pod_phase::ready))
                candidates.push_back(i);
        std::stable_sort(candidates.begin(), candidates.end(), [&](std::size_t a, std::size_t b) {
            return (pods_[a].phase == pod_phase::starting) > (pods_[b].phase == pod_phase::starting);
        });
        const std::size_t not_ready = static_cast<std::size_t>(std::count_if(
            candidates.begin(), candidates.end(), [&](std::size_t i) { return pods_[i].phase == pod_phase::starting; }));
        for (std::size_t i = candidates.size(); i > not_ready + 1; --i) {
            const std::size_t j = not_ready + random_.uniform<std::size_t>(0, i - 1 - not_ready);
            std::swap(candidates[i - 1], candidates[j]);
        }
        for (std::uint32_t i = 0; i < count && i < candidates.size(); ++i) delete_pod(candidates[i]);
    }

    void delete_pod(std::size_t index) {
        auto& p = pods_[index];
        p.phase = pod_phase::terminating;
        publish_endpoints_soon();
        // SIGTERM and the endpoint removal start together; neither waits for the other.
        const auto sigterm = cluster_.now() + random_.duration_between(0ms, config_.endpoint_delay_max);
        const auto slot = p.slot;
        const auto grace = config_.grace;
        cluster_.schedule(sigterm, [this, slot, grace, index] {
            cluster_.terminate(slot, grace);
            cluster_.schedule(cluster_.now() + grace + 1ms, [this, index] { pods_[index].phase = pod_phase::gone; reconcile_soon(); });
        });
    }

    void publish_endpoints_soon() {
        const auto at = cluster_.now() + random_.duration_between(0ms, config_.endpoint_delay_max);
        cluster_.schedule(at, [this] {
            std::vector<std::string> ips;
            for (const auto& p : pods_)
                if (p.phase == pod_phase::ready) ips.push_back(p.ip);
            snapshots_.push_back({cluster_.now(), std::move(ips)});
        });
    }

    // The headless service's A records as a cache of age up to dns_stale_max would return them.
    resolve_result answer(const std::string& host, time_point now, rng& r) {
        resolve_result result{host, {}, std::nullopt};
        if (host != config_.service) {
            result.error = "NXDOMAIN";
            return result;
        }
        const auto age = r.duration_between(duration::zero(), config_.dns_stale_max);
        const auto at = now - age;
        auto it = std::upper_bound(snapshots_.begin(), snapshots_.end(), at,
                                   [](time_point t, const auto& s) { return t < s.first; });
        if (it != snapshots_.begin()) --it;
        result.addresses = it->second;
        if (result.addresses.empty()) result.error = "NXDOMAIN";
        return result;
    }

    Cluster& cluster_;
    deployment_config config_;
    rng& random_;
    std::vector<pod> pods_;
    std::vector<std::pair<time_point, std::vector<std::string>>> snapshots_;
    std::uint32_t surge_ = 0;
    std::uint32_t unavailable_ = 0;
    std::uint32_t generation_ = 0;
    std::uint32_t next_ip_ = 0;
    std::uint32_t waves_ = 0;
    bool reconcile_pending_ = false;
    std::optional<time_point> rollout_started_;
    std::optional<time_point> rollout_done_;
};

}  // namespace muster::sim

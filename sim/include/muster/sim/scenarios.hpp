#pragma once
/// Ready-made simulated runs: a Kubernetes rolling deploy, random churn, and a netsplit. Each one
/// builds a cluster from its options, registers names, applies its faults, waits for quiescence,
/// checks every invariant and returns a report.

#include <muster/policy/handoff/ignore.hpp>
#include <muster/policy/handoff/restart.hpp>
#include <muster/policy/handoff/resume.hpp>
#include <muster/sim/cluster.hpp>
#include <muster/sim/kubernetes.hpp>
#include <muster/sim/placement_choice.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace muster::sim {

using namespace std::chrono_literals;

/// A handoff policy chosen at run time, for the command-line program.
struct handoff_choice {
    enum class mode : std::uint8_t { restart, resume, ignore };
    mode m = mode::resume;

    bool moves_on_topology_change() const { return m != mode::ignore; }
    bool transfers_state() const { return m == mode::resume; }
    int pick_conflict_winner(std::string_view, const conflict_claim& a, const conflict_claim& b,
                             std::optional<std::string_view> placed) const {
        return default_conflict_winner(a, b, placed);
    }
};

static_assert(handoff<handoff_choice>);

/// Returns the name of a handoff mode, as the command line spells it.
constexpr std::string_view to_string(handoff_choice::mode m) noexcept {
    switch (m) {
    case handoff_choice::mode::restart: return "restart";
    case handoff_choice::mode::resume: return "resume";
    case handoff_choice::mode::ignore: return "ignore";
    }
    return "unknown";
}

/// The cluster every ready-made scenario runs: placement and handoff chosen at run time.
using sim_cluster = cluster<placement_choice, handoff_choice>;

/// Options shared by every scenario.
struct run_options {
    std::uint64_t seed = 1;
    std::uint32_t nodes = 10;
    std::uint32_t names = 1000;
    handoff_choice handoff;
    placement_options placement;          ///< `placement.vnodes` also sets the ring's points
    link_config link;
    duration quiet = 60s;                 ///< quiescence after the last fault, before the final check
    duration register_window = 1s;        ///< registrations are spread over this window
    bool deep_checks = false;
    std::string watch;                    ///< a name whose timeline is printed to standard error
    std::function<void(time_point)> progress;
    duration handoff_exit_lag{};          ///< a broken host for tests, see `cluster_config`
    unsigned threads = 1;                 ///< see `cluster_config::threads`; the result is the same for every count
};

/// Options of `rolling_deploy`.
struct rolling_deploy_options : run_options {
    deployment_config deployment;
    duration rollout_at = 40s;            ///< when the rollout starts (the cluster formed before)
    duration register_at = 25s;
    duration rollout_timeout = 30min;     ///< a rollout still running then fails the run
};

/// Options of `churn`.
struct churn_options : run_options {
    duration churn_for = 120s;
    duration churn_interval_min = 1s;     ///< time between two churn events
    duration churn_interval_max = 8s;
    duration downtime_min = 1s;           ///< a stopped node restarts after this
    duration downtime_max = 20s;
    double crash_share = 0.5;             ///< share of stops that are crashes, not graceful
    duration grace = 30s;
    std::uint32_t names_during = 100;     ///< names registered while churn goes on
    std::uint32_t unregister_during = 0;  ///< names of the first batch removed during churn
    duration settled_after = 10s;         ///< a node counts as settled after running this long
    /// Called with each crash, stop and restart as a scenario file step (such as
    /// `crash node-3 reset`), so a failing run can be written out as a scenario file.
    std::function<void(time_point, const std::string&)> on_fault;
};

/// Options of `netsplit`.
struct netsplit_options : run_options {
    duration split_at = 30s;
    duration split_for = 20s;
    bool one_way = false;                 ///< cut one direction only
};

/// Measurements of one run and whether every invariant held.
struct run_report {
    std::string scenario;
    std::uint64_t seed = 0;
    std::uint32_t nodes = 0;
    std::uint32_t names = 0;
    std::string placement;
    std::string handoff;
    double moves_mean = 0;
    std::uint32_t moves_max = 0;
    std::uint64_t moves_into_old = 0;     ///< moves onto a node older than the newest generation booted
    duration unavailable_p50{};
    duration unavailable_p99{};
    duration unavailable_max{};
    std::uint64_t messages = 0;
    std::uint64_t events = 0;
    std::array<std::uint64_t, message_kinds_count> messages_by_kind{};
    duration convergence{};               ///< last worker start or stop after the last disruption
    duration simulated{};
    std::optional<duration> rollout;      ///< rolling deploy: rollout start to finish
    std::optional<duration> quiet_from;   ///< start of the quiet period, if the run reached it
    std::uint32_t waves = 0;
    std::uint64_t acknowledged = 0;
    std::uint64_t failed_registrations = 0;
    registry_stats protocol;              ///< summed over the nodes alive at the end
    std::uint64_t trace_hash = 0;
    std::optional<violation> failure;
    std::vector<std::string> trace;       ///< last events before a violation
    std::size_t replica_bytes_max = 0;    ///< largest replica at the end of the run

    bool ok() const { return !failure.has_value(); }

    /// Returns the number of registrations without a reply, because their node crashed first or
    /// no node ran.
    std::uint64_t no_reply() const {
        const std::uint64_t answered = acknowledged + failed_registrations;
        return names > answered ? names - answered : 0;
    }
};

namespace detail {

// Ends message loss, as the generated runs do, then runs the quiet period of a ready-made run
// and returns when it began. Lost heartbeats can make the failure detector declare a live
// member failed at any time, so invariant (2) is checked only after loss ends.
template <class Cluster>
duration run_quiet_period(Cluster& c, const run_options& o) {
    auto link = c.net().config();
    if (link.loss > 0) {
        link.loss = 0;
        c.net().set_config(link);
        c.note_network_fault();
    }
    const auto from = c.now().time_since_epoch();
    c.run_until(c.now() + o.quiet);
    return from;
}

template <class Cluster>
void register_names(Cluster& c, std::vector<std::uint32_t> slots, std::uint32_t count, const std::string& prefix,
                    time_point from, duration window) {
    auto& r = c.random("workload");
    const auto candidates = std::make_shared<const std::vector<std::uint32_t>>(std::move(slots));
    const worker_spec spec{"counter", restart_policy::permanent};
    for (std::uint32_t i = 0; i < count; ++i) {
        char name[64];
        std::snprintf(name, sizeof name, "%s%06u", prefix.c_str(), i);
        const auto at = from + (count > 1 ? window * i / count : duration::zero());
        const auto pick = r.template uniform<std::size_t>(0, candidates->size() - 1);
        // Through the chosen node if it still runs, otherwise through the next one that does.
        c.schedule_register(at, candidates, pick, name, spec);
    }
}

template <class Cluster>
run_report finish(Cluster& c, const run_options& o, std::string scenario, bool checked) {
    run_report r;
    r.scenario = std::move(scenario);
    r.seed = o.seed;
    r.nodes = o.nodes;
    r.names = o.names;
    r.placement = std::string(to_string(o.placement.kind));
    r.handoff = std::string(to_string(o.handoff.m));
    if (checked && !c.failure()) c.check_converged();
    std::vector<duration> down;
    std::uint64_t moves = 0;
    for (const auto& [name, t] : c.invariants().tracks()) {
        down.push_back(t.down_total);
        moves += t.moves;
        r.moves_max = std::max(r.moves_max, t.moves);
    }
    r.moves_into_old = c.counters().moves_onto_old;
    std::sort(down.begin(), down.end());
    if (!down.empty()) {
        r.moves_mean = static_cast<double>(moves) / static_cast<double>(down.size());
        r.unavailable_p50 = down[down.size() / 2];
        r.unavailable_p99 = down[std::min(down.size() - 1, down.size() * 99 / 100)];
        r.unavailable_max = down.back();
    }
    const auto& k = c.counters();
    r.messages = k.messages_sent;
    r.events = k.events;
    r.messages_by_kind = k.messages_by_kind;
    r.acknowledged = k.registrations_acknowledged;
    r.failed_registrations = k.registrations_failed;
    const auto change = c.invariants().last_change();
    r.convergence = change > c.last_disruption() ? change - c.last_disruption() : duration::zero();
    r.simulated = c.now().time_since_epoch();
    for (const auto& n : c.nodes()) {
        if (!n.machine) continue;
        r.protocol += n.machine->machine().stats();
        r.replica_bytes_max = std::max(r.replica_bytes_max, n.machine->machine().replica_memory_bytes());
    }
    r.trace_hash = c.trace_hash();
    c.report_unseen_watch();
    r.failure = c.failure();
    if (r.failure) r.trace = c.recent_trace();
    return r;
}

inline cluster_config make_cluster_config(const run_options& o) {
    cluster_config cc;
    cc.seed = o.seed;
    cc.link = o.link;
    cc.deep_checks = o.deep_checks;
    cc.watch = o.watch;
    cc.handoff_exit_lag = o.handoff_exit_lag;
    cc.threads = o.threads;
    cc.check_placement = o.handoff.moves_on_topology_change();
    // Rollout-aware placement is meant to run with the wait for a newer generation.
    if (o.placement.kind == placement_kind::rollout_aware) cc.node_defaults.newer_generation_wait = 15s;
    return cc;
}

}  // namespace detail

/// Runs a Deployment of `nodes` pods, registers `names` counters, rolls the Deployment over to a
/// new template, waits for quiescence and checks every invariant.
inline run_report rolling_deploy(const rolling_deploy_options& o) {
    sim_cluster c(detail::make_cluster_config(o), placement_choice(o.placement), o.handoff);
    if (o.progress) c.on_progress(o.progress);
    auto cfg = o.deployment;
    cfg.replicas = o.nodes;
    deployment<sim_cluster> k8s(c, cfg);
    k8s.deploy();
    const time_point t0{};
    c.run_until(t0 + o.register_at);
    detail::register_names(c, k8s.serving_slots(), o.names, "worker-", c.now(), o.register_window);
    c.run_until(t0 + o.rollout_at);
    k8s.start_rollout();
    const auto deadline = c.now() + o.rollout_timeout;
    while (!c.failure() && !k8s.rollout_done() && c.now() < deadline) c.run_until(c.now() + 1s);
    if (!c.failure() && !k8s.rollout_done()) {
        auto r = detail::finish(c, o, "rolling-deploy", false);
        r.failure = violation{"rollout", "the rollout did not finish within the timeout", c.now()};
        return r;
    }
    const auto quiet_from = detail::run_quiet_period(c, o);
    auto r = detail::finish(c, o, "rolling-deploy", true);
    r.quiet_from = quiet_from;
    if (k8s.rollout_done() && k8s.rollout_started()) r.rollout = *k8s.rollout_done() - *k8s.rollout_started();
    r.waves = k8s.waves();
    return r;
}

namespace detail {

inline std::vector<std::string> static_names(std::uint32_t nodes) {
    std::vector<std::string> names;
    for (std::uint32_t i = 1; i <= nodes; ++i) names.push_back("node-" + std::to_string(i));
    return names;
}

// Removes `count` of the `registered` names that `register_names` gave `prefix`, spread evenly
// over those names and over `window` from `from`. Each removal goes through a random node (or
// the next one that runs) and is reported to `on_fault` as a scenario step.
template <class Cluster>
void unregister_names(Cluster& c, std::vector<std::uint32_t> slots, std::uint32_t count, const std::string& prefix,
                      std::uint32_t registered, time_point from, duration window,
                      const std::function<void(time_point, const std::string&)>& on_fault) {
    auto& r = c.random("unregister");
    const auto candidates = std::make_shared<const std::vector<std::uint32_t>>(std::move(slots));
    for (std::uint32_t i = 0; i < count; ++i) {
        char name[64];
        std::snprintf(name, sizeof name, "%s%06u", prefix.c_str(),
                      static_cast<std::uint32_t>(std::uint64_t{i} * registered / count));
        const auto at = from + window * (i + 1) / (count + 1);
        const auto pick = r.template uniform<std::size_t>(0, candidates->size() - 1);
        c.schedule(at, [&c, candidates, pick, name = std::string(name), on_fault] {
            for (std::size_t k = 0; k < candidates->size(); ++k) {
                const auto s = (*candidates)[(pick + k) % candidates->size()];
                if (c.nodes()[s].status != node_status::running) continue;
                c.unregister_name(s, name);
                if (on_fault) on_fault(c.now(), "unregister " + name + " on " + c.nodes()[s].name);
                return;
            }
        });
    }
}

template <class Cluster>
std::vector<std::uint32_t> boot_static(Cluster& c, std::uint32_t nodes, duration interval) {
    const auto names = static_names(nodes);
    std::vector<std::uint32_t> slots;
    auto& r = c.random("boot");
    for (const auto& name : names)
        slots.push_back(c.add_node(name, [names, interval] { return sim_discovery(static_list(names, interval)); },
                                   time_point{} + r.duration_between(0ms, 500ms)));
    return slots;
}

}  // namespace detail

/// Boots `nodes` nodes with a static peer list, registers names, then crashes, stops and restarts
/// random nodes for `churn_for`, waits for quiescence and checks every invariant.
inline run_report churn(const churn_options& o) {
    sim_cluster c(detail::make_cluster_config(o), placement_choice(o.placement), o.handoff);
    if (o.progress) c.on_progress(o.progress);
    const auto interval = 5s;
    const auto slots = detail::boot_static(c, o.nodes, interval);
    c.run_until(time_point{} + 10s);
    detail::register_names(c, slots, o.names, "worker-", c.now(), o.register_window);
    c.run_until(c.now() + 10s);
    detail::register_names(c, slots, o.names_during, "late-", c.now(), o.churn_for);
    detail::unregister_names(c, slots, std::min(o.unregister_during, o.names), "worker-", o.names, c.now(), o.churn_for,
                             o.on_fault);
    auto& r = c.random("churn");
    const auto names = detail::static_names(o.nodes);
    const auto end = c.now() + o.churn_for;
    while (!c.failure() && c.now() < end) {
        c.run_until(c.now() + r.duration_between(o.churn_interval_min, o.churn_interval_max));
        const auto s = slots[r.uniform<std::size_t>(0, slots.size() - 1)];
        auto& n = c.nodes()[s];
        // The fault model keeps two nodes that have run for `settled_after` alive besides the
        // one stopped, as a disruption budget would: killing every node that had time to copy
        // the registry loses it, whatever the protocol.
        std::uint32_t settled = 0;
        for (const auto x : slots) {
            const auto& other = c.nodes()[x];
            if (x != s && other.status == node_status::running && c.now() - other.booted_at >= o.settled_after) ++settled;
        }
        if (n.status == node_status::running && settled >= 2) {
            if (r.chance(o.crash_share)) {
                const bool reset = r.chance(0.5);
                c.crash(s, reset);
                if (o.on_fault) o.on_fault(c.now(), "crash " + n.name + (reset ? " reset" : ""));
            } else {
                c.terminate(s, o.grace);
                if (o.on_fault) o.on_fault(c.now(), "stop " + n.name + " grace " + std::to_string(o.grace / 1ms) + "ms");
            }
            const auto back = c.now() + r.duration_between(o.downtime_min, o.downtime_max);
            c.schedule(back, [&c, &o, s, names, interval] {
                const auto st = c.nodes()[s].status;
                if (st == node_status::crashed || st == node_status::stopped) {
                    c.add_node(c.nodes()[s].name, [names, interval] { return sim_discovery(static_list(names, interval)); }, c.now());
                    if (o.on_fault) o.on_fault(c.now(), "start " + c.nodes()[s].name);
                }
            });
        }
    }
    // Every node comes back, so the final check covers the whole cluster. A node still leaving
    // is waited for (at most its grace period) and booted again too: under a quorum placement,
    // a cluster left short of its quorum would rightly run nothing.
    bool leaving = false;
    for (const auto s : slots) leaving = leaving || c.nodes()[s].status == node_status::leaving;
    if (leaving && !c.failure()) c.run_until(c.now() + o.grace + 1s);
    for (const auto s : slots) {
        const auto st = c.nodes()[s].status;
        if (st == node_status::crashed || st == node_status::stopped) {
            c.add_node(c.nodes()[s].name, [names, interval] { return sim_discovery(static_list(names, interval)); }, c.now());
            if (o.on_fault) o.on_fault(c.now(), "start " + c.nodes()[s].name);
        }
    }
    if (o.on_fault && o.link.loss > 0) o.on_fault(c.now(), "link loss 0");
    const auto quiet_from = detail::run_quiet_period(c, o);
    auto report = detail::finish(c, o, "churn", true);
    report.quiet_from = quiet_from;
    report.names += o.names_during;
    return report;
}

/// Boots `nodes` nodes, registers names, splits the cluster in two halves (or cuts one direction)
/// for `split_for`, heals, waits for quiescence and checks every invariant.
inline run_report netsplit(const netsplit_options& o) {
    sim_cluster c(detail::make_cluster_config(o), placement_choice(o.placement), o.handoff);
    if (o.progress) c.on_progress(o.progress);
    const auto slots = detail::boot_static(c, o.nodes, 5s);
    c.run_until(time_point{} + 10s);
    detail::register_names(c, slots, o.names, "worker-", c.now(), o.register_window);
    c.run_until(time_point{} + o.split_at);
    const auto names = detail::static_names(o.nodes);
    const std::vector<std::string> left(names.begin(), names.begin() + names.size() / 2);
    const std::vector<std::string> right(names.begin() + names.size() / 2, names.end());
    if (o.one_way) {
        for (const auto& a : left)
            for (const auto& b : right) c.net().cut(a, b);
    } else {
        c.net().partition({left, right});
    }
    c.note_network_fault();
    c.run_until(c.now() + o.split_for);
    c.net().heal();
    c.note_network_fault();
    const auto quiet_from = detail::run_quiet_period(c, o);
    auto report = detail::finish(c, o, "netsplit", true);
    report.quiet_from = quiet_from;
    return report;
}

}  // namespace muster::sim

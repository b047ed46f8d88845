#pragma once
/// The discrete-event simulator: real registry machines on a modelled network, with node
/// lifecycles (boot, graceful stop, crash, restart), simulated workers that carry a counter, and
/// the invariant checker run at every event. One seed reproduces a whole run, and every processed
/// event feeds the trace hash.

#include <muster/node.hpp>
#include <muster/policy/discovery/dns_poll.hpp>
#include <muster/policy/discovery/static_list.hpp>
#include <muster/sim/checker.hpp>
#include <muster/sim/event_queue.hpp>
#include <muster/sim/network.hpp>
#include <muster/sim/rng.hpp>
#include <muster/sim/worker_pool.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace muster::sim {

/// Discovery for simulated nodes: a static list, DNS polling, or any other discovery model (a
/// test's own, for example), chosen per run. Copies are independent, as copies of the model are.
class sim_discovery {
public:
    template <discovery D>
        requires(!std::same_as<D, sim_discovery>)
    explicit sim_discovery(D d) : model_(std::make_unique<wrapped<D>>(std::move(d))) {}

    sim_discovery(const sim_discovery& other) : model_(other.model_->clone()) {}
    sim_discovery(sim_discovery&&) noexcept = default;
    sim_discovery& operator=(const sim_discovery& other) {
        if (this != &other) model_ = other.model_->clone();
        return *this;
    }
    sim_discovery& operator=(sim_discovery&&) noexcept = default;

    duration poll_interval() const { return model_->poll_interval(); }
    discovery_poll poll(time_point now) { return model_->poll(now); }
    std::vector<std::string> on_resolved(time_point now, const resolve_result& r) { return model_->on_resolved(now, r); }

private:
    struct erased {
        virtual ~erased() = default;
        virtual std::unique_ptr<erased> clone() const = 0;
        virtual duration poll_interval() const = 0;
        virtual discovery_poll poll(time_point now) = 0;
        virtual std::vector<std::string> on_resolved(time_point now, const resolve_result& r) = 0;
    };

    template <class D>
    struct wrapped final : erased {
        explicit wrapped(D d) : model(std::move(d)) {}
        std::unique_ptr<erased> clone() const override { return std::make_unique<wrapped>(model); }
        duration poll_interval() const override { return model.poll_interval(); }
        discovery_poll poll(time_point now) override { return model.poll(now); }
        std::vector<std::string> on_resolved(time_point now, const resolve_result& r) override {
            return model.on_resolved(now, r);
        }
        D model;
    };

    std::unique_ptr<erased> model_;  // never null, except in a moved-from object
};

static_assert(discovery<sim_discovery>);

/// The network side a simulated transport talks to.
class transport_host {
public:
    virtual void transport_send(std::uint32_t slot, const std::string& to, envelope_ptr message) = 0;
    virtual void transport_connect(std::uint32_t slot, const std::string& peer) = 0;

protected:
    ~transport_host() = default;
};

/// The simulator's Transport model: hands each message to the simulated network.
struct sim_transport {
    transport_host* host = nullptr;
    std::uint32_t slot = 0;
    void send(const std::string& to, envelope_ptr message) { host->transport_send(slot, to, std::move(message)); }
    void connect(const std::string& peer) { host->transport_connect(slot, peer); }
    void disconnect(const std::string&) {}
};

static_assert(transport<sim_transport>);

/// Settings of a simulated run.
struct cluster_config {
    std::uint64_t seed = 1;
    link_config link;
    registry_config node_defaults;            ///< `self` and `seed` are set per node
    duration counter_period = std::chrono::milliseconds(100);  ///< a worker's counter advances once per period
    duration worker_stop_delay = std::chrono::milliseconds(1);
    duration resolve_delay_min = std::chrono::milliseconds(1);
    duration resolve_delay_max = std::chrono::milliseconds(5);
    bool check_state = true;                  ///< check invariant (4): resume handoffs keep state
    bool check_placement = true;              ///< the final check expects names on their placement owner
    bool deep_checks = false;                 ///< run each machine's own invariant check after every event
    std::size_t trace_keep = 64;              ///< last events kept for a violation report
    std::string watch;                        ///< a name whose timeline is printed to standard error
    /// Imitates a broken host: a worker stopped for a handoff keeps running this long after the
    /// host reported its stop to the node, so the new owner can start before the old worker
    /// exits. Zero (the default) is a correct host. Tests set it to show the checker catches
    /// such a host.
    duration handoff_exit_lag{};
    /// Threads that process node inputs, 1 to 64. With more than one, the inputs of different
    /// nodes run at once within a window shorter than any delay from one node's output to
    /// another node's input: the minimum link latency, the worker stop delay, the minimum
    /// resolve delay. Their outputs are applied in the order one thread would apply them, so
    /// the trace, its hash and the report are the same for every count. The placement and
    /// handoff models must then share no mutable state between nodes; the shipped ones share
    /// none. See docs/design.md, "Several threads, one trace".
    unsigned threads = 1;
};

/// Lifecycle of a simulated node slot.
enum class node_status : std::uint8_t { booting, running, leaving, stopped, crashed };

/// Summary counters of a run.
struct run_counters {
    std::uint64_t events = 0;
    std::uint64_t messages_sent = 0;
    std::uint64_t messages_delivered = 0;
    std::array<std::uint64_t, message_kinds_count> messages_by_kind{};
    std::uint64_t registrations_acknowledged = 0;
    std::uint64_t registrations_failed = 0;
    std::uint64_t moves_onto_old = 0;  ///< moves onto a node older than the newest generation booted
};

template <placement Placement, handoff Handoff>
class cluster final : public transport_host {
public:
    using node_type = muster::node<sim_discovery, sim_transport, Placement, Handoff>;
    using dns_function = std::function<resolve_result(const std::string& host, time_point now, rng& random)>;

    struct sim_worker {
        std::uint64_t base = 0;
        time_point started{};
    };

    struct sim_node {
        std::string name;
        std::uint64_t incarnation = 0;
        node_status status = node_status::stopped;
        std::optional<node_type> machine;
        std::unordered_map<std::string, sim_worker> workers;
        std::function<sim_discovery()> make_discovery;
        time_point stopped_at{};
        time_point booted_at{};
        std::uint64_t generation = 0;
        bool paused = false;              ///< its process handles no input until resumed
        double clock_rate = 1.0;          ///< its clock's speed: 1.01 runs 1% fast
        time_point clock_anchor_sim{};    ///< simulated time of the last rate change
        time_point clock_anchor_node{};   ///< the node's clock at that moment
        // The node's one timer, as a host keeps it (see `timer_effect`): armed for `timer_at`,
        // and only a timer event of the current generation calls `tick`.
        bool timer_armed = false;
        time_point timer_at{};
        std::uint64_t timer_generation = 0;
    };

    cluster(cluster_config config, Placement placement, Handoff handoff)
        : config_(std::move(config)),
          placement_(std::move(placement)),
          handoff_(std::move(handoff)),
          network_(config_.link),
          root_(config_.seed),
          net_rng_(root_.split("network")),
          dns_rng_(root_.split("dns")) {
        if (config_.threads < 1 || config_.threads > 64)
            throw std::invalid_argument("muster::sim::cluster: threads is " + std::to_string(config_.threads) +
                                        ", outside 1 to 64");
        if (config_.resolve_delay_min < duration::zero() || config_.resolve_delay_max < config_.resolve_delay_min)
            throw std::invalid_argument("muster::sim::cluster: the resolve delay range is empty or negative");
        if (config_.threads > 1) pool_ = std::make_unique<worker_pool>(config_.threads);
    }

    cluster(const cluster&) = delete;
    cluster& operator=(const cluster&) = delete;

    // ---- scenario controls --------------------------------------------------------------------

    /// Adds a node (or a new incarnation of a stopped one) that boots at `at`.
    /// `generation` becomes the node's `registry_config::generation` (its release).
    std::uint32_t add_node(const std::string& name, std::function<sim_discovery()> make_discovery, time_point at,
                           std::uint64_t generation = 0) {
        std::uint32_t slot;
        const auto it = slots_.find(name);
        if (it != slots_.end()) {
            slot = it->second;
        } else {
            slot = static_cast<std::uint32_t>(nodes_.size());
            nodes_.emplace_back();
            nodes_.back().name = name;
            capture_.push_back(nullptr);
            windows_.emplace_back();
            cursors_.push_back(0);
            done_.emplace_back(false);
            slots_.emplace(name, slot);
        }
        nodes_[slot].make_discovery = std::move(make_discovery);
        nodes_[slot].generation = generation;
        newest_generation_ = std::max(newest_generation_, generation);
        nodes_[slot].status = node_status::booting;
        schedule(at, [this, slot] { boot(slot); });
        return slot;
    }

    /// Kills a node at once: no goodbye, workers gone. With `reset`, peers see their connections
    /// drop (a killed process whose host lives on); otherwise they must time it out.
    void crash(std::uint32_t slot, bool reset) {
        auto& n = nodes_[slot];
        if (!n.machine) return;
        trace("crash", slot, 0);
        watch_node("crash", n.name, reset ? "connections reset" : "silent");
        last_disruption_ = now_;
        kill_workers(slot);
        checker_.on_node_lost(slot);
        n.machine.reset();
        n.paused = false;
        held_.erase(slot);
        n.status = node_status::crashed;
        n.stopped_at = now_;
        if (reset) {
            for (std::uint32_t peer = 0; peer < nodes_.size(); ++peer) {
                if (peer == slot || !nodes_[peer].machine) continue;
                if (!network_.reachable(n.name, nodes_[peer].name)) continue;
                const auto inc = nodes_[peer].incarnation;
                const std::string name = n.name;
                const auto lost = n.incarnation;
                schedule(now_ + network_.delay(net_rng_),
                         [this, peer, inc, name, lost] { connection_lost(peer, inc, name, lost); });
            }
        }
    }

    /// Starts a graceful stop (SIGTERM): the node leaves and hands off; it is killed if it has
    /// not exited after `grace`.
    void terminate(std::uint32_t slot, duration grace) {
        auto& n = nodes_[slot];
        if (!n.machine || n.status != node_status::running) return;
        trace("terminate", slot, 0);
        watch_node("terminate", n.name, "");
        last_disruption_ = now_;
        n.status = node_status::leaving;
        n.machine->leave(clock_of(slot));
        drain(slot);
        const auto inc = n.incarnation;
        schedule(now_ + grace, [this, slot, inc] {
            if (alive(slot, inc)) crash(slot, true);
        });
    }

    /// Pauses a node's process, as a long garbage-collection pause or SIGSTOP would: until
    /// `resume`, it handles no message, timer or other input. Those wait and arrive together when
    /// it resumes, and its peers time it out meanwhile. Counts as a fault for the invariants,
    /// since peers then restart its workers while it still runs them.
    void pause(std::uint32_t slot) {
        auto& n = nodes_[slot];
        if (!n.machine || n.paused) return;
        n.paused = true;
        trace("pause", slot, 0);
        watch_node("pause", n.name, "");
        last_disruption_ = now_;
        note_network_fault();
    }

    /// Resumes a paused node: every input it missed arrives now, in the order it came.
    void resume(std::uint32_t slot) {
        auto& n = nodes_[slot];
        if (!n.paused) return;
        n.paused = false;
        trace("resume", slot, 0);
        watch_node("resume", n.name, "");
        last_disruption_ = now_;
        note_network_fault();
        auto waiting = std::exchange(held_[slot], {});
        held_.erase(slot);
        for (auto& e : waiting) queue_.push(now_, std::move(e));
    }

    /// Sets the speed of a node's clock from now on: 1.01 runs 1% fast, 0.5 at half speed. The
    /// clock stays continuous and monotonic. Throws `std::invalid_argument` unless
    /// 0.01 ≤ rate ≤ 100.
    void set_clock_rate(std::uint32_t slot, double rate) {
        if (!(rate >= 0.01 && rate <= 100.0))
            throw std::invalid_argument("muster::sim::cluster: clock rate " + std::to_string(rate) +
                                        " is outside 0.01 to 100");
        auto& n = nodes_[slot];
        n.clock_anchor_node = clock_of(slot);
        n.clock_anchor_sim = now_;
        // A clock more than twice as fast or as slow as true time makes failure timeouts
        // meaningless: a fast one times out peers that are fine. So it counts as a fault for the
        // healthy-network test, as a pause does, until the rate is back within the band.
        const auto drifting = [](double r) { return r < 0.5 || r > 2.0; };
        if (drifting(n.clock_rate) != drifting(rate)) {
            drifting_clocks_ += drifting(rate) ? 1 : -1;
            note_network_fault();
        }
        n.clock_rate = rate;
        trace("clock_rate", slot, static_cast<std::uint64_t>(rate * 1e6));
    }

    /// Adds `amount` to the counter of `name` for a client on node `from`. The increment travels
    /// over the modelled network to the owner in `from`'s replica. That node applies it to the instance
    /// it runs and sends an acknowledgement back, and `on_ack` runs when it arrives. A lost message, an unreachable owner or an owner that runs no instance means no
    /// acknowledgement. A paused owner applies it when it resumes.
    void increment(std::uint32_t from, const std::string& name, std::uint64_t amount, std::function<void()> on_ack) {
        auto& n = nodes_[from];
        if (!n.machine || n.paused) return;
        const auto owner = n.machine->whereis(name);
        if (!owner) return;
        const auto to = slot_of(owner->name);
        if (!to) return;
        const auto arrivals = network_.deliveries(n.name, owner->name, now_, net_rng_);
        if (arrivals.empty()) return;
        const auto from_incarnation = n.incarnation;
        const auto to_slot = *to;
        const auto to_incarnation = owner->incarnation;
        schedule(arrivals.front(), [this, from, from_incarnation, to_slot, to_incarnation, name, amount,
                                    on_ack = std::move(on_ack)]() mutable {
            apply_increment(from, from_incarnation, to_slot, to_incarnation, name, amount, std::move(on_ack));
        });
    }

    /// Returns the time a node's clock shows now.
    time_point clock_of(std::uint32_t slot) const { return clock_at(slot, now_); }

    network& net() { return network_; }
    /// Records a network fault (a partition, a cut, a heal, loss) for the healthy-network test
    /// of invariant (1) and for the convergence time.
    void note_network_fault() {
        last_network_fault_ = now_;
        last_disruption_ = now_;
    }

    /// The time of the last crash, stop, boot or network fault.
    time_point last_disruption() const { return last_disruption_; }
    void set_dns(dns_function f) { dns_ = std::move(f); }

    /// Registers `name` through node `slot`; the acknowledgement is tracked for invariant (3).
    /// Returns the request id, or the error the node returned at once (`not_running` when the
    /// slot has no running machine).
    result<request_id> register_name(std::uint32_t slot, const std::string& name, const worker_spec& spec) {
        if (!nodes_[slot].machine) return errc::not_running;
        auto r = nodes_[slot].machine->register_name(clock_of(slot), name, spec);
        note_registration(slot, r, name);
        drain(slot);
        return r;
    }

    /// Registers `name` at simulated time `at` through the first node of `candidates`, from
    /// index `first` on, that runs then. Nothing happens when none runs. Unlike an action that
    /// calls `register_name`, it is an input of that node, so it runs beside other nodes' inputs
    /// on several threads. That is safe because the pick reads only which nodes run, and only
    /// scenario actions change that, never inside a window. The trace is the same as the action's.
    void schedule_register(time_point at, std::shared_ptr<const std::vector<std::uint32_t>> candidates,
                           std::size_t first, std::string name, worker_spec spec) {
        if (at < committing_until_)
            throw std::logic_error("muster::sim::cluster: a registration scheduled inside the window being committed "
                                   "would break the equality of runs on one and several threads");
        if (!candidates) candidates = std::make_shared<const std::vector<std::uint32_t>>();
        auto request = std::make_shared<const scheduled_registration>(
            scheduled_registration{std::move(candidates), first, std::move(name), std::move(spec)});
        queue_.push(at, event{register_event{0, 0, std::move(request)}});
    }

    /// Removes `name` through node `slot`. Returns the request id, or the error the node returned
    /// at once. The checker learns of the removal when the holder stops the worker.
    result<request_id> unregister_name(std::uint32_t slot, const std::string& name) {
        if (!nodes_[slot].machine) return errc::not_running;
        auto r = nodes_[slot].machine->unregister(clock_of(slot), name);
        drain(slot);
        return r;
    }

    /// Makes the worker of `name` on node `slot` exit on its own for `reason`. The node restarts
    /// it or removes the name, as the worker's restart policy requires.
    void exit_worker(std::uint32_t slot, const std::string& name, exit_reason reason) {
        auto& n = nodes_[slot];
        if (!n.machine) return;
        const auto it = n.workers.find(name);
        if (it == n.workers.end()) return;
        n.workers.erase(it);
        checker_.on_stop(now_, name, slot, std::nullopt);
        trace("worker_exit", slot, hash64(name));
        n.machine->on_worker_exited(clock_of(slot), name, reason);
        drain(slot);
    }

    /// Makes every worker of `name` ignore stop requests from now on: it runs on until the stop
    /// request's grace period ends, then the host kills it, and it gives back no state.
    void ignore_stop_requests(const std::string& name) { stubborn_.insert(name); }

    /// Calls `f(slot, effect)` for every effect a node produces except network effects, before
    /// the simulator performs it. Scenario files use it to count events and check replies.
    void observe_effects(std::function<void(std::uint32_t slot, const effect&)> f) { effect_observer_ = std::move(f); }

    /// Runs `f` at simulated time `at`.
    void schedule(time_point at, std::function<void()> f) {
        if (at < committing_until_)
            throw std::logic_error("muster::sim::cluster: an action scheduled inside the window being committed "
                                   "would break the equality of runs on one and several threads");
        queue_.push(at, event{action_event{std::move(f)}});
    }

    /// Processes events up to and including `until`, or until a violation stops the run.
    void run_until(time_point until) {
        while (!violation_ && !queue_.empty() && queue_.top_time() <= until) {
            if (pool_ && run_window(until)) continue;
            auto e = take();
            if (const auto slot = input_slot(e.payload); slot && !held(*slot, e.payload)) {
                auto& r = single_record_;
                r.reuse();
                r.at = e.at;
                r.seq = e.seq;
                r.slot = *slot;
                r.input = std::move(e.payload);
                run_input(r, e.at, nullptr);
                commit(r, nullptr);
                continue;
            }
            now_ = e.at;
            ++counters_.events;
            if (auto* a = std::get_if<action_event>(&e.payload)) process(*a);
            else if (std::holds_alternative<register_event>(e.payload)) trace("action", 0, 0);  // no node runs
            else hold(e.payload);
            if (progress_ && (counters_.events & 0xFFFF) == 0) progress_(now_);
        }
        if (!violation_ && until > now_) now_ = until;
    }

    /// Checks invariants (2) and (3) at the end of a quiet period. Returns the first violation.
    std::optional<violation> check_converged() {
        checker_.finish(now_);
        std::vector<std::uint32_t> running;
        for (std::uint32_t s = 0; s < nodes_.size(); ++s)
            if (nodes_[s].machine && nodes_[s].status == node_status::running) running.push_back(s);
        std::vector<std::string> names;
        for (const auto& [name, t] : checker_.tracks()) names.push_back(name);
        std::sort(names.begin(), names.end());
        std::vector<std::pair<const std::string*, node_id>> holders;  // every live name, in name order
        std::vector<const std::string*> removed;                       // every removed name, in name order
        for (const auto& name : names) {
            const auto& t = checker_.tracks().at(name);
            if (t.retired) {
                if (!t.live.empty()) return fail("retired-name", "name " + name + " still runs after it was removed");
                removed.push_back(&name);
                continue;
            }
            if (t.live.empty()) {
                if (t.acknowledged)
                    return fail("acknowledged-registration", "acknowledged name " + name + " has no live instance");
                continue;
            }
            if (t.live.size() != 1)
                return fail("converged-unique", "name " + name + " has " + std::to_string(t.live.size()) + " instances after quiescence");
            const auto holder = t.live.front();
            const node_id holder_id{nodes_[holder].name, nodes_[holder].incarnation};
            if (config_.check_placement && !running.empty()) {
                auto placed = nodes_[running.front()].machine->machine().owner_of(name);
                if (placed && *placed != holder_id)
                    return fail("placement", "name " + name + " runs on " + holder_id.name + " but placement picks " + placed->name);
            }
            holders.emplace_back(&name, holder_id);
        }
        // One replica at a time, so each stays in the caches while its names are looked up; with
        // several threads, replicas at once. The first disagreement in node order is reported.
        std::vector<std::size_t> first_wrong(running.size(), holders.size());
        std::vector<std::size_t> first_kept(running.size(), removed.size());  // first removed name still located
        auto check_replica = [&](std::size_t i) {
            const auto& machine = *nodes_[running[i]].machine;
            for (std::size_t k = 0; k < holders.size(); ++k) {
                const auto where = machine.whereis(*holders[k].first);
                if (!where || *where != holders[k].second) {
                    first_wrong[i] = k;
                    break;
                }
            }
            for (std::size_t k = 0; k < removed.size(); ++k) {
                if (machine.whereis(*removed[k])) {
                    first_kept[i] = k;
                    break;
                }
            }
        };
        if (pool_) {
            pool_->start(running.size(), check_replica);
            pool_->finish();
        } else {
            for (std::size_t i = 0; i < running.size(); ++i) check_replica(i);
        }
        for (std::size_t i = 0; i < running.size(); ++i) {
            if (first_wrong[i] == holders.size()) continue;
            const auto& [name, holder_id] = holders[first_wrong[i]];
            const auto where = nodes_[running[i]].machine->whereis(*name);
            return fail("replicas-agree", "node " + nodes_[running[i]].name + " locates " + *name + " at " +
                                              (where ? where->name : std::string("nowhere")) + " but it runs on " + holder_id.name);
        }
        for (std::size_t i = 0; i < running.size(); ++i) {
            if (first_kept[i] == removed.size()) continue;
            const auto& name = *removed[first_kept[i]];
            const auto where = nodes_[running[i]].machine->whereis(name);
            return fail("replicas-agree", "node " + nodes_[running[i]].name + " locates " + name + " at " +
                                              (where ? where->name : std::string("nowhere")) + " but it was removed");
        }
        return std::nullopt;
    }

    // ---- queries ------------------------------------------------------------------------------

    time_point now() const { return now_; }
    const std::optional<violation>& failure() const { return violation_; }
    std::uint64_t trace_hash() const { return trace_hash_; }
    const run_counters& counters() const { return counters_; }
    const checker& invariants() const { return checker_; }
    std::deque<sim_node>& nodes() { return nodes_; }
    const std::deque<sim_node>& nodes() const { return nodes_; }
    std::optional<std::uint32_t> slot_of(const std::string& name) const {
        const auto it = slots_.find(name);
        if (it == slots_.end()) return std::nullopt;
        return it->second;
    }
    const cluster_config& config() const { return config_; }
    rng& random(std::string_view label) {
        auto it = streams_.find(std::string(label));
        if (it == streams_.end()) it = streams_.emplace(std::string(label), root_.split(label)).first;
        return it->second;
    }
    void on_progress(std::function<void(time_point)> f) { progress_ = std::move(f); }

    /// Returns the last processed events, oldest first, for a violation report.
    std::vector<std::string> recent_trace() const {
        std::vector<std::string> out;
        const std::size_t n = std::min(recent_.size(), config_.trace_keep);
        for (std::size_t i = 0; i < n; ++i) {
            const auto& r = recent_[(recent_next_ + recent_.size() - n + i) % recent_.size()];
            if (r.what.empty()) continue;
            char at[32];
            std::snprintf(at, sizeof at, "%.6f", static_cast<double>(r.at_ns) / 1e9);
            const std::string node = r.slot < nodes_.size() ? nodes_[r.slot].name : std::string("-");
            out.push_back(std::string("t=") + at + "s node=" + node + " " + std::string(r.what));
        }
        return out;
    }

    /// Prints a line to standard error when a name is watched (`cluster_config::watch`) but had
    /// no start, stop or registration reply in the run, which usually means a misspelt name.
    void report_unseen_watch() const {
        if (config_.watch.empty() || watch_seen_) return;
        std::fprintf(stderr, "--watch %s: no worker of this name started or stopped, and no registration of it was "
                     "answered. Check the spelling of the name.\n",
                     config_.watch.c_str());
    }

    /// Returns the worker counter of `name` on `slot` now, if it runs there.
    std::optional<std::uint64_t> counter_of(std::uint32_t slot, const std::string& name) const {
        const auto& n = nodes_[slot];
        const auto it = n.workers.find(name);
        if (it == n.workers.end()) return std::nullopt;
        return counter(it->second);
    }

    // ---- transport_host -----------------------------------------------------------------------

    void transport_send(std::uint32_t slot, const std::string& to, envelope_ptr message) override {
        if (slot < capture_.size() && capture_[slot]) {
            // Looked up here, on the node's thread, to keep the commit short.
            capture_[slot]->network.push_back(network_output{to, std::move(message), slot_number(to)});
            return;
        }
        send_now(slot, to, std::move(message), slot_number(to));
    }

    void transport_connect(std::uint32_t slot, const std::string& peer) override {
        if (slot < capture_.size() && capture_[slot]) {
            capture_[slot]->network.push_back(network_output{peer, nullptr, 0});
            return;
        }
        connect_now(slot, peer);
    }

private:
    static constexpr std::uint32_t no_slot = static_cast<std::uint32_t>(-1);
    mutable bool watch_seen_ = false;  // a line of the watched name's timeline was printed

    std::uint32_t slot_number(const std::string& name) const {
        const auto it = slots_.find(name);
        return it == slots_.end() ? no_slot : it->second;
    }

    void send_now(std::uint32_t slot, const std::string& to, envelope_ptr message, std::uint32_t to_slot) {
        ++counters_.messages_sent;
        ++counters_.messages_by_kind[message->body.index()];
        if (to_slot == no_slot) return;
        const auto inc = nodes_[to_slot].incarnation;
        for (const auto at : network_.deliveries(nodes_[slot].name, to, now_, net_rng_))
            queue_.push(at, event{deliver_event{to_slot, inc, message}});
    }

    void connect_now(std::uint32_t slot, const std::string& peer) {
        const auto inc = nodes_[slot].incarnation;
        const auto target = slots_.find(peer);
        const bool up = target != slots_.end() && nodes_[target->second].machine.has_value() &&
                        network_.reachable(nodes_[slot].name, peer) && network_.reachable(peer, nodes_[slot].name);
        const duration rtt = network_.delay(net_rng_) + network_.delay(net_rng_);
        // An unreachable peer sends no reply, so the machine's own connect timeout ends the attempt.
        if (!up && target != slots_.end() && nodes_[target->second].machine.has_value()) return;
        queue_.push(now_ + rtt, event{connect_event{slot, inc, peer, up}});
    }

    struct deliver_event {
        std::uint32_t slot;
        std::uint64_t incarnation;
        envelope_ptr message;
    };
    struct timer_event {
        std::uint32_t slot;
        std::uint64_t incarnation;
        std::uint64_t generation;  ///< the node's `timer_generation` when it was armed
    };
    struct connect_event {
        std::uint32_t slot;
        std::uint64_t incarnation;
        std::string peer;
        bool ok;
    };
    struct resolved_event {
        std::uint32_t slot;
        std::uint64_t incarnation;
        resolve_result result;
    };
    struct stopped_event {
        std::uint32_t slot;
        std::uint64_t incarnation;
        std::string name;
        std::optional<worker_state> state;
    };
    struct action_event {
        std::function<void()> run;
    };
    // The process exits after its graceful leave (see `node_stopped`).
    struct exit_event {
        std::uint32_t slot;
        std::uint64_t incarnation;
    };
    struct scheduled_registration {
        std::shared_ptr<const std::vector<std::uint32_t>> candidates;
        std::size_t first;
        std::string name;
        worker_spec spec;
    };
    // See `schedule_register`. The node is picked when the event leaves the queue (`take`).
    struct register_event {
        std::uint32_t slot;
        std::uint64_t incarnation;
        std::shared_ptr<const scheduled_registration> request;  // shared, so the event stays small
    };
    using event = std::variant<deliver_event, timer_event, connect_event, resolved_event, stopped_event, action_event,
                               exit_event, register_event>;

    // One network output of a node input, kept for the commit: a message, or a connect when
    // `message` is null.
    struct network_output {
        std::string to;
        envelope_ptr message;
        std::uint32_t to_slot;  // of a message
    };

    // An event a node's own timer or exit adds to the queue. `child` is set when it falls
    // within the current window, where the node processes it at once.
    struct self_push {
        bool pushed = false;
        time_point at{};
        std::size_t child = no_child;
        event payload;
    };
    static constexpr std::size_t no_child = static_cast<std::size_t>(-1);

    // One node input and what processing it produced, in the order a single thread performs it
    // (see `commit`). `run_input` fills it, and may do so on any thread.
    struct step_record {
        time_point at{};
        std::uint64_t seq = 0;
        std::size_t child = no_child;  // the input is a child (see `self_push`) of this number
        std::uint32_t slot = 0;
        event input;
        bool reached = false;  // the input reached a live machine
        std::vector<network_output> network;
        std::vector<effect> effects;
        std::vector<self_push> pushes;  // one per timer effect or `node_stopped`, in order
        std::optional<std::string> problem;  // from `deep_checks`
        std::optional<result<request_id>> registered;  // what a `register_event` returned

        // Empties the record for another input, keeping the capacity of its vectors.
        void reuse() {
            seq = 0;
            child = no_child;
            reached = false;
            network.clear();
            effects.clear();
            pushes.clear();
            problem.reset();
            registered.reset();
        }
    };

    // The inputs of one node in the current window, and what processing them produced.
    struct node_window {
        struct input {
            time_point at;
            std::uint64_t seq;
            event payload;
        };
        struct child {
            time_point at;
            event payload;
            bool done = false;
        };
        std::vector<input> inputs;       // in (time, seq) order
        std::vector<child> children;     // by number
        std::vector<std::uint64_t> child_seqs;  // seq of each child, set when its parent commits
        // In processing order, the first `used` of them. Records are kept for the next window,
        // so their vectors keep their capacity, and are cleared on the thread that reuses them.
        std::vector<step_record> records;
        std::size_t used = 0;
    };

    bool alive(std::uint32_t slot, std::uint64_t incarnation) const {
        return nodes_[slot].machine.has_value() && nodes_[slot].incarnation == incarnation;
    }

    void apply_increment(std::uint32_t from, std::uint64_t from_incarnation, std::uint32_t to, std::uint64_t to_incarnation,
                         const std::string& name, std::uint64_t amount, std::function<void()> on_ack) {
        if (!alive(to, to_incarnation)) return;
        if (nodes_[to].paused) {
            held_[to].push_back(event{action_event{[=, this] { apply_increment(from, from_incarnation, to, to_incarnation, name, amount, on_ack); }}});
            return;
        }
        const auto it = nodes_[to].workers.find(name);
        if (it == nodes_[to].workers.end()) return;
        it->second.base += amount;
        trace("increment", to, hash64(name));
        const auto arrivals = network_.deliveries(nodes_[to].name, nodes_[from].name, now_, net_rng_);
        if (arrivals.empty()) return;
        schedule(arrivals.front(), [this, from, from_incarnation, on_ack = std::move(on_ack)] {
            if (alive(from, from_incarnation)) on_ack();
        });
    }

    // The connection of node `slot` (incarnation `incarnation`) to incarnation `lost` of `peer`
    // broke.
    void connection_lost(std::uint32_t slot, std::uint64_t incarnation, const std::string& peer, std::uint64_t lost) {
        if (!alive(slot, incarnation)) return;
        if (nodes_[slot].paused) {
            held_[slot].push_back(
                event{action_event{[this, slot, incarnation, peer, lost] { connection_lost(slot, incarnation, peer, lost); }}});
            return;
        }
        nodes_[slot].machine->on_connection_lost(clock_of(slot), peer, lost);
        drain(slot);
    }

    // The node's clock at simulated time `at`.
    time_point clock_at(std::uint32_t slot, time_point at) const {
        const auto& n = nodes_[slot];
        if (n.clock_rate == 1.0) return n.clock_anchor_node + (at - n.clock_anchor_sim);
        const double elapsed = static_cast<double>((at - n.clock_anchor_sim).count()) * n.clock_rate;
        return n.clock_anchor_node + duration(static_cast<duration::rep>(elapsed));
    }

    // The first simulated time at which the node's clock shows `target` or later.
    time_point sim_time_of(std::uint32_t slot, time_point target) const {
        const auto& n = nodes_[slot];
        if (target <= n.clock_anchor_node) return n.clock_anchor_sim;
        const double elapsed = static_cast<double>((target - n.clock_anchor_node).count()) / n.clock_rate;
        auto at = n.clock_anchor_sim + duration(static_cast<duration::rep>(std::ceil(elapsed)));
        // Rounding may leave the clock a nanosecond short; a timer must never fire early.
        while (clock_at(slot, at) < target) at += duration(1);
        return at;
    }

    // The node an event is an input of, or nothing for a scenario action and for a registration
    // that finds no running node.
    std::optional<std::uint32_t> input_slot(const event& e) const {
        return std::visit(
            [this](const auto& x) -> std::optional<std::uint32_t> {
                using type = std::decay_t<decltype(x)>;
                if constexpr (std::is_same_v<type, action_event>) return std::nullopt;
                else if constexpr (std::is_same_v<type, register_event>) return register_target(*x.request);
                else return x.slot;
            },
            e);
    }

    // The first node of the registration's candidates, from its `first` on, that runs now.
    std::optional<std::uint32_t> register_target(const scheduled_registration& request) const {
        const auto& slots = *request.candidates;
        for (std::size_t k = 0; k < slots.size(); ++k) {
            const auto s = slots[(request.first + k) % slots.size()];
            if (nodes_[s].machine && nodes_[s].status == node_status::running) return s;
        }
        return std::nullopt;
    }

    // Pops the earliest event. A registration gets its node now, from the nodes that run now,
    // which are those of the window's start (see `schedule_register`).
    auto take() {
        auto e = queue_.pop();
        if (auto* reg = std::get_if<register_event>(&e.payload)) {
            if (const auto slot = register_target(*reg->request)) {
                reg->slot = *slot;
                reg->incarnation = nodes_[*slot].incarnation;
            }
        }
        return e;
    }

    // The incarnation a node input was meant for, or 0 for a scenario action.
    static std::uint64_t input_incarnation(const event& e) {
        return std::visit(
            [](const auto& x) -> std::uint64_t {
                if constexpr (std::is_same_v<std::decay_t<decltype(x)>, action_event>) return 0;
                else return x.incarnation;
            },
            e);
    }

    // Whether a paused node must keep this input until it resumes. Its exit is never held, and
    // neither is a registration, which a scenario action would also make at once.
    bool held(std::uint32_t slot, const event& e) const {
        if (!nodes_[slot].paused || std::holds_alternative<exit_event>(e) || std::holds_alternative<register_event>(e))
            return false;
        return alive(slot, input_incarnation(e));
    }

    void hold(event& e) {
        const auto slot = *input_slot(e);
        held_[slot].push_back(std::move(e));
    }

    // The node's half of one input: the machine call, and the node's own timer and exit. It
    // reads and writes only the node's slot, so inputs of different nodes may run at once.
    // Everything that touches shared state waits in `r` for `commit`. Events the node adds
    // for itself before `window_end` become children in `w`.
    void run_input(step_record& r, time_point window_end, node_window* w) {
        const auto slot = r.slot;
        auto& n = nodes_[slot];
        if (auto* x = std::get_if<exit_event>(&r.input)) {
            r.reached = true;
            if (alive(slot, x->incarnation)) n.machine.reset();
            return;
        }
        if (!alive(slot, input_incarnation(r.input))) return;

        const auto clock = clock_at(slot, r.at);
        if (auto* t = std::get_if<timer_event>(&r.input)) {
            if (t->generation != n.timer_generation) return;
            n.timer_armed = false;
        }
        r.reached = true;

        capture_[slot] = &r;
        try {
            if (auto* d = std::get_if<deliver_event>(&r.input)) n.machine->step(clock, *d->message);
            else if (std::holds_alternative<timer_event>(r.input)) n.machine->tick(clock);
            else if (auto* c = std::get_if<connect_event>(&r.input))
                c->ok ? n.machine->on_connected(clock, c->peer) : n.machine->on_connect_failed(clock, c->peer);
            else if (auto* v = std::get_if<resolved_event>(&r.input)) n.machine->on_resolved(clock, v->result);
            else if (auto* st = std::get_if<stopped_event>(&r.input))
                n.machine->on_worker_stopped(clock, st->name, std::move(st->state));
            else if (auto* reg = std::get_if<register_event>(&r.input))
                r.registered = n.machine->register_name(clock, reg->request->name, reg->request->spec);
        } catch (...) {
            capture_[slot] = nullptr;
            throw;
        }
        capture_[slot] = nullptr;
        collect(slot, r, window_end, w);
    }

    // Takes the node's effects into `r` and performs the halves that touch only the node: its
    // timer and its exit.
    void collect(std::uint32_t slot, step_record& r, time_point window_end, node_window* w) {
        auto& n = nodes_[slot];
        n.machine->drain_effects_into(r.effects);
        for (auto& e : r.effects) {
            if (auto* t = std::get_if<timer_effect>(&e)) {
                r.pushes.push_back(arm_timer(slot, *t, r.at, window_end, w));
            } else if (std::holds_alternative<node_stopped>(e)) {
                // Destroying the machine inside its own drain is unsafe, so it exits right after.
                r.pushes.push_back(push_self(r.at, event{exit_event{slot, n.incarnation}}, window_end, w));
            }
        }
        if (config_.deep_checks) {
            if (auto problem = n.machine->machine().check_invariants()) r.problem = n.name + ": " + *problem;
        }
    }

    // A later request than the armed time changes nothing, because the tick at the armed time
    // requests the next one. An earlier request replaces the armed timer, whose event is then
    // dropped. One event per timer keeps a run from filling its queue with spurious ticks.
    self_push arm_timer(std::uint32_t slot, const timer_effect& t, time_point at, time_point window_end, node_window* w) {
        auto& n = nodes_[slot];
        if (n.timer_armed && t.at >= n.timer_at) return {};
        n.timer_armed = true;
        n.timer_at = t.at;
        ++n.timer_generation;
        return push_self(std::max(sim_time_of(slot, t.at), at), event{timer_event{slot, n.incarnation, n.timer_generation}},
                         window_end, w);
    }

    self_push push_self(time_point at, event payload, time_point window_end, node_window* w) {
        self_push p;
        p.pushed = true;
        p.at = at;
        if (w && at < window_end) {
            p.child = w->children.size();
            w->children.push_back({at, std::move(payload)});
        } else {
            p.payload = std::move(payload);
        }
        return p;
    }

    // The shared half of one input, in the order a single thread performs it: the trace, the
    // messages and connects, then every other effect.
    void commit(step_record& r, node_window* w) {
        now_ = r.at;
        ++counters_.events;
        const auto slot = r.slot;
        if (r.reached) {
            if (auto* d = std::get_if<deliver_event>(&r.input)) {
                ++counters_.messages_delivered;
                trace(message_kind_name(d->message->body.index()), slot, hash64(d->message->from.name));
            } else if (std::holds_alternative<timer_event>(r.input)) {
                trace("tick", slot, 0);
            } else if (auto* c = std::get_if<connect_event>(&r.input)) {
                trace(c->ok ? "connected" : "connect_failed", slot, hash64(c->peer));
            } else if (auto* v = std::get_if<resolved_event>(&r.input)) {
                trace("resolved", slot, v->result.addresses.size());
            } else if (auto* st = std::get_if<stopped_event>(&r.input)) {
                trace("worker_stopped", slot, hash64(st->name));
            } else if (std::holds_alternative<exit_event>(r.input) || std::holds_alternative<register_event>(r.input)) {
                trace("action", 0, 0);
            }
        }
        if (auto* reg = std::get_if<register_event>(&r.input)) {
            if (!r.reached) trace("action", 0, 0);
            else if (r.registered) note_registration(slot, *r.registered, reg->request->name);
        }
        for (auto& out : r.network) {
            if (out.message) send_now(slot, out.to, std::move(out.message), out.to_slot);
            else connect_now(slot, out.to);
        }
        perform_effects(slot, r, w);
        if (progress_ && (counters_.events & 0xFFFF) == 0) progress_(now_);
    }

    void perform_effects(std::uint32_t slot, step_record& r, node_window* w) {
        std::size_t next_push = 0;
        for (auto& e : r.effects) {
            if (effect_observer_) effect_observer_(slot, e);
            if (std::holds_alternative<timer_effect>(e)) {
                commit_push(r.pushes[next_push++], w);
            } else if (std::holds_alternative<node_stopped>(e)) {
                node_exit(slot);
                commit_push(r.pushes[next_push++], w);
            } else {
                std::visit([&](auto& x) { perform(slot, x); }, e);
            }
        }
        if (r.problem) fail("machine", *r.problem);
    }

    void commit_push(self_push& p, node_window* w) {
        if (!p.pushed) return;
        if (p.child != no_child) w->child_seqs[p.child] = queue_.skip();
        else queue_.push(p.at, std::move(p.payload));
    }

    // Processes the earliest events that fall within one window, node by node on the worker
    // threads, then commits them in (time, seq) order. Returns false when the earliest event
    // must run alone: a scenario action, an input of a paused node, or a run whose settings
    // leave no window.
    bool run_window(time_point until) {
        const duration span = std::min({network_.config().latency_min, config_.worker_stop_delay, config_.resolve_delay_min});
        // Actions a node's effects schedule (see `exit_late` and `kill_after_grace`) must fall
        // after the window, as every other event they cause does.
        const bool early_actions =
            (config_.handoff_exit_lag > duration::zero() && config_.handoff_exit_lag < span) ||
            (!stubborn_.empty() && config_.node_defaults.stop_grace < span);
        if (span <= duration::zero() || early_actions) return false;
        time_point window_end = std::min(queue_.top_time() + span, until + duration(1));
        touched_.clear();
        while (!queue_.empty() && queue_.top_time() < window_end) {
            const auto slot = input_slot(queue_.top_payload());
            if (!slot || nodes_[*slot].paused) {
                // The window ends at this event, which runs alone: what a node schedules for
                // itself at its time or later comes after it.
                window_end = queue_.top_time();
                break;
            }
            auto e = take();
            auto& w = windows_[*slot];
            if (w.inputs.empty()) touched_.push_back(*slot);
            w.inputs.push_back({e.at, e.seq, std::move(e.payload)});
        }
        if (touched_.empty()) return false;

        for (const auto slot : touched_) done_[slot].store(false, std::memory_order_relaxed);

        // Nodes in the order of their first input, which is the order their records start to
        // commit: the committing thread then seldom waits for a node still running.
        auto first_key = [&](std::uint32_t slot) {
            const auto& in = windows_[slot].inputs.front();
            return std::pair{in.at, in.seq};
        };
        std::sort(touched_.begin(), touched_.end(),
                  [&](std::uint32_t a, std::uint32_t b) { return first_key(a) < first_key(b); });
        auto task = [&](std::size_t i) {
            // Marked done even when it throws, so the committing thread stops waiting for it.
            struct mark_done {
                std::atomic<bool>& flag;
                ~mark_done() { flag.store(true, std::memory_order_release); }
            } done{done_[touched_[i]]};
            run_node(touched_[i], window_end);
        };

        pool_->start(touched_.size(), task);
        committing_until_ = window_end;
        std::exception_ptr error;
        try {
            commit_window();
        } catch (...) {
            error = std::current_exception();
        }
        committing_until_ = time_point::min();
        pool_->finish();
        if (error) std::rethrow_exception(error);
        for (const auto slot : touched_) {
            auto& w = windows_[slot];
            w.inputs.clear();
            w.children.clear();
            w.child_seqs.clear();
            w.used = 0;
        }
        return true;
    }

    // Commits the records of the window's nodes merged by (time, seq), each node once it is
    // done, and runs nodes itself while the next one to commit is still running. A node's first
    // record is its first input. A child's seq is known once its parent has committed, and the
    // parent comes earlier in the same node's records.
    void commit_window() {
        auto& heads = heads_;  // a min-heap by (time, seq)
        heads.clear();
        for (const auto slot : touched_) {
            const auto& in = windows_[slot].inputs.front();
            heads.push_back({{in.at, in.seq}, slot});
            cursors_[slot] = 0;
        }
        std::make_heap(heads.begin(), heads.end(), std::greater<>());
        while (!heads.empty() && !violation_) {
            std::pop_heap(heads.begin(), heads.end(), std::greater<>());
            const auto slot = heads.back().second;
            heads.pop_back();
            while (!done_[slot].load(std::memory_order_acquire))
                if (!pool_->help()) worker_pool::pause();
            auto& w = windows_[slot];
            auto& i = cursors_[slot];
            if (i >= w.used) continue;  // its processing threw
            commit(w.records[i], &w);
            if (++i < w.used) {
                const auto& r = w.records[i];
                heads.push_back({{r.at, r.child == no_child ? r.seq : w.child_seqs[r.child]}, slot});
                std::push_heap(heads.begin(), heads.end(), std::greater<>());
            }
        }
    }

    // Processes one node's inputs of the window, and the children they add, in order.
    void run_node(std::uint32_t slot, time_point window_end) {
        auto& w = windows_[slot];
        std::size_t next = 0;
        for (;;) {
            std::size_t earliest = no_child;
            for (std::size_t c = 0; c < w.children.size(); ++c)
                if (!w.children[c].done && (earliest == no_child || w.children[c].at < w.children[earliest].at)) earliest = c;
            // A child was pushed after every input of the window, so it goes first only when
            // it is strictly earlier.
            const bool take_child =
                earliest != no_child && (next == w.inputs.size() || w.children[earliest].at < w.inputs[next].at);
            if (!take_child && next == w.inputs.size()) break;
            if (w.used == w.records.size()) w.records.emplace_back();
            auto& r = w.records[w.used++];
            r.reuse();
            r.slot = slot;
            if (take_child) {
                auto& c = w.children[earliest];
                c.done = true;
                r.at = c.at;
                r.child = earliest;
                r.input = std::move(c.payload);
            } else {
                auto& in = w.inputs[next++];
                r.at = in.at;
                r.seq = in.seq;
                r.input = std::move(in.payload);
            }
            run_input(r, window_end, &w);
        }
        w.child_seqs.assign(w.children.size(), 0);
    }

    void process(action_event& e) {
        trace("action", 0, 0);
        e.run();
    }

    // Counts a registration the node rejected at once, or files it to match the reply to one it accepted.
    void note_registration(std::uint32_t slot, const result<request_id>& r, const std::string& name) {
        if (!r) ++counters_.registrations_failed;
        else pending_[{slot, *r}] = name;
    }

    void boot(std::uint32_t slot) {
        auto& n = nodes_[slot];
        if (n.machine) return;
        ++n.incarnation;
        // The earlier incarnation's requests get no reply, and the new one numbers its requests
        // from 1 again, so a reply to its unregister must not complete an old registration.
        std::erase_if(pending_, [slot](const auto& p) { return p.first.first == slot; });
        registry_config rc = config_.node_defaults;
        rc.self = node_id{n.name, n.incarnation};
        rc.seed = hash64(n.name, config_.seed + n.incarnation);
        rc.generation = n.generation;
        auto made = node_type::create(rc, n.make_discovery(), sim_transport{this, slot}, placement_, handoff_);
        if (!made) {
            fail("config", std::string(to_string(made.error())));
            return;
        }
        n.machine.emplace(std::move(made).value());
        n.timer_armed = false;
        n.status = node_status::running;
        n.booted_at = now_;
        trace("boot", slot, n.incarnation);
        watch_node("boot", n.name, "incarnation " + std::to_string(n.incarnation));
        last_disruption_ = now_;
        n.machine->start(clock_of(slot));
        drain(slot);
    }

    // Performs the host side of every effect the node produced, after a call from a scenario
    // action. Its messages are already sent.
    void drain(std::uint32_t slot) {
        if (!nodes_[slot].machine) return;
        step_record r;
        r.at = now_;
        r.slot = slot;
        collect(slot, r, now_, nullptr);
        perform_effects(slot, r, nullptr);
    }

    void perform(std::uint32_t, send_effect&) {}
    void perform(std::uint32_t, connect_effect&) {}
    void perform(std::uint32_t, disconnect_effect&) {}

    void perform(std::uint32_t, timer_effect&) {}  // see `arm_timer`

    void perform(std::uint32_t slot, resolve_effect& r) {
        resolve_result result{r.host, {}, std::string("no DNS in this simulation")};
        if (dns_) result = dns_(r.host, now_, dns_rng_);
        result.host = r.host;
        const auto at = now_ + dns_rng_.duration_between(config_.resolve_delay_min, config_.resolve_delay_max);
        queue_.push(at, event{resolved_event{slot, nodes_[slot].incarnation, std::move(result)}});
    }

    void perform(std::uint32_t slot, start_worker_effect& s) {
        auto& n = nodes_[slot];
        if (s.name == config_.watch)
            watch_line("worker_started on " + n.name + " incarnation " + std::to_string(n.incarnation) +
                       (s.state ? " with state" : ""));
        std::optional<std::uint64_t> state;
        if (s.state && s.state->size() == sizeof(std::uint64_t)) {
            std::uint64_t v = 0;
            std::memcpy(&v, s.state->data(), sizeof v);
            state = v;
        }
        n.workers[s.name] = sim_worker{state.value_or(0), now_};
        trace("worker_started", slot, hash64(s.name));
        const bool healthy = !network_.split() && network_.config().loss == 0 && drifting_clocks_ == 0 &&
                             (last_network_fault_ == time_point{} ||
                              now_ - last_network_fault_ > 2 * config_.node_defaults.failure_timeout);
        // Under loss or partitions two instances may both hand off and the new owner merges
        // their states, so the handed-state check applies only while the network is healthy.
        if (const auto t = checker_.tracks().find(s.name); t != checker_.tracks().end() && t->second.last_slot >= 0 &&
                                                          static_cast<std::uint32_t>(t->second.last_slot) != slot)
            if (n.generation < newest_generation_) ++counters_.moves_onto_old;
        if (auto v = checker_.on_start(now_, s.name, slot, state, healthy, healthy && config_.check_state && s.state.has_value()))
            fail(v->invariant, v->detail);
    }

    void perform(std::uint32_t slot, stop_worker_effect& s) {
        auto& n = nodes_[slot];
        if (s.name == config_.watch)
            watch_line("worker_stop on " + n.name + " cause " + std::string(to_string(s.cause)));
        const auto it = n.workers.find(s.name);
        if (it != n.workers.end() && stubborn_.contains(s.name)) {
            kill_after_grace(slot, s);
            return;
        }
        std::optional<worker_state> state;
        std::optional<std::uint64_t> handed;
        if (it != n.workers.end()) {
            const std::uint64_t value = counter(it->second);
            if (s.want_state) {
                state = worker_state(sizeof value, '\0');
                std::memcpy(state->data(), &value, sizeof value);
                if (s.cause == stop_cause::handoff) handed = value;
            }
            if (s.cause == stop_cause::handoff && config_.handoff_exit_lag > duration::zero()) {
                exit_late(slot, s.name, it->second.started);
            } else {
                n.workers.erase(it);
                checker_.on_stop(now_, s.name, slot, handed);
            }
        }
        if (s.cause == stop_cause::unregister) checker_.on_retired(s.name);
        trace("worker_stop", slot, hash64(s.name));
        queue_.push(now_ + config_.worker_stop_delay,
                    event{stopped_event{slot, n.incarnation, s.name, std::move(state)}});
    }

    // The broken host of `cluster_config::handoff_exit_lag`: the node already heard that the
    // worker stopped, but it exits only when the lag ends.
    void exit_late(std::uint32_t slot, const std::string& name, time_point started) {
        const auto incarnation = nodes_[slot].incarnation;
        schedule(now_ + config_.handoff_exit_lag, [this, slot, incarnation, name, started] {
            if (!alive(slot, incarnation)) return;
            auto& workers = nodes_[slot].workers;
            const auto it = workers.find(name);
            if (it == workers.end() || it->second.started != started) return;
            workers.erase(it);
            checker_.on_stop(now_, name, slot, std::nullopt);
            trace("worker_exit_late", slot, hash64(name));
        });
    }

    // A stubborn worker keeps running through the stop request, so the host kills it when the
    // effect's grace period ends, and a killed worker gives back no state.
    void kill_after_grace(std::uint32_t slot, const stop_worker_effect& s) {
        trace("worker_stop_ignored", slot, hash64(s.name));
        const auto incarnation = nodes_[slot].incarnation;
        const bool retire = s.cause == stop_cause::unregister;
        schedule(now_ + s.grace, [this, slot, incarnation, name = s.name, retire] {
            if (!alive(slot, incarnation)) return;
            if (nodes_[slot].workers.erase(name) > 0) checker_.on_stop(now_, name, slot, std::nullopt);
            if (retire) checker_.on_retired(name);
            trace("worker_killed", slot, hash64(name));
            queue_.push(now_, event{stopped_event{slot, incarnation, name, std::nullopt}});
        });
    }

    void perform(std::uint32_t slot, merge_state_effect& m) {
        auto& n = nodes_[slot];
        const auto it = n.workers.find(m.name);
        if (it == n.workers.end() || m.state.size() != sizeof(std::uint64_t)) return;
        std::uint64_t other = 0;
        std::memcpy(&other, m.state.data(), sizeof other);
        // The simulated worker merges by keeping the larger counter.
        const auto mine = counter(it->second);
        if (other > mine) it->second = sim_worker{other, now_};
    }

    void perform(std::uint32_t slot, reply_effect& r) {
        const auto it = pending_.find({slot, r.id});
        if (it == pending_.end()) return;
        if (it->second == config_.watch)
            watch_line("registration reply at " + nodes_[slot].name + ": " +
                       (r.error ? std::string(to_string(*r.error)) : "ok, owner " + (r.owner ? r.owner->name : std::string("unknown"))));
        if (!r.error) {
            ++counters_.registrations_acknowledged;
            checker_.on_acknowledged(it->second);
        } else {
            ++counters_.registrations_failed;
        }
        pending_.erase(it);
    }

    void perform(std::uint32_t, member_joined&) {}
    void perform(std::uint32_t, member_leaving&) {}
    void perform(std::uint32_t, member_left&) {}
    void perform(std::uint32_t, member_failed&) {}

    void perform(std::uint32_t, node_stopped&) {}  // see `node_exit`

    // The process exits after its graceful leave; `collect` schedules the machine's end.
    void node_exit(std::uint32_t slot) {
        auto& n = nodes_[slot];
        trace("node_exit", slot, 0);
        kill_workers(slot);
        n.status = node_status::stopped;
        n.stopped_at = now_;
    }

    // Prints one timeline line for the watched name (`cluster_config::watch`) to standard error.
    void watch_line(const std::string& text) const {
        watch_seen_ = true;
        std::fprintf(stderr, "%.6f %s %s\n", std::chrono::duration<double>(now_.time_since_epoch()).count(),
                     config_.watch.c_str(), text.c_str());
    }

    // Node lifecycle changes go on the watched name's timeline too, since they explain its moves.
    void watch_node(std::string_view what, const std::string& node, const std::string& detail) const {
        if (config_.watch.empty()) return;
        std::fprintf(stderr, "%.6f node %s %s %s\n", std::chrono::duration<double>(now_.time_since_epoch()).count(),
                     node.c_str(), std::string(what).c_str(), detail.c_str());
    }

    void kill_workers(std::uint32_t slot) {
        auto& n = nodes_[slot];
        std::vector<std::string> names;
        for (const auto& [name, w] : n.workers) names.push_back(name);
        std::sort(names.begin(), names.end());
        for (const auto& name : names) checker_.on_stop(now_, name, slot, std::nullopt);
        n.workers.clear();
    }

    std::uint64_t counter(const sim_worker& w) const {
        return w.base + static_cast<std::uint64_t>((now_ - w.started) / config_.counter_period);
    }

    std::optional<violation> fail(std::string invariant, std::string detail) {
        if (!violation_) violation_ = violation{std::move(invariant), std::move(detail), now_};
        return violation_;
    }

    void trace(std::string_view what, std::uint32_t slot, std::uint64_t key) {
        const auto t = static_cast<std::uint64_t>(now_.time_since_epoch().count());
        trace_hash_ = hash_combine(trace_hash_, hash_combine(hash64(what), hash_combine(t, hash_combine(slot, key))));
        if (config_.trace_keep == 0) return;
        if (recent_.size() < config_.trace_keep) recent_.resize(config_.trace_keep);
        recent_[recent_next_] = {what, slot, t};
        recent_next_ = (recent_next_ + 1) % recent_.size();
    }

    struct pending_hash {
        std::size_t operator()(const std::pair<std::uint32_t, request_id>& p) const {
            return static_cast<std::size_t>(hash_combine(p.first, p.second));
        }
    };

    struct recent_record {
        std::string_view what;
        std::uint32_t slot = 0;
        std::uint64_t at_ns = 0;
    };

    cluster_config config_;
    Placement placement_;
    Handoff handoff_;
    network network_;
    rng root_;
    rng net_rng_;
    rng dns_rng_;
    std::map<std::string, rng, std::less<>> streams_;
    event_queue<event> queue_;
    std::map<std::uint32_t, std::vector<event>> held_;  // inputs of paused nodes, in arrival order
    std::deque<sim_node> nodes_;
    std::unordered_map<std::string, std::uint32_t> slots_;
    std::unordered_map<std::pair<std::uint32_t, request_id>, std::string, pending_hash> pending_;
    checker checker_;
    dns_function dns_;
    std::function<void(time_point)> progress_;
    std::function<void(std::uint32_t, const effect&)> effect_observer_;
    std::set<std::string, std::less<>> stubborn_;
    time_point now_{};
    time_point last_network_fault_{};
    int drifting_clocks_ = 0;  // nodes whose clock rate is below 0.5 or above 2 (see `set_clock_rate`)
    time_point last_disruption_{};
    std::optional<violation> violation_;
    std::uint64_t trace_hash_ = 0;
    run_counters counters_;
    std::uint64_t newest_generation_ = 0;  // the highest generation given to a node so far
    std::vector<recent_record> recent_;
    std::size_t recent_next_ = 0;
    std::unique_ptr<worker_pool> pool_;         // with `cluster_config::threads` > 1
    std::vector<step_record*> capture_;        // per node: where its messages go while it runs
    std::vector<node_window> windows_;         // per node: its inputs in the current window
    std::vector<std::uint32_t> touched_;       // nodes with inputs in the current window
    std::vector<std::size_t> cursors_;         // per node: the next record to commit
    std::deque<std::atomic<bool>> done_;       // per node: its inputs of the window are processed
    std::vector<std::pair<std::pair<time_point, std::uint64_t>, std::uint32_t>> heads_;  // see `commit_window`
    step_record single_record_;                // the record of an input processed alone
    time_point committing_until_ = time_point::min();  // the end of the window being committed
};

}  // namespace muster::sim

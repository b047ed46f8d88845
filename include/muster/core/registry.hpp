#pragma once
/// The registry machine (the Swarm role): a replicated name registry that starts each registered
/// worker on the node placement picks, moves workers when the owner changes, restarts the workers
/// of failed nodes, and resolves duplicates after a netsplit. It is sans-IO and deterministic: it
/// never reads a clock, socket or global random source. Every input carries `now`, and every
/// output is an effect the host drains with `drain_effects`.
///
/// Protocol summary (docs/design.md has the full argument):
/// - Only the holder of an instance moves it, and it stops the worker before offering it, so a
///   name has at most one live instance while the network is healthy.
/// - Only the placement owner restarts the names of a failed or departed node.
/// - The old holder keeps a handed state until the new owner accepts it.
/// - Every node keeps a full replica; updates are batched and broadcast, and anti-entropy repairs
///   what was missed by comparing per-bucket digests.

#include <muster/core/config.hpp>
#include <muster/core/detail/flat_index.hpp>
#include <muster/core/detail/name_table.hpp>
#include <muster/core/detail/sorting.hpp>
#include <muster/core/effect.hpp>
#include <muster/core/log.hpp>
#include <muster/core/membership.hpp>
#include <muster/core/message.hpp>
#include <muster/policy/discovery.hpp>
#include <muster/policy/handoff.hpp>
#include <muster/policy/placement.hpp>

#include <algorithm>
#include <deque>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace muster {

/// One name of a `register_names` batch: the name and the spec of its worker.
struct registration {
    std::string name;
    worker_spec spec;
};

/// Counters of protocol paths taken, for reports and soak runs.
struct registry_stats {
    std::uint64_t workers_started = 0;
    std::uint64_t handoffs_offered = 0;
    std::uint64_t handoffs_accepted = 0;
    std::uint64_t handoffs_rejected = 0;
    std::uint64_t handoffs_retried = 0;
    std::uint64_t orphans_restarted = 0;
    std::uint64_t conflicts_won = 0;
    std::uint64_t conflicts_lost = 0;
    std::uint64_t messages_rejected = 0;
    std::uint64_t sync_repairs = 0;
    std::uint64_t workers_suspended = 0;  ///< stopped because placement picked no member
    std::uint64_t handed_states_recovered = 0;  ///< handed states placed again after the new owner failed

    /// Adds another node's counters, for cluster-wide totals.
    registry_stats& operator+=(const registry_stats& o) {
        workers_started += o.workers_started;
        handoffs_offered += o.handoffs_offered;
        handoffs_accepted += o.handoffs_accepted;
        handoffs_rejected += o.handoffs_rejected;
        handoffs_retried += o.handoffs_retried;
        orphans_restarted += o.orphans_restarted;
        conflicts_won += o.conflicts_won;
        conflicts_lost += o.conflicts_lost;
        messages_rejected += o.messages_rejected;
        sync_repairs += o.sync_repairs;
        workers_suspended += o.workers_suspended;
        handed_states_recovered += o.handed_states_recovered;
        return *this;
    }
};

// The smallest `message_size_max` leaves room for one register item or result of the largest
// size beside the envelope, so no part of a batch exceeds it.
static_assert(message_overhead_max + 3 * name_size_max + 40 <= message_size_max_lower);

template <discovery Discovery, placement Placement, handoff Handoff, log_sink Log = null_log>
class registry {
public:
    /// Builds a registry from a configuration that `validate` accepts (checked here once more;
    /// use `create` to get the error instead of a precondition failure).
    registry(registry_config config, Discovery discovery, Placement placement, Handoff handoff,
             Log log = {})
        : config_(std::move(config)),
          discovery_(std::move(discovery)),
          placement_(std::move(placement)),
          handoff_(std::move(handoff)),
          log_(std::move(log)),
          membership_(config_),
          table_(config_.sync_buckets) {}

    /// Checks the configuration and builds a registry, or returns why the configuration is invalid.
    static expected<registry, config_error> create(registry_config config, Discovery discovery,
                                                   Placement placement, Handoff handoff, Log log = {}) {
        if (const auto error = validate(config)) return *error;
        return registry(std::move(config), std::move(discovery), std::move(placement),
                        std::move(handoff), std::move(log));
    }

    // ---- inputs -------------------------------------------------------------------------------

    /// Starts the node: runs the first discovery poll and arms the periodic timers.
    void start(time_point now) {
        if (started_) return;
        started_ = true;
        started_at_ = now;
        next_heartbeat_ = now + config_.heartbeat_interval;
        next_sync_ = now + config_.sync_interval;
        next_poll_ = now;
        placement_dirty_ = true;
        tick(now);
    }

    /// Handles a message from a peer. Messages from non-members and stale incarnations are dropped.
    void step(time_point now, const envelope& e) {
        if (!running()) return;
        if (!membership_.on_envelope(now, e, effects_)) {
            park_early_message(now, e);
            after_input(now);
            return;
        }
        std::visit([&](const auto& body) { on_message(now, e.from, body); }, e.body);
        after_input(now);
    }

    /// Handles time: heartbeats, polls, batching, retries, timeouts. Call at or after each
    /// `timer_effect`; calling it early or twice is harmless.
    void tick(time_point now) {
        if (!running()) return;
        armed_at_ = time_point::max();
        if (now >= next_poll_) poll(now);
        if (now >= next_heartbeat_) {
            next_heartbeat_ = now + config_.heartbeat_interval;
            membership_.on_heartbeat_tick(now, effects_);
            check_unknown_owners(now);
            expire_handed_copies(now);
            send_handed_merges();
            prune_second_copies(now);
            expire_parked(now);
            // A worker can start on a node that is not its owner, for example through a request
            // routed by an older view. Once the view has been stable for an interval, it moves.
            if (membership_.version() == stable_version_ && !rebalance_at_) rebalance_at_ = now;
            stable_version_ = membership_.version();
            if constexpr (name_set_placement<Placement>) {
                rebuild_placement();
                assign_names();
                names_stable_ = names_changes_ == names_changes_at_tick_;
                names_changes_at_tick_ = names_changes_;
            }
            pull_until_synced(now);
        }
        if (now >= next_sync_) {
            next_sync_ = now + config_.sync_interval;
            send_digest_to_next_member();
        }
        expire_requests(now);
        retry_witnesses(now);
        retry_handoffs(now);
        expire_tombstones(now);
        if (leaving_ && now >= leave_deadline_) finish_leave();
        after_input(now);
    }

    void on_connected(time_point now, const std::string& peer) {
        if (!running()) return;
        membership_.on_connected(now, peer, effects_);
        after_input(now);
    }

    void on_connect_failed(time_point now, const std::string& peer) {
        if (!running()) return;
        membership_.on_connect_failed(now, peer);
        after_input(now);
    }

    /// Reports a broken connection to `peer`. `incarnation` is the peer incarnation the
    /// connection belonged to, or 0 when the transport cannot tell. A loss reported for an
    /// earlier incarnation than the current member is ignored.
    void on_connection_lost(time_point now, const std::string& peer, std::uint64_t incarnation = 0) {
        if (!running()) return;
        membership_.on_connection_lost(now, peer, effects_, incarnation);
        after_input(now);
    }

    /// Delivers the result of a `resolve_effect`. A failed lookup changes no membership.
    void on_resolved(time_point now, const resolve_result& r) {
        if (!running()) return;
        if (r.error) log(log_level::warn, "discovery_lookup_failed", {{"host", r.host}, {"error", *r.error}});
        membership_.on_candidates(now, discovery_.on_resolved(now, r), effects_);
        after_input(now);
    }

    /// Registers `name` and starts its worker on the node placement picks. Returns the request id
    /// whose `reply_effect` completes the call, or an error for invalid input. After an ok reply,
    /// `whereis(name)` on this node returns the new instance at once. It is `register_names` with
    /// a batch of one name.
    result<request_id> register_name(time_point now, std::string_view name, const worker_spec& spec) {
        const registration item{std::string(name), spec};
        return register_names(now, std::span<const registration>(&item, 1)).front();
    }

    /// Registers every name of `batch` with the guarantees of `register_name`, and returns one
    /// result per item, in order: the request id whose `reply_effect` completes that name, or the
    /// error that rejected it at once. A name that repeats an earlier item gets
    /// `duplicate_in_batch`. Each name has its own reply and deadline, so one failing owner
    /// leaves the others' names unaffected; a batch is not atomic.
    ///
    /// Names placed on the same member travel in one `register_request` (several when they
    /// exceed `message_size_max`), and that member replies with one `register_reply`. Names
    /// placed on this node start at once and go to the witness in one `name_updates`.
    /// Cost: O(n) placement lookups and replica updates for n names, plus O(n log n) for the
    /// pending requests.
    std::vector<result<request_id>> register_names(time_point now, std::span<const registration> batch) {
        std::vector<result<request_id>> results;
        results.reserve(batch.size());
        if (!running()) {
            // The name checks still come first, as for every call.
            for (const auto& item : batch) results.push_back(precheck(item).value_or(errc::not_running));
            return results;
        }

        outgoing_batch out;
        const auto errors = early_errors(batch);
        bool accepted = false;
        for (std::size_t i = 0; i < batch.size(); ++i) {
            results.push_back(errors[i] ? result<request_id>(*errors[i]) : admit(now, batch[i], out));
            accepted = accepted || results.back().has_value();
        }
        if (!accepted) return results;

        await_witness(now, out.local);
        // The view is sorted by name, so owners get their requests in name order.
        for (std::size_t k = 0; k < out.remote.size(); ++k) {
            if (out.remote[k].empty()) continue;
            for (auto& part : split_by_size(std::move(out.remote[k]), item_size))
                send_to(view_[k].name, register_request{config_.self, std::move(part)});
        }
        after_input(now);
        return results;
    }

    /// Removes `name` and stops its worker wherever it runs. Completes with a `reply_effect`.
    result<request_id> unregister(time_point now, std::string_view name) {
        if (const auto e = check_name(name)) return *e;
        if (!running()) return errc::not_running;
        const auto index = table_.find(name);
        if (index == detail::npos32 || table_.at(index).removed) return errc::not_registered;

        const request_id id = ++last_request_id_;
        add_pending(now, id);
        on_message(now, config_.self, unregister_request{id, config_.self, std::string(name), 0});
        after_input(now);
        return id;
    }

    /// Returns where `name` runs according to this node's replica.
    std::optional<node_id> whereis(std::string_view name) const {
        const auto index = table_.find(name);
        if (index == detail::npos32 || table_.at(index).removed) return std::nullopt;
        return table_.owner(index);
    }

    /// Reports that a worker stopped after a `stop_worker_effect`, with its state if asked.
    void on_worker_stopped(time_point now, std::string_view name, std::optional<worker_state> state) {
        const auto it = locals_.find(name);
        if (it == locals_.end()) return;
        auto& w = it->second;
        if (w.phase == stage::stopping) {
            w.phase = stage::offered;
            w.state = std::move(state);
            offer(now, it->first, w);
        } else if (w.phase == stage::yielding) {
            if (w.restart_after_stop || !membership_.is_alive(w.target)) {
                // The winner is gone or gave way too: the name runs on here, with both states.
                const auto index = table_.find(it->first);
                auto other = std::move(w.state);
                const std::string name_copy = it->first;
                start_local(now, name_copy, table_.spec(index), std::move(state), table_.at(index).version + 1);
                if (other) effects_.push_back(merge_state_effect{name_copy, std::move(*other)});
            } else {
                send_to(w.target, conflict_yield{it->first, w.version, std::move(state)});
                erase_local(it);
            }
        }
        after_input(now);
    }

    /// Reports that a worker exited on its own; it is restarted or unregistered by its spec.
    void on_worker_exited(time_point now, std::string_view name, exit_reason reason) {
        const auto it = locals_.find(name);
        if (it == locals_.end()) return;
        if (it->second.phase != stage::running) {
            on_worker_stopped(now, name, std::nullopt);
            return;
        }
        const auto index = table_.find(name);
        const worker_spec spec = table_.spec(index);
        const bool restart = spec.restart == restart_policy::permanent ||
                             (spec.restart == restart_policy::transient && reason == exit_reason::crashed);
        if (restart) {
            ++stats_.workers_started;
            effects_.push_back(start_worker_effect{it->first, spec, std::nullopt});
        } else {
            remove_local(now, it);
        }
        after_input(now);
    }

    /// Leaves the cluster gracefully: announces it, takes no new workers, hands every worker to
    /// its new owner, then sends `goodbye` and emits `node_stopped` (at the latest after
    /// `leave_deadline`).
    void leave(time_point now) {
        if (!running() || leaving_) return;
        leaving_ = true;
        leave_deadline_ = now + config_.leave_deadline;
        leave_started_ = now;
        generation_wait_ = config_.newer_generation_wait > duration::zero();
        membership_.leave(now, effects_);
        placement_dirty_ = true;
        log(log_level::info, "node_leaving", {});
        rebalance(now);
        maybe_finish_leave();
        after_input(now);
    }

    /// Takes the effects produced since the last call, in the order the host must perform them.
    std::vector<effect> drain_effects() { return std::exchange(effects_, {}); }

    /// Moves the effects produced since the last call into `out`, whose previous contents are
    /// dropped, and keeps `out`'s memory for the next effects. A host that passes the same vector
    /// each time allocates no new one per input.
    void drain_effects_into(std::vector<effect>& out) {
        out.clear();
        out.swap(effects_);
    }

    // ---- queries ------------------------------------------------------------------------------

    const registry_config& config() const { return config_; }
    const node_id& self() const { return config_.self; }
    bool running() const { return started_ && !stopped_; }
    bool leaving() const { return leaving_; }
    bool stopped() const { return stopped_; }
    const membership& members() const { return membership_; }
    const registry_stats& stats() const { return stats_; }
    std::size_t names_count() const { return table_.size(); }
    std::size_t local_workers_count() const { return locals_.size(); }

    /// Returns whether this node runs (or is moving) a worker for `name`.
    bool holds(std::string_view name) const { return locals_.contains(name); }

    /// Bytes of the replica (table, names, indexes), without the per-process constant part.
    std::size_t replica_memory_bytes() const { return table_.memory_bytes(); }

    /// Calls `f(name, owner, version, removed)` for every replica entry, in storage order.
    template <class F>
    void for_each_entry(F&& f) const {
        for (std::uint32_t i = 0; i < table_.size(); ++i)
            f(table_.name(i), table_.owner(i), table_.at(i).version, table_.at(i).removed);
    }

    /// Returns the member placement picks for `name` from the view alone. Two replicas that lag
    /// each other can disagree on `owner_of` for placements that read the registered names. The
    /// decisions every node must make alike (who restarts an orphan, who wins a conflict)
    /// therefore use the placement's `view_owner_of` when it has one.
    std::optional<node_id> view_owner_of(std::string_view name) {
        rebuild_placement();
        std::optional<std::size_t> index;
        if constexpr (requires { placement_.view_owner_of(name); }) index = placement_.view_owner_of(name);
        else index = placement_.owner_of(name);
        if (!index || *index >= view_.size()) return std::nullopt;
        return node_id{view_[*index].name, view_[*index].incarnation};
    }

    /// Returns the member placement picks for `name` in this node's current view.
    std::optional<node_id> owner_of(std::string_view name) {
        const auto index = placed_index(name);
        if (!index) return std::nullopt;
        return node_id{view_[*index].name, view_[*index].incarnation};
    }

    /// Checks the machine's own invariants; used after every input by tests and the simulator.
    /// Returns a description of the first violation, or nothing.
    std::optional<std::string> check_invariants() const {
        for (const auto& [name, w] : locals_) {
            const auto index = table_.find(name);
            if (index == detail::npos32) return "local worker " + name + " has no replica entry";
            if (!table_.at(index).local) return "local worker " + name + " lacks the local mark in the replica";
            if (w.phase == stage::running && table_.owner(index) != config_.self)
                return "running worker " + name + " is owned by " + table_.owner(index).name + " in the replica";
        }
        return std::nullopt;
    }

private:
    enum class stage : std::uint8_t {
        running,   // the worker runs here
        stopping,  // stop requested for a handoff; waiting for its state
        offered,   // stopped; offered to `target`, state kept until accepted
        yielding,  // stop requested because another instance won a conflict
    };

    struct local_worker {
        stage phase = stage::running;
        node_id target;
        std::uint64_t version = 0;
        std::uint64_t handoff_id = 0;  // the offer in flight, or the offer that started it here
        std::optional<worker_state> state;
        std::vector<unregister_request> unregisters;  // waiting for the handoff to finish
        bool restart_after_stop = false;  // yielding, but the winner yielded too: run it here
        bool suspended = false;           // stopped because placement picked no member
    };

    // A local worker with its place in `local_order_`. Assigning a fresh `local_worker` through
    // a base reference, as `start_local` does, keeps the place.
    struct local_entry : local_worker {
        std::uint32_t order_slot = 0;
    };
    using local_map = std::map<std::string, local_entry, std::less<>>;
    using local_iterator = typename local_map::iterator;

    // The local workers in no particular but deterministic order, in one array, so a full
    // rebalance pass does not walk the tree: its nodes lie all over memory, and each step of a
    // walk waited for a cache miss. Map iterators stay valid until their element is erased, also
    // when the map is moved. A copy of the map would not keep them valid, so this type has no copy.
    struct local_order {
        std::vector<local_iterator> items;
        local_order() = default;
        local_order(const local_order&) = delete;
        local_order& operator=(const local_order&) = delete;
        local_order(local_order&&) noexcept = default;
        local_order& operator=(local_order&&) noexcept = default;
        ~local_order() = default;
    };

    // A name started here by `register_names`, whose reply waits for the witness.
    struct witnessed_name {
        request_id id = 0;
        std::string name;
    };

    // A name started here by one `register_names` call: its request id, replica entry index and
    // queued update (an index into `outbox_`). Nothing erases entries or flushes the updates
    // during the call, so both indexes stay valid until it returns.
    struct started_name {
        request_id id = 0;
        std::uint32_t index = 0;
        std::uint32_t update = 0;
    };

    // The work of one `register_names` call: the names started here, and the items for each
    // other owner (by index in `view_`, so each owner gets its items in few messages).
    struct outgoing_batch {
        std::vector<started_name> local;
        std::vector<std::vector<register_item>> remote;
    };
    using peer_record = membership::peer;

    // A pull lists the digests of about this many entries of this replica, so each costs about
    // as much to build and to serve, whatever the registry's size.
    static constexpr std::size_t sync_pull_entries_max = 1024;
    // A whole pull (the first after start, or after a healed partition) lists at most this many
    // digests (512 KiB). Above that, it requests whole buckets.
    static constexpr std::size_t sync_known_max = 65536;
    // A prime above any entry count, so stepping by it modulo n visits each of n indices once.
    static constexpr std::uint64_t scatter_stride = 2654435761u;

    // ---- helpers: effects ---------------------------------------------------------------------

    template <class Body>
    void send_to(const std::string& to, Body body) {
        if (to == config_.self.name) return;
        effects_.push_back(send_effect{to, std::make_shared<const envelope>(envelope{config_.self, to, 0, std::move(body)})});
    }

    // Sends to one incarnation: a restarted node with the same name drops it.
    template <class Body>
    void send_to(const node_id& to, Body body) {
        if (to.name == config_.self.name) return;
        effects_.push_back(send_effect{
            to.name, std::make_shared<const envelope>(envelope{config_.self, to.name, to.incarnation, std::move(body)})});
    }

    void log(log_level level, std::string_view event, std::vector<std::pair<std::string_view, std::string>> fields) {
        if (!log_.enabled(level)) return;
        log_.write(log_record{level, config_.self.name, event, std::move(fields)});
    }

    // Runs after every input: consumes membership events, flushes batches, arms the timer.
    void after_input(time_point now) {
        for (const auto& ev : membership_.take_events()) on_membership_event(now, ev);
        for (const auto& peer : membership_.take_connect_timeouts())
            log(log_level::warn, "connect_timed_out",
                {{"peer", peer}, {"hint", "the transport reported neither on_connected nor on_connect_failed"}});
        if (leaving_ && generation_wait_ && now >= leave_started_ + config_.newer_generation_wait) {
            generation_wait_ = false;
            rebalance_at_ = now;
        }
        if (rebalance_at_ && now >= *rebalance_at_) {
            rebalance_at_.reset();
            rebalance(now);
        }
        process_orphan_queue(now);
        request_confirmation(now);
        if (!outbox_.empty() && !flush_at_) flush_at_ = now + config_.flush_interval;
        if (flush_at_ && now >= *flush_at_) flush_updates();
        flush_offers();
        maybe_finish_leave();
        arm_timer(now);
    }

    void arm_timer(time_point now) {
        if (!running()) return;
        time_point next = std::min({next_heartbeat_, next_poll_, next_sync_});
        if (flush_at_) next = std::min(next, *flush_at_);
        if (rebalance_at_) next = std::min(next, *rebalance_at_);
        if (!pending_order_.empty()) next = std::min(next, pending_order_.front().first);
        if (!retries_.empty()) next = std::min(next, retries_.front().at);
        if (!witness_retries_.empty()) next = std::min(next, witness_retries_.front().at);
        if (!tombstones_.empty()) next = std::min(next, tombstones_.front().first + config_.tombstone_ttl);
        if (!orphan_queue_.empty()) next = std::min(next, orphan_queue_.begin()->first);
        if (!failovers_.empty()) next = std::min(next, failovers_.begin()->first);
        if (!confirm_pending_.empty() || !confirming_.empty()) next = std::min(next, sync_pull_until_);
        if (leaving_) next = std::min(next, leave_deadline_);
        if (generation_wait_) next = std::min(next, leave_started_ + config_.newer_generation_wait);
        next = std::max(next, now);
        if (next < armed_at_) {
            armed_at_ = next;
            effects_.push_back(timer_effect{next});
        }
    }

    // ---- discovery and membership -------------------------------------------------------------

    void poll(time_point now) {
        next_poll_ = now + discovery_.poll_interval();
        auto p = discovery_.poll(now);
        if (p.resolve_host) effects_.push_back(resolve_effect{*p.resolve_host});
        membership_.on_candidates(now, p.candidates, effects_);
    }

    void on_membership_event(time_point now, const membership_event& ev) {
        using kind = membership_event::kind;
        placement_dirty_ = true;
        if (!rebalance_at_) rebalance_at_ = now + config_.rebalance_delay;
        // A member that is gone never replies to a pull, so another member may serve the next one.
        if ((ev.what == kind::failed || ev.what == kind::left) && ev.member == sync_pull_from_)
            sync_pull_until_ = time_point{};
        switch (ev.what) {
        case kind::joined:
            log(log_level::info, "member_joined", {{"member", ev.member.name}});
            replay_parked(now, ev.member);
            // A new member gets our digest at once, so a late joiner converges in one round trip.
            send_to(ev.member.name, sync_digest{table_.digests(), ev.rejoined});
            break;
        case kind::leaving:
            log(log_level::info, "member_leaving", {{"member", ev.member.name}});
            break;
        case kind::left:
            log(log_level::info, "member_left", {{"member", ev.member.name}});
            // Updates from the nodes that took over its workers may still be in flight: wait one
            // heartbeat interval before restarting what it still owns in this replica.
            orphan_queue_.emplace(now + config_.heartbeat_interval, orphan_check{ev.member, std::nullopt, {}});
            break;
        case kind::failed: {
            log(log_level::warn, "member_failed", {{"member", ev.member.name}});
            // Its names restart `failover_wait()` from now, as do the handoffs it accepted from
            // this node. Names of a member that failed in the last heartbeat interval may have
            // been placed on this one and restarted nowhere, so they are checked again, with
            // this member gone from the view. A wait longer than `failover_delay` extends that
            // interval by the difference, because the earlier member's check came that much later.
            const duration wait = failover_wait();
            const time_point at = now + wait;
            failovers_.emplace(at, ev.member);
            spread_second_copies(ev.member);
            while (!recent_failures_.empty() && recent_failures_.front().first + config_.heartbeat_interval < now)
                recent_failures_.pop_front();
            for (const auto& [failed_at, earlier] : recent_failures_) queue_failed(at, earlier);
            queue_failed(at, ev.member);
            recent_failures_.emplace_back(now + (wait - config_.failover_delay), ev.member);
            break;
        }
        }
    }

    // Returns how long after a detection the failed member's names are looked at: the longest
    // round trip measured to a member, at most one `heartbeat_interval`, or `failover_delay` if
    // that is longer. A node booted moments ago may run a name the failed node handed it, and its
    // hello must arrive before the names are placed (see docs/design.md, "Failures").
    duration failover_wait() const {
        const duration measured = std::min(membership_.round_trip_max(), config_.heartbeat_interval);
        return std::max(config_.failover_delay, measured);
    }

    // Whether `view_owner_of(name)` is this node, without building a `node_id`, whose name may
    // need an allocation.
    bool view_places_here(std::string_view name) {
        rebuild_placement();
        std::optional<std::size_t> index;
        if constexpr (requires { placement_.view_owner_of(name); }) index = placement_.view_owner_of(name);
        else index = placement_.owner_of(name);
        if (!index || *index >= view_.size()) return false;
        return view_[*index].name == config_.self.name && view_[*index].incarnation == config_.self.incarnation;
    }

    // The index in `view_` of the member placement picks for `name`, as `owner_of` returns it.
    std::optional<std::size_t> placed_index(std::string_view name) {
        rebuild_placement();
        const auto index = placement_.owner_of(name);
        if (!index || *index >= view_.size()) return std::nullopt;
        return *index;
    }

    // The member that keeps a second replica of a local registration before it is acknowledged:
    // the first up member after this node in name order, wrapping around.
    std::optional<node_id> pick_witness() const {
        const auto& peers = membership_.peers();
        auto it = peers.upper_bound(config_.self.name);
        for (std::size_t k = 0; k < peers.size(); ++k, ++it) {
            if (it == peers.end()) it = peers.begin();
            if (it->second.state == peer_state::up) return it->second.id;
        }
        return std::nullopt;
    }

    void rebuild_placement() {
        if (!placement_dirty_ && view_version_ == membership_.version()) return;
        placement_dirty_ = false;
        view_version_ = membership_.version();
        view_.clear();
        if (!leaving_) view_.push_back(member_info{config_.self.name, config_.self.incarnation, 1, config_.generation});
        for (const auto& [name, p] : membership_.peers())
            if (p.state == peer_state::up) view_.push_back(member_info{name, p.id.incarnation, 1, p.generation});
        std::sort(view_.begin(), view_.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
        // Many membership changes leave the placement view as it was, for example a failed
        // connection attempt. Rebuilding then would cost time for nothing.
        const bool same = view_.size() == built_view_.size() &&
                          std::equal(view_.begin(), view_.end(), built_view_.begin(), [](const auto& a, const auto& b) {
                              return a.name == b.name && a.incarnation == b.incarnation && a.weight == b.weight &&
                                     a.generation == b.generation;
                          });
        if (same) return;
        built_view_ = view_;
        placement_.rebuild(view_);
        ++placement_builds_;
        // The rebuilt placement read the names as the last assignment left them, with owners as
        // indices into the previous view. Those indices may now name other members, and where
        // the names run may have changed since, through handoffs, so they are assigned again
        // even when the names and owners are unchanged.
        names_assigned_ = false;
        assign_names();
    }

    // A `name_set_placement` may still tell at run time that it does not read the names
    // (`uses_names()`, as a run-time choice of model does), which spares the registry the work.
    bool placement_uses_names() const {
        if constexpr (requires { placement_.uses_names(); }) return placement_.uses_names();
        else return name_set_placement<Placement>;
    }

    // Gives a placement that reads the registered names the live ones with their owners, when
    // the names or their owners changed since the last call (only the names, for a placement
    // that ignores owners). The replica keeps fingerprints of both up to date, so detecting no
    // change costs nothing per name.
    void assign_names() {
        if constexpr (name_set_placement<Placement>) {
            if (!placement_uses_names()) return;
            table_.keep_fingerprints();
            const std::uint64_t live = table_.live();
            const std::uint64_t fingerprint = hash_combine(table_.live_fingerprint(), live);
            const bool forced = !names_assigned_;
            if (!forced && fingerprint == names_fingerprint_) return;
            // A move counts as a change of the names for the rebalance's wait (see `rebalance`)
            // with every placement, which damps moves back and forth between lagging replicas.
            ++names_changes_;
            names_assigned_ = true;
            names_fingerprint_ = fingerprint;
            if (!reads_owners(placement_)) {
                // The same names give the same owners, wherever they run now.
                const std::uint64_t names_only = hash_combine(table_.live_names_fingerprint(), live);
                if (!forced && names_only == assigned_names_fingerprint_) return;
                assigned_names_fingerprint_ = names_only;
            }
            // Owners are looked up in the view once per node table slot, not once per name.
            constexpr std::uint32_t unknown = placed_name::no_member - 1;
            std::vector<std::uint32_t> view_of_slot(table_.node_slots(), unknown);
            std::vector<placed_name> names;
            names.reserve(static_cast<std::size_t>(live));
            for (std::uint32_t i = 0; i < table_.size(); ++i) {
                const auto& e = table_.at(i);
                if (e.removed) continue;
                auto& owner = view_of_slot[e.owner];
                if (owner == unknown) {
                    const auto found = view_index_of(table_.owner(i));
                    owner = found ? static_cast<std::uint32_t>(*found) : placed_name::no_member;
                }
                names.push_back({table_.full_hash(i), owner});
            }
            detail::sort_by_hash(names, [](const placed_name& n) { return n.hash; },
                                 [](const placed_name& a, const placed_name& b) {
                                     return a.hash != b.hash ? a.hash < b.hash : a.owner < b.owner;
                                 });
            placement_.assign(names);
        }
    }

    // The index of `owner` in `view_`, if it is a member there.
    std::optional<std::size_t> view_index_of(const node_id& owner) const {
        const auto it = std::lower_bound(view_.begin(), view_.end(), owner.name,
                                         [](const member_info& m, const std::string& n) { return m.name < n; });
        if (it == view_.end() || it->name != owner.name || it->incarnation != owner.incarnation) return std::nullopt;
        return static_cast<std::size_t>(it - view_.begin());
    }

    // Whether `member` is within the capacity a load-bounded placement gives it; true for
    // placements without capacities.
    bool placement_has_room(const node_id& member) const {
        if constexpr (requires(std::size_t i) {
                          { placement_.load(i) } -> std::convertible_to<std::uint64_t>;
                          { placement_.capacity(i) } -> std::convertible_to<std::uint64_t>;
                      }) {
            const auto index = view_index_of(member);
            if (!index) return false;
            return placement_.load(*index) <= placement_.capacity(*index);
        } else {
            return true;
        }
    }

    bool newer_generation_present() const {
        for (const auto& [name, p] : membership_.peers())
            if (p.state == peer_state::up && p.generation > config_.generation) return true;
        return false;
    }

    // ---- message handlers ---------------------------------------------------------------------

    void on_message(time_point, const node_id&, const hello&) {}
    void on_message(time_point, const node_id&, const heartbeat&) {}
    void on_message(time_point, const node_id&, const leave_notice&) {}
    void on_message(time_point, const node_id&, const goodbye&) {}

    void on_message(time_point now, const node_id& from, const register_request& r) {
        std::vector<register_result> results;
        std::map<node_id, std::vector<register_item>> passed_on;
        results.reserve(r.items.size());
        for (const auto& item : r.items) {
            if (auto result = start_requested(now, from, r.origin, item, passed_on)) results.push_back(std::move(*result));
        }
        if (!results.empty()) {
            for (auto& part : split_by_size(std::move(results), result_size))
                send_to(r.origin.name, register_reply{std::move(part)});
        }
        for (auto& [target, items] : passed_on) {
            for (auto& part : split_by_size(std::move(items), item_size))
                send_to(target.name, register_request{r.origin, std::move(part)});
        }
    }

    void on_message(time_point now, const node_id& from, const register_reply& r) {
        for (const auto& result : r.results) {
            // The owner's broadcast skips this node, so the entry is applied even when the
            // request has timed out here.
            if (result.entry) {
                apply_record(now, from, *result.entry);
                if (result.entry->owner != config_.self) second_copies_.emplace_back(now, result.entry->name);
            }
            if (pending_.erase(result.id) == 0) continue;
            std::optional<node_id> owner;
            if (result.entry) owner = result.entry->owner;
            effects_.push_back(reply_effect{result.id, result.error, std::move(owner)});
        }
    }

    void on_message(time_point now, const node_id&, const unregister_request& r) {
        const auto local = locals_.find(r.name);
        if (local != locals_.end()) {
            if (local->second.phase == stage::running) {
                remove_local(now, local);
                reply_unregister(now, r, std::nullopt);
            } else {
                local->second.unregisters.push_back(r);
            }
            return;
        }
        const auto index = table_.find(r.name);
        if (index == detail::npos32 || table_.at(index).removed) {
            reply_unregister(now, r, errc::not_registered);
            return;
        }
        const node_id owner = table_.owner(index);
        if (r.hops < 4 && owner != config_.self && membership_.is_alive(owner)) {
            auto forwarded = r;
            ++forwarded.hops;
            send_to(owner.name, forwarded);
            return;
        }
        reply_unregister(now, r, errc::not_registered);
    }

    void on_message(time_point, const node_id&, const updates_ack& a) {
        const auto group = witnessed_.find(a.ack_id);
        if (group != witnessed_.end()) complete_witnessed(group);
    }

    // Replies ok to the requests of a witness group still waiting, then erases the group.
    void complete_witnessed(typename std::map<request_id, std::vector<witnessed_name>>::iterator group) {
        for (const auto& [id, name] : group->second)
            if (pending_.erase(id) > 0) effects_.push_back(reply_effect{id, std::nullopt, config_.self});
        witnessed_.erase(group);
    }

    void on_message(time_point, const node_id&, const unregister_reply& r) {
        if (pending_.erase(r.id) == 0) return;
        effects_.push_back(reply_effect{r.id, r.error, std::nullopt});
    }

    void on_message(time_point now, const node_id& from, const name_updates& u) {
        // The replica's slots follow hash order, so names inserted in hash order into a growing
        // table crowd the first slots into one long probe run. A pull's response is scattered by
        // its sender (see `send_buckets`), and its last part is scattered here too, so a sender
        // that lists names in hash order does not cause that. A stride by a prime above any
        // entry count visits every index once.
        const std::uint64_t n = u.entries.size();
        const std::uint64_t stride = u.sync_response ? scatter_stride : 1;
        // Each record's lookup misses the caches about three times (slot, entry, name). The
        // lookups of the next records are prefetched a few records ahead, so those misses
        // overlap instead of following one another.
        // The k-th record applied is `order_[k]`; stepping by `stride % n` avoids a division
        // per record.
        hashes_.resize(n);
        order_.resize(n);
        const std::uint64_t step = n == 0 ? 0 : stride % n;
        for (std::uint64_t k = 0, at = 0; k < n; ++k) {
            order_[k] = static_cast<std::uint32_t>(at);
            hashes_[k] = hash64(u.entries[at].name);
            at += step;
            if (at >= n) at -= n;
        }
        // Each step reads what the step before fetched, so the steps are spaced far enough apart
        // for each fetch to arrive. A short name is in its entry, so then the last step is free.
        constexpr std::uint64_t slot_ahead = 12;
        constexpr std::uint64_t entry_ahead = 6;
        constexpr std::uint64_t name_ahead = 2;
        for (std::uint64_t k = 0; k < std::min<std::uint64_t>(n, slot_ahead); ++k) table_.prefetch_slot(detail::top_half(hashes_[k]));
        for (std::uint64_t k = 0; k < n; ++k) {
            if (k + slot_ahead < n) table_.prefetch_slot(detail::top_half(hashes_[k + slot_ahead]));
            if (k + entry_ahead < n) table_.prefetch_entry(detail::top_half(hashes_[k + entry_ahead]));
            if (k + name_ahead < n) table_.prefetch_name(detail::top_half(hashes_[k + name_ahead]));
            apply_record(now, from, u.entries[order_[k]], hashes_[k]);
        }
        if (u.ack_id != 0) {
            for (const auto& e : u.entries) second_copies_.emplace_back(now, e.name);
            send_to(from, updates_ack{u.ack_id});
        }
        if (u.sync_response) {
            sync_pull_until_ = time_point{};
            synced_once_ = true;
            if (!confirming_.empty() && from == sync_pull_from_) complete_confirmation(now);
        }
    }

    void on_message(time_point now, const node_id& from, const handoff_offer& offer) {
        handoff_reply reply;
        for (const auto& item : offer.items) reply.results.push_back(accept_offer(now, item));
        send_to(from, std::move(reply));
    }

    void on_message(time_point now, const node_id& from, const handoff_reply& reply) {
        for (const auto& r : reply.results) {
            const auto it = locals_.find(r.name);
            if (it == locals_.end() || it->second.phase != stage::offered || it->second.handoff_id != r.handoff_id ||
                it->second.target != from)
                continue;
            if (r.accepted) {
                ++stats_.handoffs_accepted;
                log(log_level::info, "worker_moved", {{"name", it->first}, {"to", from.name}});
                // The new owner runs it at a version above the offered one. Recording that now keeps
                // this replica from pointing at this node, and marks a later stale offer as stale.
                // A leaving node also broadcasts the entry, because its goodbye may reach members
                // before the new owner's update and make them restart the name as an orphan. It
                // does so even when the new owner's update arrived here first: members the new
                // owner did not know yet received nothing from it.
                const auto index = table_.find(it->first);
                const auto current = table_.at(index);
                if (table_.owner(index) == config_.self && !current.removed)
                    table_.update(index, from, it->second.version + 1, table_.spec(index), false);
                if (leaving_ && !table_.at(index).removed) queue_update(index);
                for (auto u : it->second.unregisters) {
                    ++u.hops;
                    send_to(from.name, u);
                }
                keep_handed_copy(now, it->first, from, it->second.version + 1, it->second.state);
                erase_local(it);
            } else {
                ++stats_.handoffs_rejected;
                replace(now, it);
            }
        }
    }

    void on_message(time_point now, const node_id& from, const sync_digest& d) {
        const auto& mine = table_.digests();
        if (d.buckets.size() != mine.size()) {
            ++stats_.messages_rejected;
            log(log_level::warn, "sync_digest_rejected",
                {{"from", from.name}, {"buckets", std::to_string(d.buckets.size())}, {"expected", std::to_string(mine.size())}});
            return;
        }
        // A pull covers differing buckets that hold about `sync_pull_entries_max` entries here,
        // starting at a rotating offset. While names move, most digests differ only by updates
        // still in flight, and covering every differing bucket would cost work on both sides in
        // proportion to the registry on every sync. The first pull after start covers everything
        // that differs, because a new replica must be complete before this node can restart the
        // names of failed owners. The pull after a member declared failed came back (a healed
        // partition) covers everything too, because then the replicas diverged. A pull lists this
        // replica's entry digests in its buckets, and the peer responds with only the entries
        // that differ.
        const auto count = static_cast<std::uint32_t>(mine.size());
        const auto offset = static_cast<std::uint32_t>(sync_cursor_ * 7919u) % count;
        const bool whole = !synced_once_ || d.after_failure;
        ++sync_cursor_;
        if (now < sync_pull_until_) return;
        sync_request pull;
        for (std::uint32_t k = 0; k < count; ++k) {
            const std::uint32_t b = (offset + k) % count;
            if (mine[b] == d.buckets[b]) continue;
            if (!whole && !pull.buckets.empty() && pull.known.size() >= sync_pull_entries_max) break;
            add_pull_bucket(pull, b);
        }
        if (pull.buckets.empty()) return;
        finish_pull(pull);
        // Pull only, one pull at a time: a joining node receives digests from every member and
        // must not ask each of them for the whole registry.
        sync_pull_until_ = now + config_.heartbeat_interval;
        sync_pull_from_ = from;
        ++stats_.sync_repairs;
        send_to(from.name, std::move(pull));
    }

    void on_message(time_point, const node_id& from, const sync_request& r) {
        std::vector<std::uint32_t> buckets;
        for (const auto b : r.buckets)
            if (b < table_.digests().size()) buckets.push_back(b);
        std::sort(buckets.begin(), buckets.end());
        buckets.erase(std::unique(buckets.begin(), buckets.end()), buckets.end());
        // The decoder checks the order, but a host that delivers messages without the codec may
        // not, so an unsorted list is sorted here.
        if (std::is_sorted(r.known.begin(), r.known.end())) {
            send_buckets(from.name, buckets, r.known);
            return;
        }
        auto known = r.known;
        std::sort(known.begin(), known.end());
        send_buckets(from.name, buckets, known);
    }

    // Sorts a pull's known digests and drops repeats. A list too long for one frame is dropped
    // altogether, which requests whole buckets, as an empty list does.
    void finish_pull(sync_request& pull) const {
        std::sort(pull.known.begin(), pull.known.end());
        pull.known.erase(std::unique(pull.known.begin(), pull.known.end()), pull.known.end());
        if (pull.known.size() > known_max(pull.buckets.size())) pull.known = {};
    }

    // Returns the maximum number of digests a pull of `buckets` buckets lists. It is
    // `sync_known_max`, or less when `message_size_max` leaves less room beside the bucket
    // numbers, which take at most 3 bytes each.
    std::size_t known_max(std::size_t buckets) const {
        const std::size_t room = config_.message_size_max - message_overhead_max - 3 * buckets;
        return std::min(sync_known_max, room / 8);
    }

    void on_message(time_point now, const node_id& from, const conflict_yield& y) {
        if (check_name(y.name) || y.version >= version_max) {
            ++stats_.messages_rejected;
            return;
        }
        const auto it = locals_.find(y.name);
        if (it != locals_.end() && it->second.phase == stage::running) {
            if (y.state) effects_.push_back(merge_state_effect{y.name, *y.state});
            return;
        }
        // Both holders gave way to each other because their views disagreed ("crossing yields").
        // The node with the lower name runs the name with both states. The other sends back the
        // state it received, because its own state is already on the way to the lower one.
        const bool lower = config_.self.name < from.name;
        if (it != locals_.end()) {
            auto& w = it->second;
            if (w.phase == stage::yielding && w.target == from) {
                if (lower) {
                    w.restart_after_stop = true;
                    w.state = y.state;
                } else if (y.state) {
                    send_to(from, conflict_yield{y.name, y.version, y.state});
                }
            }
            return;
        }
        const auto index = table_.find(y.name);
        if (index == detail::npos32 || table_.at(index).removed) return;
        const auto owner = table_.owner(index);
        if (owner == from && !lower) {
            if (y.state) send_to(from, conflict_yield{y.name, y.version, y.state});
            return;
        }
        if (owner != from && owner != config_.self && membership_.is_alive(owner)) return;
        start_local(now, y.name, table_.spec(index), y.state, std::max(y.version, table_.at(index).version) + 1);
    }

    // ---- registry replica ---------------------------------------------------------------------

    entry_record record_of(std::uint32_t index) const {
        return entry_record{std::string(table_.name(index)), table_.owner(index), table_.at(index).version,
                            table_.spec(index), table_.at(index).removed};
    }

    // A record is newer by version; at equal versions a removal wins, then the larger owner.
    static bool newer(const entry_record& r, std::uint64_t version, bool removed, const node_id& owner) {
        if (r.version != version) return r.version > version;
        if (r.removed != removed) return r.removed;
        return r.owner > owner;
    }

    void apply_record(time_point now, const node_id& from, const entry_record& r) {
        apply_record(now, from, r, hash64(r.name));
    }

    // Applies `r`, whose name's `hash64` is `full_hash`.
    void apply_record(time_point now, const node_id& from, const entry_record& r, std::uint64_t full_hash) {
        if (check_name(r.name) || check_name(r.owner.name) || r.version >= version_max ||
            !table_.accepts_spec(r.spec)) {
            ++stats_.messages_rejected;
            log(log_level::warn, "entry_rejected", {{"from", from.name}, {"name", r.name.substr(0, 64)}});
            return;
        }
        const auto index = table_.find(r.name, detail::top_half(full_hash));
        if (index == detail::npos32) {
            // A removal of a name never seen blocks nothing here; storing it would only let
            // expired tombstones travel back and forth between replicas.
            if (r.removed) return;
            const auto inserted = table_.insert(r.name, full_hash, r.owner, r.version, r.spec, false);
            if (r.owner != from) table_.set_unconfirmed(inserted, true);
            if (check_orphan(now, inserted)) log_restart(log_level::info, inserted, r.owner);
            return;
        }
        const auto& cur = table_.at(index);
        if (!newer(r, cur.version, cur.removed, table_.owner(index))) return;
        if (cur.local) {
            const auto local = locals_.find(r.name);
            if (local != locals_.end()) {
                on_competing_record(now, local, r);
                return;
            }
        }
        table_.update(index, r.owner, r.version, r.spec, r.removed);
        if (r.owner != from) table_.set_unconfirmed(index, true);
        if (r.removed) tombstones_.emplace_back(now, r.name);
        else if (r.owner == config_.self) {
            // A claim that this incarnation runs a worker it does not run: restart it here so the
            // registration is not lost.
            start_local(now, r.name, r.spec, std::nullopt, r.version + 1);
        } else if (check_orphan(now, index)) {
            log_restart(log_level::info, index, r.owner);
        }
    }

    // A newer record arrived for a name this node runs or is moving.
    void on_competing_record(time_point now, local_iterator local, const entry_record& r) {
        auto& w = local->second;
        const std::string& name = local->first;
        if (w.suspended && w.phase == stage::offered && !r.removed && r.owner != config_.self &&
            r.owner != w.target && membership_.is_alive(r.owner)) {
            // Another node ran the name while this one was cut off from the quorum: it keeps
            // running there and receives the state kept here, as a conflict's loser gives it.
            send_to(r.owner.name, conflict_yield{name, w.version, std::move(w.state)});
            table_.upsert(r.name, r.owner, r.version, r.spec, r.removed);
            erase_local(local);
            return;
        }
        if (w.phase == stage::stopping || w.phase == stage::offered) {
            // The new owner's broadcast can overtake its handoff reply: it completes the handoff.
            // A leaving node passes the record on, as it does on the reply (`handoff_reply`).
            if (w.phase == stage::offered && r.owner == w.target && !r.removed) {
                ++stats_.handoffs_accepted;
                for (auto u : w.unregisters) {
                    ++u.hops;
                    send_to(w.target.name, u);
                }
                keep_handed_copy(now, name, w.target, r.version, w.state);
                const auto index = table_.upsert(r.name, r.owner, r.version, r.spec, false);
                erase_local(local);
                if (leaving_) queue_update(index);
                return;
            }
            table_.upsert(r.name, r.owner, r.version, r.spec, r.removed);
            return;
        }
        if (w.phase == stage::yielding) {
            table_.upsert(r.name, r.owner, r.version, r.spec, r.removed);
            return;
        }
        if (r.removed) {
            // Removed by a holder elsewhere at a version at least ours: it was unregistered.
            effects_.push_back(stop_worker_effect{name, stop_cause::unregister, false, config_.stop_grace});
            table_.upsert(r.name, r.owner, r.version, r.spec, true);
            tombstones_.emplace_back(now, r.name);
            erase_local(local);
            return;
        }
        if (r.owner == config_.self) {
            // Another replica recorded this instance at a higher version (an accepted handoff
            // whose offer found the name running here): take the version, nothing else changes.
            table_.upsert(r.name, r.owner, r.version, r.spec, false);
            return;
        }
        if (membership_.is_dead(r.owner)) {
            // A claim by a node known to be gone: ours is kept, at a version above the claim.
            claim_again(r.version + 1, name);
            return;
        }
        resolve_conflict(local, r);
    }

    // Two live instances of one name: keep the one the Handoff policy picks on both sides.
    void resolve_conflict(local_iterator local, const entry_record& r) {
        const std::string name = local->first;
        const auto index = table_.find(name);
        const std::uint64_t my_version = table_.at(index).version;
        // Both holders must pass the same `placed`, so it comes from the view alone (see
        // `view_owner_of`): a placement that reads the names would name each holder itself.
        const auto placed = view_owner_of(name);
        const std::optional<std::string_view> placed_name =
            placed ? std::optional<std::string_view>(placed->name) : std::nullopt;
        const conflict_claim mine{config_.self.name, config_.self.incarnation, my_version};
        const conflict_claim theirs{r.owner.name, r.owner.incarnation, r.version};
        const int winner = handoff_.pick_conflict_winner(name, mine, theirs, placed_name);
        log(log_level::warn, "name_conflict",
            {{"name", name}, {"other", r.owner.name}, {"kept", winner == 0 ? config_.self.name : r.owner.name}});
        if (winner == 0) {
            ++stats_.conflicts_won;
            claim_again(std::max(r.version, my_version) + 1, name);
            send_to(r.owner.name, name_updates{{record_of(table_.find(name))}});
            return;
        }
        ++stats_.conflicts_lost;
        auto& w = local->second;
        w.phase = stage::yielding;
        w.target = r.owner;
        w.version = r.version;
        table_.upsert(r.name, r.owner, r.version, r.spec, false);
        effects_.push_back(stop_worker_effect{name, stop_cause::conflict, true, config_.stop_grace});
    }

    void claim_again(std::uint64_t version, const std::string& name) {
        const auto index = table_.find(name);
        const worker_spec spec = table_.spec(index);
        table_.upsert(name, config_.self, version, spec, false);
        queue_update(table_.find(name));
    }

    void queue_update(std::uint32_t index) {
        outbox_.push_back(record_of(index));
        outbox_holder_.push_back(detail::npos32);
    }

    // Marks the update queued last as received already by member `peer`.
    void hold_last_update(const std::string& peer) { outbox_holder_.back() = holder_of(peer); }

    // The index of `peer` in `outbox_holders_`, added if missing.
    std::uint32_t holder_of(const std::string& peer) {
        const auto it = std::find(outbox_holders_.begin(), outbox_holders_.end(), peer);
        if (it != outbox_holders_.end()) return static_cast<std::uint32_t>(it - outbox_holders_.begin());
        outbox_holders_.push_back(peer);
        return static_cast<std::uint32_t>(outbox_holders_.size() - 1);
    }

    // Sends the queued updates to every member. A member that received an update already, in a
    // register reply or a witness request, gets the others only, so a registration's entry
    // reaches each replica once.
    void flush_updates() {
        flush_at_.reset();
        if (outbox_.empty()) return;
        auto records = std::exchange(outbox_, {});
        const auto holder = std::exchange(outbox_holder_, {});
        const auto holders = std::exchange(outbox_holders_, {});
        if (holders.empty()) {
            for (auto& part : split_by_size(std::move(records), record_size))
                membership_.broadcast(name_updates{std::move(part)}, effects_);
            return;
        }

        std::vector<const std::string*> everything;  // members that get every update
        for (const auto& [name, p] : membership_.peers()) {
            if (p.state == peer_state::connecting) continue;
            const auto it = std::find(holders.begin(), holders.end(), name);
            if (it == holders.end()) {
                everything.push_back(&name);
                continue;
            }
            const auto h = static_cast<std::uint32_t>(it - holders.begin());
            std::vector<entry_record> rest;
            for (std::size_t i = 0; i < records.size(); ++i)
                if (holder[i] != h) rest.push_back(records[i]);
            for (auto& part : split_by_size(std::move(rest), record_size)) send_to(name, name_updates{std::move(part)});
        }
        if (everything.empty()) return;
        for (auto& part : split_by_size(std::move(records), record_size)) {
            const auto shared = std::make_shared<const envelope>(envelope{config_.self, {}, 0, name_updates{std::move(part)}});
            for (const auto* name : everything) effects_.push_back(send_effect{*name, shared});
        }
    }

    // Responds to a pull with the entries of `buckets` whose digests `known` (sorted) lacks.
    void send_buckets(const std::string& to, const std::vector<std::uint32_t>& buckets,
                      const std::vector<std::uint64_t>& known) {
        if (buckets.empty()) return;
        std::vector<entry_record> records;
        const auto puller_lacks = [&](std::uint32_t i) {
            return known.empty() || !std::binary_search(known.begin(), known.end(), table_.entry_digest(i));
        };
        if (buckets.size() == table_.digests().size()) {
            // Every bucket (a new replica's first pull): the entries in storage order, which reads
            // memory in sequence and lists the names in no hash order. Each entry is tested, so
            // the known digests go in a hash index: a probe costs less than a binary search.
            detail::flat_index<std::uint64_t> known_index;
            for (const auto d : known) known_index.insert(d, d);
            const auto lacks = [&](std::uint32_t i) {
                if (known.empty()) return true;
                const std::uint64_t d = table_.entry_digest(i);
                return known_index.find(d, [d](std::uint64_t stored) { return stored == d; }) == nullptr;
            };
            records.reserve(table_.size());
            for (std::uint32_t i = 0; i < table_.size(); ++i)
                if (lacks(i)) records.push_back(record_of(i));
            send_response(to, std::move(records));
            return;
        }
        for (const auto b : buckets)
            table_.for_each_in_bucket(b, [&](std::uint32_t i) {
                if (puller_lacks(i)) records.push_back(record_of(i));
            });
        // The walk lists names in hash order. A large response goes out in several parts, each
        // applied on arrival, and parts that each covered one stretch of hashes would reach the
        // receiver's growing table in hash order (see `on_message` for name_updates). A stride
        // by a prime above any entry count scatters them, so every part spans all hashes.
        const std::uint64_t n = records.size();
        std::vector<entry_record> scattered;
        scattered.reserve(records.size());
        for (std::uint64_t k = 0; k < n; ++k) scattered.push_back(std::move(records[(k * scatter_stride) % n]));
        send_response(to, std::move(scattered));
    }

    void send_response(const std::string& to, std::vector<entry_record> records) {
        // Only the last part is marked as the response, which ends the pull. A pull that ended at
        // the first part let the next digest start another pull while the other parts were still
        // on their way, and that pull fetched them again.
        auto parts = split_by_size(std::move(records), record_size);
        if (parts.empty()) parts.emplace_back();  // an empty response still ends the pull
        for (std::size_t i = 0; i < parts.size(); ++i)
            send_to(to, name_updates{std::move(parts[i]), i + 1 == parts.size()});
    }

    // Until a first pull has completed, requests every bucket from the next member each heartbeat
    // interval, so a new node does not wait for digests while the members it knows fail.
    void pull_until_synced(time_point now) {
        if (synced_once_ || now < sync_pull_until_) return;
        const auto members = sync_members();
        if (members.empty()) return;
        const auto& to = members[sync_cursor_++ % members.size()]->id;
        sync_request pull;
        pull.buckets.resize(table_.digests().size());
        for (std::uint32_t b = 0; b < pull.buckets.size(); ++b) pull.buckets[b] = b;
        if (table_.size() <= known_max(pull.buckets.size()))
            for (std::uint32_t i = 0; i < table_.size(); ++i) pull.known.push_back(table_.entry_digest(i));
        finish_pull(pull);
        sync_pull_until_ = now + config_.heartbeat_interval;
        sync_pull_from_ = to;
        send_to(to, std::move(pull));
    }

    // Returns the members a pull can go to: every peer past its hello, in name order.
    std::vector<const peer_record*> sync_members() const {
        std::vector<const peer_record*> members;
        for (const auto& [name, p] : membership_.peers())
            if (p.state != peer_state::connecting) members.push_back(&p);
        return members;
    }

    // Adds bucket `b` to `pull` with the digest of every entry this replica has in it.
    void add_pull_bucket(sync_request& pull, std::uint32_t b) const {
        pull.buckets.push_back(b);
        table_.for_each_in_bucket(b, [&](std::uint32_t i) { pull.known.push_back(table_.entry_digest(i)); });
    }

    void send_digest_to_next_member() {
        std::vector<const std::string*> members;
        for (const auto& [name, p] : membership_.peers())
            if (p.state != peer_state::connecting) members.push_back(&name);
        if (members.empty()) return;
        const auto& to = *members[(sync_cursor_++ + config_.seed) % members.size()];
        send_to(to, sync_digest{table_.digests()});
    }

    void expire_tombstones(time_point now) {
        while (!tombstones_.empty() && tombstones_.front().first + config_.tombstone_ttl <= now) {
            const auto index = table_.find(tombstones_.front().second);
            if (index != detail::npos32 && table_.at(index).removed && !is_local(index)) table_.erase(index);
            tombstones_.pop_front();
        }
    }

    // ---- workers ------------------------------------------------------------------------------

    // A local worker's replica entry carries the `local` mark, so updates of other names skip
    // the search of `locals_`. The two change together, here.
    local_worker& add_local(std::uint32_t index) {
        table_.set_local(index, true);
        const auto [it, inserted] = locals_.try_emplace(std::string(table_.name(index)));
        if (inserted) {
            it->second.order_slot = static_cast<std::uint32_t>(local_order_.items.size());
            local_order_.items.push_back(it);
        }
        return it->second;
    }

    void erase_local(local_iterator it) {
        const auto index = table_.find(it->first);
        if (index != detail::npos32) table_.set_local(index, false);
        const std::uint32_t slot = it->second.order_slot;
        local_order_.items[slot] = local_order_.items.back();
        local_order_.items[slot]->second.order_slot = slot;
        local_order_.items.pop_back();
        locals_.erase(it);
    }

    bool is_local(std::uint32_t index) const { return table_.at(index).local && locals_.contains(table_.name(index)); }

    // Starts the worker of `name` here at `version`. Returns the name's replica entry index.
    std::uint32_t start_local(time_point, std::string name, const worker_spec& spec, std::optional<worker_state> state,
                              std::uint64_t version) {
        const auto index = table_.upsert(name, config_.self, version, spec, false);
        start_entry(index, std::move(name), std::move(state));
        return index;
    }

    // Starts the worker of replica entry `index`, named `name`, which now records this node as
    // its owner.
    void start_entry(std::uint32_t index, std::string name, std::optional<worker_state> state) {
        const std::uint64_t version = table_.at(index).version;
        const worker_spec& spec = table_.spec(index);
        auto& w = add_local(index);
        w = local_worker{};
        // A list longer than the workers costs more than a full pass, so it is dropped for one.
        if (started_since_pass_.size() >= locals_.size() + 64) {
            started_since_pass_.clear();
            full_pass_key_.reset();
        } else {
            started_since_pass_.push_back(name);
        }
        w.version = version;
        ++stats_.workers_started;
        // The level check comes first, so a registration burst builds no fields that an
        // info-level sink would discard.
        if (log_.enabled(log_level::debug))
            log(log_level::debug, "worker_started", {{"name", name}, {"version", std::to_string(version)}});
        effects_.push_back(start_worker_effect{std::move(name), spec, std::move(state)});
        queue_update(index);
    }

    void remove_local(time_point now, local_iterator it) {
        const auto index = table_.find(it->first);
        const auto version = table_.at(index).version + 1;
        const worker_spec spec = table_.spec(index);
        effects_.push_back(stop_worker_effect{it->first, stop_cause::unregister, false, config_.stop_grace});
        const auto updated = table_.upsert(it->first, config_.self, version, spec, true);
        queue_update(updated);
        tombstones_.emplace_back(now, it->first);
        erase_local(it);
    }

    void reply_unregister(time_point, const unregister_request& r, std::optional<errc> error) {
        if (r.origin == config_.self) {
            // A request that already timed out has had its one reply.
            if (pending_.erase(r.id) > 0) effects_.push_back(reply_effect{r.id, error, std::nullopt});
        } else {
            send_to(r.origin.name, unregister_reply{r.id, error});
        }
    }

    // Moves every running worker whose owner changed, if the policy moves workers (a leaving
    // node moves them all).
    void rebalance(time_point now) {
        // A leaving node waiting for a newer generation keeps its workers until one is a member.
        const bool waiting = generation_wait_ && now < leave_started_ + config_.newer_generation_wait;
        if (waiting && !newer_generation_present()) return;
        // A node that is still connecting, or has not yet received a replica, has only part of
        // the cluster or of the registry, so its placement results differ from the others'. It keeps
        // what it was given until then; the periodic rebalance on the heartbeat moves what is
        // misplaced after that.
        if (!leaving_ && (membership_.connecting() || (!synced_once_ && !membership_.peers().empty()))) return;
        // With a placement that reads the names, owners shift as the registry changes. While
        // names are being registered or moved, each replica lags the others, and moves made on
        // those results would bounce back, so a node that is not leaving waits until the names
        // have not changed for a heartbeat interval.
        if constexpr (name_set_placement<Placement>) {
            if (!leaving_ && placement_uses_names() && !names_stable_) return;
        }
        rebuild_placement();
        assign_names();
        // Most rebalances come from the heartbeat with nothing changed since the last pass, so
        // only the workers started since then are checked: every other worker would get the
        // decision it got then.
        const rebalance_key key{placement_builds_, names_changes_, leaving_, waiting};
        if (full_pass_key_ == key) {
            for (const auto& name : std::exchange(started_since_pass_, {})) {
                const auto it = locals_.find(name);
                if (it != locals_.end()) rebalance_one(it->first, it->second, waiting);
            }
            return;
        }
        started_since_pass_.clear();
        // `rebalance_one` neither adds nor erases local workers, so the order stays put.
        const auto& order = local_order_.items;
        for (std::size_t k = 0; k < order.size(); ++k) {
            if (k + 4 < order.size()) detail::prefetch(&*order[k + 4]);
            rebalance_one(order[k]->first, order[k]->second, waiting);
        }
        full_pass_key_ = key;
    }

    // Stops `w` for a handoff if its owner changed, or suspends it if placement picks no member.
    void rebalance_one(const std::string& name, local_worker& w, bool waiting) {
        const bool moves = leaving_ || handoff_.moves_on_topology_change();
        if (w.phase != stage::running) return;
        // Most workers stay: compare the placement's pick with this node before building an
        // identity, whose name may need an allocation.
        const auto index = placed_index(name);
        if (index && view_[*index].name == config_.self.name &&
            view_[*index].incarnation == config_.self.incarnation)
            return;
        const auto target = index ? std::optional<node_id>(node_id{view_[*index].name, view_[*index].incarnation})
                                  : std::nullopt;
        if (!target && !leaving_) {
            // Placement declines although this node is in the view: a quorum placement on
            // the minority side. The worker stops and its state waits here, in the offered
            // phase without a target, until some node may run it (see `replace`).
            w.phase = stage::stopping;
            w.target = node_id{};
            w.suspended = true;
            w.version = table_.at(table_.find(name)).version;
            ++stats_.workers_suspended;
            log(log_level::warn, "worker_suspended", {{"name", name}, {"reason", "placement picks no member"}});
            effects_.push_back(stop_worker_effect{name, stop_cause::no_owner, handoff_.transfers_state(), config_.stop_grace});
            return;
        }
        if (!moves || !target || *target == config_.self) return;
        // While waiting, a name moves only to a member with room for it: the others join soon.
        if (waiting && !placement_has_room(*target)) return;
        w.phase = stage::stopping;
        w.target = *target;
        w.version = table_.at(table_.find(name)).version;
        effects_.push_back(
            stop_worker_effect{name, stop_cause::handoff, handoff_.transfers_state(), config_.stop_grace});
    }

    void offer(time_point now, const std::string& name, local_worker& w) {
        w.handoff_id = ++last_handoff_id_;
        retries_.push_back(retry{now + config_.handoff_retry, name, w.handoff_id});
        // A target that is gone already is placed again by the retry, with the state kept.
        if (!membership_.is_alive(w.target)) return;
        const auto index = table_.find(name);
        ++stats_.handoffs_offered;
        offers_[w.target].push_back(handoff_item{w.handoff_id, name, w.version, table_.spec(index), w.state});
    }

    // Places a stopped worker again after its target rejected it or died: here if this node is
    // now the owner, otherwise offered to the new owner. The kept state goes along.
    void replace(time_point now, local_iterator it) {
        auto& w = it->second;
        const auto target = owner_of(it->first);
        if (!target) {
            // Nowhere to go (this node is leaving and alone): keep the state and retry later.
            w.handoff_id = ++last_handoff_id_;
            retries_.push_back(retry{now + config_.handoff_retry, it->first, w.handoff_id});
            return;
        }
        if (*target == config_.self) {
            const auto index = table_.find(it->first);
            const auto spec = table_.spec(index);
            const auto version = table_.at(index).version + 1;
            auto state = std::move(w.state);
            auto unregisters = std::move(w.unregisters);
            start_local(now, it->first, spec, std::move(state), version);
            for (const auto& u : unregisters) on_message(now, config_.self, u);
            return;
        }
        w.target = *target;
        w.suspended = false;
        offer(now, it->first, w);
    }

    handoff_result accept_offer(time_point now, const handoff_item& item) {
        handoff_result result{item.handoff_id, item.name, false};
        if (check_name(item.name) || item.version >= version_max || !table_.accepts_spec(item.spec)) {
            ++stats_.messages_rejected;
            return result;
        }
        const auto local = locals_.find(item.name);
        const auto index = table_.find(item.name);
        // This replica has seen the name at a later version: it moved on after the offer was
        // made, so there is nothing to start and the sender may drop its copy.
        // A removal newer than the offer counts too: the name was unregistered after it was made.
        const bool superseded = index != detail::npos32 && table_.at(index).version > item.version;
        if (local != locals_.end()) {
            auto& w = local->second;
            if (w.handoff_id == item.handoff_id) {
                result.accepted = true;  // a repeated offer of the instance running here
            } else if (w.phase == stage::running) {
                // A second instance arriving while ours runs: keep ours and give it the other
                // state (the conflict hook's default).
                if (item.state) effects_.push_back(merge_state_effect{item.name, *item.state});
                if (table_.at(index).version <= item.version) claim_again(item.version + 1, item.name);
                result.accepted = true;
            } else {
                result.accepted = superseded;
            }
            return result;
        }
        if (superseded) {
            result.accepted = true;
            return result;
        }
        if (leaving_) return result;
        const std::uint64_t base = index == detail::npos32 ? item.version : std::max(item.version, table_.at(index).version);
        start_local(now, item.name, item.spec, item.state, base + 1);
        locals_[item.name].handoff_id = item.handoff_id;
        result.accepted = true;
        return result;
    }

    void flush_offers() {
        for (auto& [to, items] : offers_)
            for (auto& part : split_by_size(std::move(items), [](const handoff_item& i) {
                     return i.name.size() + i.spec.kind.size() + (i.state ? i.state->size() : 0) + 40;
                 }))
                send_to(to, handoff_offer{std::move(part)});
        offers_.clear();
    }

    // Splits `items` into runs whose estimated encoded sizes (`size_of`, an upper bound per item)
    // add up to at most `message_size_max`, so each run fits one frame. An item larger than that
    // alone (a worker state of about a megabyte) goes in a run of its own.
    template <class T, class SizeOf>
    std::vector<std::vector<T>> split_by_size(std::vector<T> items, SizeOf size_of) const {
        std::vector<std::vector<T>> runs;
        const std::size_t budget = config_.message_size_max - message_overhead_max;
        // The runs are cut first and each is sized once, so no item moves twice while a run grows.
        std::vector<std::size_t> starts;
        std::size_t used = 0;
        for (std::size_t i = 0; i < items.size(); ++i) {
            const std::size_t size = size_of(items[i]);
            if (starts.empty() || (used + size > budget && i > starts.back())) {
                starts.push_back(i);
                used = 0;
            }
            used += size;
        }
        starts.push_back(items.size());
        // Most batches fit one message, which then takes the vector as it is.
        if (starts.size() == 2) {
            runs.push_back(std::move(items));
            return runs;
        }
        runs.resize(starts.size() - 1);
        for (std::size_t r = 0; r + 1 < starts.size(); ++r) {
            runs[r].reserve(starts[r + 1] - starts[r]);
            std::move(items.begin() + static_cast<std::ptrdiff_t>(starts[r]),
                      items.begin() + static_cast<std::ptrdiff_t>(starts[r + 1]), std::back_inserter(runs[r]));
        }
        return runs;
    }

    // An upper bound on the encoded size of an entry record: the three strings, their lengths,
    // the incarnation, version and flags.
    static std::size_t record_size(const entry_record& r) {
        return r.name.size() + r.owner.name.size() + r.spec.kind.size() + 32;
    }

    void retry_handoffs(time_point now) {
        while (!retries_.empty() && retries_.front().at <= now) {
            const retry r = retries_.front();
            retries_.pop_front();
            const auto it = locals_.find(r.name);
            if (it == locals_.end() || it->second.phase != stage::offered || it->second.handoff_id != r.handoff_id)
                continue;
            ++stats_.handoffs_retried;
            auto& w = it->second;
            if (!membership_.is_alive(w.target)) {
                replace(now, it);
                continue;
            }
            offers_[w.target].push_back(
                handoff_item{w.handoff_id, r.name, w.version, table_.spec(table_.find(r.name)), w.state});
            retries_.push_back(retry{now + config_.handoff_retry, r.name, w.handoff_id});
        }
    }

    // ---- failed and departed owners -----------------------------------------------------------

    void process_orphan_queue(time_point now) {
        // Handed states go first, so a name this node handed to the failed member restarts with
        // its state rather than empty as an orphan.
        while (!failovers_.empty() && failovers_.begin()->first <= now) {
            const node_id failed = failovers_.begin()->second;
            failovers_.erase(failovers_.begin());
            recover_handed_copies(now, failed);
        }
        while (!orphan_queue_.empty() && orphan_queue_.begin()->first <= now) {
            orphan_check check = std::move(orphan_queue_.begin()->second);
            orphan_queue_.erase(orphan_queue_.begin());
            const node_id& gone = check.member;
            if (!membership_.is_dead(gone)) continue;
            // A connection attempt opened during the delay (a discovery poll, say) blocks every
            // restart (see `check_orphan`), so the names wait for it, up to `connect_timeout`.
            if (check.candidates && membership_.connecting() && now < check.until) {
                const time_point again = now + std::max(config_.failover_delay, duration{std::chrono::milliseconds(1)});
                orphan_queue_.emplace(again, std::move(check));
                continue;
            }
            // The entries are visited in storage order, which is deterministic, so no sort by
            // name is needed. `check_orphan` updates entries in place and erases none, so the
            // indices stay valid through the loop.
            std::vector<std::uint32_t> owned;
            if (check.candidates) {
                for (const auto& name : *check.candidates) {
                    const auto index = table_.find(name);
                    if (index != detail::npos32 && !table_.at(index).removed && table_.owner(index) == gone)
                        owned.push_back(index);
                }
            } else {
                table_.for_each_owned_by(gone, [&](std::uint32_t i) {
                    if (!table_.at(i).removed) owned.push_back(i);
                });
            }
            // Each restart adds an effect and an update, so the vectors grow once here instead
            // of doubling step by step.
            effects_.reserve(effects_.size() + owned.size());
            outbox_.reserve(outbox_.size() + owned.size());
            outbox_holder_.reserve(outbox_holder_.size() + owned.size());
            std::uint64_t restarted = 0;
            const bool log_every_restart = log_.enabled(log_level::debug);
            for (const auto index : owned) {
                if (!check_orphan(now, index)) continue;
                ++restarted;
                if (log_every_restart) log_restart(log_level::debug, index, gone);
            }
            // One line per failed owner, because a failed node may leave thousands of names, and
            // a line per name would be formatted and written while they wait (debug logs them).
            if (restarted > 0)
                log(log_level::info, "workers_restarted", {{"failed_owner", gone.name}, {"count", std::to_string(restarted)}});
            // Offers in flight to the gone node are placed again with their kept state. Every
            // offered worker has a retry queued under its current offer, so the retries find
            // them without a pass over all workers.
            std::vector<std::string> offered_to_gone;
            for (const auto& r : retries_) {
                const auto it = locals_.find(r.name);
                if (it != locals_.end() && it->second.phase == stage::offered && it->second.handoff_id == r.handoff_id &&
                    it->second.target == gone)
                    offered_to_gone.push_back(r.name);
            }
            for (const auto& name : offered_to_gone) {
                const auto it = locals_.find(name);
                // A yielding worker whose winner is gone restarts here once its stop completes.
                if (it != locals_.end() && it->second.phase == stage::offered && it->second.target == gone) replace(now, it);
            }
        }
        // A name restarted here from a failed owner that had accepted it from this node gets
        // the state this node kept.
        if (!merges_.empty()) send_handed_merges();
    }

    // Broadcasts the recent entries of the failed member `failed` that this node received as
    // their second replica (in a register reply or a witness request). The owner may have failed
    // before its own broadcast went out. Then no other replica has the name, and no placement
    // owner would restart it.
    void spread_second_copies(const node_id& failed) {
        for (const auto& [at, name] : second_copies_) {
            const auto index = table_.find(name);
            if (index != detail::npos32 && !table_.at(index).removed && table_.owner(index) == failed) queue_update(index);
        }
    }

    // Forgets second replicas older than two sync intervals, and those whose owner has been
    // heard from after its flush of the entry: that owner has broadcast it already.
    void prune_second_copies(time_point now) {
        std::erase_if(second_copies_, [&](const std::pair<time_point, std::string>& copy) {
            if (copy.first + 2 * config_.sync_interval < now) return true;
            const auto index = table_.find(copy.second);
            if (index == detail::npos32) return true;
            const node_id& owner = table_.owner(index);
            const auto peer = membership_.peers().find(owner.name);
            return peer != membership_.peers().end() && peer->second.id == owner &&
                   peer->second.last_heard > copy.first + 2 * config_.flush_interval;
        });
    }

    // Queues the names of the failed member `failed` that placement puts on this node now, to
    // be restarted at `at` if placement still puts them here then. A name whose owner in this
    // view changed in between (a member joined or announced its leave) is left to the later
    // checks, because other nodes may have decided on either view.
    void queue_failed(time_point at, const node_id& failed) {
        orphan_check check{failed, std::vector<std::string>{}, at + config_.connect_timeout};
        table_.for_each_owned_by(failed, [&](std::uint32_t i) {
            if (!table_.at(i).removed && view_places_here(table_.name(i))) check.candidates->emplace_back(table_.name(i));
        });
        orphan_queue_.emplace(at, std::move(check));
    }

    // Returns whether the owner of entry `index` is gone, remembered per interned owner until
    // the membership changes: records arrive by the thousand, and mostly name a few owners.
    bool owner_gone(std::uint32_t index) {
        const std::uint32_t slot = table_.at(index).owner;
        const std::uint64_t serial = table_.node_serial(slot);
        if (slot >= gone_cache_.size()) gone_cache_.resize(slot + 1);
        auto& cached = gone_cache_[slot];
        if (cached.membership_version != membership_.version() || cached.node_serial != serial) {
            cached.membership_version = membership_.version();
            cached.node_serial = serial;
            cached.gone = membership_.is_dead(table_.owner(index));
        }
        return cached.gone;
    }

    // Restarts the name of entry `index` here if its owner is gone and placement picks this node.
    // Returns whether it did; the caller logs the restart. `confirmed` is set once a
    // confirmation pull covered the entry (`complete_confirmation`).
    bool check_orphan(time_point now, std::uint32_t index, bool confirmed = false) {
        if (index == detail::npos32 || table_.at(index).removed) return false;
        if (!owner_gone(index) || is_local(index)) return false;
        if (leaving_) return false;
        // A view with connection attempts still open (right after boot, say) may lack the member
        // placement would pick. The heartbeat tick checks again after the attempts complete.
        if (membership_.connecting()) return false;
        // A replica assembled right after boot may still name an owner that has since handed the
        // worker on. Waiting one failure timeout lets several syncs run before any restart.
        if (now < started_at_ + config_.failure_timeout) return false;
        if (!view_places_here(table_.name(index))) return false;
        // A node that left gracefully handed every worker on, so an entry still naming it most
        // likely lacks an update that has not arrived yet. It is confirmed even when it came
        // from that node itself.
        if (!confirmed && (table_.at(index).unconfirmed || membership_.is_left(table_.owner(index))) &&
            has_sync_peer()) {
            queue_confirmation(index);
            return false;
        }
        ++stats_.orphans_restarted;
        // The entry is known, so it is updated in place rather than looked up again by name.
        table_.update(index, config_.self, table_.at(index).version + 1, table_.spec(index), false);
        start_entry(index, std::string(table_.name(index)), std::nullopt);
        return true;
    }

    // A replica can name a departed owner because it learned the entry from a node that had not
    // yet received the new owner's update. A node that boots while a member hands its workers off
    // can pull its first replica from such a node, after the new owner's broadcast went out
    // without it. Restarting the name as an orphan then runs it twice. So an entry that did not
    // come from its owner is confirmed first: its bucket is pulled from another member, and the
    // names are checked again when the response has been applied.

    // Returns whether a member exists that a confirmation pull can go to.
    bool has_sync_peer() const {
        for (const auto& [name, p] : membership_.peers())
            if (p.state != peer_state::connecting) return true;
        return false;
    }

    // Adds the bucket of entry `index` to the buckets awaiting a confirmation pull.
    void queue_confirmation(std::uint32_t index) {
        const std::uint32_t bucket = table_.bucket_of(table_.at(index).hash);
        const auto at = std::lower_bound(confirm_pending_.begin(), confirm_pending_.end(), bucket);
        if (at == confirm_pending_.end() || *at != bucket) confirm_pending_.insert(at, bucket);
    }

    // Sends the confirmation pull once no other pull is in flight. A pull whose response did
    // not arrive within its time is sent again, to the next member.
    void request_confirmation(time_point now) {
        if ((confirm_pending_.empty() && confirming_.empty()) || now < sync_pull_until_) return;
        std::vector<std::uint32_t> buckets;
        std::set_union(confirm_pending_.begin(), confirm_pending_.end(), confirming_.begin(), confirming_.end(),
                       std::back_inserter(buckets));
        confirm_pending_.clear();
        confirming_ = std::move(buckets);
        const auto members = sync_members();
        if (members.empty()) {
            // No other replica exists to compare with.
            complete_confirmation(now);
            return;
        }
        const node_id to = members[confirm_cursor_++ % members.size()]->id;
        sync_request pull;
        for (const auto b : confirming_) add_pull_bucket(pull, b);
        finish_pull(pull);
        sync_pull_until_ = now + config_.heartbeat_interval;
        sync_pull_from_ = to;
        ++stats_.sync_repairs;
        send_to(to.name, std::move(pull));
    }

    // Checks the names of the confirmed buckets again. The response has been applied, so every
    // entry in them agrees with a second replica, and the orphan rule may act on it.
    void complete_confirmation(time_point now) {
        std::vector<std::uint32_t> buckets = std::move(confirming_);
        confirming_.clear();
        std::vector<std::uint32_t> indices;
        for (const auto b : buckets)
            table_.for_each_in_bucket(b, [&](std::uint32_t i) { indices.push_back(i); });
        for (const auto i : indices) table_.set_unconfirmed(i, false);
        std::erase_if(confirm_pending_, [&](std::uint32_t b) { return std::binary_search(buckets.begin(), buckets.end(), b); });
        for (const auto i : indices) {
            // Skipped before `check_orphan` only so that live owners are not copied for the log.
            if (table_.at(i).removed || !owner_gone(i)) continue;
            const node_id departed = table_.owner(i);
            if (check_orphan(now, i, true)) log_restart(log_level::info, i, departed);
        }
    }

    // Logs the restart of the orphaned name of entry `index`, which `failed_owner` ran.
    void log_restart(log_level level, std::uint32_t index, const node_id& failed_owner) {
        if (!log_.enabled(level)) return;
        log(level, "worker_restarted", {{"name", std::string(table_.name(index))}, {"failed_owner", failed_owner.name}});
    }

    // Owners that never became members here (a node that failed before this one connected to
    // it) are presumed failed after long enough for a live node to have connected.
    void check_unknown_owners(time_point now) {
        const duration patience = config_.failure_timeout + config_.connect_timeout + discovery_.poll_interval();
        for (const auto& owner : table_.owners()) {
            if (membership_.is_alive(owner)) {
                unknown_since_.erase(owner);
                continue;
            }
            if (membership_.is_dead(owner)) {
                // Known gone, perhaps only through a later incarnation of the same name, without
                // a failure event here: look for its names again, after the wait a leave gets,
                // because it may have just left and handed its workers on.
                unknown_since_.erase(owner);
                orphan_queue_.emplace(now + config_.heartbeat_interval, orphan_check{owner, std::nullopt, {}});
                continue;
            }
            const auto [it, inserted] = unknown_since_.emplace(owner, now);
            if (!inserted && now - it->second >= patience) {
                log(log_level::warn, "owner_presumed_failed", {{"member", owner.name}});
                membership_.presume_dead(owner);
                orphan_queue_.emplace(now, orphan_check{owner, std::nullopt, {}});
                unknown_since_.erase(it);
            }
        }
    }

    // ---- requests -----------------------------------------------------------------------------

    // After a handoff is accepted, the old holder keeps the state it handed over for two failure
    // timeouts. If the new owner fails within that time (it may have crashed right after
    // accepting), the state would otherwise be lost with it.
    void keep_handed_copy(time_point now, const std::string& name, const node_id& target, std::uint64_t version,
                          const std::optional<worker_state>& state) {
        if (!state) return;
        handed_[name] = handed_copy{target, version, *state, now + 2 * config_.failure_timeout};
    }

    // The new owner of recently handed names failed. Where this node is the placement owner
    // now, it restarts each of those names with the kept state. Elsewhere it restarts nothing,
    // because the failed owner's other names restart as orphans on the placement owner, and a
    // second start decided from a view that differs (a member joining at this moment) could run
    // the name twice. It broadcasts its record naming the failed owner instead, since replicas
    // that missed the failed owner's update would not see an orphan otherwise, and keeps the
    // state to merge into the restarted instance (`send_handed_merges`).
    void recover_handed_copies(time_point now, const node_id& failed) {
        for (auto it = handed_.begin(); it != handed_.end();) {
            auto& copy = it->second;
            if (copy.target != failed || now > copy.until || leaving_) {
                ++it;
                continue;
            }
            const auto index = table_.find(it->first);
            if (index == detail::npos32 || table_.at(index).removed || is_local(index)) {
                it = handed_.erase(it);
                continue;
            }
            ++stats_.handed_states_recovered;
            log(log_level::warn, "handed_state_recovered", {{"name", it->first}, {"failed_owner", failed.name}});
            const bool moved_on = table_.owner(index) != failed && table_.at(index).version > copy.version;
            // This replica names the failed owner from here on, as the replicas that received
            // its update do.
            if (!moved_on && (table_.owner(index) != failed || table_.at(index).version < copy.version))
                table_.update(index, failed, copy.version, table_.spec(index), false);
            if (!moved_on && view_places_here(it->first)) {
                // Restarted here directly: `replace` picks its target with `owner_of`, which a
                // placement may compute differently from the orphan rule's `view_places_here`.
                const std::string name = it->first;
                std::optional<worker_state> state = std::move(copy.state);
                it = handed_.erase(it);
                const worker_spec spec = table_.spec(index);
                start_local(now, name, spec, std::move(state), table_.at(index).version + 1);
                continue;
            }
            if (!moved_on) queue_update(index);
            copy.until = now + 2 * config_.failure_timeout;
            auto next = std::next(it);
            merges_.insert(handed_.extract(it));
            it = next;
        }
        send_handed_merges();
    }

    // Offers each state kept by `recover_handed_copies` to the node that restarted its name, as
    // soon as this replica names a live owner other than the failed one. The owner runs the name
    // already, so it merges the state into its instance (see `accept_offer`).
    void send_handed_merges() {
        for (auto it = merges_.begin(); it != merges_.end();) {
            const auto& copy = it->second;
            const auto index = table_.find(it->first);
            if (index == detail::npos32 || table_.at(index).removed) {
                it = merges_.erase(it);
                continue;
            }
            const node_id& owner = table_.owner(index);
            if (owner == copy.target || !membership_.is_alive(owner)) {
                ++it;
                continue;
            }
            if (owner == config_.self) {
                if (is_local(index)) effects_.push_back(merge_state_effect{it->first, copy.state});
            } else {
                offers_[owner].push_back(
                    handoff_item{++last_handoff_id_, it->first, copy.version, table_.spec(index), copy.state});
            }
            it = merges_.erase(it);
        }
    }

    void expire_handed_copies(time_point now) {
        for (auto* copies : {&handed_, &merges_}) {
            for (auto it = copies->begin(); it != copies->end();) {
                if (now > it->second.until) it = copies->erase(it);
                else ++it;
            }
        }
    }

    // A node that has just booted may receive registry messages from a peer that already counts
    // it as a member before its own hello exchange with that peer completes. Membership drops
    // them and sends a hello. The registry parks them (a bounded number) and handles them once
    // the sender joins, so a registration or its witness request is not lost at boot.
    void park_early_message(time_point now, const envelope& e) {
        // Only requests whose loss makes a caller wait for a timeout are parked, and only small
        // ones, so parked messages stay within a few hundred kilobytes (about 2 MiB with every
        // name and kind 255 bytes long). Register requests may carry batches, so their items
        // count against one budget.
        // NOTE: a register batch beyond that budget is dropped, and its names end with timed_out
        // at the caller, which must register them again.
        const auto* updates = std::get_if<name_updates>(&e.body);
        const auto* registers = std::get_if<register_request>(&e.body);
        const bool request = (registers && parked_register_items() + registers->items.size() <= parked_register_items_max) ||
                             std::holds_alternative<unregister_request>(e.body) ||
                             (updates && updates->ack_id != 0 && updates->entries.size() <= 16);
        if (!request) return;
        if (e.to_incarnation != 0 && e.to_incarnation != config_.self.incarnation) return;
        if (membership_.is_alive(e.from) || membership_.is_dead(e.from) || membership_.is_left(e.from)) return;
        if (parked_.size() >= parked_max) {
            ++stats_.messages_rejected;
            return;
        }
        parked_.push_back({now + config_.connect_timeout + config_.heartbeat_interval, e});
    }

    std::size_t parked_register_items() const {
        std::size_t count = 0;
        for (const auto& p : parked_)
            if (const auto* r = std::get_if<register_request>(&p.message.body)) count += r->items.size();
        return count;
    }

    void replay_parked(time_point now, const node_id& member) {
        std::vector<envelope> ready;
        for (auto it = parked_.begin(); it != parked_.end();) {
            if (it->message.from == member) {
                ready.push_back(std::move(it->message));
                it = parked_.erase(it);
            } else {
                ++it;
            }
        }
        for (const auto& e : ready) std::visit([&](const auto& body) { on_message(now, e.from, body); }, e.body);
    }

    void expire_parked(time_point now) {
        while (!parked_.empty() && parked_.front().until <= now) parked_.pop_front();
    }

    // ---- registration -------------------------------------------------------------------------

    // Returns the error of an invalid name or spec, which every registration call checks first.
    std::optional<errc> precheck(const registration& item) const {
        if (const auto e = check_name(item.name)) return e;
        if (!table_.accepts_spec(item.spec)) return errc::invalid_spec;
        return std::nullopt;
    }

    // Returns, for each item of a `register_names` batch, the error of `precheck`, or
    // `duplicate_in_batch` for a name that an earlier item passing `precheck` has. Sorting the
    // names' hashes finds the repeats without allocating per name.
    std::vector<std::optional<errc>> early_errors(std::span<const registration> batch) const {
        std::vector<std::optional<errc>> errors(batch.size());
        std::vector<std::pair<std::uint64_t, std::uint32_t>> hashes;  // name hash and item index
        hashes.reserve(batch.size());
        for (std::size_t i = 0; i < batch.size(); ++i) {
            errors[i] = precheck(batch[i]);
            if (!errors[i]) hashes.emplace_back(hash64(batch[i].name), static_cast<std::uint32_t>(i));
        }
        std::sort(hashes.begin(), hashes.end());
        // Items with equal hashes sit together in batch order, so each is compared with the
        // earlier ones of its hash that are not repeats themselves.
        for (std::size_t k = 1; k < hashes.size(); ++k) {
            const auto& name = batch[hashes[k].second].name;
            for (std::size_t j = k; j-- > 0 && hashes[j].first == hashes[k].first;) {
                if (errors[hashes[j].second] || batch[hashes[j].second].name != name) continue;
                errors[hashes[k].second] = errc::duplicate_in_batch;
                break;
            }
        }
        return errors;
    }

    // Starts the worker of one name of a `register_names` batch here, or queues it for its
    // owner, unless the name is registered already. Returns its request id, or the error that
    // rejected it. `early_errors` has checked the item.
    result<request_id> admit(time_point now, const registration& item, outgoing_batch& out) {
        const auto index = table_.find(item.name);
        if (index != detail::npos32 && !table_.at(index).removed && !membership_.is_dead(table_.owner(index)))
            return errc::already_registered;
        // The owner as an index into the view, not a `node_id`, which would copy its name.
        const auto target = placed_index(item.name);
        if (!target) return leaving_ ? errc::node_leaving : errc::no_members;

        const request_id id = ++last_request_id_;
        const member_info& owner = view_[*target];
        if (owner.name == config_.self.name && owner.incarnation == config_.self.incarnation) {
            const std::uint64_t version = index == detail::npos32 ? 1 : table_.at(index).version + 1;
            const auto index_started = start_local(now, item.name, item.spec, std::nullopt, version);
            out.local.push_back({id, index_started, static_cast<std::uint32_t>(outbox_.size() - 1)});
            return id;
        }
        // The caller's version travels along, so the new entry outranks a removal the owner
        // never saw and this replica accepts the reply.
        const std::uint64_t known = index == detail::npos32 ? 0 : table_.at(index).version;
        if (out.remote.size() < view_.size()) out.remote.resize(view_.size());
        out.remote[*target].push_back(register_item{id, item.name, item.spec, known});
        add_pending(now, id);
        return id;
    }

    // Handles one item of a `register_request`: starts its worker here, or, on a leaving node,
    // passes it on once to the owner in this node's view. Returns the result for the origin, or
    // nothing when the item was passed on.
    std::optional<register_result> start_requested(time_point now, const node_id& from, const node_id& origin,
                                                   const register_item& item,
                                                   std::map<node_id, std::vector<register_item>>& passed_on) {
        if (const auto error = check_name(item.name)) {
            ++stats_.messages_rejected;
            return register_result{item.id, *error, std::nullopt};
        }
        if (!table_.accepts_spec(item.spec) || item.known_version >= version_max) {
            ++stats_.messages_rejected;
            return register_result{item.id, errc::invalid_spec, std::nullopt};
        }
        const auto index = table_.find(item.name);
        if (index != detail::npos32 && !table_.at(index).removed)
            return register_result{item.id, errc::already_registered, record_of(index)};
        if (leaving_) {
            // A leaving node takes no workers. The caller's view is behind, so the item goes on
            // once, to the owner in this node's view.
            const auto target = owner_of(item.name);
            if (target && from == origin) {
                passed_on[*target].push_back(item);
                return std::nullopt;
            }
            return register_result{item.id, errc::node_leaving, std::nullopt};
        }
        const std::uint64_t version = std::max(index == detail::npos32 ? 0 : table_.at(index).version, item.known_version) + 1;
        const auto started = start_local(now, item.name, item.spec, std::nullopt, version);
        // The origin gets the entry in the reply, so the broadcast of the update skips it.
        if (origin.name != config_.self.name) hold_last_update(origin.name);
        return register_result{item.id, std::nullopt, record_of(started)};
    }

    // The reply to a registration started here waits until a second replica has the entry, so a
    // crash of this node right after the reply cannot lose an acknowledged registration. The
    // names go to the witness in `name_updates` messages whose `ack_id` is the first request id
    // of each. A witness that does not count this node as a member yet drops them, so they go
    // out again each heartbeat. A node alone because members failed (a partition, say) waits for
    // one to return, and the calls end with timed_out if none does. A node in its first
    // connect_timeout waits too, while it connects to the peers it found. Only a cluster of one
    // replies at once.
    void await_witness(time_point now, const std::vector<started_name>& names) {
        if (names.empty()) return;
        const auto witness = pick_witness();
        if (!witness && cluster_of_one(now)) {
            for (const auto& n : names) effects_.push_back(reply_effect{n.id, std::nullopt, config_.self});
            return;
        }
        std::vector<std::pair<request_id, entry_record>> started;
        started.reserve(names.size());
        for (const auto& n : names) started.emplace_back(n.id, record_of(n.index));
        // The witness gets the entries in its request, so the broadcast of the updates skips it.
        // A lost witness request goes out again until its names complete or time out
        // (`retry_witnesses`), and anti-entropy repairs what is still missing after that.
        if (witness) {
            const std::uint32_t holder = holder_of(witness->name);
            for (const auto& n : names) outbox_holder_[n.update] = holder;
        }
        for (auto& part : split_by_size(std::move(started), [](const auto& p) { return record_size(p.second); })) {
            std::vector<entry_record> records;
            std::vector<witnessed_name> group;
            records.reserve(part.size());
            group.reserve(part.size());
            for (auto& [id, record] : part) {
                group.push_back({id, record.name});
                records.push_back(std::move(record));
            }
            const request_id ack_id = group.front().id;
            if (witness) send_to(*witness, name_updates{std::move(records), false, ack_id});
            for (const auto& n : group) add_pending(now, n.id);
            witness_retries_.push_back({now + config_.heartbeat_interval, ack_id});
            witnessed_.emplace(ack_id, std::move(group));
        }
    }

    // Sends the entries of witness requests still waiting, to the witness of the moment. A group
    // whose requests all completed, or whose entries are gone, is dropped.
    void retry_witnesses(time_point now) {
        while (!witness_retries_.empty() && witness_retries_.front().at <= now) {
            auto r = witness_retries_.front();
            witness_retries_.pop_front();
            const auto group = witnessed_.find(r.ack_id);
            if (group == witnessed_.end()) continue;
            std::vector<entry_record> records;
            for (const auto& n : group->second) {
                if (!pending_.contains(n.id)) continue;
                const auto index = table_.find(n.name);
                if (index != detail::npos32) records.push_back(record_of(index));
            }
            if (records.empty()) {
                witnessed_.erase(group);
                continue;
            }
            const auto witness = pick_witness();
            if (!witness && cluster_of_one(now)) {
                // No peer found at boot became a member within connect_timeout.
                complete_witnessed(group);
                continue;
            }
            if (witness) send_to(*witness, name_updates{std::move(records), false, r.ack_id});
            r.at = now + config_.heartbeat_interval;
            witness_retries_.push_back(r);
        }
    }

    // Returns whether a node with no member up counts as a cluster of one: no member failed,
    // and in its first connect_timeout no connection attempt is open. Right after a boot the
    // peers are usually a hello away. Later attempts mostly go to peers that are not up, and
    // waiting for them would hold up every reply of a cluster's first node.
    bool cluster_of_one(time_point now) const {
        if (membership_.has_failed_members()) return false;
        return now >= started_at_ + config_.connect_timeout || membership_.peers().empty();
    }

    // Upper bounds on the encoded sizes of register items and results, for `split_by_size`.
    static std::size_t item_size(const register_item& item) { return encoded_size_max(item); }
    static std::size_t result_size(const register_result& result) { return encoded_size_max(result); }

    void add_pending(time_point now, request_id id) {
        pending_.insert(id);
        pending_order_.emplace_back(now + config_.request_timeout, id);
    }

    // NOTE: a request sent to a node that then fails also waits for its deadline, because the node
    // may have acted on it before failing. Its reply is `timed_out`, meaning the outcome is unknown.
    void expire_requests(time_point now) {
        while (!pending_order_.empty() && pending_order_.front().first <= now) {
            const auto id = pending_order_.front().second;
            pending_order_.pop_front();
            if (pending_.erase(id) > 0) effects_.push_back(reply_effect{id, errc::timed_out, std::nullopt});
        }
    }

    // ---- leaving ------------------------------------------------------------------------------

    // A leaving node is done when it runs no worker, or when no member is up to take its
    // workers and no handoff is in flight.
    void maybe_finish_leave() {
        if (!leaving_ || stopped_) return;
        if (locals_.empty()) {
            finish_leave();
            return;
        }
        if (has_members()) return;
        // Alone, a node waiting for a newer release keeps its workers for the rest of that wait,
        // because the new release may still be booting (a rollout that stops every old pod first).
        if (generation_wait_) return;
        for (const auto& [name, w] : locals_)
            if (w.phase != stage::running) return;
        finish_leave();
    }

    bool has_members() const {
        for (const auto& [name, p] : membership_.peers())
            if (p.state == peer_state::up) return true;
        return false;
    }

    void finish_leave() {
        if (stopped_) return;
        std::size_t stops = 0;
        for (auto& [name, w] : locals_) {
            if (w.phase != stage::running) continue;
            effects_.push_back(stop_worker_effect{name, stop_cause::shutdown, false, config_.stop_grace});
            ++stops;
        }
        flush_updates();
        flush_offers();
        membership_.finish_leave(effects_);
        stopped_ = true;
        // The host stops the workers still here after this record: it counts the stops it requests.
        log(log_level::info, "node_stopped", {{"workers_to_stop", std::to_string(stops)}});
        effects_.push_back(node_stopped{});
    }

    // ---- state --------------------------------------------------------------------------------

    struct retry {
        time_point at;
        std::string name;
        std::uint64_t handoff_id = 0;
    };

    registry_config config_;
    Discovery discovery_;
    Placement placement_;
    Handoff handoff_;
    Log log_;
    membership membership_;
    detail::name_table table_;
    local_map locals_;
    local_order local_order_;  // see `local_order`
    std::vector<member_info> view_;
    std::vector<member_info> built_view_;
    bool placement_dirty_ = true;
    std::uint64_t placement_builds_ = 0;  // times the placement was rebuilt
    // The inputs of the last full rebalance pass; see `rebalance`.
    struct rebalance_key {
        std::uint64_t placement_builds = 0;
        std::uint64_t names_changes = 0;
        bool leaving = false;
        bool waiting = false;
        friend bool operator==(const rebalance_key&, const rebalance_key&) = default;
    };
    std::optional<rebalance_key> full_pass_key_;
    std::vector<std::string> started_since_pass_;  // local workers started since that pass
    bool names_assigned_ = false;         // a name_set_placement has had the names once
    std::uint64_t names_changes_ = 0;      // times the names or their owners changed
    std::uint64_t names_changes_at_tick_ = 0;
    bool names_stable_ = false;           // no change between the last two heartbeats
    std::uint64_t names_fingerprint_ = 0;  // the live names it last had
    std::uint64_t assigned_names_fingerprint_ = 0;  // without owners, at the last `assign`
    std::uint64_t view_version_ = 0;
    std::uint64_t stable_version_ = 0;

    std::vector<effect> effects_;
    std::vector<std::uint64_t> hashes_;  // `hash64` of the names of the records being applied
    std::vector<std::uint32_t> order_;   // the index of each of those records in its message
    // Updates waiting for the next broadcast. For each, `outbox_holder_` has the member that
    // received it already (an index into `outbox_holders_`), or npos32.
    std::vector<entry_record> outbox_;
    std::vector<std::uint32_t> outbox_holder_;
    std::vector<std::string> outbox_holders_;
    std::map<node_id, std::vector<handoff_item>> offers_;
    std::deque<retry> retries_;
    // The ids of requests waiting for their reply. Ids are handed out in increasing order and
    // each waits at most `request_timeout`, so one flag per id from the oldest waiting one on
    // keeps the set small without an allocation per request.
    struct pending_ids {
        request_id first = 1;    // the id of `waiting.front()`
        std::deque<bool> waiting;

        bool contains(request_id id) const { return id >= first && id - first < waiting.size() && waiting[id - first]; }

        void insert(request_id id) {
            if (waiting.empty()) first = id;
            for (; id < first; --first) waiting.push_front(false);
            if (id - first >= waiting.size()) waiting.resize(id - first + 1, false);
            waiting[id - first] = true;
        }

        // Removes `id`. Returns 1 if it was waiting, else 0, as `std::map::erase` does.
        std::size_t erase(request_id id) {
            if (!contains(id)) return 0;
            waiting[id - first] = false;
            while (!waiting.empty() && !waiting.front()) {
                waiting.pop_front();
                ++first;
            }
            return 1;
        }
    };
    pending_ids pending_;
    std::deque<std::pair<time_point, request_id>> pending_order_;
    std::deque<std::pair<time_point, std::string>> tombstones_;
    // A departed member whose names to look at, with the names that placement put on this node
    // when it failed (none given: every name it owns).
    struct orphan_check {
        node_id member;
        std::optional<std::vector<std::string>> candidates;
        time_point until{};  // with candidates: how long they wait for open connection attempts
    };
    // Owners whose names to check, by when; equal times keep the order they were added in.
    std::multimap<time_point, orphan_check> orphan_queue_;
    // Names whose entry this node received as the second replica, by when, kept until their
    // owner is heard from after its flush, or for two sync intervals (by then anti-entropy has
    // copied them).
    std::deque<std::pair<time_point, std::string>> second_copies_;
    std::multimap<time_point, node_id> failovers_;  // failed members whose handed states to recover, by time
    std::deque<std::pair<time_point, node_id>> recent_failures_;  // members failed in the last heartbeat interval
    std::map<node_id, time_point> unknown_since_;

    std::optional<time_point> flush_at_;
    std::optional<time_point> rebalance_at_;
    struct witness_retry {
        time_point at;
        request_id ack_id;
    };
    std::deque<witness_retry> witness_retries_;  // witness requests to send again, by time
    // Names started here whose replies wait for the witness, by the `ack_id` of their request.
    std::map<request_id, std::vector<witnessed_name>> witnessed_;
    struct handed_copy {
        node_id target;
        std::uint64_t version = 0;  // the entry version the new owner runs it at
        worker_state state;
        time_point until;
    };
    std::map<std::string, handed_copy, std::less<>> handed_;  // states handed off recently
    // States whose new owner failed, to merge into the instance that restarted the name.
    std::map<std::string, handed_copy, std::less<>> merges_;
    struct parked_message {
        time_point until;
        envelope message;
    };
    static constexpr std::size_t parked_max = 256;
    static constexpr std::size_t parked_register_items_max = 4096;
    std::deque<parked_message> parked_;  // messages from senders not yet members, oldest first
    time_point leave_started_{};
    bool generation_wait_ = false;  // leaving, and waiting for a member of a newer generation
    time_point next_heartbeat_{};
    time_point next_poll_{};
    time_point next_sync_{};
    time_point leave_deadline_{};
    time_point sync_pull_until_{};
    node_id sync_pull_from_;
    struct gone_entry {
        std::uint64_t membership_version = ~std::uint64_t{0};
        std::uint64_t node_serial = 0;
        bool gone = false;
    };
    std::vector<gone_entry> gone_cache_;  // by node table slot, see `owner_gone`
    time_point started_at_{};
    time_point armed_at_ = time_point::max();
    std::uint64_t sync_cursor_ = 0;
    // Buckets of second-hand entries whose names would restart as orphans here, to be pulled
    // from another member first (`queue_confirmation`), and the buckets of the pull in flight.
    std::vector<std::uint32_t> confirm_pending_;
    std::vector<std::uint32_t> confirming_;
    std::uint64_t confirm_cursor_ = 0;
    request_id last_request_id_ = 0;
    std::uint64_t last_handoff_id_ = 0;
    registry_stats stats_;
    bool started_ = false;
    bool stopped_ = false;
    bool leaving_ = false;
    bool synced_once_ = false;
};

}  // namespace muster

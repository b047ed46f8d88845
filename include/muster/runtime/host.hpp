#pragma once
/// `muster::runtime::host`: runs one `muster::node` on a Boost.Asio strand over TCP. It turns
/// timer effects into a `steady_timer`, resolve effects into lookups with the system resolver,
/// network effects into authenticated TCP links (`tcp_network.hpp`), and worker effects into
/// calls on the application's `worker_handler`. Link `muster::auth`.
///
/// Threads: every handler runs on the host's strand, so the io_context may be run by one thread
/// or several. Every member function must be called on that strand: from a worker_handler
/// callback, or through `boost::asio::post(host.executor(), ...)`.

#include <muster/core/config.hpp>
#include <muster/core/effect.hpp>
#include <muster/core/log.hpp>
#include <muster/node.hpp>
#include <muster/runtime/line_log.hpp>
#include <muster/runtime/tcp_network.hpp>
#include <muster/wire/auth.hpp>
#include <muster/wire/frame.hpp>

#include <boost/asio.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace muster::runtime {

/// The application's side of a host: it runs the workers and receives replies and membership
/// facts. The host calls it on its strand while it performs a node's effects.
class worker_handler {
public:
    /// Starts the worker `effect.name`, from `effect.state` when it moved under `resume`.
    virtual void start_worker(const start_worker_effect& effect) = 0;

    /// Stops the worker `effect.name` before returning, and returns its state. The host passes
    /// the state on only when `effect.want_state` is set. Used by the default `begin_stop`.
    virtual std::optional<worker_state> stop_worker(const stop_worker_effect& effect) = 0;

    /// Called with the worker's state (or nothing) once a worker has stopped.
    using stop_completion = std::function<void(std::optional<worker_state>)>;

    /// Starts stopping the worker `effect.name`. Override it for workers that need time to stop:
    /// call `done` on the host's strand once the worker has stopped. If `done` is not called
    /// within `effect.grace`, the host calls `kill_worker` and reports the worker stopped without
    /// state; a later call of `done` changes nothing. The default stops synchronously with
    /// `stop_worker`.
    virtual void begin_stop(const stop_worker_effect& effect, stop_completion done) { done(stop_worker(effect)); }

    /// Ends a worker that did not stop within its grace period. The default does nothing.
    virtual void kill_worker(std::string_view) {}

    /// Gives the running worker `effect.name` the state of a conflicting instance that stopped.
    virtual void merge_state(const merge_state_effect& effect) = 0;

    /// Completes a `register_name` call, one name of a `register_names` call, or an `unregister` call.
    virtual void on_reply(const reply_effect&) {}

    /// Reports `member_joined`, `member_leaving`, `member_left` or `member_failed`.
    virtual void on_member_event(const effect&) {}

    /// Reports `node_stopped`: a graceful leave finished, and the host may be closed.
    virtual void on_stopped() {}

protected:
    ~worker_handler() = default;
};

/// Settings of a host.
struct host_config {
    registry_config registry;  ///< the node's settings, including its name
    network_config network;    ///< the TCP settings; `self_name` is set from `registry.self.name`
    tcp::endpoint listen;      ///< address to accept peers on
};

/// Runs one node over TCP. See the file comment.
///
/// Lifetime: destroy the host only when its io_context no longer runs handlers.
template <discovery Discovery, placement Placement, handoff Handoff, log_sink Log = line_log>
class host final : private network_handler {
public:
    using transport_type = tcp_transport<Log>;
    using node_type = muster::node<Discovery, transport_type, Placement, Handoff, Log>;

    /// Checks the configuration and builds a host, or returns a message naming the invalid setting.
    static expected<std::unique_ptr<host>, std::string> create(strand_executor executor, host_config config,
                                                               wire::shared_secret secret, Discovery discovery,
                                                               Placement placement, Handoff handoff,
                                                               worker_handler& workers, Log log = {}) {
        if (validate(config.registry)) return describe_problem(config.registry);
        if (const auto e = wire::validate(config.network.wire)) return std::string(wire::to_string(*e));
        if (config.network.backoff_min <= duration::zero() || config.network.backoff_max < config.network.backoff_min)
            return std::string("backoff_min must be positive and backoff_max at least backoff_min");
        if (config.network.handshake_timeout <= duration::zero())
            return std::string("handshake_timeout must be positive");
        if (config.network.queue_messages_max == 0 || config.network.queue_bytes_max == 0)
            return std::string("queue_messages_max and queue_bytes_max must be positive");
        config.network.self_name = config.registry.self.name;
        // Every message the core builds must fit in one frame, with the margin that
        // `message_size_max` requires.
        static_assert(wire::frame_size_max_lower > message_overhead_max);
        const std::uint32_t fitting = config.network.wire.frame_size_max - message_overhead_max;
        if (fitting < config.registry.message_size_max) {
            config.registry.message_size_max = fitting;
            if (validate(config.registry))
                return std::string("frame_size_max is too small for the registry's messages: it must be 1 KiB above "
                                   "both 4 KiB and 1 KiB plus 9 bytes per sync bucket (11 KiB with 1,024 buckets); "
                                   "raise frame_size_max or lower sync_buckets");
        }
        std::unique_ptr<host> built(new host(executor, std::move(config), std::move(secret), workers, log));
        auto node = node_type::create(built->config_.registry, std::move(discovery), transport_type{&built->network_},
                                      std::move(placement), std::move(handoff), std::move(log));
        if (!node) return std::string(to_string(node.error()));
        built->node_.emplace(std::move(node).value());
        return built;
    }

    host(const host&) = delete;
    host& operator=(const host&) = delete;
    ~host() { close(); }

    /// Listens on `config.listen` and starts the node. Returns the error if listening fails.
    boost::system::error_code start() {
        if (const auto error = network_.listen(config_.listen)) return error;
        node_->start(now());
        drain();
        return {};
    }

    /// Leaves the cluster gracefully; `worker_handler::on_stopped` follows when it is done.
    void leave() {
        node_->leave(now());
        drain();
    }

    /// See `registry::register_name`; the reply arrives at `worker_handler::on_reply`.
    result<request_id> register_name(std::string_view name, const worker_spec& spec) {
        auto id = node_->register_name(now(), name, spec);
        drain();
        return id;
    }

    /// See `registry::register_names`; each accepted name's reply arrives at
    /// `worker_handler::on_reply`. Replies for names placed on this node may arrive before this
    /// call returns, when the node has no member to copy them to.
    std::vector<result<request_id>> register_names(std::span<const registration> batch) {
        auto ids = node_->register_names(now(), batch);
        drain();
        return ids;
    }

    /// See `registry::unregister`; the reply arrives at `worker_handler::on_reply`.
    result<request_id> unregister(std::string_view name) {
        auto id = node_->unregister(now(), name);
        drain();
        return id;
    }

    /// Reports that a worker exited on its own; it restarts or unregisters by its restart policy.
    void worker_exited(std::string_view name, exit_reason reason) {
        node_->on_worker_exited(now(), name, reason);
        drain();
    }

    /// Returns where `name` runs according to this node's replica.
    std::optional<node_id> whereis(std::string_view name) const { return node_->whereis(name); }

    /// Returns the traffic counters of the host's connections.
    const network_stats& stats() const { return network_.stats(); }

    /// Returns whether no message waits to be written to a peer, so closing loses nothing queued.
    bool flushed() const { return network_.flushed(); }

    /// Closes every connection and cancels the timers. No handler of the host runs afterwards
    /// except ones already queued, which return at once.
    void close() {
        closed_ = true;
        network_.close_all();
        timer_.cancel();
        flush_log();
    }

    const node_type& node() const { return *node_; }
    strand_executor executor() const { return executor_; }

    /// Returns the address the host listens on, once `start` succeeded (useful with port 0).
    tcp::endpoint local_endpoint() const { return network_.local_endpoint(); }

private:
    host(strand_executor executor, host_config config, wire::shared_secret secret, worker_handler& workers,
         const Log& log)
        : executor_(executor), config_(std::move(config)),
          network_(executor, config_.network, std::move(secret), *this, log), workers_(workers), log_(log),
          timer_(executor), resolver_(executor) {}

    static time_point now() { return std::chrono::steady_clock::now(); }

    void on_link_connected(const std::string& peer) override {
        if (closed_) return;
        node_->on_connected(now(), peer);
        drain();
    }

    void on_link_connect_failed(const std::string& peer) override {
        if (closed_) return;
        node_->on_connect_failed(now(), peer);
        drain();
    }

    void on_link_lost(const std::string& peer) override {
        if (closed_) return;
        // NOTE: the link does not record the peer's incarnation, so a loss of the link to a
        // process that has already restarted fails the new incarnation too. The peer's next
        // message restores the session, because membership replies to it with a hello.
        node_->on_connection_lost(now(), peer);
        drain();
    }

    void on_message(const envelope& message) override {
        if (closed_) return;
        node_->step(now(), message);
        drain();
    }

    // Performs every effect left by the node, including those that performing one produces.
    void drain() {
        if (draining_) return;  // the loop below picks up what a nested input produced
        draining_ = true;
        for (;;) {
            // A nested drain returns at once, so the member vector is not in use elsewhere.
            node_->drain_effects_into(effects_);
            if (effects_.empty()) break;
            for (auto& e : effects_) perform(e);
        }
        draining_ = false;
        flush_log();
    }

    // A sink that collects lines (a buffered `line_log`) writes them out once per handler.
    void flush_log() {
        if constexpr (requires { log_.flush(); }) log_.flush();
    }

    // Asks the application to stop a worker and arms its grace timer, unless it stopped at once.
    void begin_stop(const stop_worker_effect& effect) {
        const std::uint64_t token = ++stop_token_;
        stopping_[effect.name] = stopping_worker{token, effect.want_state, nullptr};
        workers_.begin_stop(effect, [this, name = effect.name, token](std::optional<worker_state> state) {
            finish_stop(name, token, std::move(state));
        });
        const auto it = stopping_.find(effect.name);
        if (it == stopping_.end() || it->second.token != token) return;
        it->second.grace = std::make_unique<asio::steady_timer>(executor_, effect.grace);
        it->second.grace->async_wait([this, name = effect.name, token](const boost::system::error_code& error) {
            if (error || closed_) return;
            const auto found = stopping_.find(name);
            if (found == stopping_.end() || found->second.token != token) return;
            if (log_.enabled(log_level::warn))
                log_.write(log_record{log_level::warn, config_.registry.self.name, "worker_killed",
                                      {{"name", name}, {"reason", "the worker did not stop within its grace period"}}});
            workers_.kill_worker(name);
            finish_stop(name, token, std::nullopt);
        });
    }

    // Reports a stopped worker to the node, once per stop: a completion after the kill, or a
    // second completion, finds no matching token and changes nothing.
    void finish_stop(const std::string& name, std::uint64_t token, std::optional<worker_state> state) {
        const auto it = stopping_.find(name);
        if (closed_ || it == stopping_.end() || it->second.token != token) return;
        const bool want_state = it->second.want_state;
        stopping_.erase(it);
        node_->on_worker_stopped(now(), name, want_state ? std::move(state) : std::nullopt);
        drain();
    }

    void perform(effect& e) {
        if (auto* t = std::get_if<timer_effect>(&e)) return arm_timer(t->at);
        if (auto* r = std::get_if<resolve_effect>(&e)) return resolve(r->host);
        if (auto* s = std::get_if<start_worker_effect>(&e)) return workers_.start_worker(*s);
        if (auto* s = std::get_if<stop_worker_effect>(&e)) return begin_stop(*s);
        if (auto* m = std::get_if<merge_state_effect>(&e)) return workers_.merge_state(*m);
        if (auto* r = std::get_if<reply_effect>(&e)) return workers_.on_reply(*r);
        if (std::holds_alternative<node_stopped>(e)) return workers_.on_stopped();
        if (std::holds_alternative<member_joined>(e) || std::holds_alternative<member_leaving>(e) ||
            std::holds_alternative<member_left>(e) || std::holds_alternative<member_failed>(e))
            return workers_.on_member_event(e);
    }

    // One steady_timer serves every timer effect: it is moved earlier when a new effect requests
    // an earlier time, and a later request is covered because each tick arms the next timer.
    void arm_timer(time_point at) {
        if (closed_ || (timer_armed_ && at >= timer_at_)) return;
        timer_armed_ = true;
        timer_at_ = at;
        timer_.expires_at(std::chrono::time_point_cast<std::chrono::steady_clock::duration>(at));
        timer_.async_wait([this, armed = ++timer_generation_](const boost::system::error_code& error) {
            if (error || closed_ || armed != timer_generation_) return;
            timer_armed_ = false;
            node_->tick(now());
            drain();
        });
    }

    // Looks up a discovery name; only IPv4 addresses are kept, because node names cannot carry
    // IPv6 addresses (see `parse_peer_address`).
    void resolve(const std::string& name) {
        resolver_.async_resolve(name, "", [this, name](const boost::system::error_code& error,
                                                      tcp::resolver::results_type results) {
            if (closed_) return;
            resolve_result result;
            result.host = name;
            if (error) {
                result.error = error.message();
            } else {
                for (const auto& entry : results) {
                    const auto address = entry.endpoint().address();
                    if (!address.is_v4()) continue;
                    auto text = address.to_string();
                    if (std::find(result.addresses.begin(), result.addresses.end(), text) == result.addresses.end())
                        result.addresses.push_back(std::move(text));
                }
            }
            node_->on_resolved(now(), result);
            drain();
        });
    }

    strand_executor executor_;
    host_config config_;
    tcp_network<Log> network_;
    worker_handler& workers_;
    Log log_;
    asio::steady_timer timer_;
    tcp::resolver resolver_;
    std::optional<node_type> node_;

    struct stopping_worker {
        std::uint64_t token = 0;
        bool want_state = false;
        std::unique_ptr<asio::steady_timer> grace;
    };
    std::map<std::string, stopping_worker, std::less<>> stopping_;
    std::uint64_t stop_token_ = 0;
    bool draining_ = false;
    std::vector<effect> effects_;  // the effects being performed, kept for its memory (see `drain`)
    time_point timer_at_{};
    std::uint64_t timer_generation_ = 0;
    bool timer_armed_ = false;
    bool closed_ = false;
};

}  // namespace muster::runtime

#pragma once
/// `muster::node`: the registry machine composed with a transport. Network effects go straight
/// to the transport; everything else (timers, workers, lookups, replies, membership events) is
/// left for the host to drain.

#include <muster/core/registry.hpp>
#include <muster/policy/transport.hpp>

#include <span>
#include <utility>
#include <vector>

namespace muster {

template <discovery Discovery, transport Transport, placement Placement, handoff Handoff,
          log_sink Log = null_log>
class node {
public:
    using machine_type = registry<Discovery, Placement, Handoff, Log>;

    node(machine_type machine, Transport transport)
        : machine_(std::move(machine)), transport_(std::move(transport)) {}

    /// Checks the configuration and builds a node, or returns why the configuration is invalid.
    static expected<node, config_error> create(registry_config config, Discovery discovery,
                                               Transport transport, Placement placement,
                                               Handoff handoff, Log log = {}) {
        auto machine = machine_type::create(std::move(config), std::move(discovery),
                                            std::move(placement), std::move(handoff), std::move(log));
        if (!machine) return machine.error();
        return node(std::move(machine).value(), std::move(transport));
    }

    void start(time_point now) { machine_.start(now); dispatch(); }
    void step(time_point now, const envelope& e) { machine_.step(now, e); dispatch(); }
    void tick(time_point now) { machine_.tick(now); dispatch(); }
    void on_connected(time_point now, const std::string& peer) { machine_.on_connected(now, peer); dispatch(); }
    void on_connect_failed(time_point now, const std::string& peer) { machine_.on_connect_failed(now, peer); dispatch(); }
    void on_connection_lost(time_point now, const std::string& peer, std::uint64_t incarnation = 0) {
        machine_.on_connection_lost(now, peer, incarnation);
        dispatch();
    }
    void on_resolved(time_point now, const resolve_result& r) { machine_.on_resolved(now, r); dispatch(); }
    void leave(time_point now) { machine_.leave(now); dispatch(); }

    void on_worker_stopped(time_point now, std::string_view name, std::optional<worker_state> state) {
        machine_.on_worker_stopped(now, name, std::move(state));
        dispatch();
    }

    void on_worker_exited(time_point now, std::string_view name, exit_reason reason) {
        machine_.on_worker_exited(now, name, reason);
        dispatch();
    }

    /// See `registry::register_name`.
    result<request_id> register_name(time_point now, std::string_view name, const worker_spec& spec) {
        auto r = machine_.register_name(now, name, spec);
        dispatch();
        return r;
    }

    /// See `registry::register_names`.
    std::vector<result<request_id>> register_names(time_point now, std::span<const registration> batch) {
        auto r = machine_.register_names(now, batch);
        dispatch();
        return r;
    }

    /// See `registry::unregister`.
    result<request_id> unregister(time_point now, std::string_view name) {
        auto r = machine_.unregister(now, name);
        dispatch();
        return r;
    }

    std::optional<node_id> whereis(std::string_view name) const { return machine_.whereis(name); }

    /// Takes the effects that are not network effects, in order.
    std::vector<effect> drain_effects() { return std::exchange(pending_, {}); }

    /// Moves the effects that are not network effects into `out`, in order, as
    /// `registry::drain_effects_into` does: `out`'s memory is kept for the next ones.
    void drain_effects_into(std::vector<effect>& out) {
        out.clear();
        out.swap(pending_);
    }

    machine_type& machine() { return machine_; }
    const machine_type& machine() const { return machine_; }
    Transport& transport() { return transport_; }

private:
    void dispatch() {
        // The vector is taken out of the member while in use: a transport that calls back into
        // this node from `send` makes a nested dispatch, which then starts from an empty one.
        auto drained = std::move(drained_);
        machine_.drain_effects_into(drained);
        for (auto& e : drained) {
            if (auto* s = std::get_if<send_effect>(&e)) transport_.send(s->to, std::move(s->message));
            else if (auto* c = std::get_if<connect_effect>(&e)) transport_.connect(c->peer);
            else if (auto* d = std::get_if<disconnect_effect>(&e)) transport_.disconnect(d->peer);
            else pending_.push_back(std::move(e));
        }
        drained.clear();
        drained_ = std::move(drained);
    }

    machine_type machine_;
    Transport transport_;
    std::vector<effect> pending_;
    std::vector<effect> drained_;  // kept between inputs for its memory (see `dispatch`)
};

}  // namespace muster

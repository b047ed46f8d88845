#pragma once
/// Effects: the actions a machine requests from its host. Each input appends effects, and the host
/// drains them in order and performs them (or, in the simulator, schedules them).

#include <muster/core/message.hpp>
#include <muster/core/types.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace muster {

/// Sends a message to a peer. Delivery is not guaranteed; the protocol tolerates loss.
struct send_effect {
    std::string to;
    envelope_ptr message;
};

/// Opens a connection to a peer. The host later calls `on_connected` or `on_connect_failed`.
struct connect_effect {
    std::string peer;
};

/// Closes the connection to a peer, produced when the peer is declared down or has left.
struct disconnect_effect {
    std::string peer;
};

/// Resolves a host name (the DNS discovery poll). The host later calls `on_resolved`.
struct resolve_effect {
    std::string host;
};

/// Asks for a call to `tick` at or after `at`. A later timer replaces an earlier one only if it
/// is earlier; a spurious `tick` is harmless.
struct timer_effect {
    time_point at;
};

/// Starts a worker for `name`, with the handed state when it moved under the resume policy.
struct start_worker_effect {
    std::string name;
    worker_spec spec;
    std::optional<worker_state> state;
};

/// Reason the registry stops a worker.
enum class stop_cause : std::uint8_t {
    handoff,     ///< it moves to another node
    unregister,  ///< the name was removed
    conflict,    ///< another instance won after a netsplit
    shutdown,    ///< this node leaves with nowhere to move the worker
    no_owner,    ///< placement places the name nowhere, as a quorum placement does on the
                 ///< minority side of a split; the state is kept until a node may run it again
};

/// Returns the name of `cause` as logs and reports write it, such as "handoff".
constexpr std::string_view to_string(stop_cause cause) noexcept {
    switch (cause) {
    case stop_cause::handoff: return "handoff";
    case stop_cause::unregister: return "unregister";
    case stop_cause::conflict: return "conflict";
    case stop_cause::shutdown: return "shutdown";
    case stop_cause::no_owner: return "no_owner";
    }
    return "unknown";
}

/// Stops a worker. With `want_state` the host returns the worker's state in `on_worker_stopped`.
/// If the worker has not stopped after `grace`, the host kills it and reports it stopped.
struct stop_worker_effect {
    std::string name;
    stop_cause cause = stop_cause::handoff;
    bool want_state = false;
    duration grace{};
};

/// Gives a running worker the state of a conflicting instance that was stopped (the conflict hook).
struct merge_state_effect {
    std::string name;
    worker_state state;
};

/// Completes an asynchronous call: `register_name` or `unregister`.
struct reply_effect {
    request_id id = 0;
    std::optional<errc> error;
    std::optional<node_id> owner;  ///< where the name runs, when known
};

/// Membership facts for the application.
struct member_joined { node_id member; };
struct member_leaving { node_id member; };
struct member_left { node_id member; };
struct member_failed { node_id member; };

/// This node finished its graceful leave: the host may exit.
struct node_stopped {};

/// Every effect a machine produces.
using effect = std::variant<send_effect, connect_effect, disconnect_effect, resolve_effect,
                            timer_effect, start_worker_effect, stop_worker_effect,
                            merge_state_effect, reply_effect, member_joined, member_leaving,
                            member_left, member_failed, node_stopped>;

}  // namespace muster

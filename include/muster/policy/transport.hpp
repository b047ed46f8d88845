#pragma once
/// The Transport concept: how messages reach other nodes. Users implement it to plug in their
/// own network; the simulator's network and the runtime's TCP transport are models.

#include <muster/core/message.hpp>

#include <concepts>
#include <string>

namespace muster {

/// A transport carries envelopes between nodes by node name.
///
/// Requirements (each call returns at once and never blocks on the network):
/// - `t.send(peer, message)`: queues the message for the peer. It may be lost, delayed,
///   duplicated or reordered; the protocol tolerates all four.
/// - `t.connect(peer)`: opens a connection. The transport later reports the outcome to the
///   node with `on_connected(now, peer)` or `on_connect_failed(now, peer)`.
/// - `t.disconnect(peer)`: closes the connection. Loss of an open connection is reported with
///   `on_connection_lost(now, peer)`.
/// Incoming envelopes are passed to the node with `step(now, envelope)`.
template <class T>
concept transport = requires(T& t, const std::string& peer, envelope_ptr message) {
    t.send(peer, message);
    t.connect(peer);
    t.disconnect(peer);
};

}  // namespace muster

#pragma once
/// The TCP network of the runtime: authenticated connections that carry wire frames, one outgoing
/// link per peer with a bounded queue and reconnect backoff, and `tcp_transport`, the model of
/// the Transport concept that hands a node's network effects to it. Link `muster::auth`.
///
/// Connections are one-way for protocol messages: a node sends only on the connection it opened
/// to a peer (its link) and receives on the connections peers opened to it. Both directions run
/// the handshake from `wire/auth.hpp` first. A link keeps a read pending, so a peer that closes
/// or dies is noticed at once. Every handler runs on one strand; every call must be made on it.

#include <muster/core/log.hpp>
#include <muster/core/message.hpp>
#include <muster/runtime/detail/backoff.hpp>
#include <muster/wire/auth.hpp>
#include <muster/wire/codec.hpp>
#include <muster/wire/frame.hpp>

#include <boost/asio.hpp>
#include <openssl/rand.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace muster::runtime {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

/// The executor every runtime object runs on: a strand of an `io_context`.
using strand_executor = asio::strand<asio::io_context::executor_type>;

/// Settings of the TCP network.
struct network_config {
    std::string self_name;                     ///< this node's name, as in `registry_config::self`
    std::uint16_t default_port = 7001;         ///< port for a peer name without `:port`
    wire::wire_config wire{};                  ///< frame size limit
    duration handshake_timeout = std::chrono::seconds(5);  ///< resolve, connect and handshake must end by then
    duration backoff_min = std::chrono::milliseconds(100);  ///< wait before the second attempt to a peer
    /// Cap of the doubling wait between attempts. The default stays below the default
    /// `registry_config::connect_timeout` (3 s), so a delayed attempt starts before the node
    /// gives up on it.
    duration backoff_max = std::chrono::seconds(2);
    std::size_t queue_messages_max = 65536;    ///< messages waiting for one peer before overflow
    std::size_t queue_bytes_max = 64 * 1024 * 1024;  ///< bytes waiting for one peer before overflow
    std::size_t inbound_max = 1024;            ///< accepted connections open at once; more are closed
    /// Accepted connections from one IP address that may be in their handshake at once; more
    /// are closed. A client without the secret can then hold only this many of `inbound_max`,
    /// and peers at other addresses still get in.
    std::size_t handshaking_per_address_max = 16;
    /// At most one `auth_failed` record per source, and one `decode_failed` or `sender_mismatch`
    /// record per authenticated peer, in each interval.
    duration auth_log_interval = std::chrono::seconds(60);
};

/// Traffic counters of a network since it was built, handshakes included.
struct network_stats {
    std::uint64_t bytes_sent = 0;       ///< bytes written to sockets, length prefixes included
    std::uint64_t frames_sent = 0;      ///< frames written to sockets
    std::uint64_t bytes_received = 0;   ///< bytes read from sockets
    std::uint64_t frames_received = 0;  ///< complete frames read from sockets
};

/// Receiver of the network's reports. The network calls each from its own strand handler, never
/// from inside `send`, `connect` or `disconnect`, so a node never receives a report while it runs.
class network_handler {
public:
    /// A link requested with `connect` finished its handshake.
    virtual void on_link_connected(const std::string& peer) = 0;
    /// A link requested with `connect` failed before its handshake finished.
    virtual void on_link_connect_failed(const std::string& peer) = 0;
    /// An open link closed without a `disconnect`, or its queue overflowed.
    virtual void on_link_lost(const std::string& peer) = 0;
    /// An authenticated peer sent a protocol message; `message.from.name` is that peer.
    virtual void on_message(const envelope& message) = 0;

protected:
    ~network_handler() = default;
};

/// Splits a node name `basename@host:port` into host and port. A name without `@` is read as
/// `host:port`; without `:port` the port is `default_port`. Returns nothing for an empty host or
/// an invalid port.
///
/// NOTE: An IPv6 address must not appear in a name, because its colons read as a port separator.
inline std::optional<std::pair<std::string, std::uint16_t>> parse_peer_address(std::string_view name,
                                                                               std::uint16_t default_port) {
    const auto at = name.rfind('@');
    std::string_view address = at == std::string_view::npos ? name : name.substr(at + 1);
    std::uint16_t port = default_port;
    if (const auto colon = address.rfind(':'); colon != std::string_view::npos) {
        const auto digits = address.substr(colon + 1);
        if (digits.empty() || digits.size() > 5) return std::nullopt;
        unsigned value = 0;
        for (const char c : digits) {
            if (c < '0' || c > '9') return std::nullopt;
            value = value * 10 + static_cast<unsigned>(c - '0');
        }
        if (value == 0 || value > 65535) return std::nullopt;
        port = static_cast<std::uint16_t>(value);
        address = address.substr(0, colon);
    }
    if (address.empty()) return std::nullopt;
    return std::pair{std::string(address), port};
}

/// Authenticated TCP connections to and from peers. See the file comment for the model.
///
/// Lifetime: handlers capture `this`, so destroy the network only when its `io_context` no
/// longer runs handlers (after `run` returned and before it is run again).
template <log_sink Log>
class tcp_network {
public:
    /// Precondition: `validate(config.wire)` found no problem and `config.self_name` is a valid name.
    tcp_network(strand_executor executor, network_config config, wire::shared_secret secret,
                network_handler& handler, Log log)
        : executor_(executor), config_(std::move(config)), secret_(std::move(secret)), handler_(handler),
          log_(std::move(log)), acceptor_(executor), resolver_(executor), random_(random_seed()) {}

    tcp_network(const tcp_network&) = delete;
    tcp_network& operator=(const tcp_network&) = delete;
    ~tcp_network() { close_all(); }

    /// Binds and listens on `endpoint`, then accepts connections. Returns the error if binding fails.
    boost::system::error_code listen(const tcp::endpoint& endpoint) {
        boost::system::error_code error;
        acceptor_.open(endpoint.protocol(), error);
        if (!error) acceptor_.set_option(tcp::acceptor::reuse_address(true), error);
        if (!error) acceptor_.bind(endpoint, error);
        if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
        if (error) return error;
        accept_next();
        return {};
    }

    /// Returns the bound address, once `listen` succeeded.
    tcp::endpoint local_endpoint() const {
        boost::system::error_code error;
        return acceptor_.local_endpoint(error);
    }

    /// Encodes `message` and queues it on the link to `peer`, opening the link if needed. An
    /// overflowing queue closes the link and reports `on_link_lost`.
    void send(const std::string& peer, const envelope& message) {
        if (stopped_) return;
        const auto link = link_to(peer);
        if (!link) return;
        if (link->queued_messages >= config_.queue_messages_max) {
            overflow(link);
            return;
        }
        // Frames are appended to the last queued chunk while it is small, so a handler's many
        // messages to one peer cost a few allocations rather than one per frame.
        if (link->queue.empty() || link->queue.back().bytes.size() >= chunk_size_target)
            link->queue.push_back(outgoing_chunk{take_spare(*link), 0});
        auto& chunk = link->queue.back();
        const std::size_t start = chunk.bytes.size();
        // Broadcasts such as hellos and heartbeats are shared envelopes with an empty `to`, and
        // the wire format requires a recipient name, so the frame names the peer.
        if (const auto error = wire::encode_to(chunk.bytes, message, peer, config_.wire)) {
            log(log_level::error, "encode_failed", {{"peer", peer}, {"kind", std::string(message_kind_name(message.body.index()))},
                                                   {"reason", std::string(wire::to_string(*error))}});
            if (chunk.bytes.empty()) link->queue.pop_back();
            return;
        }
        const std::size_t frame_size = chunk.bytes.size() - start;
        if (link->queued_bytes + frame_size > config_.queue_bytes_max) {
            chunk.bytes.resize(start);
            overflow(link);
            return;
        }
        ++chunk.frames_count;
        ++link->queued_messages;
        link->queued_bytes += frame_size;
        link->close_when_flushed = false;
        // The write starts after the calling handler, so every frame that handler queues for the
        // peer goes out in one gathered write.
        if (link->writing || link->write_posted) return;
        link->write_posted = true;
        asio::post(executor_, [this, link] {
            link->write_posted = false;
            write_next(link);
        });
    }

    /// Opens the link to `peer` if it is not open, and reports `on_link_connected` once it is.
    void connect(const std::string& peer) {
        if (stopped_) return;
        const auto link = link_to(peer);
        if (!link) {
            post_report(report::connect_failed, peer);
            return;
        }
        link->connect_requested = true;
        link->close_when_flushed = false;
        if (link->state == stage::open) post_report(report::connected, peer);
    }

    /// Closes the link to `peer` once its queue is written. Reports nothing.
    void disconnect(const std::string& peer) {
        const auto it = links_.find(peer);
        if (it == links_.end()) return;
        const auto link = it->second;
        link->connect_requested = false;
        if (link->state != stage::open) {
            close(link, closing::requested, log_level::debug, "link_closed", "disconnect requested");
            return;
        }
        link->close_when_flushed = true;
        write_next(link);
    }

    /// Stops accepting, closes every connection at once (queued messages are dropped) and
    /// reports nothing more.
    void close_all() {
        stopped_ = true;
        boost::system::error_code ignored;
        acceptor_.close(ignored);
        const auto links = links_;
        for (const auto& [peer, link] : links) close(link, closing::requested, log_level::debug, "link_closed", "network stopped");
        const auto inbound = inbound_;
        for (const auto& connection : inbound) close(connection, closing::requested, log_level::debug, "connection_closed", "network stopped");
    }

    /// Returns whether no link has a message waiting or being written.
    bool flushed() const {
        for (const auto& [peer, link] : links_)
            if (link->queued_bytes > 0 || link->writing) return false;
        return true;
    }

    /// Returns the traffic counters.
    const network_stats& stats() const { return stats_; }

    /// Number of open links plus accepted connections, for tests and monitoring.
    std::size_t connections_count() const { return links_.size() + inbound_.size(); }

private:
    enum class stage : std::uint8_t { waiting, resolving, connecting, handshaking, open, closed };

    // Upper bound on a buffered handshake frame, prefix included. The largest handshake message,
    // a response with a 255-byte name, is under 400 bytes.
    static constexpr std::size_t handshake_frame_size_max = wire::frame_size_max_lower;
    enum class closing : std::uint8_t { requested, failed, lost };
    enum class report : std::uint8_t { connected, connect_failed, lost };

    // Frames queued for one peer, back to back, and how many there are.
    struct outgoing_chunk {
        std::vector<std::uint8_t> bytes;
        std::size_t frames_count = 0;
    };

    // A chunk takes more frames until it contains this many bytes. A larger frame gets a chunk
    // of its own size.
    static constexpr std::size_t chunk_size_target = 64 * 1024;
    // Emptied chunk buffers a link keeps, so steady traffic reuses memory already touched
    // instead of allocating and faulting in new pages. With the capacity bound of `keep_spare`
    // a link keeps at most 256 KiB of them.
    static constexpr std::size_t spare_chunks_max = 2;

    // One TCP connection, either a link this node opened or a connection a peer opened.
    struct connection {
        connection(strand_executor executor, const wire::wire_config& wire)
            : socket(executor), timer(executor), splitter(wire) {}

        tcp::socket socket;
        asio::steady_timer timer;       // the backoff wait, then the handshake deadline
        wire::frame_splitter splitter;
        std::optional<wire::handshake> handshake;
        bool outbound = false;
        stage state = stage::waiting;
        std::string peer;               // a link's peer, or the authenticated peer of an accepted connection
        std::string remote;             // "address:port", for logs
        std::deque<std::vector<std::uint8_t>> handshake_queue;
        std::deque<outgoing_chunk> queue;
        std::vector<outgoing_chunk> in_flight;
        std::vector<std::vector<std::uint8_t>> spare;  // emptied chunk buffers kept for reuse
        std::size_t queued_messages = 0;  // frames in `queue`
        std::size_t queued_bytes = 0;   // bytes in `queue` and `in_flight`
        bool writing = false;
        bool write_posted = false;      // a `write_next` is queued to run after the current handler
        bool connect_requested = false;
        bool close_when_flushed = false;
        std::array<std::uint8_t, 64 * 1024> buffer{};
    };
    using connection_ptr = std::shared_ptr<connection>;

    struct auth_failures {
        time_point logged_at{};
        std::uint64_t suppressed = 0;
    };

    static std::uint64_t random_seed() {
        std::uint64_t seed = 0;
        if (RAND_bytes(reinterpret_cast<unsigned char*>(&seed), sizeof seed) != 1)
            seed = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
        return seed;
    }

    static time_point now() { return std::chrono::steady_clock::now(); }

    void log(log_level level, std::string_view event, std::vector<std::pair<std::string_view, std::string>> fields) {
        if (!log_.enabled(level)) return;
        log_.write(log_record{level, config_.self_name, event, std::move(fields)});
    }

    void post_report(report kind, std::string peer) {
        asio::post(executor_, [this, kind, peer = std::move(peer)] {
            if (stopped_) return;
            switch (kind) {
            case report::connected: handler_.on_link_connected(peer); break;
            case report::connect_failed: handler_.on_link_connect_failed(peer); break;
            case report::lost: handler_.on_link_lost(peer); break;
            }
        });
    }

    // Returns the link to `peer`, creating it (and starting its first attempt, after the
    // backoff wait if the last attempt failed) when there is none.
    connection_ptr link_to(const std::string& peer) {
        if (const auto it = links_.find(peer); it != links_.end()) return it->second;
        if (peer == config_.self_name || check_name(peer)) return nullptr;
        auto link = std::make_shared<connection>(executor_, config_.wire);
        link->outbound = true;
        link->peer = peer;
        links_.emplace(peer, link);

        const auto waiting = backoff_.find(peer);
        const time_point ready_at = waiting == backoff_.end() ? time_point{} : waiting->second.ready_at;
        if (ready_at <= now()) {
            asio::post(executor_, [this, link] { resolve(link); });
            return link;
        }
        link->timer.expires_at(std::chrono::time_point_cast<std::chrono::steady_clock::duration>(ready_at));
        link->timer.async_wait([this, link](const boost::system::error_code& error) {
            if (!error) resolve(link);
        });
        return link;
    }

    void resolve(const connection_ptr& link) {
        if (link->state != stage::waiting) return;
        const auto address = parse_peer_address(link->peer, config_.default_port);
        if (!address) {
            close(link, closing::failed, log_level::error, "invalid_peer_address",
                  "the peer name has no valid host:port after '@'");
            return;
        }
        link->state = stage::resolving;
        link->remote = address->first + ":" + std::to_string(address->second);
        arm_deadline(link);
        resolver_.async_resolve(address->first, std::to_string(address->second),
                                [this, link](const boost::system::error_code& error, tcp::resolver::results_type results) {
                                    if (link->state != stage::resolving) return;
                                    if (error) {
                                        close(link, closing::failed, log_level::debug, "connect_failed", "resolve failed: " + error.message());
                                        return;
                                    }
                                    link->state = stage::connecting;
                                    asio::async_connect(link->socket, results,
                                                        [this, link](const boost::system::error_code& e, const tcp::endpoint& endpoint) {
                                                            on_link_connected(link, e, endpoint);
                                                        });
                                });
    }

    void on_link_connected(const connection_ptr& link, const boost::system::error_code& error, const tcp::endpoint& endpoint) {
        if (link->state != stage::connecting) return;
        if (error) {
            close(link, closing::failed, log_level::debug, "connect_failed", error.message());
            return;
        }
        link->remote = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
        boost::system::error_code ignored;
        link->socket.set_option(tcp::no_delay(true), ignored);
        start_handshake(link, wire::handshake_role::initiator);
    }

    void accept_next() {
        acceptor_.async_accept([this](const boost::system::error_code& error, tcp::socket socket) {
            if (stopped_) return;
            if (error) {
                log(log_level::error, "accept_failed", {{"reason", error.message()}});
                // The next accept waits a little, so a persistent error such as running out of
                // file descriptors does not spin.
                accept_retry_ = std::make_unique<asio::steady_timer>(executor_, std::chrono::milliseconds(100));
                accept_retry_->async_wait([this](const boost::system::error_code& e) {
                    if (!e && !stopped_) accept_next();
                });
                return;
            }
            on_accepted(std::move(socket));
            accept_next();
        });
    }

    void on_accepted(tcp::socket socket) {
        boost::system::error_code error;
        const auto endpoint = socket.remote_endpoint(error);
        const std::string remote = error ? "unknown" : endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
        const std::string address = remote_address(remote);
        std::size_t handshaking = 0;
        for (const auto& c : inbound_)
            if (c->state == stage::handshaking && remote_address(c->remote) == address) ++handshaking;
        const char* rejection = nullptr;
        if (inbound_.size() >= config_.inbound_max) rejection = "too many accepted connections";
        else if (handshaking >= config_.handshaking_per_address_max) rejection = "too many handshakes from this address";
        if (rejection) {
            // Rate-limited per address like `auth_failed`, because a flood of connections would
            // otherwise write a line for each.
            if (const auto suppressed = log_allowed(rejections_, address))
                log(log_level::warn, "connection_rejected",
                    {{"remote", remote}, {"reason", rejection}, {"suppressed", std::to_string(*suppressed)}});
            socket.close(error);
            return;
        }
        auto accepted = std::make_shared<connection>(executor_, config_.wire);
        accepted->socket = std::move(socket);
        accepted->remote = remote;
        accepted->socket.set_option(tcp::no_delay(true), error);
        inbound_.insert(accepted);
        arm_deadline(accepted);
        start_handshake(accepted, wire::handshake_role::responder);
    }

    void arm_deadline(const connection_ptr& c) {
        c->timer.expires_after(config_.handshake_timeout);
        c->timer.async_wait([this, c](const boost::system::error_code& error) {
            if (error || c->state == stage::open || c->state == stage::closed) return;
            if (c->state == stage::handshaking) {
                auth_failed(c, "the handshake did not finish within handshake_timeout");
                return;
            }
            close(c, closing::failed, log_level::debug, "connect_failed", "connect timed out");
        });
    }

    void start_handshake(const connection_ptr& c, wire::handshake_role role) {
        c->state = stage::handshaking;
        wire::nonce own{};
        if (RAND_bytes(own.data(), static_cast<int>(own.size())) != 1) {
            close(c, closing::failed, log_level::error, "handshake_failed", "RAND_bytes failed to produce a nonce");
            return;
        }
        wire::handshake_config hc{role, config_.self_name, own, std::nullopt};
        if (role == wire::handshake_role::initiator) hc.expected_peer = c->peer;
        auto created = wire::handshake::create(secret_, std::move(hc));
        if (!created) {
            close(c, closing::failed, log_level::error, "handshake_failed",
                  std::string(wire::to_string(created.error())));
            return;
        }
        c->handshake.emplace(std::move(created).value());
        queue_handshake_messages(c);
        read_next(c);
    }

    void queue_handshake_messages(const connection_ptr& c) {
        for (const auto& m : c->handshake->take_messages()) {
            auto frame = wire::encode_auth(m);
            if (frame) c->handshake_queue.push_back(std::move(*frame));
        }
        write_next(c);
    }

    void read_next(const connection_ptr& c) {
        c->socket.async_read_some(asio::buffer(c->buffer), [this, c](const boost::system::error_code& error, std::size_t size) {
            if (c->state == stage::closed) return;
            if (error) {
                on_read_error(c, error);
                return;
            }
            stats_.bytes_received += size;
            c->splitter.feed(std::span<const std::uint8_t>(c->buffer.data(), size));
            if (!take_frames(c)) return;
            // Handshake frames are small, so an unauthenticated peer cannot make the node buffer
            // up to frame_size_max per connection by announcing a large frame.
            if (c->state == stage::handshaking && c->splitter.buffered_size() > handshake_frame_size_max) {
                auth_failed(c, "a handshake frame is larger than 4 KiB");
                return;
            }
            read_next(c);
        });
    }

    void on_read_error(const connection_ptr& c, const boost::system::error_code& error) {
        const std::string reason = error == asio::error::eof ? "closed by the peer" : error.message();
        if (c->state == stage::handshaking) {
            auth_failed(c, "the connection closed during the handshake: " + reason);
            return;
        }
        if (c->splitter.buffered_size() > 0) {
            // The stream ended inside a frame.
            decode_failed(c, wire::decode_error::truncated);
            return;
        }
        if (c->outbound) close(c, closing::lost, log_level::info, "link_lost", reason);
        else close(c, closing::failed, log_level::debug, "connection_closed", reason);
    }

    // Handles every complete frame received. Returns false when the connection closed.
    bool take_frames(const connection_ptr& c) {
        for (;;) {
            auto next = c->splitter.next();
            if (!next) {
                decode_failed(c, next.error());
                return false;
            }
            if (!next->has_value()) return true;
            ++stats_.frames_received;
            const std::vector<std::uint8_t>& payload = **next;
            if (c->state == stage::handshaking) on_handshake_frame(c, payload);
            else on_protocol_frame(c, payload);
            if (c->state == stage::closed) return false;
        }
    }

    void on_handshake_frame(const connection_ptr& c, const std::vector<std::uint8_t>& payload) {
        c->handshake->on_payload(payload);
        queue_handshake_messages(c);
        if (c->state == stage::closed) return;
        switch (c->handshake->status()) {
        case wire::handshake_status::in_progress: return;
        case wire::handshake_status::rejected: {
            std::string reason(wire::to_string(*c->handshake->error()));
            if (const auto d = c->handshake->decode_failure()) reason += ": " + std::string(wire::to_string(*d));
            auth_failed(c, reason);
            return;
        }
        case wire::handshake_status::accepted: on_authenticated(c); return;
        }
    }

    void on_authenticated(const connection_ptr& c) {
        c->state = stage::open;
        c->timer.cancel();
        if (!c->outbound) c->peer = c->handshake->peer_name();
        log(log_level::debug, c->outbound ? "link_open" : "connection_open", {{"peer", c->peer}, {"remote", c->remote}});
        if (c->outbound) {
            backoff_.erase(c->peer);
            if (c->connect_requested) post_report(report::connected, c->peer);
        }
        write_next(c);
    }

    void on_protocol_frame(const connection_ptr& c, const std::vector<std::uint8_t>& payload) {
        auto message = wire::decode(payload);
        if (!message) {
            decode_failed(c, message.error());
            return;
        }
        // Any holder of the secret may claim any name in the handshake, but the name it proved
        // there must be the sender of everything it sends, or one member could speak for another.
        if (message->from.name != c->peer) {
            if (const auto suppressed = log_allowed(peer_errors_, c->peer))
                log(log_level::error, "sender_mismatch", {{"peer", c->peer}, {"remote", c->remote},
                                                          {"from", message->from.name.substr(0, 64)},
                                                          {"suppressed", std::to_string(*suppressed)}});
            close(c, c->outbound ? closing::lost : closing::failed, log_level::debug, "connection_closed", "sender_mismatch");
            return;
        }
        handler_.on_message(*message);
    }

    void decode_failed(const connection_ptr& c, wire::decode_error error) {
        if (c->state == stage::handshaking) {
            auth_failed(c, std::string(wire::to_string(error)));
            return;
        }
        // A peer past the handshake has proven its name with the secret. One that sends bad
        // frames after each reconnection gets one record per `auth_log_interval`.
        if (const auto suppressed = log_allowed(peer_errors_, c->peer))
            log(log_level::error, "decode_failed", {{"peer", c->peer}, {"remote", c->remote},
                                                    {"reason", std::string(wire::to_string(error))},
                                                    {"suppressed", std::to_string(*suppressed)}});
        close(c, c->outbound ? closing::lost : closing::failed, log_level::debug, "connection_closed", "decode_failed");
    }

    // Logs a failed handshake at most once per key and `auth_log_interval`, then closes. The key
    // is the dialed peer for a connection this node opened, else the remote address without its
    // port. A name claimed in a failed handshake is unproven, so it only fills the record's `peer`.
    void auth_failed(const connection_ptr& c, const std::string& reason) {
        const std::string key = c->outbound ? c->peer : remote_address(c->remote);
        std::string peer = key;
        if (!c->outbound && c->handshake && !c->handshake->peer_name().empty()) peer = c->handshake->peer_name().substr(0, 64);
        if (const auto suppressed = log_allowed(auth_failures_, key))
            log(log_level::warn, "auth_failed", {{"peer", peer}, {"remote", c->remote}, {"reason", reason},
                                                 {"suppressed", std::to_string(*suppressed)}});
        close(c, closing::failed, log_level::debug, c->outbound ? "connect_failed" : "connection_closed", "auth_failed");
    }

    static std::string remote_address(const std::string& remote) { return remote.substr(0, remote.rfind(':')); }

    // Returns the number of records left out for `key` since the last one when a record may be
    // written now (at most one per key and `auth_log_interval`), or nothing. The table is cleared
    // when it reaches 4,096 keys, so memory stays bounded when many addresses fail.
    std::optional<std::uint64_t> log_allowed(std::map<std::string, auth_failures, std::less<>>& table, const std::string& key) {
        if (table.size() >= 4096 && !table.contains(key)) table.clear();
        auto& entry = table[key];
        const time_point t = now();
        if (entry.logged_at != time_point{} && t - entry.logged_at < config_.auth_log_interval) {
            ++entry.suppressed;
            return std::nullopt;
        }
        const auto suppressed = entry.suppressed;
        entry.logged_at = t;
        entry.suppressed = 0;
        return suppressed;
    }

    void write_next(const connection_ptr& c) {
        if (c->writing || c->state == stage::closed) return;
        std::vector<asio::const_buffer> buffers;
        if (!c->handshake_queue.empty()) {
            c->in_flight.push_back(outgoing_chunk{std::move(c->handshake_queue.front()), 1});
            c->handshake_queue.pop_front();
        } else if (c->state == stage::open && !c->queue.empty()) {
            // Everything waiting goes out in one gathered write.
            while (!c->queue.empty()) {
                c->in_flight.push_back(std::move(c->queue.front()));
                c->queue.pop_front();
            }
            c->queued_messages = 0;
        } else {
            if (c->state == stage::open && c->close_when_flushed)
                close(c, closing::requested, log_level::debug, "link_closed", "disconnect requested");
            return;
        }
        for (const auto& chunk : c->in_flight) buffers.push_back(asio::buffer(chunk.bytes));
        c->writing = true;
        asio::async_write(c->socket, buffers, [this, c](const boost::system::error_code& error, std::size_t size) {
            c->writing = false;
            stats_.bytes_sent += size;
            if (!error)
                for (const auto& chunk : c->in_flight) stats_.frames_sent += chunk.frames_count;
            if (c->state == stage::closed) return;
            for (auto& chunk : c->in_flight) {
                c->queued_bytes -= std::min(c->queued_bytes, chunk.bytes.size());
                keep_spare(*c, std::move(chunk.bytes));
            }
            c->in_flight.clear();
            if (error) {
                if (c->state == stage::handshaking) auth_failed(c, "write failed: " + error.message());
                else close(c, c->outbound ? closing::lost : closing::failed, log_level::info,
                           c->outbound ? "link_lost" : "connection_closed", "write failed: " + error.message());
                return;
            }
            write_next(c);
        });
    }

    void overflow(const connection_ptr& link) {
        log(log_level::warn, "queue_overflow", {{"peer", link->peer}, {"messages", std::to_string(link->queued_messages)},
                                               {"bytes", std::to_string(link->queued_bytes)}});
        close(link, closing::lost, log_level::warn, "queue_overflow", "the outgoing queue is full");
    }

    static std::vector<std::uint8_t> take_spare(connection& c) {
        if (c.spare.empty()) return {};
        auto bytes = std::move(c.spare.back());
        c.spare.pop_back();
        return bytes;
    }

    // Keeps an emptied buffer for reuse, unless the link has enough or it grew far past a
    // chunk (one large frame), which would hold memory for nothing.
    static void keep_spare(connection& c, std::vector<std::uint8_t> bytes) {
        if (c.spare.size() >= spare_chunks_max || bytes.capacity() > 2 * chunk_size_target) return;
        bytes.clear();
        c.spare.push_back(std::move(bytes));
    }

    void close(const connection_ptr& c, closing cause, log_level level, std::string_view event, const std::string& reason) {
        if (c->state == stage::closed) return;
        const bool was_open = c->state == stage::open;
        c->state = stage::closed;
        boost::system::error_code ignored;
        c->socket.shutdown(tcp::socket::shutdown_both, ignored);
        c->socket.close(ignored);
        c->timer.cancel();
        c->queue.clear();
        c->queued_messages = 0;
        c->queued_bytes = 0;
        log(level, event, {{"peer", c->peer.empty() ? std::string("unknown") : c->peer}, {"remote", c->remote}, {"reason", reason}});

        if (!c->outbound) {
            inbound_.erase(c);
            return;
        }
        if (const auto it = links_.find(c->peer); it != links_.end() && it->second == c) links_.erase(it);
        if (cause == closing::requested || stopped_) return;
        delay_next_attempt(c->peer);
        if (was_open || cause == closing::lost) post_report(report::lost, c->peer);
        else if (c->connect_requested) post_report(report::connect_failed, c->peer);
    }

    void delay_next_attempt(const std::string& peer) {
        auto& b = backoff_[peer];
        b.wait = detail::next_backoff(b.wait, config_.backoff_min, config_.backoff_max);
        b.ready_at = now() + detail::jittered(b.wait, random_);
    }

    strand_executor executor_;
    network_config config_;
    wire::shared_secret secret_;
    network_handler& handler_;
    Log log_;
    tcp::acceptor acceptor_;
    tcp::resolver resolver_;
    std::unique_ptr<asio::steady_timer> accept_retry_;
    std::map<std::string, connection_ptr, std::less<>> links_;
    std::set<connection_ptr> inbound_;
    std::map<std::string, detail::backoff_state, std::less<>> backoff_;
    std::map<std::string, auth_failures, std::less<>> auth_failures_;
    std::map<std::string, auth_failures, std::less<>> rejections_;  // `connection_rejected` records by address
    std::map<std::string, auth_failures, std::less<>> peer_errors_;  // `decode_failed` and `sender_mismatch` by peer
    detail::splitmix random_;
    network_stats stats_;
    bool stopped_ = false;
};

/// The Transport model over `tcp_network`: each call goes straight to the network, which queues
/// and returns at once.
template <log_sink Log>
struct tcp_transport {
    tcp_network<Log>* network = nullptr;

    void send(const std::string& peer, const envelope_ptr& message) { network->send(peer, *message); }
    void connect(const std::string& peer) { network->connect(peer); }
    void disconnect(const std::string& peer) { network->disconnect(peer); }
};

}  // namespace muster::runtime

#pragma once
/// The membership machine: connects to discovered peers, exchanges hellos carrying incarnations,
/// sends heartbeats and declares silent members failed. It reports joins, leaves and failures as
/// events to the registry that owns it. Sans-IO: it only appends effects.

#include <muster/core/config.hpp>
#include <muster/core/detail/flat_index.hpp>
#include <muster/core/hash.hpp>
#include <muster/core/effect.hpp>
#include <muster/core/message.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace muster {

namespace detail {

/// A map ordered by name, for deterministic iteration, with a hash index beside it, so a lookup
/// by name, which every incoming message needs, costs one or two cache misses instead of a walk
/// down the tree.
template <class T>
class indexed_map {
public:
    using map_type = std::map<std::string, T, std::less<>>;
    using iterator = typename map_type::iterator;
    using const_iterator = typename map_type::const_iterator;

    indexed_map() = default;
    // A copy gets its own index; a move keeps the tree nodes, so the index stays valid.
    indexed_map(const indexed_map& other) : map_(other.map_) { reindex(); }
    indexed_map& operator=(const indexed_map& other) {
        if (this != &other) {
            map_ = other.map_;
            reindex();
        }
        return *this;
    }
    indexed_map(indexed_map&&) noexcept = default;
    indexed_map& operator=(indexed_map&&) noexcept = default;
    ~indexed_map() = default;

    iterator begin() { return map_.begin(); }
    iterator end() { return map_.end(); }
    const_iterator begin() const { return map_.begin(); }
    const_iterator end() const { return map_.end(); }
    std::size_t size() const { return map_.size(); }
    bool empty() const { return map_.empty(); }
    const map_type& ordered() const { return map_; }

    iterator find(std::string_view name) {
        const auto* found = index_.find(hash64(name), [&](iterator it) { return it->first == name; });
        return found ? *found : map_.end();
    }
    const_iterator find(std::string_view name) const {
        const auto* found = index_.find(hash64(name), [&](iterator it) { return it->first == name; });
        return found ? const_iterator(*found) : map_.end();
    }
    bool contains(std::string_view name) const { return find(name) != map_.end(); }

    std::pair<iterator, bool> emplace(const std::string& name, T value) {
        auto result = map_.emplace(name, std::move(value));
        // The key lives in the tree node, which never moves, so the index may refer to it.
        if (result.second) index_.insert(hash64(name), result.first);
        return result;
    }
    iterator erase(iterator it) {
        index_.erase(hash64(it->first), [&](iterator stored) { return stored == it; });
        return map_.erase(it);
    }
    void clear() {
        index_.clear();
        map_.clear();
    }

private:
    void reindex() {
        index_.clear();
        for (auto it = map_.begin(); it != map_.end(); ++it) index_.insert(hash64(it->first), it);
    }

    map_type map_;
    flat_index<iterator> index_;
};

}  // namespace detail

/// A change in membership, consumed by the registry in the order produced.
struct membership_event {
    enum class kind : std::uint8_t { joined, leaving, left, failed };
    kind what = kind::joined;
    node_id member;
    bool rejoined = false;  ///< joined: this incarnation had been declared failed here before
};

/// State of one peer in this node's view.
enum class peer_state : std::uint8_t {
    connecting,  ///< a connection was requested; no hello yet
    up,          ///< a member
    leaving,     ///< a member that announced its leave: no new workers, not failed
};

class membership {
public:
    struct peer {
        node_id id;  ///< incarnation 0 until the first hello
        std::uint64_t generation = 0;  ///< the release the peer's last hello announced
        peer_state state = peer_state::connecting;
        time_point last_heard{};
        time_point connect_deadline{};
        time_point last_hello_sent{};
        time_point request_sent{};  ///< when a hello asking for a reply went out, until one arrives
        /// The time from the last hello sent with `reply_requested` to the reply, or zero before
        /// the first reply.
        duration round_trip{};
        /// The sender's incarnation when only a message of it (no connection attempt) added
        /// the peer, else 0.
        std::uint64_t reintroduced = 0;
    };

    explicit membership(const registry_config& config) : config_(config) {}

    /// Proposes discovered node names. Unknown ones are connected, and no member is removed here.
    void on_candidates(time_point now, const std::vector<std::string>& names, std::vector<effect>& out) {
        if (leaving_) return;
        for (const auto& name : names) {
            if (name == config_.self.name || check_name(name)) continue;
            if (peers_.contains(name) || left_.contains(name)) continue;
            peer p;
            p.id.name = name;
            p.connect_deadline = now + config_.connect_timeout;
            peers_.emplace(name, p);
            out.push_back(connect_effect{name});
        }
    }

    void on_connected(time_point now, const std::string& name, std::vector<effect>& out) {
        const auto it = peers_.find(name);
        if (it == peers_.end()) return;
        send_hello(now, it->second, true, out);
    }

    void on_connect_failed(time_point, const std::string& name) {
        const auto it = peers_.find(name);
        if (it != peers_.end() && it->second.state == peer_state::connecting) peers_.erase(it);
    }

    /// Declares a member failed at once when its transport reports a broken connection, because
    /// a closed socket means the process or its link is gone. `incarnation` is the incarnation the
    /// connection belonged to, or 0 when the transport does not know it. A loss reported for an
    /// earlier incarnation than the member's (the old process's connection, reported after the
    /// new process's hello) is stale and changes nothing.
    void on_connection_lost(time_point now, const std::string& name, std::vector<effect>& out,
                            std::uint64_t incarnation = 0) {
        const auto it = peers_.find(name);
        if (it == peers_.end()) return;
        if (it->second.state == peer_state::connecting) {
            peers_.erase(it);
            return;
        }
        if (incarnation != 0 && incarnation < it->second.id.incarnation) return;
        fail(now, it, out);
    }

    /// Handles membership messages and filters the rest: returns true if the registry should
    /// process `e` (its sender is a current member and the message is not a membership message).
    bool on_envelope(time_point now, const envelope& e, std::vector<effect>& out) {
        // A message meant for an earlier life of this node (sent before the sender learned of the
        // restart) must not act on this one.
        if (e.to_incarnation != 0 && e.to_incarnation != config_.self.incarnation) return false;
        if (const auto* h = std::get_if<hello>(&e.body)) {
            on_hello(now, e.from, *h, out);
            return false;
        }
        const auto it = peers_.find(e.from.name);
        const bool member = it != peers_.end() && it->second.state != peer_state::connecting &&
                            it->second.id.incarnation == e.from.incarnation;
        // A member is never a departed identity (`on_hello` refuses those), so the common case
        // skips that search. The last updates a leaving node flushes may arrive after its goodbye
        // on a transport that does not keep the order of messages. They name the nodes that took
        // its workers over, and a replica that dropped them would restart those names as the
        // departed node's orphans. Records carry their versions, so they are applied.
        if (!member && is_left(e.from)) return std::holds_alternative<name_updates>(e.body);
        if (std::holds_alternative<goodbye>(e.body) &&
            (it == peers_.end() || it->second.state == peer_state::connecting)) {
            return false;  // a goodbye from a node that never became a member here changes nothing
        }
        if (!member) {
            // A message from a node that thinks we are connected: after a one-way cut or a failure
            // declared on one side only. A hello asking for a reply restores the session.
            if (it == peers_.end() || it->second.id.incarnation <= e.from.incarnation)
                reintroduce(now, e.from, out);
            return false;
        }
        it->second.last_heard = now;
        if (std::holds_alternative<heartbeat>(e.body)) return false;
        if (std::holds_alternative<leave_notice>(e.body)) {
            if (it->second.state == peer_state::up) {
                it->second.state = peer_state::leaving;
                events_.push_back({membership_event::kind::leaving, it->second.id});
                out.push_back(member_leaving{it->second.id});
            }
            return false;
        }
        if (std::holds_alternative<goodbye>(e.body)) {
            const node_id id = it->second.id;
            peers_.erase(it);
            mark_left(id);
            events_.push_back({membership_event::kind::left, id});
            out.push_back(member_left{id});
            out.push_back(disconnect_effect{id.name});
            return false;
        }
        return true;
    }

    /// Sends heartbeats, declares silent members failed and drops unanswered connection attempts.
    /// Runs every heartbeat interval.
    void on_heartbeat_tick(time_point now, std::vector<effect>& out) {
        for (auto it = peers_.begin(); it != peers_.end();) {
            auto& p = it->second;
            if (p.state == peer_state::connecting) {
                if (now >= p.connect_deadline) {
                    connect_timeouts_.push_back(it->first);
                    it = peers_.erase(it);
                } else {
                    ++it;
                }
                continue;
            }
            if (now - p.last_heard > config_.failure_timeout) {
                auto next = std::next(it);
                fail(now, it, out);
                it = next;
                continue;
            }
            out.push_back(send_effect{p.id.name, heartbeat_envelope()});
            ++it;
        }
    }

    /// Announces this node's leave to every member.
    void leave(time_point, std::vector<effect>& out) {
        leaving_ = true;
        broadcast(leave_notice{}, out);
    }

    /// Sends goodbye to every member and closes every connection: the node is done.
    void finish_leave(std::vector<effect>& out) {
        broadcast(goodbye{}, out);
        for (const auto& [name, p] : peers_) out.push_back(disconnect_effect{name});
        peers_.clear();
    }

    /// Treats an owner that never became a member as failed, so its names can be restarted.
    void presume_dead(const node_id& id) {
        auto& d = dead_[id.name];
        d = std::max(d, id.incarnation);
        ++version_;
    }

    /// Sends `body` to every member (up or leaving) as one shared envelope.
    void broadcast(message body, std::vector<effect>& out) {
        envelope_ptr env;
        for (const auto& [name, p] : peers_) {
            if (p.state == peer_state::connecting) continue;
            if (!env) env = std::make_shared<const envelope>(envelope{config_.self, {}, 0, std::move(body)});
            out.push_back(send_effect{name, env});
        }
    }

    /// Returns whether a node identity is a live member (or this node itself).
    bool is_alive(const node_id& id) const {
        if (id.name == config_.self.name) return id.incarnation == config_.self.incarnation;
        const auto it = peers_.find(id.name);
        return it != peers_.end() && it->second.state != peer_state::connecting &&
               it->second.id.incarnation == id.incarnation;
    }

    /// Returns whether a node identity is known to be gone: failed, left, or replaced by a later
    /// incarnation. An identity never seen is neither alive nor dead.
    bool is_dead(const node_id& id) const {
        if (id.name == config_.self.name) return id.incarnation < config_.self.incarnation;
        const auto it = peers_.find(id.name);
        if (it != peers_.end() && it->second.state != peer_state::connecting &&
            it->second.id.incarnation > id.incarnation)
            return true;
        if (is_left(id)) return true;
        const auto d = dead_.find(id.name);
        return d != dead_.end() && d->second >= id.incarnation;
    }

    bool is_left(const node_id& id) const {
        const auto l = left_.find(id.name);
        return l != left_.end() && l->second >= id.incarnation;
    }

    const std::map<std::string, peer, std::less<>>& peers() const { return peers_.ordered(); }

    /// Returns whether a connection attempt is still open, so the view may be missing members.
    /// A peer added only because a message of an incarnation declared failed here arrived late
    /// does not count: it is most likely gone, and waiting for it would hold up its failover.
    bool connecting() const {
        for (const auto& [name, p] : peers_)
            if (p.state == peer_state::connecting && !(p.reintroduced != 0 && is_dead({name, p.reintroduced})))
                return true;
        return false;
    }
    bool leaving() const { return leaving_; }

    /// Returns the longest round trip measured to a current member: the time from a hello that
    /// requested a reply until the reply. Zero before any reply. The hello goes out once this
    /// node's connection is up. On a transport where the reply travels over the peer's own
    /// connection (the TCP runtime), the time that connection takes to open, reconnect backoff
    /// included, is part of the measure.
    /// NOTE: a measure is taken once per session and kept when the peer restarts. One that a
    /// slow reconnection inflated stays until the member leaves or is declared failed, and the
    /// registry caps its use at one heartbeat interval.
    duration round_trip_max() const {
        duration longest{};
        for (const auto& [name, p] : peers_)
            if (p.state != peer_state::connecting) longest = std::max(longest, p.round_trip);
        return longest;
    }

    /// Takes the events produced since the last call.
    std::vector<membership_event> take_events() {
        version_ += events_.size();
        return std::exchange(events_, {});
    }

    /// Takes the peers whose connection attempt got no outcome within `connect_timeout` since the
    /// last call. A transport that never reports `on_connected` shows up here.
    std::vector<std::string> take_connect_timeouts() { return std::exchange(connect_timeouts_, {}); }

    /// Returns whether any peer has ever been declared failed here (a crash or a partition).
    bool has_failed_members() const { return !dead_.empty(); }

    /// Grows with every membership change, so views built from members can tell they are stale.
    std::uint64_t version() const { return version_ + events_.size(); }

private:
    using peer_iterator = detail::indexed_map<peer>::iterator;

    void on_hello(time_point now, const node_id& from, const hello& h, std::vector<effect>& out) {
        if (h.version != protocol_version) return;
        if (from.name == config_.self.name || check_name(from.name)) return;
        if (is_left(from)) return;
        // A leaving node still accepts members that reach it: it sends them heartbeats, so they
        // do not declare it failed and restart the workers it is still handing off.
        auto it = peers_.find(from.name);
        if (it != peers_.end() && it->second.state != peer_state::connecting) {
            if (it->second.id.incarnation > from.incarnation) return;  // a stale hello
            if (it->second.id.incarnation < from.incarnation) {
                // The peer restarted: its previous incarnation is gone for good.
                const node_id old = it->second.id;
                presume_dead(old);
                events_.push_back({membership_event::kind::failed, old});
                out.push_back(member_failed{old});
                it->second.state = peer_state::connecting;
                // The round trip measured to the earlier incarnation stays: it measured the path to
                // that address, and the new incarnation sends no reply to measure until this
                // node requests one.
            }
        }
        if (it == peers_.end()) it = peers_.emplace(from.name, peer{}).first;
        auto& p = it->second;
        p.last_heard = now;
        // Only a reply leaves `reply_requested` unset, so this hello is the reply to the last
        // request.
        if (!h.reply_requested && p.request_sent != time_point{}) {
            p.round_trip = now - p.request_sent;
            p.request_sent = time_point{};
        }
        if (p.generation != h.generation) {
            // A node keeps its generation for its whole incarnation, so this is a new incarnation
            // or the first hello. Placement views must be rebuilt with the new value.
            p.generation = h.generation;
            ++version_;
        }
        const auto d = dead_.find(from.name);
        const bool rejoined = d != dead_.end() && d->second >= from.incarnation;
        if (rejoined) {
            // Declared failed earlier (a partition, a pause) and now back: accept it again.
            d->second = from.incarnation - 1;
        }
        if (p.state == peer_state::connecting) {
            p.id = from;
            p.state = h.leaving ? peer_state::leaving : peer_state::up;
            events_.push_back({membership_event::kind::joined, from, rejoined});
            out.push_back(member_joined{from});
            if (h.leaving) {
                events_.push_back({membership_event::kind::leaving, from});
                out.push_back(member_leaving{from});
            }
        } else if (h.leaving && p.state == peer_state::up) {
            p.state = peer_state::leaving;
            events_.push_back({membership_event::kind::leaving, from});
            out.push_back(member_leaving{from});
        }
        if (h.reply_requested) send_hello(now, p, false, out);
        // Connections are transitive: every member of a member becomes a candidate.
        on_candidates(now, h.members, out);
    }

    // A leaving node restores sessions too: a member that still counts it as one and never
    // hears from it would declare it failed and restart the workers it is still handing off.
    void reintroduce(time_point now, const node_id& from, std::vector<effect>& out) {
        if (from.name == config_.self.name || check_name(from.name)) return;
        auto it = peers_.find(from.name);
        if (it == peers_.end()) {
            peer p;
            p.id.name = from.name;
            p.connect_deadline = now + config_.connect_timeout;
            p.reintroduced = from.incarnation;
            it = peers_.emplace(from.name, p).first;
        }
        auto& p = it->second;
        if (now - p.last_hello_sent < config_.heartbeat_interval && p.last_hello_sent != time_point{}) return;
        send_hello(now, p, true, out);
    }

    void send_hello(time_point now, peer& p, bool reply_requested, std::vector<effect>& out) {
        p.last_hello_sent = now;
        if (reply_requested) p.request_sent = now;
        out.push_back(send_effect{p.id.name, hello_envelope(reply_requested)});
    }

    void fail(time_point, peer_iterator it, std::vector<effect>& out) {
        const node_id id = it->second.id;
        peers_.erase(it);
        presume_dead(id);
        events_.push_back({membership_event::kind::failed, id});
        out.push_back(member_failed{id});
        out.push_back(disconnect_effect{id.name});
    }

    void mark_left(const node_id& id) {
        auto& l = left_[id.name];
        l = std::max(l, id.incarnation);
    }

    envelope_ptr hello_envelope(bool reply_requested) const {
        hello h;
        h.leaving = leaving_;
        h.reply_requested = reply_requested;
        h.generation = config_.generation;
        for (const auto& [name, p] : peers_)
            if (p.state != peer_state::connecting) h.members.push_back(name);
        return std::make_shared<const envelope>(envelope{config_.self, {}, 0, h});
    }

    const envelope_ptr& heartbeat_envelope() {
        if (!heartbeat_) heartbeat_ = std::make_shared<const envelope>(envelope{config_.self, {}, 0, heartbeat{}});
        return heartbeat_;
    }

    registry_config config_;  // a copy: the owning registry may move
    detail::indexed_map<peer> peers_;
    std::map<std::string, std::uint64_t, std::less<>> dead_;  // highest failed incarnation per name
    std::map<std::string, std::uint64_t, std::less<>> left_;  // highest departed incarnation per name
    std::vector<membership_event> events_;
    std::vector<std::string> connect_timeouts_;
    envelope_ptr heartbeat_;
    std::uint64_t version_ = 0;
    bool leaving_ = false;
};

}  // namespace muster

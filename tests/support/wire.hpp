#pragma once
// A deterministic in-memory cluster for registry tests. It contains a few registry machines,
// delivers their messages in FIFO order after a fixed delay, completes connections and worker
// stops, fires timers, and records every effect with the node and time that produced it.

#include <muster/core/registry.hpp>
#include <muster/policy/discovery/static_list.hpp>
#include <muster/policy/handoff/ignore.hpp>
#include <muster/policy/handoff/restart.hpp>
#include <muster/policy/handoff/resume.hpp>
#include <muster/policy/placement/hash_ring.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace muster::test {

using namespace std::chrono_literals;

/// Start of simulated time. It is far from zero because zero means "never" in a few machine fields.
inline constexpr time_point epoch = time_point{} + std::chrono::hours(1);

/// One effect with the node that produced it and the simulated time it was drained.
struct traced_effect {
    time_point at;
    std::string node;
    effect value;
};

/// Renders an effect as one line of text, for traces and failure messages.
inline std::string describe(const effect& e) {
    std::ostringstream out;
    std::visit(
        [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, send_effect>) {
                out << "send " << message_kind_name(v.message->body.index()) << " to " << v.to;
                if (const auto* u = std::get_if<name_updates>(&v.message->body)) {
                    for (const auto& r : u->entries)
                        out << " [" << r.name << " " << r.owner.name << "#" << r.owner.incarnation << " v"
                            << r.version << (r.removed ? " removed" : "") << "]";
                }
            } else if constexpr (std::is_same_v<T, connect_effect>) {
                out << "connect " << v.peer;
            } else if constexpr (std::is_same_v<T, disconnect_effect>) {
                out << "disconnect " << v.peer;
            } else if constexpr (std::is_same_v<T, resolve_effect>) {
                out << "resolve " << v.host;
            } else if constexpr (std::is_same_v<T, timer_effect>) {
                out << "timer " << (v.at - epoch).count();
            } else if constexpr (std::is_same_v<T, start_worker_effect>) {
                out << "start_worker " << v.name << " state=" << v.state.value_or("<none>");
            } else if constexpr (std::is_same_v<T, stop_worker_effect>) {
                out << "stop_worker " << v.name << " cause=" << static_cast<int>(v.cause)
                    << " want_state=" << v.want_state;
            } else if constexpr (std::is_same_v<T, merge_state_effect>) {
                out << "merge_state " << v.name << " state=" << v.state;
            } else if constexpr (std::is_same_v<T, reply_effect>) {
                out << "reply " << v.id << " error=" << (v.error ? to_string(*v.error) : "none")
                    << " owner=" << (v.owner ? v.owner->name : "<none>");
            } else if constexpr (std::is_same_v<T, member_joined>) {
                out << "member_joined " << v.member.name << "#" << v.member.incarnation;
            } else if constexpr (std::is_same_v<T, member_leaving>) {
                out << "member_leaving " << v.member.name << "#" << v.member.incarnation;
            } else if constexpr (std::is_same_v<T, member_left>) {
                out << "member_left " << v.member.name << "#" << v.member.incarnation;
            } else if constexpr (std::is_same_v<T, member_failed>) {
                out << "member_failed " << v.member.name << "#" << v.member.incarnation;
            } else if constexpr (std::is_same_v<T, node_stopped>) {
                out << "node_stopped";
            }
        },
        e);
    return out.str();
}

/// The cluster. Node names are given at construction; each node's static list names every node.
/// Inputs a test gives a machine directly (`register_name`, `leave`) are collected at the start of
/// the next `run_until`, so a test calls the machine and then runs the wire.
template <class Handoff>
class basic_wire {
public:
    using machine = registry<static_list, hash_ring, Handoff>;

    /// Builds unstarted nodes named `names`; every message takes `delay` to arrive.
    explicit basic_wire(std::vector<std::string> names, duration delay = duration::zero())
        : names_(std::move(names)), delay_(delay) {
        for (const auto& name : names_) slots_.push_back(make_slot(name, 1));
    }

    /// Returns the configuration every node gets, apart from its identity.
    static registry_config config_for(const std::string& name, std::uint64_t incarnation) {
        registry_config config;
        config.self = node_id{name, incarnation};
        config.seed = 7;
        return config;
    }

    time_point now() const { return now_; }
    machine& node(std::string_view name) { return *slot_of(name).instance; }
    const std::vector<traced_effect>& history() const { return history_; }

    /// Starts one node at the current time.
    void start(std::string_view name) { node(name).start(now_); }

    /// Starts every node at the current time, in construction order.
    void start_all() {
        for (const auto& name : names_) start(name);
    }

    /// Processes every event due up to `until` (inclusive), then sets the clock to `until`.
    void run_until(time_point until) {
        std::size_t events_count = 0;
        for (;;) {
            collect_all();
            if (queue_.empty() || queue_.begin()->first.first > until) break;
            if (++events_count > 1'000'000) throw std::runtime_error("wire: more than a million events in one run");
            const event ev = std::move(queue_.begin()->second);
            queue_.erase(queue_.begin());
            now_ = std::max(now_, ev.at);
            dispatch(ev);
            check_invariants(ev.node);
        }
        now_ = std::max(now_, until);
    }

    void run_for(duration span) { run_until(now_ + span); }

    /// Crashes a node: it stops receiving messages, connections and timers, and its workers are
    /// gone. Its messages still in flight are dropped.
    void crash(std::string_view name) {
        collect_all();
        auto& s = slot_of(name);
        s.down = true;
        s.workers.clear();
    }

    /// Replaces a node by a new process with the same name and the next incarnation, and starts it.
    void restart(std::string_view name) {
        collect_all();
        auto& s = slot_of(name);
        s = make_slot(s.name, s.incarnation + 1);
        s.instance->start(now_);
    }

    /// Splits the network: nodes in `side` reach only each other, the rest reach only the rest.
    /// Messages already in flight across the cut are dropped when they arrive.
    void partition(const std::vector<std::string>& side) {
        collect_all();
        for (auto& s : slots_) s.side = std::find(side.begin(), side.end(), s.name) != side.end() ? 1 : 0;
    }

    /// Joins the network again after `partition`.
    void heal() {
        collect_all();
        for (auto& s : slots_) s.side = 0;
    }

    /// Sets whether the wire reports a node's stopped workers by itself (the default) or leaves
    /// each stop request for the test to complete with `answer_stop`.
    void set_answer_stops(std::string_view name, bool answer) { slot_of(name).answer_stops = answer; }

    /// Completes a stop request the wire held back: the worker returns `state` (if the stop requested it).
    void answer_stop(std::string_view node_name, const std::string& name, std::optional<worker_state> state) {
        collect_all();
        node(node_name).on_worker_stopped(now_, name, std::move(state));
    }

    /// State of the workers a node runs, by name; a test may change a worker's state here.
    std::map<std::string, worker_state>& workers(std::string_view name) { return slot_of(name).workers; }

    /// Nodes that are up and run a worker for `name`.
    std::vector<std::string> running(std::string_view name) const {
        std::vector<std::string> out;
        for (const auto& s : slots_)
            if (!s.down && s.workers.contains(std::string(name))) out.push_back(s.name);
        return out;
    }

    /// Effects of type `T` produced by `node`, oldest first.
    template <class T>
    std::vector<T> effects_of(std::string_view node) const {
        std::vector<T> out;
        for (const auto& t : history_)
            if (t.node == node)
                if (const auto* v = std::get_if<T>(&t.value)) out.push_back(*v);
        return out;
    }

    /// Position in `history()` of the first effect of type `T` by `node` that satisfies `pred`.
    template <class T, class Pred>
    std::optional<std::size_t> first_index(std::string_view node, Pred pred) const {
        for (std::size_t i = 0; i < history_.size(); ++i) {
            if (history_[i].node != node) continue;
            if (const auto* v = std::get_if<T>(&history_[i].value); v && pred(*v)) return i;
        }
        return std::nullopt;
    }

    /// Returns the reply a node produced for request `id`, if any.
    std::optional<reply_effect> reply(std::string_view node, request_id id) const {
        for (const auto& r : effects_of<reply_effect>(node))
            if (r.id == id) return r;
        return std::nullopt;
    }

    /// Invariant violations the machines reported after an input, with node and time.
    const std::vector<std::string>& violations() const { return violations_; }

    /// Renders every effect as text, one line each, with time, node and content.
    std::string trace() const {
        std::string out;
        for (const auto& t : history_) {
            out += std::to_string((t.at - epoch).count()) + " " + t.node + " " + describe(t.value) + "\n";
        }
        return out;
    }

private:
    enum class kind : std::uint8_t { deliver, connected, tick, worker_stopped };

    struct event {
        time_point at;
        std::string node;
        kind what = kind::deliver;
        envelope_ptr message;
        std::string peer;
        std::string name;
        std::optional<worker_state> state;
    };

    struct slot {
        std::string name;
        std::uint64_t incarnation = 1;
        std::unique_ptr<machine> instance;
        bool down = false;
        bool answer_stops = true;
        int side = 0;  // nodes on different sides of a partition cannot reach each other
        std::optional<time_point> timer_at;
        std::map<std::string, worker_state> workers;
    };

    slot make_slot(const std::string& name, std::uint64_t incarnation) const {
        slot s;
        s.name = name;
        s.incarnation = incarnation;
        s.instance = std::make_unique<machine>(config_for(name, incarnation), static_list{names_}, hash_ring{},
                                              Handoff{});
        return s;
    }

    slot& slot_of(std::string_view name) {
        for (auto& s : slots_)
            if (s.name == name) return s;
        throw std::out_of_range("wire: no node named " + std::string(name));
    }

    bool reachable(const slot& from, std::string_view to) {
        const slot* target = find_up(to);
        return target != nullptr && target->side == from.side;
    }

    slot* find_up(std::string_view name) {
        for (auto& s : slots_)
            if (s.name == name) return s.down ? nullptr : &s;
        return nullptr;
    }

    void check_invariants(const std::string& name) {
        const slot* s = find_up(name);
        if (s == nullptr) return;
        if (const auto violation = s->instance->check_invariants())
            violations_.push_back(std::to_string((now_ - epoch).count()) + " " + name + ": " + *violation);
    }

    void schedule(time_point at, event ev) {
        ev.at = at;
        queue_.emplace(std::pair{at, next_seq_++}, std::move(ev));
    }

    void collect_all() {
        for (auto& s : slots_) {
            if (s.down) continue;
            for (auto& e : s.instance->drain_effects()) perform(s, std::move(e));
        }
    }

    void perform(slot& s, effect e) {
        history_.push_back(traced_effect{now_, s.name, e});
        if (auto* send = std::get_if<send_effect>(&e)) {
            schedule(now_ + delay_, event{{}, send->to, kind::deliver, send->message, {}, {}, {}});
        } else if (auto* connect = std::get_if<connect_effect>(&e)) {
            schedule(now_ + delay_, event{{}, s.name, kind::connected, nullptr, connect->peer, {}, {}});
        } else if (auto* timer = std::get_if<timer_effect>(&e)) {
            if (!s.timer_at || timer->at < *s.timer_at) {
                s.timer_at = timer->at;
                schedule(timer->at, event{{}, s.name, kind::tick, nullptr, {}, {}, {}});
            }
        } else if (auto* start = std::get_if<start_worker_effect>(&e)) {
            s.workers[start->name] = start->state.value_or("fresh " + start->name + " on " + s.name);
        } else if (auto* stop = std::get_if<stop_worker_effect>(&e)) {
            std::optional<worker_state> state;
            if (const auto it = s.workers.find(stop->name); it != s.workers.end()) {
                if (stop->want_state) state = it->second;
                s.workers.erase(it);
            }
            if (s.answer_stops)
                schedule(now_, event{{}, s.name, kind::worker_stopped, nullptr, {}, stop->name, std::move(state)});
        }
    }

    void dispatch(const event& ev) {
        slot* s = find_up(ev.node);
        if (s == nullptr) return;
        switch (ev.what) {
        case kind::deliver:
            if (!reachable(*s, ev.message->from.name)) return;
            s->instance->step(now_, *ev.message);
            break;
        case kind::connected:
            if (reachable(*s, ev.peer)) s->instance->on_connected(now_, ev.peer);
            else s->instance->on_connect_failed(now_, ev.peer);
            break;
        case kind::tick:
            if (s->timer_at != ev.at) return;
            s->timer_at.reset();
            s->instance->tick(now_);
            break;
        case kind::worker_stopped:
            s->instance->on_worker_stopped(now_, ev.name, ev.state);
            break;
        }
    }

    std::vector<std::string> names_;
    duration delay_;
    std::vector<slot> slots_;
    std::map<std::pair<time_point, std::uint64_t>, event> queue_;
    std::uint64_t next_seq_ = 0;
    time_point now_ = epoch;
    std::vector<traced_effect> history_;
    std::vector<std::string> violations_;
};

/// The cluster the core tests use: static peers, the hash ring, and handoff with state.
using wire = basic_wire<resume>;

}  // namespace muster::test

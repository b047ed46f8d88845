// Two muster nodes in one process, hosted by hand: an in-memory transport, a clock the host
// advances, and a loop that performs every effect. It registers a worker, moves it with its state
// by a graceful leave, and exits 0 when the worker ends up on the remaining node.

#include <muster/node.hpp>
#include <muster/policy/discovery/static_list.hpp>
#include <muster/policy/handoff/resume.hpp>
#include <muster/policy/placement/hash_ring.hpp>

#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace std::chrono_literals;

// Messages and connection outcomes wait here until the host loop delivers them.
struct mailbox {
    std::deque<std::pair<std::string, muster::envelope_ptr>> messages;  // (to, message)
    std::deque<std::pair<std::string, std::string>> connects;          // (from, peer)
};

// The Transport concept: send, connect and disconnect return at once. The host reports each
// connect outcome back with on_connected or on_connect_failed; without that no cluster forms.
struct memory_transport {
    mailbox* box;
    std::string self;
    void send(const std::string& peer, muster::envelope_ptr message) { box->messages.emplace_back(peer, std::move(message)); }
    void connect(const std::string& peer) { box->connects.emplace_back(self, peer); }
    void disconnect(const std::string&) {}
};

using node_type = muster::node<muster::static_list, memory_transport, muster::hash_ring, muster::resume>;

struct host {
    std::unique_ptr<node_type> node;
    std::optional<muster::time_point> timer;
    std::map<std::string, std::string> workers;  // worker name -> its state
    bool stopped = false;
};

int main() {
    mailbox box;
    const std::vector<std::string> names = {"app@a", "app@b"};
    std::map<std::string, host> hosts;
    for (const auto& name : names) {
        muster::registry_config config;
        config.self = {name, 1};
        auto made = node_type::create(config, muster::static_list(names), memory_transport{&box, name},
                                      muster::hash_ring{}, muster::resume{});
        if (!made) {
            std::fprintf(stderr, "invalid configuration: %s\n", std::string(muster::to_string(made.error())).c_str());
            return 2;
        }
        hosts[name].node = std::make_unique<node_type>(std::move(made).value());
    }

    muster::time_point now{};
    // Performs the effects one node produced. Inputs given here queue new effects for the next drain.
    auto drain = [&](host& h) {
        for (auto& effect : h.node->drain_effects()) {
            if (auto* t = std::get_if<muster::timer_effect>(&effect)) {
                if (!h.timer || t->at < *h.timer) h.timer = t->at;
            } else if (auto* s = std::get_if<muster::start_worker_effect>(&effect)) {
                h.workers[s->name] = s->state.value_or("fresh");
            } else if (auto* s = std::get_if<muster::stop_worker_effect>(&effect)) {
                const std::string state = h.workers[s->name];
                h.workers.erase(s->name);
                h.node->on_worker_stopped(now, s->name, s->want_state ? std::optional(state) : std::nullopt);
            } else if (auto* m = std::get_if<muster::merge_state_effect>(&effect)) {
                h.workers[m->name] += "+" + m->state;  // a conflict's losing state, under resume
            } else if (auto* r = std::get_if<muster::reply_effect>(&effect)) {
                std::printf("request %llu: %s\n", static_cast<unsigned long long>(r->id),
                            r->error ? std::string(muster::to_string(*r->error)).c_str() : "ok");
            } else if (std::holds_alternative<muster::node_stopped>(effect)) {
                h.stopped = true;
            }
        }
    };

    // Delivers everything queued, then moves the clock to the next timer, until `until`.
    auto run_until = [&](muster::time_point until) {
        for (;;) {
            if (!box.connects.empty()) {
                auto [from, peer] = box.connects.front();
                box.connects.pop_front();
                const bool up = hosts.contains(peer) && !hosts[peer].stopped;
                if (up) hosts[from].node->on_connected(now, peer);
                else hosts[from].node->on_connect_failed(now, peer);
                drain(hosts[from]);
                continue;
            }
            if (!box.messages.empty()) {
                auto [to, message] = box.messages.front();
                box.messages.pop_front();
                if (hosts.contains(to) && !hosts[to].stopped) {
                    hosts[to].node->step(now, *message);
                    drain(hosts[to]);
                }
                continue;
            }
            std::optional<muster::time_point> next;
            for (auto& [name, h] : hosts)
                if (!h.stopped && h.timer && (!next || *h.timer < *next)) next = h.timer;
            if (!next || *next > until) {
                now = until;
                return;
            }
            now = *next;
            for (auto& [name, h] : hosts) {
                if (h.stopped || !h.timer || *h.timer > now) continue;
                h.timer.reset();
                h.node->tick(now);
                drain(h);
            }
        }
    };

    for (auto& [name, h] : hosts) {
        h.node->start(now);
        drain(h);
    }
    run_until(now + 2s);

    auto& a = hosts["app@a"];
    const auto id = a.node->register_name(now, "billing-sweeper", {"sweeper", muster::restart_policy::permanent});
    if (!id) return 1;
    drain(a);
    run_until(now + 1s);

    const auto owner = a.node->whereis("billing-sweeper");
    if (!owner) return 1;
    std::printf("billing-sweeper runs on %s\n", owner->name.c_str());
    hosts[owner->name].workers["billing-sweeper"] = "count=42";

    // The owner leaves gracefully: the worker moves to the other node with its state.
    hosts[owner->name].node->leave(now);
    drain(hosts[owner->name]);
    run_until(now + 30s);

    const std::string survivor = owner->name == "app@a" ? "app@b" : "app@a";
    const auto where = hosts[survivor].node->whereis("billing-sweeper");
    const auto& state = hosts[survivor].workers["billing-sweeper"];
    std::printf("after the leave it runs on %s with state %s\n", where ? where->name.c_str() : "nothing", state.c_str());
    return where && where->name == survivor && state == "count=42" ? 0 : 1;
}

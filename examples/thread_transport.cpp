// A user-written transport: two nodes, each on its own thread, exchange envelopes through
// in-process queues. The Transport concept needs only send, connect and disconnect; the host
// loop reports connects back and delivers messages with step. Exits 0 once both nodes agree
// where the registered name runs.

#include <muster/node.hpp>
#include <muster/policy/discovery/static_list.hpp>
#include <muster/policy/handoff/restart.hpp>
#include <muster/policy/placement/hash_ring.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <variant>

using namespace std::chrono_literals;

// One node's incoming queue: a message from a peer, or the outcome of its own connect.
struct inbox {
    struct connected { std::string peer; };
    std::mutex mutex;
    std::condition_variable ready;
    std::deque<std::variant<muster::envelope_ptr, connected>> items;

    void push(std::variant<muster::envelope_ptr, connected> item) {
        { std::lock_guard lock(mutex); items.push_back(std::move(item)); }
        ready.notify_one();
    }
};

// The transport: envelopes are shared and immutable, so a pointer can cross threads as is.
struct thread_transport {
    std::map<std::string, inbox>* inboxes;
    std::string self;
    void send(const std::string& peer, muster::envelope_ptr m) { inboxes->at(peer).push(std::move(m)); }
    void connect(const std::string& peer) { inboxes->at(self).push(inbox::connected{peer}); }
    void disconnect(const std::string&) {}
};

using node_type = muster::node<muster::static_list, thread_transport, muster::hash_ring, muster::restart>;
const std::vector<std::string> names = {"app@a", "app@b"};

// The host loop of one node: waits for input or its next timer, performs effects, and stops when
// `stop` is set. `agreed` turns true once this node finds "greeter" registered.
void run_node(const std::string& self, std::map<std::string, inbox>& inboxes, std::atomic<bool>& stop, std::atomic<bool>& agreed) {
    auto clock = [] { return muster::time_point(std::chrono::steady_clock::now().time_since_epoch()); };
    muster::registry_config config;
    config.self = {self, 1};
    node_type node = node_type::create(config, muster::static_list(names), thread_transport{&inboxes, self},
                                       muster::hash_ring{}, muster::restart{}).value();
    muster::time_point timer = muster::time_point::max();  // the earliest timer requested
    bool want_register = self == "app@a";  // cleared by an ok reply, set again by an error
    node.start(clock());
    auto& in = inboxes.at(self);
    while (!stop) {
        for (auto& e : node.drain_effects()) {  // workers and membership events are ignored here
            if (auto* t = std::get_if<muster::timer_effect>(&e); t && t->at < timer) timer = t->at;
            if (auto* r = std::get_if<muster::reply_effect>(&e); r && r->error) want_register = true;
        }
        std::unique_lock lock(in.mutex);
        in.ready.wait_for(lock, 20ms, [&] { return !in.items.empty(); });
        auto items = std::exchange(in.items, {});
        lock.unlock();
        for (auto& item : items) {
            if (auto* m = std::get_if<muster::envelope_ptr>(&item)) node.step(clock(), **m);
            else node.on_connected(clock(), std::get<inbox::connected>(item).peer);
        }
        if (clock() >= timer) {
            timer = muster::time_point::max();
            node.tick(clock());
        }
        if (want_register) want_register = !node.register_name(clock(), "greeter", {"greeter"});
        agreed = node.whereis("greeter").has_value();
    }
}

int main() {
    std::map<std::string, inbox> inboxes;
    for (const auto& n : names) inboxes[n];
    std::atomic<bool> stop = false, a_agreed = false, b_agreed = false;
    std::thread a(run_node, names[0], std::ref(inboxes), std::ref(stop), std::ref(a_agreed));
    std::thread b(run_node, names[1], std::ref(inboxes), std::ref(stop), std::ref(b_agreed));
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!(a_agreed && b_agreed) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
    const bool ok = a_agreed && b_agreed;
    stop = true;
    a.join();
    b.join();
    std::printf("%s\n", ok ? "both nodes see greeter registered" : "timed out before both nodes saw greeter");
    return ok ? 0 : 1;
}

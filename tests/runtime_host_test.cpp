#include <muster/runtime/host.hpp>

#include <muster/policy/discovery/static_list.hpp>
#include <muster/policy/handoff/resume.hpp>
#include <muster/policy/placement/hash_ring.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace runtime = muster::runtime;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

using host_type = runtime::host<muster::static_list, muster::hash_ring, muster::resume, muster::null_log>;

// Workers whose state is a string the test sets; records every call.
struct recording_workers final : runtime::worker_handler {
    std::map<std::string, std::string> running;
    std::vector<muster::reply_effect> replies;
    bool stopped = false;

    void start_worker(const muster::start_worker_effect& e) override { running[e.name] = e.state.value_or("fresh"); }
    std::optional<muster::worker_state> stop_worker(const muster::stop_worker_effect& e) override {
        auto state = running[e.name];
        running.erase(e.name);
        return state;
    }
    void merge_state(const muster::merge_state_effect&) override {}
    void on_reply(const muster::reply_effect& r) override { replies.push_back(r); }
    void on_stopped() override { stopped = true; }
};

runtime::host_config config_on(std::uint16_t port) {
    runtime::host_config c;
    c.registry.self = {"app@127.0.0.1:" + std::to_string(port), 1};
    c.listen = tcp::endpoint(asio::ip::make_address("127.0.0.1"), port);
    return c;
}

muster::wire::shared_secret secret() { return muster::wire::shared_secret::make("0123456789abcdef").value(); }

std::uint16_t free_port(asio::io_context& io) {
    tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return probe.local_endpoint().port();
}

// Runs the io_context until `done()` is true or 5 s pass; returns `done()`.
bool run_until(asio::io_context& io, const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        io.restart();
        io.run_for(10ms);
    }
    return done();
}

}  // namespace

TEST_CASE("host rejects invalid configuration", "[runtime]") {
    asio::io_context io;
    recording_workers workers;
    auto config = config_on(1);
    config.registry.self.incarnation = 0;
    auto created = host_type::create(asio::make_strand(io), config, secret(), muster::static_list({}), {}, {}, workers);
    REQUIRE_FALSE(created);
    CHECK(created.error().find("incarnation") != std::string::npos);

    config = config_on(1);
    config.network.backoff_max = 1ms;
    created = host_type::create(asio::make_strand(io), config, secret(), muster::static_list({}), {}, {}, workers);
    REQUIRE_FALSE(created);
    CHECK(created.error().find("backoff_max") != std::string::npos);

    config = config_on(1);
    config.network.queue_messages_max = 0;
    CHECK_FALSE(host_type::create(asio::make_strand(io), config, secret(), muster::static_list({}), {}, {}, workers));

    // 4 KiB frames cannot carry the digest of 1,024 sync buckets.
    config = config_on(1);
    config.network.wire.frame_size_max = muster::wire::frame_size_max_lower;
    created = host_type::create(asio::make_strand(io), config, secret(), muster::static_list({}), {}, {}, workers);
    REQUIRE_FALSE(created);
    CHECK(created.error().find("frame_size_max") != std::string::npos);
    config.registry.sync_buckets = 64;
    CHECK_FALSE(host_type::create(asio::make_strand(io), config, secret(), muster::static_list({}), {}, {}, workers));
    // 5 KiB leave the smallest message size (4 KiB) beside the 1 KiB margin.
    config.network.wire.frame_size_max = 5 * 1024;
    CHECK(host_type::create(asio::make_strand(io), config, secret(), muster::static_list({}), {}, {}, workers));
}

TEST_CASE("host runs worker and leaves alone", "[runtime]") {
    asio::io_context io;
    recording_workers workers;
    const auto port = free_port(io);
    auto created = host_type::create(asio::make_strand(io), config_on(port), secret(), muster::static_list({}), {}, {}, workers);
    REQUIRE(created);
    auto& host = **created;
    REQUIRE_FALSE(host.start());
    CHECK(host.local_endpoint().port() == port);

    // Alone, the node places the name on itself and replies at once.
    const auto id = host.register_name("sweeper", {"sweeper"});
    REQUIRE(id);
    REQUIRE(run_until(io, [&] { return !workers.replies.empty(); }));
    CHECK(workers.replies.front().id == *id);
    CHECK_FALSE(workers.replies.front().error);
    CHECK(workers.running.contains("sweeper"));
    REQUIRE(host.whereis("sweeper"));
    CHECK(host.whereis("sweeper")->name == "app@127.0.0.1:" + std::to_string(port));

    host.leave();
    REQUIRE(run_until(io, [&] { return workers.stopped; }));
    CHECK(workers.running.empty());
    CHECK(host.flushed());
}

TEST_CASE("host rejects second listener on port", "[runtime]") {
    asio::io_context io;
    recording_workers workers;
    tcp::acceptor taken(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const auto port = taken.local_endpoint().port();
    auto created = host_type::create(asio::make_strand(io), config_on(port), secret(), muster::static_list({}), {}, {}, workers);
    REQUIRE(created);
    CHECK((*created)->start());
}

namespace {

// Workers that stop only when the test calls the completion they keep.
struct deferred_workers final : runtime::worker_handler {
    std::map<std::string, stop_completion> stopping;
    std::vector<std::string> killed;
    bool stopped = false;
    bool replied = false;

    void start_worker(const muster::start_worker_effect&) override {}
    std::optional<muster::worker_state> stop_worker(const muster::stop_worker_effect&) override { return std::nullopt; }
    void begin_stop(const muster::stop_worker_effect& e, stop_completion done) override { stopping[e.name] = std::move(done); }
    void kill_worker(std::string_view name) override { killed.emplace_back(name); }
    void merge_state(const muster::merge_state_effect&) override {}
    void on_reply(const muster::reply_effect&) override { replied = true; }
    void on_stopped() override { stopped = true; }
};

}  // namespace

TEST_CASE("host kills worker after grace", "[runtime]") {
    asio::io_context io;
    deferred_workers workers;
    const auto port = free_port(io);
    auto config = config_on(port);
    config.registry.stop_grace = 100ms;
    auto created = host_type::create(asio::make_strand(io), config, secret(), muster::static_list({}), {}, {}, workers);
    REQUIRE(created);
    auto& host = **created;
    REQUIRE_FALSE(host.start());
    REQUIRE(host.register_name("sweeper", {"sweeper"}));
    REQUIRE(run_until(io, [&] { return workers.replied; }));

    // Alone, the leaving node stops the worker with cause shutdown; the worker never completes.
    host.leave();
    REQUIRE(run_until(io, [&] { return !workers.killed.empty(); }));
    CHECK(workers.stopping.contains("sweeper"));
    CHECK(workers.killed == std::vector<std::string>{"sweeper"});

    // A completion after the kill changes nothing.
    workers.stopping["sweeper"](std::string("late"));
    CHECK(workers.killed.size() == 1);
}

TEST_CASE("host waits for asynchronous stop", "[runtime]") {
    asio::io_context io;
    deferred_workers workers;
    const auto port = free_port(io);
    auto config = config_on(port);
    config.registry.stop_grace = 200ms;
    auto created = host_type::create(asio::make_strand(io), config, secret(), muster::static_list({}), {}, {}, workers);
    REQUIRE(created);
    auto& host = **created;
    REQUIRE_FALSE(host.start());
    REQUIRE(host.register_name("sweeper", {"sweeper"}));
    REQUIRE(run_until(io, [&] { return workers.replied; }));

    host.leave();
    REQUIRE(run_until(io, [&] { return workers.stopping.contains("sweeper"); }));
    asio::post(host.executor(), [&] { workers.stopping["sweeper"](std::string("done")); });

    // The completion runs at once, long before the 200 ms grace period ends, so no kill follows.
    const auto until = std::chrono::steady_clock::now() + 500ms;
    run_until(io, [&] { return std::chrono::steady_clock::now() >= until; });
    CHECK(workers.killed.empty());
}

TEST_CASE("host registers batch across two nodes", "[runtime]") {
    asio::io_context io;
    recording_workers workers_a;
    recording_workers workers_b;
    const auto port_a = free_port(io);
    const auto port_b = free_port(io);
    const std::vector<std::string> names{"app@127.0.0.1:" + std::to_string(port_a), "app@127.0.0.1:" + std::to_string(port_b)};
    // Small frames, so the batch fits only if the host lowers the core's message size to fit.
    constexpr std::uint32_t frame_size_max = 16 * 1024;
    auto config_a = config_on(port_a);
    auto config_b = config_on(port_b);
    config_a.network.wire.frame_size_max = frame_size_max;
    config_b.network.wire.frame_size_max = frame_size_max;
    auto a = host_type::create(asio::make_strand(io), config_a, secret(), muster::static_list(names), {}, {}, workers_a);
    auto b = host_type::create(asio::make_strand(io), config_b, secret(), muster::static_list(names), {}, {}, workers_b);
    REQUIRE(a);
    REQUIRE(b);
    CHECK((*a)->node().machine().config().message_size_max == frame_size_max - muster::message_overhead_max);
    REQUIRE_FALSE((*a)->start());
    REQUIRE_FALSE((*b)->start());
    const auto joined = [](const host_type& h, const std::string& peer) {
        const auto& peers = h.node().machine().members().peers();
        const auto it = peers.find(peer);
        return it != peers.end() && it->second.state == muster::peer_state::up;
    };
    REQUIRE(run_until(io, [&] { return joined(**a, names[1]) && joined(**b, names[0]); }));

    // 1,000 names of 41 bytes: about 27 KB of items for each owner, more than one frame.
    std::vector<muster::registration> batch;
    for (int i = 0; i < 1000; ++i) batch.push_back({"sweeper-" + std::to_string(i) + std::string(30, 's'), {"sweeper"}});
    const auto ids = (*a)->register_names(batch);
    REQUIRE(ids.size() == batch.size());
    for (const auto& id : ids) REQUIRE(id);
    REQUIRE(run_until(io, [&] { return workers_a.replies.size() == batch.size(); }));

    for (const auto& reply : workers_a.replies) {
        INFO("request " << reply.id);
        CHECK_FALSE(reply.error);
    }
    CHECK(workers_a.running.size() + workers_b.running.size() == batch.size());
    CHECK_FALSE(workers_a.running.empty());
    CHECK_FALSE(workers_b.running.empty());
    for (const auto& item : batch) {
        INFO(item.name);
        const auto owner = (*a)->whereis(item.name);
        REQUIRE(owner);
        const auto& runner = owner->name == names[0] ? workers_a : workers_b;
        CHECK(runner.running.contains(item.name));
    }
}

#include <muster/runtime/tcp_network.hpp>

#include <muster/policy/transport.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace runtime = muster::runtime;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

static_assert(muster::transport<runtime::tcp_transport<muster::null_log>>);

namespace {

// Records every report of a network.
struct recorder final : runtime::network_handler {
    std::vector<std::string> connected, connect_failed, lost;
    std::vector<muster::envelope> messages;
    void on_link_connected(const std::string& peer) override { connected.push_back(peer); }
    void on_link_connect_failed(const std::string& peer) override { connect_failed.push_back(peer); }
    void on_link_lost(const std::string& peer) override { lost.push_back(peer); }
    void on_message(const muster::envelope& m) override { messages.push_back(m); }
};

muster::wire::shared_secret secret(std::string_view text) { return muster::wire::shared_secret::make(text).value(); }

// Returns a port that was free a moment ago, chosen by the kernel.
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

runtime::network_config config_for(std::string name) {
    runtime::network_config c;
    c.self_name = std::move(name);
    c.handshake_timeout = 2s;
    return c;
}

// Keeps the event and fields of every record a network writes, in a list the test owns.
struct recording_log {
    std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>>* records;
    bool enabled(muster::log_level) const { return true; }
    void write(const muster::log_record& record) {
        std::vector<std::pair<std::string, std::string>> fields;
        for (const auto& [key, value] : record.fields) fields.emplace_back(std::string(key), value);
        records->emplace_back(std::string(record.event), std::move(fields));
    }
};

muster::envelope heartbeat_from(std::string name) { return muster::envelope{{std::move(name), 1}, {}, 0, muster::heartbeat{}}; }

}  // namespace

TEST_CASE("peer address parses host and port", "[runtime]") {
    const auto full = runtime::parse_peer_address("app@127.0.0.1:7002", 7001);
    REQUIRE(full);
    CHECK(full->first == "127.0.0.1");
    CHECK(full->second == 7002);
    const auto no_port = runtime::parse_peer_address("app@db.local", 7001);
    REQUIRE(no_port);
    CHECK(no_port->first == "db.local");
    CHECK(no_port->second == 7001);
    CHECK(runtime::parse_peer_address("127.0.0.1:9", 1)->second == 9);
    CHECK_FALSE(runtime::parse_peer_address("app@", 7001));
    CHECK_FALSE(runtime::parse_peer_address("app@host:", 7001));
    CHECK_FALSE(runtime::parse_peer_address("app@host:0", 7001));
    CHECK_FALSE(runtime::parse_peer_address("app@host:65536", 7001));
    CHECK_FALSE(runtime::parse_peer_address("app@host:7x", 7001));
}

TEST_CASE("backoff doubles up to cap with jitter", "[runtime]") {
    using runtime::detail::next_backoff;
    CHECK(next_backoff(0ms, 100ms, 5s) == 100ms);
    CHECK(next_backoff(100ms, 100ms, 5s) == 200ms);
    CHECK(next_backoff(3s, 100ms, 5s) == 5s);
    CHECK(next_backoff(5s, 100ms, 5s) == 5s);
    runtime::detail::splitmix random(7);
    for (int i = 0; i < 1000; ++i) {
        const auto wait = runtime::detail::jittered(1000ms, random);
        CHECK(wait >= 500ms);
        CHECK(wait <= 1000ms);
    }
}

TEST_CASE("network delivers message after handshake", "[runtime]") {
    asio::io_context io;
    const auto strand = asio::make_strand(io);
    const std::string b_name = "b@127.0.0.1:" + std::to_string(free_port(io));
    recorder a_events, b_events;
    runtime::tcp_network<muster::null_log> a(strand, config_for("a@127.0.0.1:1"), secret("0123456789abcdef"), a_events, {});
    runtime::tcp_network<muster::null_log> b(strand, config_for(b_name), secret("0123456789abcdef"), b_events, {});
    REQUIRE_FALSE(b.listen(tcp::endpoint(asio::ip::make_address("127.0.0.1"), runtime::parse_peer_address(b_name, 0)->second)));

    a.connect(b_name);
    a.send(b_name, heartbeat_from("a@127.0.0.1:1"));
    REQUIRE(run_until(io, [&] { return !b_events.messages.empty(); }));
    CHECK(a_events.connected == std::vector<std::string>{b_name});
    CHECK(b_events.messages.front().from.name == "a@127.0.0.1:1");
    CHECK(b_events.messages.front().to == b_name);
    CHECK(a.flushed());
}

TEST_CASE("network rejects peer with wrong secret", "[runtime]") {
    asio::io_context io;
    const auto strand = asio::make_strand(io);
    const std::string b_name = "b@127.0.0.1:" + std::to_string(free_port(io));
    recorder a_events, b_events;
    runtime::tcp_network<muster::null_log> a(strand, config_for("a@127.0.0.1:1"), secret("0123456789abcdef"), a_events, {});
    runtime::tcp_network<muster::null_log> b(strand, config_for(b_name), secret("fedcba9876543210"), b_events, {});
    REQUIRE_FALSE(b.listen(tcp::endpoint(asio::ip::make_address("127.0.0.1"), runtime::parse_peer_address(b_name, 0)->second)));

    a.connect(b_name);
    a.send(b_name, heartbeat_from("a@127.0.0.1:1"));
    REQUIRE(run_until(io, [&] { return !a_events.connect_failed.empty(); }));
    CHECK(a_events.connected.empty());
    CHECK(b_events.messages.empty());
}

TEST_CASE("network closes link on sender mismatch", "[runtime]") {
    asio::io_context io;
    const auto strand = asio::make_strand(io);
    const std::string b_name = "b@127.0.0.1:" + std::to_string(free_port(io));
    recorder a_events, b_events;
    runtime::tcp_network<muster::null_log> a(strand, config_for("a@127.0.0.1:1"), secret("0123456789abcdef"), a_events, {});
    runtime::tcp_network<muster::null_log> b(strand, config_for(b_name), secret("0123456789abcdef"), b_events, {});
    REQUIRE_FALSE(b.listen(tcp::endpoint(asio::ip::make_address("127.0.0.1"), runtime::parse_peer_address(b_name, 0)->second)));

    // The handshake proves the name a@..., so a message claiming to come from c@... is dropped
    // and the connection closes, which the sender reports as a lost link.
    a.send(b_name, heartbeat_from("c@127.0.0.1:3"));
    REQUIRE(run_until(io, [&] { return !a_events.lost.empty(); }));
    CHECK(b_events.messages.empty());
}

TEST_CASE("network reports queue overflow as lost link", "[runtime]") {
    asio::io_context io;
    const auto strand = asio::make_strand(io);
    // A listener that accepts and never replies keeps the link in its handshake, so nothing queued
    // is written and the queue fills.
    tcp::acceptor silent(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const std::string peer = "b@127.0.0.1:" + std::to_string(silent.local_endpoint().port());
    recorder events;
    auto config = config_for("a@127.0.0.1:1");
    config.queue_messages_max = 4;
    runtime::tcp_network<muster::null_log> a(strand, config, secret("0123456789abcdef"), events, {});

    for (int i = 0; i < 4; ++i) a.send(peer, heartbeat_from("a@127.0.0.1:1"));
    CHECK_FALSE(a.flushed());
    CHECK(a.connections_count() == 1);
    a.send(peer, heartbeat_from("a@127.0.0.1:1"));
    CHECK(a.connections_count() == 0);
    REQUIRE(run_until(io, [&] { return !events.lost.empty(); }));
    CHECK(events.lost == std::vector<std::string>{peer});
    CHECK(a.flushed());
}

TEST_CASE("network limits sender mismatch records per peer", "[runtime]") {
    asio::io_context io;
    const auto strand = asio::make_strand(io);
    const std::string b_name = "b@127.0.0.1:" + std::to_string(free_port(io));
    recorder a_events, b_events;
    std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>> b_records;
    runtime::tcp_network<muster::null_log> a(strand, config_for("a@127.0.0.1:1"), secret("0123456789abcdef"), a_events, {});
    runtime::tcp_network<recording_log> b(strand, config_for(b_name), secret("0123456789abcdef"), b_events, recording_log{&b_records});
    REQUIRE_FALSE(b.listen(tcp::endpoint(asio::ip::make_address("127.0.0.1"), runtime::parse_peer_address(b_name, 0)->second)));

    // Each message that claims another sender closes the connection. The sender connects again
    // for the next one. So three connections from the proven peer a@... break the rule, and b
    // logs the first only.
    for (std::size_t round = 1; round <= 3; ++round) {
        a.send(b_name, heartbeat_from("c@127.0.0.1:3"));
        REQUIRE(run_until(io, [&] { return a_events.lost.size() == round; }));
    }
    std::vector<std::vector<std::pair<std::string, std::string>>> mismatches;
    for (const auto& [event, fields] : b_records)
        if (event == "sender_mismatch") mismatches.push_back(fields);
    REQUIRE(mismatches.size() == 1);
    CHECK(std::count(mismatches[0].begin(), mismatches[0].end(), std::pair<std::string, std::string>{"peer", "a@127.0.0.1:1"}) == 1);
    CHECK(std::count(mismatches[0].begin(), mismatches[0].end(), std::pair<std::string, std::string>{"suppressed", "0"}) == 1);
    CHECK(b_events.messages.empty());
}

#include <muster/core/membership.hpp>

#include <catch2/catch.hpp>

#include "support/envelope.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

const std::string self_name = "app@a";
const std::string node_b = "app@b";
const std::string node_c = "app@c";

const muster::time_point start = muster::time_point{} + std::chrono::hours(1);

muster::registry_config make_config() {
    muster::registry_config config;
    config.self = {self_name, 1};
    return config;
}

muster::envelope from(const std::string& name, std::uint64_t incarnation, muster::message body) {
    return muster::testing::make_envelope(name, incarnation, self_name, std::move(body));
}

muster::hello hello_from_peer(bool reply_requested = true) {
    muster::hello h;
    h.reply_requested = reply_requested;
    return h;
}

template <class T>
std::vector<T> only(const std::vector<muster::effect>& effects) {
    std::vector<T> out;
    for (const auto& e : effects)
        if (const auto* v = std::get_if<T>(&e)) out.push_back(*v);
    return out;
}

using kind = muster::membership_event::kind;

// A membership machine with `node_b` as an up member, joined at `start`.
struct joined_fixture {
    muster::registry_config config = make_config();
    muster::membership members{config};
    std::vector<muster::effect> out;

    joined_fixture() {
        members.on_envelope(start, from(node_b, 1, hello_from_peer()), out);
        (void)members.take_events();
        out.clear();
    }
};

}  // namespace

TEST_CASE("membership connects to new candidates", "[core]") {
    const auto config = make_config();
    muster::membership members(config);
    std::vector<muster::effect> out;

    members.on_candidates(start, {self_name, node_b, "", std::string(256, 'x'), node_b, node_c}, out);

    const auto connects = only<muster::connect_effect>(out);
    REQUIRE(connects.size() == 2);
    CHECK(connects[0].peer == node_b);
    CHECK(connects[1].peer == node_c);
    CHECK(members.peers().size() == 2);
    CHECK(members.peers().at(node_b).state == muster::peer_state::connecting);

    // A known candidate is not connected twice.
    out.clear();
    members.on_candidates(start + 1s, {node_b}, out);
    CHECK(out.empty());
}

TEST_CASE("membership says hello on connect", "[core]") {
    const auto config = make_config();
    muster::membership members(config);
    std::vector<muster::effect> out;
    members.on_candidates(start, {node_b}, out);
    out.clear();

    members.on_connected(start, node_b, out);

    const auto sends = only<muster::send_effect>(out);
    REQUIRE(sends.size() == 1);
    CHECK(sends[0].to == node_b);
    CHECK(sends[0].message->from == config.self);
    const auto* h = std::get_if<muster::hello>(&sends[0].message->body);
    REQUIRE(h != nullptr);
    CHECK(h->version == muster::protocol_version);
    CHECK(h->reply_requested);
    CHECK_FALSE(h->leaving);

    // A connection that was never requested is ignored.
    out.clear();
    members.on_connected(start, node_c, out);
    CHECK(out.empty());
}

TEST_CASE("membership measures hello round trip", "[core]") {
    const auto config = make_config();
    muster::membership members(config);
    std::vector<muster::effect> out;
    members.on_candidates(start, {node_b, node_c}, out);
    members.on_connected(start, node_b, out);
    members.on_connected(start, node_c, out);
    CHECK(members.round_trip_max() == 0ms);

    // node_c's own hello requests a reply, so it is no reply to ours and measures nothing.
    members.on_envelope(start + 40ms, from(node_c, 1, hello_from_peer(true)), out);
    CHECK(members.round_trip_max() == 0ms);

    // node_c's reply comes 50 ms after our hello; node_b's 120 ms after ours.
    members.on_envelope(start + 50ms, from(node_c, 1, hello_from_peer(false)), out);
    CHECK(members.round_trip_max() == 50ms);
    members.on_envelope(start + 120ms, from(node_b, 1, hello_from_peer(false)), out);
    CHECK(members.round_trip_max() == 120ms);

    // A second reply without a new request measures nothing.
    members.on_envelope(start + 900ms, from(node_c, 1, hello_from_peer(false)), out);
    CHECK(members.round_trip_max() == 120ms);

    // The measure of a member that is gone no longer counts.
    members.on_connection_lost(start + 1s, node_b, out);
    CHECK(members.round_trip_max() == 50ms);

    // The measure of node_c's earlier incarnation stays once it restarted: it measured the path.
    members.on_envelope(start + 2s, from(node_c, 2, hello_from_peer(true)), out);
    CHECK(members.round_trip_max() == 50ms);
}

TEST_CASE("membership joins member on hello", "[core]") {
    const auto config = make_config();
    muster::membership members(config);
    std::vector<muster::effect> out;

    muster::hello h = hello_from_peer();
    h.members = {self_name, node_c};
    const bool forwarded = members.on_envelope(start, from(node_b, 3, h), out);

    CHECK_FALSE(forwarded);
    const auto events = members.take_events();
    REQUIRE(events.size() == 1);
    CHECK(events[0].what == kind::joined);
    CHECK(events[0].member == muster::node_id{node_b, 3});
    const auto joined = only<muster::member_joined>(out);
    REQUIRE(joined.size() == 1);
    CHECK(joined[0].member == muster::node_id{node_b, 3});
    CHECK(members.is_alive({node_b, 3}));
    CHECK_FALSE(members.is_alive({node_b, 2}));

    // It replies to the hello, and connects to the member the hello listed.
    const auto sends = only<muster::send_effect>(out);
    REQUIRE(sends.size() == 1);
    CHECK(sends[0].to == node_b);
    const auto* reply = std::get_if<muster::hello>(&sends[0].message->body);
    REQUIRE(reply != nullptr);
    CHECK_FALSE(reply->reply_requested);
    CHECK(reply->members == std::vector<std::string>{node_b});
    const auto connects = only<muster::connect_effect>(out);
    REQUIRE(connects.size() == 1);
    CHECK(connects[0].peer == node_c);

    // A second hello from the same incarnation joins nothing again.
    out.clear();
    members.on_envelope(start + 1s, from(node_b, 3, hello_from_peer(false)), out);
    CHECK(members.take_events().empty());
    CHECK(out.empty());
}

TEST_CASE("membership ignores hello with other version", "[core]") {
    const auto config = make_config();
    muster::membership members(config);
    std::vector<muster::effect> out;

    muster::hello h = hello_from_peer();
    h.version = muster::protocol_version + 1;
    h.members = {node_c};
    members.on_envelope(start, from(node_b, 1, h), out);

    CHECK(out.empty());
    CHECK(members.take_events().empty());
    CHECK(members.peers().empty());
}

TEST_CASE("membership ignores hello from itself", "[core]") {
    const auto config = make_config();
    muster::membership members(config);
    std::vector<muster::effect> out;

    members.on_envelope(start, from(self_name, 2, hello_from_peer()), out);
    members.on_envelope(start, from("", 1, hello_from_peer()), out);

    CHECK(out.empty());
    CHECK(members.peers().empty());
}

TEST_CASE("membership passes member messages on", "[core]") {
    joined_fixture f;

    CHECK(f.members.on_envelope(start + 1s, from(node_b, 1, muster::name_updates{}), f.out));
    CHECK_FALSE(f.members.on_envelope(start + 1s, from(node_b, 1, muster::heartbeat{}), f.out));
    CHECK(f.out.empty());
}

TEST_CASE("membership reintroduces unknown sender", "[core]") {
    const auto config = make_config();
    muster::membership members(config);
    std::vector<muster::effect> out;

    CHECK_FALSE(members.on_envelope(start, from(node_b, 1, muster::name_updates{}), out));
    const auto sends = only<muster::send_effect>(out);
    REQUIRE(sends.size() == 1);
    CHECK(sends[0].to == node_b);
    const auto* h = std::get_if<muster::hello>(&sends[0].message->body);
    REQUIRE(h != nullptr);
    CHECK(h->reply_requested);
    CHECK_FALSE(members.is_alive({node_b, 1}));

    // A second message within one heartbeat interval sends no second hello.
    out.clear();
    members.on_envelope(start + 100ms, from(node_b, 1, muster::name_updates{}), out);
    CHECK(out.empty());
}

TEST_CASE("membership drops stale incarnation message", "[core]") {
    joined_fixture f;
    f.members.on_envelope(start, from(node_b, 2, hello_from_peer()), f.out);
    (void)f.members.take_events();
    f.out.clear();

    CHECK_FALSE(f.members.on_envelope(start + 1s, from(node_b, 1, muster::name_updates{}), f.out));
    CHECK(f.out.empty());
    CHECK(f.members.is_alive({node_b, 2}));
}

TEST_CASE("membership sends heartbeats each tick", "[core]") {
    joined_fixture f;

    f.members.on_heartbeat_tick(start + 1s, f.out);

    const auto sends = only<muster::send_effect>(f.out);
    REQUIRE(sends.size() == 1);
    CHECK(sends[0].to == node_b);
    CHECK(std::holds_alternative<muster::heartbeat>(sends[0].message->body));
    CHECK(f.members.take_events().empty());
}

TEST_CASE("membership fails silent member", "[core]") {
    joined_fixture f;
    const auto timeout = f.config.failure_timeout;

    f.members.on_heartbeat_tick(start + timeout, f.out);
    CHECK(f.members.take_events().empty());
    CHECK(f.members.is_alive({node_b, 1}));

    f.out.clear();
    f.members.on_heartbeat_tick(start + timeout + 1ms, f.out);
    const auto events = f.members.take_events();
    REQUIRE(events.size() == 1);
    CHECK(events[0].what == kind::failed);
    CHECK(events[0].member == muster::node_id{node_b, 1});
    CHECK(only<muster::member_failed>(f.out).size() == 1);
    const auto disconnects = only<muster::disconnect_effect>(f.out);
    REQUIRE(disconnects.size() == 1);
    CHECK(disconnects[0].peer == node_b);
    CHECK(f.members.is_dead({node_b, 1}));
    CHECK_FALSE(f.members.is_alive({node_b, 1}));
    CHECK_FALSE(f.members.is_dead({node_b, 2}));
}

TEST_CASE("membership heartbeat keeps member alive", "[core]") {
    joined_fixture f;
    const auto timeout = f.config.failure_timeout;

    f.members.on_envelope(start + timeout, from(node_b, 1, muster::heartbeat{}), f.out);
    f.members.on_heartbeat_tick(start + timeout + 1s, f.out);

    CHECK(f.members.take_events().empty());
    CHECK(f.members.is_alive({node_b, 1}));
}

TEST_CASE("membership accepts failed member back", "[core]") {
    joined_fixture f;
    f.members.on_heartbeat_tick(start + 10s, f.out);
    REQUIRE(f.members.is_dead({node_b, 1}));
    (void)f.members.take_events();

    // After a partition heals, the same incarnation sends a hello again.
    f.members.on_envelope(start + 11s, from(node_b, 1, hello_from_peer()), f.out);

    const auto events = f.members.take_events();
    REQUIRE(events.size() == 1);
    CHECK(events[0].what == kind::joined);
    CHECK(f.members.is_alive({node_b, 1}));
    CHECK_FALSE(f.members.is_dead({node_b, 1}));
}

TEST_CASE("membership fails old incarnation on restart", "[core]") {
    joined_fixture f;

    f.members.on_envelope(start + 1s, from(node_b, 2, hello_from_peer()), f.out);

    const auto events = f.members.take_events();
    REQUIRE(events.size() == 2);
    CHECK(events[0].what == kind::failed);
    CHECK(events[0].member == muster::node_id{node_b, 1});
    CHECK(events[1].what == kind::joined);
    CHECK(events[1].member == muster::node_id{node_b, 2});
    CHECK(f.members.is_dead({node_b, 1}));
    CHECK(f.members.is_alive({node_b, 2}));

    // A late hello from the old incarnation changes nothing.
    f.out.clear();
    f.members.on_envelope(start + 2s, from(node_b, 1, hello_from_peer()), f.out);
    CHECK(f.members.take_events().empty());
    CHECK(f.members.is_alive({node_b, 2}));
}

TEST_CASE("membership reports leave then departure", "[core]") {
    joined_fixture f;

    f.members.on_envelope(start + 1s, from(node_b, 1, muster::leave_notice{}), f.out);
    auto events = f.members.take_events();
    REQUIRE(events.size() == 1);
    CHECK(events[0].what == kind::leaving);
    CHECK(f.members.peers().at(node_b).state == muster::peer_state::leaving);
    CHECK(only<muster::member_leaving>(f.out).size() == 1);

    f.out.clear();
    f.members.on_envelope(start + 2s, from(node_b, 1, muster::goodbye{}), f.out);
    events = f.members.take_events();
    REQUIRE(events.size() == 1);
    CHECK(events[0].what == kind::left);
    CHECK(only<muster::member_left>(f.out).size() == 1);
    CHECK(only<muster::member_failed>(f.out).empty());
    CHECK_FALSE(f.members.peers().contains(node_b));
    CHECK(f.members.is_left({node_b, 1}));
    CHECK(f.members.is_dead({node_b, 1}));

    // The departed incarnation is never accepted again; a new one is.
    f.out.clear();
    f.members.on_envelope(start + 3s, from(node_b, 1, hello_from_peer()), f.out);
    CHECK(f.members.take_events().empty());
    CHECK(f.out.empty());
    f.members.on_envelope(start + 4s, from(node_b, 2, hello_from_peer()), f.out);
    events = f.members.take_events();
    REQUIRE(events.size() == 1);
    CHECK(events[0].what == kind::joined);
    CHECK(events[0].member == muster::node_id{node_b, 2});
}

TEST_CASE("membership drops unanswered connection", "[core]") {
    const auto config = make_config();
    muster::membership members(config);
    std::vector<muster::effect> out;
    members.on_candidates(start, {node_b, node_c}, out);

    members.on_connect_failed(start + 1s, node_b);
    CHECK_FALSE(members.peers().contains(node_b));

    members.on_heartbeat_tick(start + config.connect_timeout, out);
    CHECK_FALSE(members.peers().contains(node_c));
    CHECK(members.take_events().empty());

    // Dropped candidates are connected again on the next poll.
    out.clear();
    members.on_candidates(start + 5s, {node_b, node_c}, out);
    CHECK(only<muster::connect_effect>(out).size() == 2);
}

TEST_CASE("membership fails member on lost connection", "[core]") {
    joined_fixture f;

    f.members.on_connection_lost(start + 1s, node_b, f.out);

    const auto events = f.members.take_events();
    REQUIRE(events.size() == 1);
    CHECK(events[0].what == kind::failed);
    CHECK(f.members.is_dead({node_b, 1}));
}

TEST_CASE("membership leave announces and stops connecting", "[core]") {
    joined_fixture f;

    f.members.leave(start + 1s, f.out);
    CHECK(f.members.leaving());
    const auto sends = only<muster::send_effect>(f.out);
    REQUIRE(sends.size() == 1);
    CHECK(std::holds_alternative<muster::leave_notice>(sends[0].message->body));

    // A leaving node connects to no new candidate.
    f.out.clear();
    f.members.on_candidates(start + 2s, {node_c}, f.out);
    CHECK(f.out.empty());
    CHECK_FALSE(f.members.peers().contains(node_c));

    // A node that reaches it is still accepted, and learns from the reply that it is leaving.
    f.members.on_envelope(start + 2s, from(node_c, 1, hello_from_peer()), f.out);
    const auto events = f.members.take_events();
    REQUIRE(events.size() == 1);
    CHECK(events[0].what == kind::joined);
    CHECK(f.members.is_alive({node_c, 1}));
    const auto replies = only<muster::send_effect>(f.out);
    REQUIRE(replies.size() == 1);
    const auto* h = std::get_if<muster::hello>(&replies[0].message->body);
    REQUIRE(h != nullptr);
    CHECK(h->leaving);

    f.out.clear();
    f.members.finish_leave(f.out);
    const auto goodbyes = only<muster::send_effect>(f.out);
    REQUIRE(goodbyes.size() == 2);
    for (const auto& goodbye : goodbyes) CHECK(std::holds_alternative<muster::goodbye>(goodbye.message->body));
    CHECK(only<muster::disconnect_effect>(f.out).size() == 2);
    CHECK(f.members.peers().empty());
}

TEST_CASE("membership leaving node restores sessions", "[core]") {
    joined_fixture f;
    f.members.leave(start + 1s, f.out);
    f.out.clear();

    // A heartbeat from a node that is no member here (failed on a stale connection reset, say).
    // The leaving node requests a hello, so that node keeps hearing from it and does not
    // declare it failed while it still hands off its workers.
    CHECK_FALSE(f.members.on_envelope(start + 2s, from(node_c, 1, muster::heartbeat{}), f.out));
    const auto sends = only<muster::send_effect>(f.out);
    REQUIRE(sends.size() == 1);
    CHECK(sends[0].to == node_c);
    const auto* h = std::get_if<muster::hello>(&sends[0].message->body);
    REQUIRE(h != nullptr);
    CHECK(h->reply_requested);
    CHECK(h->leaving);

    f.out.clear();
    f.members.on_envelope(start + 2s + 1ms, from(node_c, 1, hello_from_peer(false)), f.out);
    CHECK(f.members.is_alive({node_c, 1}));
}

TEST_CASE("membership ignores loss of an earlier incarnation", "[core]") {
    joined_fixture f;
    // node_b restarted, and its new incarnation's hello arrived before the old connection's loss.
    f.members.on_envelope(start + 1s, from(node_b, 2, hello_from_peer()), f.out);
    (void)f.members.take_events();
    f.out.clear();

    f.members.on_connection_lost(start + 1s + 1ms, node_b, f.out, 1);
    CHECK(f.members.is_alive({node_b, 2}));
    CHECK(f.members.take_events().empty());

    // A loss of the current incarnation's connection, or of one the transport cannot name,
    // fails the member.
    f.members.on_connection_lost(start + 1s + 2ms, node_b, f.out, 2);
    CHECK_FALSE(f.members.is_alive({node_b, 2}));
    CHECK(f.members.is_dead({node_b, 2}));
}

TEST_CASE("membership late message of failed member", "[core]") {
    joined_fixture f;
    f.members.on_connection_lost(start + 1s, node_b, f.out);
    CHECK(f.members.is_dead({node_b, 1}));
    f.out.clear();

    // A message node_b sent before it failed arrives late: a hello goes back in case it is
    // alive, but the peer it adds is no open connection attempt that holds up failover.
    f.members.on_envelope(start + 1s + 1ms, from(node_b, 1, muster::heartbeat{}), f.out);
    CHECK(only<muster::send_effect>(f.out).size() == 1);
    CHECK(f.members.peers().contains(node_b));
    CHECK_FALSE(f.members.connecting());

    // A message from a node never seen adds a peer that does count.
    f.members.on_envelope(start + 1s + 2ms, from(node_c, 1, muster::heartbeat{}), f.out);
    CHECK(f.members.connecting());
}

TEST_CASE("membership treats self by incarnation", "[core]") {
    const auto config = make_config();
    const muster::membership members(config);

    CHECK(members.is_alive({self_name, 1}));
    CHECK_FALSE(members.is_dead({self_name, 1}));
    CHECK(members.is_dead({self_name, 0}));
    CHECK_FALSE(members.is_alive({self_name, 2}));
    CHECK_FALSE(members.is_alive({node_b, 1}));
    CHECK_FALSE(members.is_dead({node_b, 1}));
}

TEST_CASE("membership carries generations in hellos", "[core]") {
    auto config = make_config();
    config.generation = 7;
    muster::membership members(config);
    std::vector<muster::effect> out;

    muster::hello h = hello_from_peer();
    h.generation = 4;
    members.on_envelope(start, from(node_b, 1, h), out);
    REQUIRE(members.peers().contains(node_b));
    CHECK(members.peers().at(node_b).generation == 4);

    // The reply announces this node's own generation.
    const auto sends = only<muster::send_effect>(out);
    REQUIRE(sends.size() == 1);
    const auto* reply = std::get_if<muster::hello>(&sends[0].message->body);
    REQUIRE(reply != nullptr);
    CHECK(reply->generation == 7);

    // A restarted peer with a new release: the view version changes, so placement rebuilds.
    const auto version = members.version();
    h.generation = 5;
    out.clear();
    members.on_envelope(start + 1s, from(node_b, 2, h), out);
    CHECK(members.peers().at(node_b).generation == 5);
    CHECK(members.version() != version);
}

#include <muster/core/registry.hpp>

#include <muster/wire/codec.hpp>

#include "support/envelope.hpp"
#include "support/wire.hpp"

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using muster::test::wire;

namespace {

const std::string node_a = "app@a";
const std::string node_b = "app@b";
const std::string node_c = "app@c";

const muster::worker_spec counter_spec{"counter", muster::restart_policy::permanent};

// Returns `count` worker names that `viewer`'s placement assigns to `owner`.
template <class Wire>
std::vector<std::string> names_placed_on(Wire& w, const std::string& viewer, const std::string& owner,
                                         std::size_t count) {
    std::vector<std::string> names;
    for (int i = 0; names.size() < count && i < 10000; ++i) {
        const std::string name = "worker-" + std::to_string(i);
        const auto placed = w.node(viewer).owner_of(name);
        if (placed && placed->name == owner) names.push_back(name);
    }
    return names;
}

// Registers `name` through `via`, runs the wire, and requires an ok reply.
template <class Wire>
void register_and_wait(Wire& w, const std::string& via, const std::string& name) {
    const auto id = w.node(via).register_name(w.now(), name, counter_spec);
    REQUIRE(id.has_value());
    w.run_for(100ms);
    const auto reply = w.reply(via, *id);
    REQUIRE(reply.has_value());
    REQUIRE_FALSE(reply->error.has_value());
}

// Requires `name` to run on exactly one node and checks that each of `viewers` locates it there.
// Returns that node.
template <class Wire>
std::string require_runs_once(Wire& w, const std::string& name, const std::vector<std::string>& viewers) {
    const auto running = w.running(name);
    REQUIRE(running.size() == 1);
    for (const auto& viewer : viewers) {
        const auto owner = w.node(viewer).whereis(name);
        REQUIRE(owner.has_value());
        CHECK(owner->name == running[0]);
    }
    return running[0];
}

template <class T>
bool has_member(const std::vector<T>& events, const muster::node_id& id) {
    return std::any_of(events.begin(), events.end(), [&](const T& e) { return e.member == id; });
}

// Returns whether `m` has at least one up member.
template <class Machine>
bool has_up_member(const Machine& m) {
    const auto& peers = m.members().peers();
    return std::any_of(peers.begin(), peers.end(),
                       [](const auto& entry) { return entry.second.state == muster::peer_state::up; });
}

wire joined_cluster(std::vector<std::string> names) {
    wire w(std::move(names));
    w.start_all();
    w.run_for(1s);
    return w;
}

// Builds a registry entry for a hand-made `name_updates` message.
muster::entry_record record_of(std::string name, muster::node_id owner, std::uint64_t version) {
    muster::entry_record record;
    record.name = std::move(name);
    record.owner = std::move(owner);
    record.version = version;
    record.spec = counter_spec;
    return record;
}

muster::envelope envelope_from(const std::string& from, std::uint64_t incarnation, muster::message body) {
    return muster::testing::make_envelope(from, incarnation, node_a, std::move(body));
}

}  // namespace

TEST_CASE("registry joins two nodes", "[core]") {
    wire w({node_a, node_b});
    w.start_all();
    w.run_for(1s);

    CHECK(has_member(w.effects_of<muster::member_joined>(node_a), {node_b, 1}));
    CHECK(has_member(w.effects_of<muster::member_joined>(node_b), {node_a, 1}));
    CHECK(w.effects_of<muster::member_joined>(node_a).size() == 1);
    CHECK(w.effects_of<muster::member_joined>(node_b).size() == 1);
    CHECK(w.effects_of<muster::member_failed>(node_a).empty());
    CHECK(w.effects_of<muster::member_failed>(node_b).empty());

    const auto& peers_of_a = w.node(node_a).members().peers();
    REQUIRE(peers_of_a.contains(node_b));
    CHECK(peers_of_a.at(node_b).state == muster::peer_state::up);
    CHECK(peers_of_a.at(node_b).id == muster::node_id{node_b, 1});
    const auto& peers_of_b = w.node(node_b).members().peers();
    REQUIRE(peers_of_b.contains(node_a));
    CHECK(peers_of_b.at(node_a).state == muster::peer_state::up);

    // Heartbeats keep the members up well past the failure timeout.
    w.run_for(20s);
    CHECK(w.effects_of<muster::member_failed>(node_a).empty());
    CHECK(w.effects_of<muster::member_failed>(node_b).empty());
    CHECK(w.violations().empty());
}

TEST_CASE("registry replicates registration to every node", "[core]") {
    wire w = joined_cluster({node_a, node_b, node_c});
    const auto names = names_placed_on(w, node_a, node_b, 3);
    REQUIRE(names.size() == 3);

    for (const auto& name : names) register_and_wait(w, node_a, name);
    w.run_for(1s);

    for (const auto& name : names) {
        CHECK(w.running(name) == std::vector<std::string>{node_b});
        for (const auto& viewer : {node_a, node_b, node_c}) {
            const auto owner = w.node(viewer).whereis(name);
            REQUIRE(owner.has_value());
            CHECK(*owner == muster::node_id{node_b, 1});
        }
    }
    CHECK(w.node(node_b).local_workers_count() == 3);
    CHECK(w.node(node_a).local_workers_count() == 0);
    CHECK(w.violations().empty());
}

TEST_CASE("registry whereis reads own write", "[core]") {
    muster::test::wire w({node_a, node_b}, 10ms);
    w.start_all();
    w.run_for(1s);
    const auto names = names_placed_on(w, node_a, node_b, 1);
    REQUIRE(names.size() == 1);

    const auto id = w.node(node_a).register_name(w.now(), names[0], counter_spec);
    REQUIRE(id.has_value());

    // Stop at the first moment the reply exists, before any broadcast could have repaired the
    // replica: the reply itself must have updated it.
    std::optional<muster::reply_effect> reply;
    for (int step = 0; step < 100 && !reply; ++step) {
        w.run_for(1ms);
        reply = w.reply(node_a, *id);
    }
    REQUIRE(reply.has_value());
    CHECK_FALSE(reply->error.has_value());
    REQUIRE(reply->owner.has_value());
    CHECK(*reply->owner == muster::node_id{node_b, 1});

    const auto owner = w.node(node_a).whereis(names[0]);
    REQUIRE(owner.has_value());
    CHECK(*owner == muster::node_id{node_b, 1});
}

TEST_CASE("registry local registration replies at once", "[core]") {
    wire w = joined_cluster({node_a, node_b});
    const auto names = names_placed_on(w, node_a, node_a, 1);
    REQUIRE(names.size() == 1);

    const auto id = w.node(node_a).register_name(w.now(), names[0], counter_spec);
    REQUIRE(id.has_value());
    const auto owner = w.node(node_a).whereis(names[0]);
    REQUIRE(owner.has_value());
    CHECK(*owner == muster::node_id{node_a, 1});
    CHECK(w.node(node_a).holds(names[0]));

    w.run_for(0ms);
    const auto reply = w.reply(node_a, *id);
    REQUIRE(reply.has_value());
    CHECK_FALSE(reply->error.has_value());
    CHECK(w.running(names[0]) == std::vector<std::string>{node_a});
}

TEST_CASE("registry rejects duplicate registration", "[core]") {
    wire w = joined_cluster({node_a, node_b});
    const auto names = names_placed_on(w, node_a, node_b, 1);
    REQUIRE(names.size() == 1);
    register_and_wait(w, node_a, names[0]);

    SECTION("on the registering node") {
        const auto again = w.node(node_a).register_name(w.now(), names[0], counter_spec);
        REQUIRE_FALSE(again.has_value());
        CHECK(again.error() == muster::errc::already_registered);
    }
    SECTION("on the owner") {
        const auto again = w.node(node_b).register_name(w.now(), names[0], counter_spec);
        REQUIRE_FALSE(again.has_value());
        CHECK(again.error() == muster::errc::already_registered);
    }
    w.run_for(1s);
    CHECK(w.running(names[0]) == std::vector<std::string>{node_b});
}

TEST_CASE("registry rejects concurrent duplicate registration", "[core]") {
    wire w = joined_cluster({node_a, node_b, node_c});
    const auto names = names_placed_on(w, node_a, node_c, 1);
    REQUIRE(names.size() == 1);

    // Both requests leave before either node has heard of the name.
    const auto first = w.node(node_a).register_name(w.now(), names[0], counter_spec);
    const auto second = w.node(node_b).register_name(w.now(), names[0], counter_spec);
    REQUIRE(first.has_value());
    REQUIRE(second.has_value());
    w.run_for(1s);

    const auto reply_a = w.reply(node_a, *first);
    const auto reply_b = w.reply(node_b, *second);
    REQUIRE(reply_a.has_value());
    REQUIRE(reply_b.has_value());
    CHECK_FALSE(reply_a->error.has_value());
    REQUIRE(reply_b->error.has_value());
    CHECK(*reply_b->error == muster::errc::already_registered);
    REQUIRE(reply_b->owner.has_value());
    CHECK(*reply_b->owner == muster::node_id{node_c, 1});
    CHECK(w.running(names[0]) == std::vector<std::string>{node_c});
    CHECK(w.effects_of<muster::start_worker_effect>(node_c).size() == 1);
}

TEST_CASE("registry unregisters remote name", "[core]") {
    wire w = joined_cluster({node_a, node_b});
    const auto names = names_placed_on(w, node_a, node_b, 1);
    REQUIRE(names.size() == 1);
    register_and_wait(w, node_a, names[0]);

    const auto id = w.node(node_a).unregister(w.now(), names[0]);
    REQUIRE(id.has_value());
    w.run_for(1s);

    const auto reply = w.reply(node_a, *id);
    REQUIRE(reply.has_value());
    CHECK_FALSE(reply->error.has_value());
    const auto stops = w.effects_of<muster::stop_worker_effect>(node_b);
    REQUIRE(stops.size() == 1);
    CHECK(stops[0].name == names[0]);
    CHECK(stops[0].cause == muster::stop_cause::unregister);
    CHECK(w.running(names[0]).empty());
    CHECK_FALSE(w.node(node_a).whereis(names[0]).has_value());
    CHECK_FALSE(w.node(node_b).whereis(names[0]).has_value());

    // The name can be registered again once it is gone.
    register_and_wait(w, node_a, names[0]);
    w.run_for(1s);
    CHECK(w.running(names[0]) == std::vector<std::string>{node_b});
}

TEST_CASE("registry rejects invalid names", "[core]") {
    wire w = joined_cluster({node_a, node_b});
    auto& a = w.node(node_a);

    const auto empty = a.register_name(w.now(), "", counter_spec);
    REQUIRE_FALSE(empty.has_value());
    CHECK(empty.error() == muster::errc::empty_name);

    const auto too_long = a.register_name(w.now(), std::string(256, 'x'), counter_spec);
    REQUIRE_FALSE(too_long.has_value());
    CHECK(too_long.error() == muster::errc::name_too_long);

    const auto longest = a.register_name(w.now(), std::string(255, 'x'), counter_spec);
    CHECK(longest.has_value());

    const auto unregister_empty = a.unregister(w.now(), "");
    REQUIRE_FALSE(unregister_empty.has_value());
    CHECK(unregister_empty.error() == muster::errc::empty_name);

    const auto unregister_too_long = a.unregister(w.now(), std::string(256, 'x'));
    REQUIRE_FALSE(unregister_too_long.has_value());
    CHECK(unregister_too_long.error() == muster::errc::name_too_long);
}

TEST_CASE("registry rejects unregister of unknown name", "[core]") {
    wire w = joined_cluster({node_a, node_b});
    const auto missing = w.node(node_a).unregister(w.now(), "nobody");
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error() == muster::errc::not_registered);
}

TEST_CASE("registry rejects calls before start", "[core]") {
    wire w({node_a, node_b});
    auto& a = w.node(node_a);
    CHECK_FALSE(a.running());

    const auto registered = a.register_name(w.now(), "billing", counter_spec);
    REQUIRE_FALSE(registered.has_value());
    CHECK(registered.error() == muster::errc::not_running);

    const auto unregistered = a.unregister(w.now(), "billing");
    REQUIRE_FALSE(unregistered.has_value());
    CHECK(unregistered.error() == muster::errc::not_running);

    // Inputs before start produce nothing.
    a.tick(w.now());
    a.step(w.now(), envelope_from(node_b, 1, muster::hello{}));
    a.leave(w.now());
    CHECK(a.drain_effects().empty());
    CHECK_FALSE(a.leaving());
}

TEST_CASE("registry rejects calls after leave", "[core]") {
    wire w({node_a});
    w.start_all();
    w.run_for(1s);
    w.node(node_a).leave(w.now());
    w.run_for(1s);

    REQUIRE(w.node(node_a).stopped());
    CHECK(w.effects_of<muster::node_stopped>(node_a).size() == 1);
    const auto registered = w.node(node_a).register_name(w.now(), "billing", counter_spec);
    REQUIRE_FALSE(registered.has_value());
    CHECK(registered.error() == muster::errc::not_running);
}

TEST_CASE("registry moves worker on leave", "[core]") {
    wire w = joined_cluster({node_a, node_b, node_c});
    const auto names = names_placed_on(w, node_a, node_c, 3);
    REQUIRE(names.size() == 3);
    for (const auto& name : names) register_and_wait(w, node_a, name);
    for (const auto& name : names) w.workers(node_c)[name] = "count=" + name;

    w.node(node_c).leave(w.now());
    w.run_for(10s);

    for (const auto& name : names) {
        INFO("worker " << name);
        const auto running = w.running(name);
        REQUIRE(running.size() == 1);
        const std::string& target = running[0];
        CHECK(target != node_c);

        // The new worker starts with the state the old one returned.
        const auto start = w.first_index<muster::start_worker_effect>(
            target, [&](const auto& e) { return e.name == name; });
        REQUIRE(start.has_value());
        const auto& started = std::get<muster::start_worker_effect>(w.history()[*start].value);
        REQUIRE(started.state.has_value());
        CHECK(*started.state == "count=" + name);

        // The old worker is stopped, asked for its state, before the new one starts.
        const auto stop = w.first_index<muster::stop_worker_effect>(
            node_c, [&](const auto& e) { return e.name == name; });
        REQUIRE(stop.has_value());
        const auto& stopped = std::get<muster::stop_worker_effect>(w.history()[*stop].value);
        CHECK(stopped.cause == muster::stop_cause::handoff);
        CHECK(stopped.want_state);
        CHECK(*stop < *start);

        for (const auto& viewer : {node_a, node_b}) {
            const auto owner = w.node(viewer).whereis(name);
            REQUIRE(owner.has_value());
            CHECK(owner->name == target);
        }
    }

    CHECK(w.node(node_c).stopped());
    CHECK(w.effects_of<muster::node_stopped>(node_c).size() == 1);
    for (const auto& peer : {node_a, node_b}) {
        INFO("peer " << peer);
        CHECK(has_member(w.effects_of<muster::member_leaving>(peer), {node_c, 1}));
        CHECK(has_member(w.effects_of<muster::member_left>(peer), {node_c, 1}));
        CHECK(w.effects_of<muster::member_failed>(peer).empty());
        CHECK_FALSE(w.node(peer).members().peers().contains(node_c));
    }
    CHECK(w.violations().empty());
}

TEST_CASE("registry leaves at once without workers", "[core]") {
    wire w = joined_cluster({node_a, node_b});
    w.node(node_b).leave(w.now());
    w.run_for(0ms);

    CHECK(w.node(node_b).stopped());
    CHECK(w.effects_of<muster::node_stopped>(node_b).size() == 1);
    CHECK(has_member(w.effects_of<muster::member_left>(node_a), {node_b, 1}));
    CHECK(w.effects_of<muster::member_failed>(node_a).empty());
}

TEST_CASE("registry restarts workers after crash", "[core]") {
    wire w = joined_cluster({node_a, node_b});
    const auto names = names_placed_on(w, node_a, node_b, 3);
    REQUIRE(names.size() == 3);
    for (const auto& name : names) register_and_wait(w, node_a, name);
    w.run_for(1s);

    const auto crashed_at = w.now();
    w.crash(node_b);

    // Nothing happens before the failure timeout.
    w.run_until(crashed_at + w.node(node_a).config().failure_timeout - 1ms);
    CHECK(w.effects_of<muster::member_failed>(node_a).empty());
    for (const auto& name : names) CHECK(w.running(name).empty());

    w.run_for(3s);
    const auto failed = w.effects_of<muster::member_failed>(node_a);
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].member == muster::node_id{node_b, 1});
    CHECK(w.effects_of<muster::member_left>(node_a).empty());

    for (const auto& name : names) {
        INFO("worker " << name);
        CHECK(w.running(name) == std::vector<std::string>{node_a});
        const auto owner = w.node(node_a).whereis(name);
        REQUIRE(owner.has_value());
        CHECK(*owner == muster::node_id{node_a, 1});
    }
    CHECK(w.node(node_a).stats().orphans_restarted == 3);
    CHECK(w.violations().empty());
}

TEST_CASE("registry failover waits measured round trip", "[core]") {
    // Every message takes 150 ms, so the hellos measure round trips of 300 ms. A failed
    // member's names wait that long instead of `failover_delay`, so that the hello of a node
    // booted moments ago can arrive first.
    wire w({node_a, node_b, node_c}, 150ms);
    w.start_all();
    w.run_for(2s);
    REQUIRE(w.node(node_a).members().round_trip_max() == 300ms);
    const auto names = names_placed_on(w, node_a, node_b, 3);
    REQUIRE(names.size() == 3);
    std::vector<muster::request_id> ids;
    for (const auto& name : names) ids.push_back(w.node(node_a).register_name(w.now(), name, counter_spec).value());
    w.run_for(1s);
    for (const auto id : ids) {
        const auto reply = w.reply(node_a, id);
        REQUIRE(reply.has_value());
        REQUIRE_FALSE(reply->error.has_value());
    }

    w.crash(node_b);
    while (w.effects_of<muster::member_failed>(node_a).empty()) w.run_for(1ms);
    const auto detected_at = w.now();
    // node_b is gone from the view, and node_c's measure remains.
    CHECK_FALSE(w.node(node_a).members().peers().contains(node_b));
    CHECK(w.node(node_a).members().round_trip_max() == 300ms);
    REQUIRE(w.node(node_a).config().failover_delay < 250ms);

    w.run_until(detected_at + 250ms);
    for (const auto& name : names) CHECK(w.running(name).empty());
    w.run_until(detected_at + 350ms);
    for (const auto& name : names) CHECK(w.running(name).size() == 1);
    CHECK(w.violations().empty());
}

TEST_CASE("registry registers name during join", "[core]") {
    wire w({node_a, node_b}, 20ms);
    w.start(node_a);
    w.start(node_b);

    // a has asked to connect to b, but no hello has arrived yet, so a places every name on itself.
    REQUIRE(w.node(node_a).members().peers().contains(node_b));
    CHECK(w.node(node_a).members().peers().at(node_b).state == muster::peer_state::connecting);
    const auto names = names_placed_on(w, node_a, node_a, 8);
    REQUIRE(names.size() == 8);
    std::vector<muster::request_id> ids;
    for (const auto& name : names) {
        const auto id = w.node(node_a).register_name(w.now(), name, counter_spec);
        REQUIRE(id.has_value());
        ids.push_back(*id);
    }

    w.run_for(5s);

    for (const auto id : ids) {
        const auto reply = w.reply(node_a, id);
        REQUIRE(reply.has_value());
        CHECK_FALSE(reply->error.has_value());
    }
    for (const auto& name : names) {
        INFO("worker " << name);
        const auto holder = require_runs_once(w, name, {node_a, node_b});
        const auto placed = w.node(node_a).owner_of(name);
        REQUIRE(placed.has_value());
        CHECK(holder == placed->name);
    }
    CHECK(w.violations().empty());
}

TEST_CASE("registry ignores hello with other version", "[core]") {
    wire w({node_a});
    w.start_all();
    w.run_for(1s);
    auto& a = w.node(node_a);
    (void)a.drain_effects();

    muster::hello h;
    h.version = muster::protocol_version + 1;
    h.reply_requested = true;
    h.members = {"app@d"};
    a.step(w.now(), envelope_from(node_b, 1, h));

    for (const auto& e : a.drain_effects()) {
        INFO(muster::test::describe(e));
        CHECK_FALSE(std::holds_alternative<muster::member_joined>(e));
        CHECK_FALSE(std::holds_alternative<muster::send_effect>(e));
        CHECK_FALSE(std::holds_alternative<muster::connect_effect>(e));
    }
    CHECK_FALSE(a.members().peers().contains(node_b));
    CHECK_FALSE(a.members().peers().contains("app@d"));
}

TEST_CASE("registry rejects entry with empty name", "[core]") {
    wire w = joined_cluster({node_a, node_b});
    const auto names = names_placed_on(w, node_a, node_b, 1);
    REQUIRE(names.size() == 1);
    register_and_wait(w, node_a, names[0]);
    w.run_for(1s);

    auto& a = w.node(node_a);
    const auto names_before = a.names_count();
    const auto rejected_before = a.stats().messages_rejected;

    muster::name_updates updates;
    updates.entries.push_back(record_of("", {node_b, 1}, 9));
    updates.entries.push_back(record_of(std::string(256, 'n'), {node_b, 1}, 9));
    updates.entries.push_back(record_of("orphan", {"", 1}, 9));
    a.step(w.now(), envelope_from(node_b, 1, updates));

    CHECK(a.names_count() == names_before);
    CHECK(a.stats().messages_rejected == rejected_before + 3);
    CHECK_FALSE(a.whereis("").has_value());
    CHECK_FALSE(a.whereis("orphan").has_value());
    const auto owner = a.whereis(names[0]);
    REQUIRE(owner.has_value());
    CHECK(*owner == muster::node_id{node_b, 1});
    for (const auto& e : a.drain_effects()) {
        INFO(muster::test::describe(e));
        CHECK_FALSE(std::holds_alternative<muster::start_worker_effect>(e));
    }
}

TEST_CASE("registry drops message from non-member", "[core]") {
    wire w = joined_cluster({node_a, node_b});
    auto& a = w.node(node_a);
    (void)a.drain_effects();
    const auto names_before = a.names_count();

    SECTION("unknown node") {
        muster::name_updates updates;
        updates.entries.push_back(record_of("billing", {"app@stranger", 1}, 1));
        a.step(w.now(), envelope_from("app@stranger", 1, updates));

        CHECK(a.names_count() == names_before);
        CHECK_FALSE(a.whereis("billing").has_value());
        // The stranger is asked to introduce itself, but is not a member.
        REQUIRE(a.members().peers().contains("app@stranger"));
        CHECK(a.members().peers().at("app@stranger").state == muster::peer_state::connecting);
    }
    SECTION("stale incarnation of a member") {
        muster::name_updates updates;
        updates.entries.push_back(record_of("billing", {node_b, 0}, 1));
        a.step(w.now(), envelope_from(node_b, 0, updates));

        CHECK(a.names_count() == names_before);
        CHECK_FALSE(a.whereis("billing").has_value());
        CHECK(a.members().peers().at(node_b).id == muster::node_id{node_b, 1});
    }
    SECTION("register request from unknown node") {
        muster::register_request request;
        request.origin = muster::node_id{"app@stranger", 1};
        request.items.push_back({1, "billing", counter_spec, 0});
        a.step(w.now(), envelope_from("app@stranger", 1, request));

        CHECK_FALSE(a.holds("billing"));
        CHECK_FALSE(a.whereis("billing").has_value());
    }
    for (const auto& e : a.drain_effects()) {
        INFO(muster::test::describe(e));
        CHECK_FALSE(std::holds_alternative<muster::start_worker_effect>(e));
        CHECK_FALSE(std::holds_alternative<muster::member_joined>(e));
    }
}

TEST_CASE("registry restarts names of old incarnation", "[core]") {
    wire w = joined_cluster({node_a, node_b});
    const auto names = names_placed_on(w, node_a, node_b, 3);
    REQUIRE(names.size() == 3);
    for (const auto& name : names) register_and_wait(w, node_a, name);
    w.run_for(1s);

    w.restart(node_b);
    w.run_for(1s);

    CHECK(w.node(node_b).self() == muster::node_id{node_b, 2});
    CHECK(has_member(w.effects_of<muster::member_failed>(node_a), {node_b, 1}));
    CHECK(has_member(w.effects_of<muster::member_joined>(node_a), {node_b, 2}));
    CHECK_FALSE(w.node(node_a).members().is_alive({node_b, 1}));
    CHECK(w.node(node_a).members().is_alive({node_b, 2}));

    // The new incarnation learns the names from a's replica and restarts them, waiting up to one
    // failure timeout after boot so that its replica is complete.
    w.run_for(w.node(node_b).config().failure_timeout + 2s);
    for (const auto& name : names) {
        INFO("worker " << name);
        CHECK(w.running(name) == std::vector<std::string>{node_b});
        for (const auto& viewer : {node_a, node_b}) {
            const auto owner = w.node(viewer).whereis(name);
            REQUIRE(owner.has_value());
            CHECK(*owner == muster::node_id{node_b, 2});
        }
    }
    CHECK(w.violations().empty());
}

TEST_CASE("registry reoffers handoff after target dies", "[core]") {
    wire w = joined_cluster({node_a, node_b, node_c});
    const auto names = names_placed_on(w, node_a, node_c, 1);
    REQUIRE(names.size() == 1);
    const std::string& name = names[0];
    register_and_wait(w, node_a, name);
    w.workers(node_c)[name] = "count=41";

    // c leaves and offers the worker to its new owner, which crashes before it replies.
    w.set_answer_stops(node_c, false);
    w.node(node_c).leave(w.now());
    const auto target = w.node(node_c).owner_of(name);
    REQUIRE(target.has_value());
    REQUIRE(target->name != node_c);
    const std::string survivor = target->name == node_a ? node_b : node_a;
    w.run_for(0ms);
    w.crash(target->name);
    w.answer_stop(node_c, name, "count=41");
    w.run_for(2s);

    // The offer is unanswered: c keeps the state and keeps leaving.
    CHECK(w.node(node_c).holds(name));
    CHECK_FALSE(w.node(node_c).stopped());
    CHECK(w.running(name).empty());

    w.run_for(10s);
    CHECK(w.running(name) == std::vector<std::string>{survivor});
    const auto starts = w.effects_of<muster::start_worker_effect>(survivor);
    const auto start = std::find_if(starts.begin(), starts.end(), [&](const auto& e) { return e.name == name; });
    REQUIRE(start != starts.end());
    REQUIRE(start->state.has_value());
    CHECK(*start->state == "count=41");
    CHECK(w.node(node_c).stopped());
    const auto owner = w.node(survivor).whereis(name);
    REQUIRE(owner.has_value());
    CHECK(owner->name == survivor);
    CHECK(w.violations().empty());
}

TEST_CASE("registry replays identical effects", "[core]") {
    const auto run = [] {
        wire w({node_a, node_b, node_c}, 3ms);
        w.start_all();
        w.run_for(1s);
        for (int i = 0; i < 20; ++i) {
            const auto& via = i % 2 == 0 ? node_a : node_b;
            (void)w.node(via).register_name(w.now(), "worker-" + std::to_string(i), counter_spec);
            w.run_for(7ms);
        }
        w.node(node_c).leave(w.now());
        w.run_for(3s);
        w.crash(node_b);
        w.run_for(10s);
        return w.trace();
    };

    const std::string first = run();
    const std::string second = run();
    CHECK(first.size() > 1000);
    CHECK(first == second);
}

TEST_CASE("registry restart policy moves without state", "[core]") {
    muster::test::basic_wire<muster::restart> w({node_a, node_b});
    w.start_all();
    w.run_for(1s);
    const auto names = names_placed_on(w, node_a, node_b, 1);
    REQUIRE(names.size() == 1);
    register_and_wait(w, node_a, names[0]);

    w.node(node_b).leave(w.now());
    w.run_for(5s);

    CHECK(w.running(names[0]) == std::vector<std::string>{node_a});
    const auto stops = w.effects_of<muster::stop_worker_effect>(node_b);
    REQUIRE(stops.size() == 1);
    CHECK_FALSE(stops[0].want_state);
    const auto starts = w.effects_of<muster::start_worker_effect>(node_a);
    REQUIRE(starts.size() == 1);
    CHECK_FALSE(starts[0].state.has_value());
    CHECK(w.node(node_b).stopped());
}

TEST_CASE("registry ignore policy keeps worker on join", "[core]") {
    muster::test::basic_wire<muster::ignore> w({node_a, node_b});
    w.start(node_a);
    // In its first connect_timeout (3 s) node_a waits for a witness while it tries to reach
    // node_b. After that, with no member, it replies at once as a cluster of one.
    w.run_for(4s);
    const auto names = names_placed_on(w, node_a, node_a, 20);
    REQUIRE(names.size() == 20);
    for (const auto& name : names) register_and_wait(w, node_a, name);

    w.start(node_b);
    w.run_for(5s);

    REQUIRE(w.node(node_a).members().is_alive({node_b, 1}));
    for (const auto& name : names) CHECK(w.running(name) == std::vector<std::string>{node_a});
    CHECK(w.effects_of<muster::stop_worker_effect>(node_a).empty());
}

TEST_CASE("registry resume policy moves worker on join", "[core]") {
    wire w({node_a, node_b});
    w.start(node_a);
    w.run_for(4s);  // past node_a's first connect_timeout, as above
    std::vector<std::string> names;
    for (int i = 0; i < 20; ++i) names.push_back("worker-" + std::to_string(i));
    for (const auto& name : names) register_and_wait(w, node_a, name);

    w.start(node_b);
    w.run_for(5s);

    std::size_t moved = 0;
    for (const auto& name : names) {
        INFO("worker " << name);
        const auto placed = w.node(node_a).owner_of(name);
        REQUIRE(placed.has_value());
        CHECK(w.running(name) == std::vector<std::string>{placed->name});
        if (placed->name == node_b) ++moved;
    }
    CHECK(moved > 0);
    CHECK(w.effects_of<muster::stop_worker_effect>(node_a).size() == moved);
    CHECK(w.violations().empty());
}

// `create` returns the registry by value, so a moved registry must still speak as its own node.
TEST_CASE("registry keeps identity after move", "[core]") {
    using machine = wire::machine;
    auto created = machine::create(wire::config_for(node_a, 1), muster::static_list{{node_a, node_b}},
                                muster::hash_ring{}, muster::resume{});
    REQUIRE(created.has_value());
    machine moved(std::move(created).value());

    moved.start(muster::test::epoch);
    (void)moved.drain_effects();
    moved.on_connected(muster::test::epoch, node_b);

    std::vector<std::string> senders;
    for (const auto& e : moved.drain_effects())
        if (const auto* send = std::get_if<muster::send_effect>(&e)) senders.push_back(send->message->from.name);
    REQUIRE(senders.size() == 1);
    CHECK(senders[0] == node_a);
    CHECK_FALSE(moved.members().peers().contains(node_a));
    CHECK(moved.members().peers().contains(node_b));
}

TEST_CASE("registry resolves conflict after netsplit", "[core]") {
    wire w = joined_cluster({node_a, node_b});
    const auto names = names_placed_on(w, node_a, node_a, 2);
    REQUIRE(names.size() == 2);
    for (const auto& name : names) register_and_wait(w, node_a, name);
    for (const auto& name : names) w.workers(node_a)[name] = "kept " + name;

    // Each side declares the other failed, and b restarts a's workers.
    w.partition({node_b});
    w.run_for(10s);
    REQUIRE(has_member(w.effects_of<muster::member_failed>(node_b), {node_a, 1}));
    for (const auto& name : names) {
        INFO("worker " << name);
        CHECK(w.running(name) == std::vector<std::string>{node_a, node_b});
        w.workers(node_b)[name] = "lost " + name;
    }

    w.heal();
    w.run_for(15s);

    for (const auto& name : names) {
        INFO("worker " << name);
        // The placement owner keeps its instance and receives the other one's state.
        CHECK(w.running(name) == std::vector<std::string>{node_a});
        CHECK(w.workers(node_a)[name] == "kept " + name);
        const auto merges = w.effects_of<muster::merge_state_effect>(node_a);
        CHECK(std::any_of(merges.begin(), merges.end(),
                          [&](const auto& m) { return m.name == name && m.state == "lost " + name; }));
        const auto stop = w.first_index<muster::stop_worker_effect>(
            node_b, [&](const auto& e) { return e.name == name && e.cause == muster::stop_cause::conflict; });
        CHECK(stop.has_value());
        for (const auto& viewer : {node_a, node_b}) {
            const auto owner = w.node(viewer).whereis(name);
            REQUIRE(owner.has_value());
            CHECK(*owner == muster::node_id{node_a, 1});
        }
    }
    CHECK(w.node(node_a).members().is_alive({node_b, 1}));
    CHECK(w.node(node_b).members().is_alive({node_a, 1}));
    CHECK(w.violations().empty());
}

TEST_CASE("registry unregisters name during handoff", "[core]") {
    wire w = joined_cluster({node_a, node_b, node_c});
    const auto names = names_placed_on(w, node_a, node_c, 1);
    REQUIRE(names.size() == 1);
    register_and_wait(w, node_a, names[0]);

    // c is stopping the worker for its handoff when the unregister arrives.
    w.set_answer_stops(node_c, false);
    w.node(node_c).leave(w.now());
    w.run_for(0ms);
    const auto id = w.node(node_a).unregister(w.now(), names[0]);
    REQUIRE(id.has_value());
    w.run_for(10ms);
    CHECK_FALSE(w.reply(node_a, *id).has_value());

    w.answer_stop(node_c, names[0], "count=3");
    w.run_for(5s);

    const auto reply = w.reply(node_a, *id);
    REQUIRE(reply.has_value());
    CHECK_FALSE(reply->error.has_value());
    CHECK(w.running(names[0]).empty());
    CHECK_FALSE(w.node(node_a).whereis(names[0]).has_value());
    CHECK_FALSE(w.node(node_b).whereis(names[0]).has_value());
    CHECK(w.node(node_c).stopped());
    CHECK(w.violations().empty());
}

TEST_CASE("registry applies restart policy on exit", "[core]") {
    wire w({node_a});
    w.start_all();
    w.run_for(1s);
    const muster::worker_spec transient{"job", muster::restart_policy::transient};
    const muster::worker_spec temporary{"task", muster::restart_policy::temporary};
    REQUIRE(w.node(node_a).register_name(w.now(), "permanent", counter_spec).has_value());
    REQUIRE(w.node(node_a).register_name(w.now(), "transient", transient).has_value());
    REQUIRE(w.node(node_a).register_name(w.now(), "temporary", temporary).has_value());
    w.run_for(10ms);

    auto& a = w.node(node_a);
    a.on_worker_exited(w.now(), "permanent", muster::exit_reason::normal);
    a.on_worker_exited(w.now(), "transient", muster::exit_reason::crashed);
    a.on_worker_exited(w.now(), "temporary", muster::exit_reason::crashed);
    w.run_for(10ms);

    const auto starts = w.effects_of<muster::start_worker_effect>(node_a);
    const auto started = [&](const std::string& name) {
        return std::count_if(starts.begin(), starts.end(), [&](const auto& e) { return e.name == name; });
    };
    CHECK(started("permanent") == 2);
    CHECK(started("transient") == 2);
    CHECK(started("temporary") == 1);
    CHECK(a.whereis("permanent").has_value());
    CHECK(a.whereis("transient").has_value());
    CHECK_FALSE(a.whereis("temporary").has_value());

    a.on_worker_exited(w.now(), "transient", muster::exit_reason::normal);
    w.run_for(10ms);
    CHECK_FALSE(a.whereis("transient").has_value());
    CHECK(a.local_workers_count() == 1);
}

TEST_CASE("registry last node stops workers on leave", "[core]") {
    wire w({node_a});
    w.start_all();
    w.run_for(1s);
    register_and_wait(w, node_a, "billing");

    w.node(node_a).leave(w.now());
    w.run_for(1s);

    CHECK(w.node(node_a).stopped());
    const auto stops = w.effects_of<muster::stop_worker_effect>(node_a);
    REQUIRE(stops.size() == 1);
    CHECK(stops[0].name == "billing");
    CHECK(stops[0].cause == muster::stop_cause::shutdown);
    CHECK(w.effects_of<muster::node_stopped>(node_a).size() == 1);
}

TEST_CASE("registry forgets tombstone after ttl", "[core]") {
    wire w = joined_cluster({node_a, node_b});
    register_and_wait(w, node_a, "billing");
    const auto id = w.node(node_a).unregister(w.now(), "billing");
    REQUIRE(id.has_value());
    w.run_for(1s);
    CHECK(w.node(node_a).names_count() == 1);
    CHECK(w.node(node_b).names_count() == 1);

    w.run_for(w.node(node_a).config().tombstone_ttl);
    CHECK(w.node(node_a).names_count() == 0);
    CHECK(w.node(node_b).names_count() == 0);
    CHECK_FALSE(w.node(node_a).whereis("billing").has_value());
}

TEST_CASE("registry repairs missed updates by sync", "[core]") {
    wire w = joined_cluster({node_a, node_b});
    const auto names = names_placed_on(w, node_a, node_a, 5);
    REQUIRE(names.size() == 5);

    // b misses a's broadcasts; anti-entropy brings them once the partition ends.
    w.partition({node_b});
    for (const auto& name : names) REQUIRE(w.node(node_a).register_name(w.now(), name, counter_spec).has_value());
    w.run_for(100ms);
    w.heal();
    for (const auto& name : names) CHECK_FALSE(w.node(node_b).whereis(name).has_value());

    w.run_for(4s);
    for (const auto& name : names) {
        INFO("worker " << name);
        const auto owner = w.node(node_b).whereis(name);
        REQUIRE(owner.has_value());
        CHECK(*owner == muster::node_id{node_a, 1});
    }
    CHECK(w.effects_of<muster::member_failed>(node_a).empty());
}

TEST_CASE("registry confirms relayed entry before restart", "[core]") {
    wire w = joined_cluster({node_a, node_b, node_c});
    w.run_for(5s);  // past the wait after boot before any orphan restart
    const auto names = names_placed_on(w, node_a, node_a, 1);
    REQUIRE(names.size() == 1);
    const std::string& name = names[0];
    auto& a = w.node(node_a);

    // b relays an entry naming c as the holder, so a has it second-hand. c runs nothing.
    muster::name_updates relayed;
    relayed.entries.push_back(record_of(name, {node_c, 1}, 1));
    a.step(w.now(), envelope_from(node_b, 1, relayed));
    REQUIRE(a.whereis(name) == muster::node_id{node_c, 1});

    SECTION("another member knows a newer holder") {
        // b has a newer entry that a has not seen. When c leaves, a pulls the name's bucket from
        // b before it restarts anything, and learns the newer holder instead.
        muster::name_updates newer;
        newer.entries.push_back(record_of(name, {"app@elsewhere", 1}, 2));
        w.node(node_b).step(w.now(), muster::testing::make_envelope(node_c, 1, node_b, newer));
        w.node(node_c).leave(w.now());
        w.run_for(3s);

        CHECK(w.running(name).empty());
        CHECK(a.whereis(name) == muster::node_id{"app@elsewhere", 1});
        CHECK(a.stats().orphans_restarted == 0);
    }
    SECTION("no member knows better") {
        w.node(node_c).leave(w.now());
        w.run_for(3s);

        // b's replica agrees once the confirmation pull has run, and a restarts the name.
        CHECK(w.running(name) == std::vector<std::string>{node_a});
        CHECK(a.stats().orphans_restarted == 1);
    }
    CHECK(w.violations().empty());
}

TEST_CASE("registry moves workers when two nodes leave", "[core]") {
    const auto delay = GENERATE(0ms, 15ms);
    INFO("message delay " << delay.count() << " ms");
    wire w({node_a, node_b, node_c}, delay);
    w.start_all();
    w.run_for(1s);
    std::vector<std::string> names;
    for (int i = 0; i < 12; ++i) names.push_back("worker-" + std::to_string(i));
    for (const auto& name : names) register_and_wait(w, node_a, name);
    w.run_for(1s);
    for (const auto& name : names)
        for (const auto& holder : w.running(name)) w.workers(holder)[name] = "state of " + name;

    w.node(node_b).leave(w.now());
    w.node(node_c).leave(w.now());
    w.run_for(10s);

    CHECK(w.node(node_b).stopped());
    CHECK(w.node(node_c).stopped());
    for (const auto& name : names) {
        INFO("worker " << name);
        CHECK(w.running(name) == std::vector<std::string>{node_a});
        CHECK(w.workers(node_a)[name] == "state of " + name);
        const auto owner = w.node(node_a).whereis(name);
        REQUIRE(owner.has_value());
        CHECK(*owner == muster::node_id{node_a, 1});
    }
    CHECK(w.effects_of<muster::member_failed>(node_a).empty());
    CHECK(has_member(w.effects_of<muster::member_left>(node_a), {node_b, 1}));
    CHECK(has_member(w.effects_of<muster::member_left>(node_a), {node_c, 1}));
    CHECK(w.violations().empty());
}

TEST_CASE("registry moves worker on delayed leave", "[core]") {
    wire w({node_a, node_b, node_c}, 25ms);
    w.start_all();
    w.run_for(1s);
    const auto names = names_placed_on(w, node_a, node_c, 4);
    REQUIRE(names.size() == 4);
    for (const auto& name : names) register_and_wait(w, node_a, name);
    w.run_for(1s);
    for (const auto& name : names) w.workers(node_c)[name] = "count=" + name;

    w.node(node_c).leave(w.now());
    w.run_for(10s);

    for (const auto& name : names) {
        INFO("worker " << name);
        const auto holder = require_runs_once(w, name, {node_a, node_b});
        CHECK(holder != node_c);
        CHECK(w.workers(holder)[name] == "count=" + name);
    }
    CHECK(w.node(node_c).stopped());
    CHECK(w.effects_of<muster::member_failed>(node_a).empty());
    CHECK(w.effects_of<muster::member_failed>(node_b).empty());
    CHECK(w.violations().empty());
}

TEST_CASE("registry forwards registration from leaving node", "[core]") {
    wire w({node_a, node_b, node_c}, 20ms);
    w.start_all();
    w.run_for(1s);
    const auto names = names_placed_on(w, node_a, node_c, 2);
    REQUIRE(names.size() == 2);

    // c runs a worker whose stop is held back, so c stays in its leave while the request arrives.
    register_and_wait(w, node_a, names[0]);
    w.set_answer_stops(node_c, false);

    // a sends its request before c's leave notice reaches it.
    w.node(node_c).leave(w.now());
    const auto id = w.node(node_a).register_name(w.now(), names[1], counter_spec);
    REQUIRE(id.has_value());
    w.run_for(1s);

    const auto reply = w.reply(node_a, *id);
    REQUIRE(reply.has_value());
    CHECK_FALSE(reply->error.has_value());
    const auto running = w.running(names[1]);
    REQUIRE(running.size() == 1);
    CHECK(running[0] != node_c);
    REQUIRE(reply->owner.has_value());
    CHECK(reply->owner->name == running[0]);
    CHECK(w.effects_of<muster::start_worker_effect>(node_c).size() == 1);

    w.answer_stop(node_c, names[0], "count=1");
    w.run_for(5s);
    CHECK(w.node(node_c).stopped());
    CHECK(w.running(names[0]).size() == 1);
}

TEST_CASE("registry times out request to crashed owner", "[core]") {
    wire w = joined_cluster({node_a, node_b});
    const auto names = names_placed_on(w, node_a, node_b, 1);
    REQUIRE(names.size() == 1);

    w.crash(node_b);
    const auto sent_at = w.now();
    const auto id = w.node(node_a).register_name(w.now(), names[0], counter_spec);
    REQUIRE(id.has_value());

    w.run_until(sent_at + w.node(node_a).config().request_timeout - 1ms);
    CHECK_FALSE(w.reply(node_a, *id).has_value());
    w.run_for(1ms);
    const auto reply = w.reply(node_a, *id);
    REQUIRE(reply.has_value());
    REQUIRE(reply->error.has_value());
    CHECK(*reply->error == muster::errc::timed_out);
}

// A leaving node that lost its members to a partition must take them back once the partition
// heals, or its workers have nowhere to go and are dropped at the leave deadline.
TEST_CASE("registry leave hands off to healed member", "[core]") {
    wire w = joined_cluster({node_a, node_b, node_c});
    w.partition({node_c});
    w.run_for(7s);
    REQUIRE(has_member(w.effects_of<muster::member_failed>(node_a), {node_c, 1}));
    const auto names = names_placed_on(w, node_a, node_a, 1);
    REQUIRE(names.size() == 1);
    register_and_wait(w, node_a, names[0]);
    w.workers(node_a)[names[0]] = "count=5";

    // b dies unnoticed, the partition heals, and a leaves while it still counts on b.
    w.crash(node_b);
    w.heal();
    w.node(node_a).leave(w.now());
    w.run_for(40s);

    CHECK(w.node(node_a).stopped());
    CHECK(w.running(names[0]) == std::vector<std::string>{node_c});
    CHECK(w.workers(node_c)[names[0]] == "count=5");
    const auto owner = w.node(node_c).whereis(names[0]);
    REQUIRE(owner.has_value());
    CHECK(owner->name == node_c);
    CHECK(has_member(w.effects_of<muster::member_left>(node_c), {node_a, 1}));
}

TEST_CASE("registry converges after random faults", "[core][property]") {
    rc::prop("each name runs once after the cluster heals", [] {
        const std::vector<std::string> nodes{node_a, node_b, node_c};
        const auto delay = *rc::gen::element(0ms, 5ms, 20ms);
        wire w(nodes, delay);
        w.start_all();
        w.run_for(1s);

        std::set<std::string> crashed;
        std::set<std::string> left;
        std::map<std::pair<std::string, muster::request_id>, std::string> requests;
        std::set<std::string> touched;  // names with an unregister request or a failed reply
        bool partitioned = false;
        const auto live = [&] {
            std::vector<std::string> out;
            for (const auto& n : nodes)
                if (!crashed.contains(n) && !left.contains(n)) out.push_back(n);
            return out;
        };

        const auto steps_count = *rc::gen::inRange(1, 25);
        for (int step = 0; step < steps_count; ++step) {
            const auto up = live();
            const auto& via = up[*rc::gen::inRange<std::size_t>(0, up.size())];
            const std::string name = "worker-" + std::to_string(*rc::gen::inRange(0, 8));
            switch (*rc::gen::inRange(0, 8)) {
            case 0:
            case 1:
            case 2:
                if (const auto id = w.node(via).register_name(w.now(), name, counter_spec)) requests[{via, *id}] = name;
                break;
            case 3:
                touched.insert(name);
                (void)w.node(via).unregister(w.now(), name);
                break;
            case 4:
                if (up.size() > 1 && crashed.empty()) {
                    // A node replies to a local registration before its batched broadcast leaves,
                    // so a crash inside that window loses the name. Let the batch go out first.
                    w.run_for(w.node(via).config().flush_interval + 2 * delay);
                    w.crash(via);
                    crashed.insert(via);
                }
                break;
            case 5:
                // A node that leaves without another up member stops its workers with nowhere to
                // move them, so a node leaves only on a whole network with an up member in view.
                if (up.size() > 1 && left.empty() && !partitioned && has_up_member(w.node(via))) {
                    w.node(via).leave(w.now());
                    left.insert(via);
                }
                break;
            case 6:
                if (left.empty()) {
                    w.partition({via});
                    partitioned = true;
                }
                break;
            default:
                w.heal();
                partitioned = false;
                break;
            }
            w.run_for(*rc::gen::element(0ms, 10ms, 300ms, 2s, 7s));
        }
        w.heal();
        w.run_for(40s);

        for (const auto& [key, name] : requests) {
            const auto reply = w.reply(key.first, key.second);
            if (!reply || reply->error) touched.insert(name);
            // A name started and acknowledged on a node that crashed may never have left it.
            else if (reply->owner && reply->owner->name == key.first && crashed.contains(key.first))
                touched.insert(name);
        }
        for (int i = 0; i < 8; ++i) {
            const std::string name = "worker-" + std::to_string(i);
            const auto running = w.running(name);
            RC_ASSERT(running.size() <= 1);
            bool registered = false;
            for (const auto& [key, requested] : requests) registered = registered || requested == name;
            if (registered && !touched.contains(name)) RC_ASSERT(running.size() == 1);
            for (const auto& viewer : live()) {
                const auto owner = w.node(viewer).whereis(name);
                if (running.empty()) {
                    RC_ASSERT(!owner.has_value());
                } else {
                    RC_ASSERT(owner.has_value());
                    RC_ASSERT(owner->name == running[0]);
                }
            }
        }
        RC_ASSERT(w.violations().empty());
    });
}

TEST_CASE("registry ignores offer replayed after unregister", "[core]") {
    wire w = joined_cluster({node_a, node_b});
    const auto names = names_placed_on(w, node_a, node_b, 1);
    REQUIRE(names.size() == 1);
    register_and_wait(w, node_a, names[0]);
    const auto id = w.node(node_a).unregister(w.now(), names[0]);
    REQUIRE(id.has_value());
    w.run_for(1s);
    REQUIRE(w.running(names[0]).empty());
    const auto starts_before = w.effects_of<muster::start_worker_effect>(node_b).size();

    // A duplicated offer from before the removal arrives late: the tombstone is newer.
    muster::handoff_offer offer;
    offer.items.push_back(muster::handoff_item{77, names[0], 1, counter_spec, std::string("count=1")});
    w.node(node_b).step(w.now(), muster::testing::make_envelope(node_a, 1, node_b, offer));
    w.run_for(1s);

    CHECK(w.effects_of<muster::start_worker_effect>(node_b).size() == starts_before);
    CHECK(w.running(names[0]).empty());
    CHECK_FALSE(w.node(node_a).whereis(names[0]).has_value());
    CHECK_FALSE(w.node(node_b).whereis(names[0]).has_value());
}

TEST_CASE("registry rejects oversized version and kind", "[core]") {
    wire w = joined_cluster({node_a, node_b});
    auto& a = w.node(node_a);
    const auto names_before = a.names_count();
    const auto rejected_before = a.stats().messages_rejected;

    muster::name_updates updates;
    updates.entries.push_back(record_of("huge-version", {node_b, 1}, muster::version_max));
    auto long_kind = record_of("long-kind", {node_b, 1}, 1);
    long_kind.spec.kind = std::string(256, 'k');
    updates.entries.push_back(long_kind);
    a.step(w.now(), envelope_from(node_b, 1, updates));

    CHECK(a.names_count() == names_before);
    CHECK(a.stats().messages_rejected == rejected_before + 2);
    const auto registered = a.register_name(w.now(), "job", muster::worker_spec{std::string(256, 'k')});
    REQUIRE_FALSE(registered.has_value());
    CHECK(registered.error() == muster::errc::invalid_spec);
}

namespace {

// Builds a batch that registers every name of `names` with the counter spec.
std::vector<muster::registration> batch_of(const std::vector<std::string>& names) {
    std::vector<muster::registration> batch;
    for (const auto& name : names) batch.push_back({name, counter_spec});
    return batch;
}

// Returns the messages of type `T` that `node` sent, oldest first.
template <class T, class Wire>
std::vector<T> sent_by(const Wire& w, const std::string& node) {
    std::vector<T> out;
    for (const auto& send : w.template effects_of<muster::send_effect>(node))
        if (const auto* body = std::get_if<T>(&send.message->body)) out.push_back(*body);
    return out;
}

// A machine fed by hand, with `peers` joined as members and the smallest message size limit
// (which needs fewer anti-entropy buckets than the default).
muster::test::wire::machine joined_by_hand(const std::string& self, const std::vector<std::string>& peers,
                                           muster::time_point now) {
    auto config = muster::test::wire::config_for(self, 1);
    config.sync_buckets = 64;
    config.message_size_max = muster::message_size_max_lower;
    std::vector<std::string> members{self};
    members.insert(members.end(), peers.begin(), peers.end());
    muster::test::wire::machine m(config, muster::static_list{members}, muster::hash_ring{}, muster::resume{});
    m.start(now);
    for (const auto& peer : peers) m.on_connected(now, peer);
    muster::hello h;
    h.members = members;
    for (const auto& peer : peers) m.step(now, muster::testing::make_envelope(peer, 1, self, h));
    (void)m.drain_effects();
    return m;
}

muster::test::wire::machine joined_by_hand(const std::string& self, const std::string& peer, muster::time_point now) {
    return joined_by_hand(self, std::vector<std::string>{peer}, now);
}

// Encodes a sent message the way the runtime does and returns its payload size. A broadcast
// envelope names no recipient, so the copy on the wire names the peer.
std::size_t encoded_payload_size(const muster::send_effect& send) {
    muster::envelope addressed = *send.message;
    addressed.to = send.to;
    const auto frame = muster::wire::encode(addressed, {muster::wire::frame_size_max_upper});
    REQUIRE(frame.has_value());
    return frame->size() - muster::wire::frame_header_size;
}

}  // namespace

TEST_CASE("registry batch spans several owners", "[core]") {
    wire w = joined_cluster({node_a, node_b, node_c});
    const auto on_a = names_placed_on(w, node_a, node_a, 2);
    const auto on_b = names_placed_on(w, node_a, node_b, 3);
    const auto on_c = names_placed_on(w, node_a, node_c, 3);
    REQUIRE(on_a.size() == 2);
    REQUIRE(on_b.size() == 3);
    REQUIRE(on_c.size() == 3);
    // Interleaved, so grouping by owner is the machine's work.
    const std::vector<std::string> names{on_b[0], on_c[0], on_a[0], on_b[1], on_c[1], on_a[1], on_b[2], on_c[2]};

    const auto ids = w.node(node_a).register_names(w.now(), batch_of(names));
    REQUIRE(ids.size() == names.size());
    for (const auto& id : ids) REQUIRE(id.has_value());
    std::set<muster::request_id> distinct;
    for (const auto& id : ids) distinct.insert(*id);
    CHECK(distinct.size() == names.size());
    w.run_for(100ms);

    // One request to each other owner, with its names in batch order, and one reply from each.
    const auto requests = sent_by<muster::register_request>(w, node_a);
    REQUIRE(requests.size() == 2);
    const auto request_names = [](const muster::register_request& r) {
        std::vector<std::string> out;
        for (const auto& item : r.items) out.push_back(item.name);
        return out;
    };
    CHECK(request_names(requests[0]) == on_b);
    CHECK(request_names(requests[1]) == on_c);
    CHECK(requests[0].origin == muster::node_id{node_a, 1});
    REQUIRE(sent_by<muster::register_reply>(w, node_b).size() == 1);
    REQUIRE(sent_by<muster::register_reply>(w, node_c).size() == 1);
    CHECK(sent_by<muster::register_reply>(w, node_b)[0].results.size() == 3);
    CHECK(sent_by<muster::register_reply>(w, node_c)[0].results.size() == 3);

    // The names placed on a go to its witness (b, the next member by name) in one message.
    const auto witnessed = sent_by<muster::name_updates>(w, node_a);
    const auto with_ack = std::count_if(witnessed.begin(), witnessed.end(), [](const auto& u) { return u.ack_id != 0; });
    CHECK(with_ack == 1);

    for (std::size_t i = 0; i < names.size(); ++i) {
        INFO(names[i]);
        const auto reply = w.reply(node_a, *ids[i]);
        REQUIRE(reply.has_value());
        CHECK_FALSE(reply->error.has_value());
        const auto running = w.running(names[i]);
        REQUIRE(running.size() == 1);
        REQUIRE(reply->owner.has_value());
        CHECK(reply->owner->name == running[0]);
        const auto owner = w.node(node_a).whereis(names[i]);
        REQUIRE(owner.has_value());
        CHECK(owner->name == running[0]);
    }
    CHECK(w.running(on_a[0]) == std::vector<std::string>{node_a});
    CHECK(w.running(on_b[0]) == std::vector<std::string>{node_b});
    CHECK(w.running(on_c[0]) == std::vector<std::string>{node_c});
    CHECK(w.violations().empty());
}

TEST_CASE("registry sends each entry once per replica", "[core]") {
    wire w = joined_cluster({node_a, node_b, node_c});
    const auto on_a = names_placed_on(w, node_a, node_a, 3);
    const auto on_b = names_placed_on(w, node_a, node_b, 3);
    REQUIRE(on_a.size() == 3);
    REQUIRE(on_b.size() == 3);
    std::vector<std::string> names = on_a;
    names.insert(names.end(), on_b.begin(), on_b.end());
    const std::set<std::string> from_a(on_a.begin(), on_a.end());
    const std::set<std::string> from_b(on_b.begin(), on_b.end());

    const auto ids = w.node(node_a).register_names(w.now(), batch_of(names));
    for (const auto& id : ids) REQUIRE(id.has_value());
    w.run_for(100ms);

    // Counts, per sender and recipient, the entries of `wanted` sent in `name_updates`, the
    // witness requests (with an ack id) counted apart.
    const auto count_sent = [&](const std::string& sender, const std::string& to, const std::set<std::string>& wanted,
                                bool witness_requests) {
        std::size_t count = 0;
        for (const auto& send : w.effects_of<muster::send_effect>(sender)) {
            const auto* updates = std::get_if<muster::name_updates>(&send.message->body);
            if (updates == nullptr || send.to != to || (updates->ack_id != 0) != witness_requests) continue;
            for (const auto& entry : updates->entries) count += wanted.contains(entry.name) ? 1 : 0;
        }
        return count;
    };
    // The names placed on a reach b, its witness, in the witness request only, and c in the
    // broadcast.
    CHECK(count_sent(node_a, node_b, from_a, true) == on_a.size());
    CHECK(count_sent(node_a, node_b, from_a, false) == 0);
    CHECK(count_sent(node_a, node_c, from_a, false) == on_a.size());
    // The names placed on b reach a in the reply only, and c in the broadcast.
    CHECK(count_sent(node_b, node_a, from_b, false) == 0);
    CHECK(count_sent(node_b, node_c, from_b, false) == on_b.size());

    for (std::size_t i = 0; i < names.size(); ++i) {
        INFO(names[i]);
        const auto reply = w.reply(node_a, *ids[i]);
        REQUIRE(reply.has_value());
        CHECK_FALSE(reply->error.has_value());
        require_runs_once(w, names[i], {node_a, node_b, node_c});
    }
    CHECK(w.violations().empty());
}

TEST_CASE("registry drains effects into vector", "[core]") {
    const auto now = muster::test::epoch;
    auto a = joined_by_hand(node_a, node_b, now);
    std::vector<muster::effect> out;
    out.push_back(muster::node_stopped{});  // stale contents, dropped by the drain

    const auto first = a.register_name(now, "drained-1", counter_spec);
    REQUIRE(first.has_value());
    a.drain_effects_into(out);
    const auto sends = [](const std::vector<muster::effect>& effects) {
        return std::count_if(effects.begin(), effects.end(),
                             [](const muster::effect& e) { return std::holds_alternative<muster::send_effect>(e); });
    };
    CHECK(sends(out) >= 1);
    CHECK(std::none_of(out.begin(), out.end(),
                       [](const muster::effect& e) { return std::holds_alternative<muster::node_stopped>(e); }));

    // A second drain returns only what the next input produced.
    a.drain_effects_into(out);
    CHECK(out.empty());
    const auto second = a.register_name(now, "drained-2", counter_spec);
    REQUIRE(second.has_value());
    a.drain_effects_into(out);
    CHECK_FALSE(out.empty());
    CHECK(a.drain_effects().empty());
}

TEST_CASE("registry applies reply entry after timeout", "[core]") {
    const auto now = muster::test::epoch;
    auto a = joined_by_hand(node_a, node_b, now);
    std::string name;
    for (int i = 0; name.empty() && i < 1000; ++i) {
        const std::string candidate = "late-" + std::to_string(i);
        const auto owner = a.owner_of(candidate);
        if (owner && owner->name == node_b) name = candidate;
    }
    REQUIRE_FALSE(name.empty());
    const auto id = a.register_name(now, name, counter_spec);
    REQUIRE(id.has_value());
    // b stays a member through heartbeats while the request times out.
    const auto late = now + a.config().request_timeout + 1s;
    bool timed_out = false;
    for (auto t = now + 1s; t <= late; t += 1s) {
        a.step(t, muster::testing::make_envelope(node_b, 1, node_a, muster::heartbeat{}));
        a.tick(t);
        for (const auto& e : a.drain_effects())
            if (const auto* r = std::get_if<muster::reply_effect>(&e); r && r->id == *id)
                timed_out = r->error == muster::errc::timed_out;
    }
    REQUIRE(timed_out);
    REQUIRE(a.members().is_alive({node_b, 1}));

    // The owner's broadcast skips a, so the late reply is its only copy of the entry. The
    // request has had its one reply, so no second one follows.
    muster::register_reply reply;
    reply.results.push_back({*id, std::nullopt, record_of(name, {node_b, 1}, 1)});
    a.step(late, muster::testing::make_envelope(node_b, 1, node_a, reply));
    const auto owner = a.whereis(name);
    REQUIRE(owner.has_value());
    CHECK(owner->name == node_b);
    for (const auto& e : a.drain_effects()) CHECK_FALSE(std::holds_alternative<muster::reply_effect>(e));
}

TEST_CASE("registry batch rejects names one by one", "[core]") {
    wire w = joined_cluster({node_a, node_b});
    const auto on_b = names_placed_on(w, node_a, node_b, 3);
    const auto on_a = names_placed_on(w, node_a, node_a, 1);
    REQUIRE(on_b.size() == 3);
    REQUIRE(on_a.size() == 1);
    register_and_wait(w, node_a, on_b[2]);

    std::vector<muster::registration> batch{
        {on_b[0], counter_spec},
        {on_a[0], counter_spec},
        {on_b[0], counter_spec},           // a repeat of a name placed elsewhere
        {"", counter_spec},
        {std::string(256, 'x'), counter_spec},
        {on_b[1], {std::string(256, 'k'), muster::restart_policy::permanent}},
        {on_b[1], counter_spec},           // valid now: the earlier item was rejected
        {on_a[0], counter_spec},           // a repeat of a name started here
        {on_b[2], counter_spec},           // registered before the batch
    };
    const auto results = w.node(node_a).register_names(w.now(), batch);
    REQUIRE(results.size() == batch.size());
    CHECK(results[0].has_value());
    CHECK(results[1].has_value());
    REQUIRE_FALSE(results[2].has_value());
    CHECK(results[2].error() == muster::errc::duplicate_in_batch);
    REQUIRE_FALSE(results[3].has_value());
    CHECK(results[3].error() == muster::errc::empty_name);
    REQUIRE_FALSE(results[4].has_value());
    CHECK(results[4].error() == muster::errc::name_too_long);
    REQUIRE_FALSE(results[5].has_value());
    CHECK(results[5].error() == muster::errc::invalid_spec);
    CHECK(results[6].has_value());
    REQUIRE_FALSE(results[7].has_value());
    CHECK(results[7].error() == muster::errc::duplicate_in_batch);
    REQUIRE_FALSE(results[8].has_value());
    CHECK(results[8].error() == muster::errc::already_registered);
    w.run_for(1s);

    for (const std::size_t i : {0, 1, 6}) {
        INFO("item " << i);
        const auto reply = w.reply(node_a, *results[i]);
        REQUIRE(reply.has_value());
        CHECK_FALSE(reply->error.has_value());
    }
    CHECK(w.running(on_b[0]) == std::vector<std::string>{node_b});
    CHECK(w.running(on_b[1]) == std::vector<std::string>{node_b});
    CHECK(w.running(on_a[0]) == std::vector<std::string>{node_a});
    CHECK(w.effects_of<muster::start_worker_effect>(node_a).size() == 1);
    CHECK(w.effects_of<muster::start_worker_effect>(node_b).size() == 3);
    // Every reply the machine produced belongs to an accepted item, once.
    CHECK(w.effects_of<muster::reply_effect>(node_a).size() == 4);
    CHECK(w.violations().empty());
}

TEST_CASE("registry batch survives owner crash", "[core]") {
    wire w({node_a, node_b, node_c}, 10ms);
    w.start_all();
    w.run_for(1s);
    const auto on_b = names_placed_on(w, node_a, node_b, 3);
    const auto on_c = names_placed_on(w, node_a, node_c, 3);
    REQUIRE(on_b.size() == 3);
    REQUIRE(on_c.size() == 3);
    std::vector<std::string> names = on_b;
    names.insert(names.end(), on_c.begin(), on_c.end());

    const auto sent_at = w.now();
    const auto ids = w.node(node_a).register_names(w.now(), batch_of(names));
    for (const auto& id : ids) REQUIRE(id.has_value());

    // c receives the batch at 10 ms and starts its workers. It crashes at 12 ms, before its
    // batch of updates leaves at 15 ms and before its reply arrives at 20 ms.
    w.run_for(12ms);
    REQUIRE(w.effects_of<muster::start_worker_effect>(node_c).size() == 3);
    w.crash(node_c);

    const auto timeout = w.node(node_a).config().request_timeout;
    w.run_until(sent_at + timeout - 1ms);
    for (std::size_t i = 0; i < 3; ++i) {
        const auto reply = w.reply(node_a, *ids[i]);
        REQUIRE(reply.has_value());
        CHECK_FALSE(reply->error.has_value());
    }
    for (std::size_t i = 3; i < 6; ++i) CHECK_FALSE(w.reply(node_a, *ids[i]).has_value());
    w.run_for(1ms);
    for (std::size_t i = 3; i < 6; ++i) {
        const auto reply = w.reply(node_a, *ids[i]);
        REQUIRE(reply.has_value());
        REQUIRE(reply->error.has_value());
        CHECK(*reply->error == muster::errc::timed_out);
    }

    // Once c is declared failed, the caller registers the timed-out names again, and they
    // run on the survivors: none is lost.
    w.run_for(5s);
    REQUIRE(has_member(w.effects_of<muster::member_failed>(node_a), {node_c, 1}));
    const auto again = w.node(node_a).register_names(w.now(), batch_of(on_c));
    for (const auto& id : again) REQUIRE(id.has_value());
    w.run_for(1s);
    for (std::size_t i = 0; i < again.size(); ++i) {
        INFO(on_c[i]);
        const auto reply = w.reply(node_a, *again[i]);
        REQUIRE(reply.has_value());
        CHECK_FALSE(reply->error.has_value());
    }
    for (const auto& name : names) {
        INFO(name);
        CHECK(require_runs_once(w, name, {node_b}) != node_c);
    }
    CHECK(w.violations().empty());
}

TEST_CASE("registry batch on lone node", "[core]") {
    wire w({node_a});
    w.start_all();
    w.run_for(1s);
    const std::vector<std::string> names{"billing", "reports", "invoices"};

    const auto ids = w.node(node_a).register_names(w.now(), batch_of(names));
    REQUIRE(ids.size() == 3);
    for (const auto& id : ids) REQUIRE(id.has_value());
    // A node that never saw a member has no one to copy the names to: the replies come with
    // the call's own effects.
    w.run_for(0ms);
    for (std::size_t i = 0; i < names.size(); ++i) {
        INFO(names[i]);
        const auto reply = w.reply(node_a, *ids[i]);
        REQUIRE(reply.has_value());
        CHECK_FALSE(reply->error.has_value());
        REQUIRE(reply->owner.has_value());
        CHECK(*reply->owner == muster::node_id{node_a, 1});
        CHECK(w.running(names[i]) == std::vector<std::string>{node_a});
    }
    CHECK(w.effects_of<muster::send_effect>(node_a).empty());

    // An empty batch changes nothing.
    CHECK(w.node(node_a).register_names(w.now(), {}).empty());
    CHECK(w.node(node_a).drain_effects().empty());
}

TEST_CASE("registry batch waits for witness after failure", "[core]") {
    wire w = joined_cluster({node_a, node_b});
    w.crash(node_b);
    w.run_for(7s);
    REQUIRE(has_member(w.effects_of<muster::member_failed>(node_a), {node_b, 1}));
    const std::vector<std::string> names{"billing", "reports"};

    // Alone after a failure, a does not acknowledge names that only its own replica holds.
    const auto sent_at = w.now();
    const auto ids = w.node(node_a).register_names(w.now(), batch_of(names));
    for (const auto& id : ids) REQUIRE(id.has_value());
    w.run_until(sent_at + w.node(node_a).config().request_timeout - 1ms);
    for (const auto& id : ids) CHECK_FALSE(w.reply(node_a, *id).has_value());
    w.run_for(1ms);
    for (const auto& id : ids) {
        const auto reply = w.reply(node_a, *id);
        REQUIRE(reply.has_value());
        REQUIRE(reply->error.has_value());
        CHECK(*reply->error == muster::errc::timed_out);
    }
    CHECK(w.running(names[0]) == std::vector<std::string>{node_a});
    CHECK(w.running(names[1]) == std::vector<std::string>{node_a});
}

TEST_CASE("registry batch acknowledged by returning witness", "[core]") {
    wire w = joined_cluster({node_a, node_b});
    w.partition({node_b});
    w.run_for(7s);
    REQUIRE(has_member(w.effects_of<muster::member_failed>(node_a), {node_b, 1}));
    const std::vector<std::string> names{"billing", "reports", "invoices"};

    const auto ids = w.node(node_a).register_names(w.now(), batch_of(names));
    for (const auto& id : ids) REQUIRE(id.has_value());
    w.run_for(1s);
    for (const auto& id : ids) CHECK_FALSE(w.reply(node_a, *id).has_value());

    // The witness request goes out again each heartbeat, so b acknowledges once it is back.
    w.heal();
    w.run_for(3s);
    for (const auto& id : ids) {
        const auto reply = w.reply(node_a, *id);
        REQUIRE(reply.has_value());
        CHECK_FALSE(reply->error.has_value());
    }
    for (const auto& name : names) {
        INFO(name);
        require_runs_once(w, name, {node_b});
    }
    CHECK(w.violations().empty());
}

TEST_CASE("registry batch splits messages by size", "[core]") {
    const auto now = muster::test::epoch;
    auto a = joined_by_hand(node_a, node_b, now);
    REQUIRE(a.members().peers().at(node_b).state == muster::peer_state::up);

    // 60 names of about 200 bytes placed on b: about 13,000 bytes, more than four messages.
    std::vector<std::string> names;
    for (int i = 0; names.size() < 60 && i < 10000; ++i) {
        std::string name = "batch-" + std::to_string(i) + "-" + std::string(190, 'n');
        const auto owner = a.owner_of(name);
        if (owner && owner->name == node_b) names.push_back(std::move(name));
    }
    REQUIRE(names.size() == 60);
    const auto ids = a.register_names(now, batch_of(names));
    for (const auto& id : ids) REQUIRE(id.has_value());

    std::vector<std::string> sent_names;
    std::size_t requests = 0;
    for (const auto& e : a.drain_effects()) {
        const auto* send = std::get_if<muster::send_effect>(&e);
        if (send == nullptr) continue;
        const auto* request = std::get_if<muster::register_request>(&send->message->body);
        if (request == nullptr) continue;
        ++requests;
        CHECK(encoded_payload_size(*send) <= muster::message_size_max_lower);
        for (const auto& item : request->items) sent_names.push_back(item.name);
    }
    CHECK(requests >= 4);
    CHECK(sent_names == names);

    // The owner's replies and its broadcast of the new entries are split the same way. The
    // broadcast goes to c only, because a has the entries from the replies.
    auto b = joined_by_hand(node_b, std::vector<std::string>{node_a, node_c}, now);
    REQUIRE(b.members().peers().at(node_c).state == muster::peer_state::up);
    muster::register_request request;
    request.origin = {node_a, 1};
    for (std::size_t i = 0; i < names.size(); ++i) request.items.push_back({*ids[i], names[i], counter_spec, 0});
    b.step(now, muster::testing::make_envelope(node_a, 1, node_b, request));
    b.tick(now + b.config().flush_interval);

    std::vector<muster::request_id> replied;
    std::size_t replies = 0;
    std::size_t updated = 0;
    for (const auto& e : b.drain_effects()) {
        const auto* send = std::get_if<muster::send_effect>(&e);
        if (send == nullptr) continue;
        if (const auto* reply = std::get_if<muster::register_reply>(&send->message->body)) {
            ++replies;
            CHECK(encoded_payload_size(*send) <= muster::message_size_max_lower);
            for (const auto& result : reply->results) {
                CHECK_FALSE(result.error.has_value());
                replied.push_back(result.id);
            }
        } else if (const auto* updates = std::get_if<muster::name_updates>(&send->message->body)) {
            CHECK(encoded_payload_size(*send) <= muster::message_size_max_lower);
            CHECK(send->to == node_c);
            updated += updates->entries.size();
        }
    }
    CHECK(replies >= 4);
    REQUIRE(replied.size() == names.size());
    for (std::size_t i = 0; i < names.size(); ++i) CHECK(replied[i] == *ids[i]);
    CHECK(updated == names.size());
    CHECK(b.local_workers_count() == names.size());
}

// The registry keeps every message it sends within `message_size_max`, so a large registry's
// anti-entropy responses and update batches fit the frames of the wire format.

#include <muster/core/registry.hpp>
#include <muster/policy/discovery/static_list.hpp>
#include <muster/policy/handoff/resume.hpp>
#include <muster/policy/placement/hash_ring.hpp>
#include <muster/wire/codec.hpp>

#include "support/envelope.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

using machine = muster::registry<muster::static_list, muster::hash_ring, muster::resume>;

const muster::time_point start_time = muster::time_point{} + 1h;
const muster::worker_spec counter_spec{"counter", muster::restart_policy::permanent};

muster::registry_config small_messages(const std::string& self) {
    muster::registry_config config;
    config.self = muster::node_id{self, 1};
    config.message_size_max = muster::message_size_max_lower;
    config.sync_buckets = 16;
    return config;
}

machine make_machine(const std::string& self) {
    auto created = machine::create(small_messages(self), muster::static_list{{}}, muster::hash_ring{}, muster::resume{});
    REQUIRE(created.has_value());
    return std::move(created).value();
}

// Makes `peer` a member of `m` with a hello exchange, as the transport would deliver it.
void join(machine& m, const std::string& peer) {
    m.step(start_time, muster::testing::make_envelope(peer, 1, m.self().name, muster::hello{}));
    m.drain_effects();
}

// Encodes every name_updates that `effects` sends and returns their entries' names. Each must
// fit a frame of `message_size_max` plus the envelope's room.
std::vector<std::string> sent_update_names(const std::vector<muster::effect>& effects, bool sync_response) {
    muster::wire::wire_config wire;
    wire.frame_size_max = muster::message_size_max_lower + muster::message_overhead_max;
    std::vector<std::string> names;
    for (const auto& e : effects) {
        const auto* send = std::get_if<muster::send_effect>(&e);
        if (!send) continue;
        const auto* updates = std::get_if<muster::name_updates>(&send->message->body);
        if (!updates) continue;
        if (!sync_response) CHECK_FALSE(updates->sync_response);
        // A broadcast shares one envelope without an addressee; the host fills it in per peer.
        auto message = *send->message;
        message.to = send->to;
        const auto frame = muster::wire::encode(message, wire);
        REQUIRE(frame.has_value());
        CHECK(frame->size() <= wire.frame_size_max + muster::wire::frame_header_size);
        for (const auto& r : updates->entries) names.push_back(r.name);
    }
    return names;
}

std::vector<std::string> numbered_names(int count) {
    std::vector<std::string> names;
    for (int i = 0; i < count; ++i) names.push_back("worker-with-a-longer-name-" + std::to_string(i));
    return names;
}

}  // namespace

TEST_CASE("registry splits a large sync response", "[core]") {
    auto a = make_machine("app@a");
    a.start(start_time);
    const auto names = numbered_names(400);
    for (const auto& name : names) REQUIRE(a.register_name(start_time, name, counter_spec).has_value());
    join(a, "app@b");

    std::vector<std::uint32_t> every_bucket;
    for (std::uint32_t b = 0; b < 16; ++b) every_bucket.push_back(b);
    a.step(start_time, muster::testing::make_envelope("app@b", 1, "app@a", muster::sync_request{every_bucket, {}}));
    const auto effects = a.drain_effects();

    const auto sent = sent_update_names(effects, true);
    // Only the last part ends the pull.
    std::vector<bool> ends;
    for (const auto& e : effects)
        if (const auto* s = std::get_if<muster::send_effect>(&e))
            if (const auto* u = std::get_if<muster::name_updates>(&s->message->body)) ends.push_back(u->sync_response);
    REQUIRE_FALSE(ends.empty());
    CHECK(ends.back());
    CHECK(std::count(ends.begin(), ends.end(), true) == 1);
    CHECK(sent.size() == names.size());
    CHECK(std::set<std::string>(sent.begin(), sent.end()) == std::set<std::string>(names.begin(), names.end()));
    // Each part spans the whole hash space, so a receiver whose table grows while the parts
    // arrive does not get its names in hash order.
    std::size_t messages = 0;
    for (const auto& e : effects) {
        const auto* s = std::get_if<muster::send_effect>(&e);
        if (!s) continue;
        const auto* u = std::get_if<muster::name_updates>(&s->message->body);
        if (!u) continue;
        ++messages;
        if (u->entries.size() < 30) continue;
        std::set<std::uint32_t> sixteenths;
        for (const auto& r : u->entries) sixteenths.insert(muster::detail::name_hash(r.name) >> 28);
        INFO("part " << messages << " of " << u->entries.size() << " entries");
        CHECK(sixteenths.size() >= 10);
    }
    CHECK(messages > 1);
}

TEST_CASE("registry responds once to an empty pull", "[core]") {
    auto a = make_machine("app@a");
    a.start(start_time);
    join(a, "app@b");
    a.step(start_time, muster::testing::make_envelope("app@b", 1, "app@a", muster::sync_request{{0, 1}, {}}));
    const auto effects = a.drain_effects();
    std::size_t responses = 0;
    for (const auto& e : effects)
        if (const auto* s = std::get_if<muster::send_effect>(&e))
            if (const auto* u = std::get_if<muster::name_updates>(&s->message->body); u && u->sync_response) {
                CHECK(u->entries.empty());
                ++responses;
            }
    CHECK(responses == 1);
}

TEST_CASE("registry splits a large update batch", "[core]") {
    auto a = make_machine("app@a");
    a.start(start_time);
    join(a, "app@b");
    // Names that a's placement keeps on a start there, and one flush broadcasts them all.
    std::vector<std::string> local;
    for (const auto& name : numbered_names(800)) {
        const auto owner = a.owner_of(name);
        REQUIRE(owner.has_value());
        if (owner->name != "app@a") continue;
        REQUIRE(a.register_name(start_time, name, counter_spec).has_value());
        local.push_back(name);
    }
    REQUIRE(local.size() > 200);
    a.drain_effects();
    a.tick(start_time + 1s);

    const auto sent = sent_update_names(a.drain_effects(), false);
    std::set<std::string> broadcast;
    for (const auto& name : sent)
        if (name.rfind("worker-", 0) == 0) broadcast.insert(name);
    CHECK(broadcast == std::set<std::string>(local.begin(), local.end()));
}

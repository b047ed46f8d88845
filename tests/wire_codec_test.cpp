#include <muster/wire/codec.hpp>

#include "support/message_gen.hpp"

#include <muster/core/config.hpp>

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <vector>

using muster::wire::decode_error;
using muster::wire::encode_error;

namespace {

muster::envelope sample(muster::message body) {
    muster::envelope e;
    e.from = {"app@10.0.0.1:7001", 3};
    e.to = "app@10.0.0.2:7001";
    e.to_incarnation = 0;
    e.body = std::move(body);
    return e;
}

std::vector<std::uint8_t> payload_of(const muster::envelope& e) {
    auto frame = muster::wire::encode(e);
    REQUIRE(frame.has_value());
    return {frame->begin() + muster::wire::frame_header_size, frame->end()};
}

// Decodes a payload and returns its error, failing the test if it decodes.
decode_error error_of(const std::vector<std::uint8_t>& payload) {
    const auto decoded = muster::wire::decode(payload);
    REQUIRE_FALSE(decoded.has_value());
    return decoded.error();
}

// Offset of the body in the payload of `sample(...)`: version, kind, from, to, to_incarnation.
std::size_t body_offset() {
    return 2 + 1 + std::string("app@10.0.0.1:7001").size() + 1 + 1 + std::string("app@10.0.0.2:7001").size() + 1;
}

template <class T>
void check_round_trip() {
    rc::prop("decode(encode(m)) == m, and encoding again gives the same bytes", [] {
        const muster::envelope e = *muster::testing::gen_envelope_of<T>();
        const auto frame = muster::wire::encode(e);
        RC_ASSERT(frame.has_value());
        const auto decoded = muster::wire::decode_frame(*frame);
        RC_ASSERT(decoded.has_value());
        RC_ASSERT(*decoded == e);
        RC_ASSERT(std::holds_alternative<T>(decoded->body));
        const auto again = muster::wire::encode(*decoded);
        RC_ASSERT(again.has_value());
        RC_ASSERT(*again == *frame);
    });
}

// Checks that every generated `Body` encodes within `message_overhead_max` plus the
// `encoded_size_max` of each element of the list that `elements` returns, the bounds the core
// splits batches by.
template <class Body, class Elements>
void check_size_bound(const std::string& description, Elements elements) {
    rc::prop(description, [elements] {
        const muster::envelope e = *muster::testing::gen_envelope_of<Body>();
        std::size_t bound = muster::message_overhead_max;
        for (const auto& element : elements(std::get<Body>(e.body))) bound += muster::encoded_size_max(element);
        const auto frame = muster::wire::encode(e, {muster::wire::frame_size_max_upper});
        RC_ASSERT(frame.has_value());
        RC_ASSERT(frame->size() - muster::wire::frame_header_size <= bound);
    });
}

}  // namespace

TEMPLATE_TEST_CASE("codec round-trips every message kind", "[wire][property]", muster::hello, muster::heartbeat,
                   muster::leave_notice, muster::goodbye, muster::register_request, muster::register_reply,
                   muster::unregister_request, muster::unregister_reply, muster::name_updates, muster::handoff_offer,
                   muster::handoff_reply, muster::sync_digest, muster::sync_request, muster::conflict_yield,
                   muster::updates_ack) {
    check_round_trip<TestType>();
}

TEST_CASE("codec kind byte is the variant index", "[wire]") {
    static_assert(muster::message_kinds_count == 15);
    const auto payload = payload_of(sample(muster::updates_ack{7}));
    CHECK(payload[0] == muster::wire::wire_version);
    CHECK(payload[1] == 14);
}

TEST_CASE("codec writes big-endian length prefix", "[wire]") {
    const auto frame = muster::wire::encode(sample(muster::heartbeat{}));
    REQUIRE(frame.has_value());
    const std::size_t payload_size = frame->size() - 4;
    CHECK((*frame)[0] == 0);
    CHECK((*frame)[1] == 0);
    CHECK((*frame)[2] == 0);
    CHECK((*frame)[3] == payload_size);
}

TEST_CASE("codec decodes every prefix as an error", "[wire]") {
    muster::entry_record record;
    record.name = "billing";
    record.owner = {"app@b", 2};
    record.version = 9;
    record.spec.kind = "sweeper";
    record.spec.restart = muster::restart_policy::transient;
    muster::name_updates updates;
    updates.entries.push_back(record);
    updates.ack_id = 300;
    muster::handoff_item item;
    item.handoff_id = 1;
    item.name = "billing";
    item.version = 4;
    item.spec.kind = "sweeper";
    item.state = "state";
    muster::hello hello;
    hello.reply_requested = true;
    hello.members = {"app@a", "app@b"};
    muster::register_reply reply;
    reply.results.push_back({5, muster::errc::already_registered, record});
    reply.results.push_back({6, std::nullopt, record});
    muster::register_request request;
    request.origin = {"app@a", 1};
    request.items.push_back({5, "billing", {"sweeper", muster::restart_policy::transient}, 3});
    request.items.push_back({6, "reports", {}, 0});
    for (const auto& body : std::vector<muster::message>{hello, updates, muster::handoff_offer{{item}}, reply, request}) {
        const auto payload = payload_of(sample(body));
        REQUIRE(muster::wire::decode(payload).has_value());
        for (std::size_t size = 0; size < payload.size(); ++size) {
            const std::vector<std::uint8_t> prefix(payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(size));
            const auto decoded = muster::wire::decode(prefix);
            INFO("prefix of " << size << " of " << payload.size() << " bytes");
            REQUIRE_FALSE(decoded.has_value());
            // A cut inside a list can make its count exceed the bytes left, which is garbled.
            CHECK((decoded.error() == decode_error::truncated || decoded.error() == decode_error::garbled));
        }
    }
}

TEST_CASE("codec rejects empty payload as truncated", "[wire]") {
    CHECK(error_of({}) == decode_error::truncated);
    CHECK(error_of({muster::wire::wire_version}) == decode_error::truncated);
}

TEST_CASE("codec rejects unknown version", "[wire]") {
    auto payload = payload_of(sample(muster::heartbeat{}));
    for (const std::uint8_t version : {0, 1, 2, 4, 255}) {
        payload[0] = version;
        CHECK(error_of(payload) == decode_error::unknown_version);
    }
}

TEST_CASE("codec rejects unknown kind", "[wire]") {
    auto payload = payload_of(sample(muster::heartbeat{}));
    for (const std::uint8_t kind : {15, 0x40, 0x41, 0x42, 255}) {
        payload[1] = kind;
        CHECK(error_of(payload) == decode_error::unknown_kind);
    }
}

TEST_CASE("codec rejects trailing bytes", "[wire]") {
    auto payload = payload_of(sample(muster::updates_ack{1}));
    payload.push_back(0);
    CHECK(error_of(payload) == decode_error::garbled);
}

TEST_CASE("codec rejects boolean above one", "[wire]") {
    auto payload = payload_of(sample(muster::hello{1, false, false, {}}));
    // hello: version varint (1 byte), leaving, reply_requested, member count.
    payload[body_offset() + 1] = 2;
    CHECK(error_of(payload) == decode_error::garbled);
}

TEST_CASE("codec rejects invalid names", "[wire]") {
    SECTION("empty sender name") {
        auto payload = payload_of(sample(muster::heartbeat{}));
        // Replace the sender name by an empty string: keep version and kind, drop its bytes.
        std::vector<std::uint8_t> edited{payload[0], payload[1], 0};
        edited.insert(edited.end(), payload.begin() + 3 + 17, payload.end());
        CHECK(error_of(edited) == decode_error::garbled);
    }
    SECTION("member name of 256 bytes") {
        auto valid = payload_of(sample(muster::hello{1, false, false, {std::string(255, 'm')}}));
        CHECK(muster::wire::decode(valid).has_value());
        // The varint 255 is {0xff, 0x01}; 256 is {0x80, 0x02}, followed by one more byte.
        const std::size_t length_at = body_offset() + 4;
        REQUIRE(valid[length_at] == 0xff);
        valid[length_at] = 0x80;
        valid[length_at + 1] = 0x02;
        valid.push_back('m');
        CHECK(error_of(valid) == decode_error::garbled);
    }
    SECTION("encoder refuses the same names") {
        CHECK(muster::wire::encode(sample(muster::hello{1, false, false, {""}})).error() == encode_error::invalid_field);
        CHECK(muster::wire::encode(sample(muster::hello{1, false, false, {std::string(256, 'm')}})).error() ==
              encode_error::invalid_field);
    }
}

TEST_CASE("codec rejects zero sender incarnation", "[wire]") {
    auto e = sample(muster::heartbeat{});
    e.from.incarnation = 0;
    CHECK(muster::wire::encode(e).error() == encode_error::invalid_field);
    auto payload = payload_of(sample(muster::heartbeat{}));
    payload[2 + 1 + 17] = 0;
    CHECK(error_of(payload) == decode_error::garbled);
}

TEST_CASE("codec rejects version at version_max", "[wire]") {
    const muster::conflict_yield below{"billing", muster::version_max - 1, std::nullopt};
    CHECK(muster::wire::decode(payload_of(sample(below))).has_value());

    muster::conflict_yield at = below;
    at.version = muster::version_max;
    CHECK(muster::wire::encode(sample(at)).error() == encode_error::invalid_field);

    // version_max - 1 is 2^62 - 1: eight groups of 0x7f plus 0x3f; 2^62 is eight 0x80, 0x80, 0x40.
    auto payload = payload_of(sample(below));
    const std::size_t version_at = body_offset() + 1 + 7;
    for (std::size_t i = 0; i < 8; ++i) payload[version_at + i] = 0x80;
    payload[version_at + 8] = 0x40;
    CHECK(error_of(payload) == decode_error::garbled);
}

TEST_CASE("codec rejects undefined enumerations", "[wire]") {
    SECTION("error code") {
        auto payload = payload_of(sample(muster::unregister_reply{1, muster::errc::not_running}));
        // unregister_reply: id varint, presence byte, error code.
        for (const std::uint8_t code : {0, 13, 255}) {
            payload[body_offset() + 2] = code;
            CHECK(error_of(payload) == decode_error::garbled);
        }
    }
    SECTION("restart policy") {
        muster::register_request request;
        request.origin = {"app@a", 1};
        request.items.push_back({1, "billing", {"", muster::restart_policy::temporary}, 0});
        auto payload = payload_of(sample(request));
        // register_request: origin name (1 + 5), incarnation, item count, then the item: id,
        // name (1 + 7), kind length 0, restart.
        const std::size_t restart_at = body_offset() + 6 + 1 + 1 + 1 + 8 + 1;
        REQUIRE(payload[restart_at] == 2);
        payload[restart_at] = 3;
        CHECK(error_of(payload) == decode_error::garbled);
    }
}

TEST_CASE("codec rejects count beyond remaining bytes", "[wire]") {
    auto payload = payload_of(sample(muster::name_updates{}));
    // name_updates with no entries: owner count 0, entry count 0, sync_response, ack_id. Claim a
    // billion entries.
    std::vector<std::uint8_t> edited(payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(body_offset()));
    edited.push_back(0);
    for (const std::uint8_t b : {0x80, 0x94, 0xeb, 0xdc, 0x03}) edited.push_back(b);
    edited.push_back(0);
    edited.push_back(0);
    CHECK(error_of(edited) == decode_error::garbled);
}

TEST_CASE("codec rejects register item count beyond bytes", "[wire]") {
    muster::register_request request;
    request.origin = {"app@a", 1};
    request.items.push_back({1, "billing", {}, 0});
    auto payload = payload_of(sample(request));
    // The item count follows the origin (1 + 5 bytes and the incarnation). Three items take at
    // least 18 bytes, and only the 12 bytes of the one item follow.
    const std::size_t count_at = body_offset() + 6 + 1;
    REQUIRE(payload[count_at] == 1);
    payload[count_at] = 3;
    CHECK(error_of(payload) == decode_error::garbled);

    muster::register_reply reply;
    reply.results.push_back({1, std::nullopt, std::nullopt});
    auto reply_payload = payload_of(sample(reply));
    // After the empty node table, one result without an entry takes 3 bytes; two take at least 6.
    REQUIRE(reply_payload[body_offset()] == 0);
    REQUIRE(reply_payload[body_offset() + 1] == 1);
    reply_payload[body_offset() + 1] = 2;
    CHECK(error_of(reply_payload) == decode_error::garbled);
}

TEST_CASE("codec writes each owner once per message", "[wire]") {
    const muster::node_id a{"app@10.0.0.1:7001", 1700000000000001};
    const muster::node_id b{"app@10.0.0.2:7001", 1700000000000002};
    muster::name_updates one_owner;
    muster::name_updates two_owners;
    for (int i = 0; i < 10; ++i) {
        const std::string name = "counter-" + std::to_string(i);
        one_owner.entries.push_back({name, a, 1, {"counter"}, false});
        two_owners.entries.push_back({name, i % 2 == 0 ? a : b, 1, {"counter"}, false});
    }
    const auto one_payload = payload_of(sample(one_owner));
    const auto two_payload = payload_of(sample(two_owners));
    // A second owner adds its table entry only: its name with length, and its incarnation.
    const std::size_t node_size = 1 + b.name.size() + 8;
    CHECK(two_payload.size() == one_payload.size() + node_size);
    // The table, then ten records of 22 bytes: name (1 + 9), owner index, version, kind (1 + 7),
    // restart, removed; then sync_response and ack_id.
    CHECK(one_payload.size() == body_offset() + 1 + node_size + 1 + 10 * 22 + 1 + 1);
    const auto one_decoded = muster::wire::decode(one_payload);
    const auto two_decoded = muster::wire::decode(two_payload);
    REQUIRE(one_decoded.has_value());
    REQUIRE(two_decoded.has_value());
    CHECK(one_decoded->body == muster::message{one_owner});
    CHECK(two_decoded->body == muster::message{two_owners});
}

TEST_CASE("codec rejects node tables out of order", "[wire]") {
    // name_updates: owner count, owners ("app@a" at incarnation 1 is 7 bytes each), entry count,
    // then records: name (1 + 1), owner index, version, kind length 0, restart, removed.
    const auto updates = [](std::vector<std::string> owners, std::vector<std::uint8_t> indexes) {
        std::vector<std::uint8_t> p = payload_of(sample(muster::heartbeat{}));
        p[1] = static_cast<std::uint8_t>(muster::message{muster::name_updates{}}.index());
        p.push_back(static_cast<std::uint8_t>(owners.size()));
        for (const auto& owner : owners) {
            p.push_back(static_cast<std::uint8_t>(owner.size()));
            p.insert(p.end(), owner.begin(), owner.end());
            p.push_back(1);
        }
        p.push_back(static_cast<std::uint8_t>(indexes.size()));
        for (const auto index : indexes)
            for (const int b : {1, int{'n'}, int{index}, 1, 0, 0, 0}) p.push_back(static_cast<std::uint8_t>(b));
        p.push_back(0);
        p.push_back(0);
        return p;
    };
    // The encoder's own form decodes: two owners, used in table order.
    REQUIRE(muster::wire::decode(updates({"app@a", "app@b"}, {0, 0, 1, 0})).has_value());
    CHECK(error_of(updates({"app@a", "app@a"}, {0, 1})) == decode_error::garbled);      // a repeated owner
    CHECK(error_of(updates({"app@a", "app@b"}, {1, 0})) == decode_error::garbled);      // used out of order
    CHECK(error_of(updates({"app@a", "app@b"}, {0, 0})) == decode_error::garbled);      // an unused owner
    CHECK(error_of(updates({"app@a"}, {0, 2})) == decode_error::garbled);               // past the table
    CHECK(error_of(updates({}, {0})) == decode_error::garbled);                         // no table
}

TEST_CASE("codec stays within batch size bounds", "[wire][property]") {
    check_size_bound<muster::register_request>("a register request is within the bound of its items",
                                               [](const auto& m) -> const auto& { return m.items; });
    check_size_bound<muster::register_reply>("a register reply is within the bound of its results",
                                             [](const auto& m) -> const auto& { return m.results; });
    check_size_bound<muster::name_updates>("name updates are within the bound of their records",
                                           [](const auto& m) -> const auto& { return m.entries; });
}

TEST_CASE("codec batch bounds hold at largest fields", "[wire]") {
    // Every name 255 bytes and every integer at its largest encoding.
    const std::string longest(muster::name_size_max, 'n');
    const muster::node_id node{longest, UINT64_MAX};
    const muster::entry_record record{longest, node, muster::version_max - 1, {longest, muster::restart_policy::temporary}, true};
    const muster::register_item item{UINT64_MAX, longest, {longest, muster::restart_policy::temporary}, muster::version_max - 1};
    const muster::register_result result{UINT64_MAX, muster::errc::duplicate_in_batch, record};
    muster::envelope e;
    e.from = node;
    e.to = longest;
    e.to_incarnation = UINT64_MAX;

    const auto payload_size = [&](muster::message body) {
        e.body = std::move(body);
        const auto frame = muster::wire::encode(e);
        REQUIRE(frame.has_value());
        return frame->size() - muster::wire::frame_header_size;
    };
    CHECK(payload_size(muster::register_request{node, {}}) <= muster::message_overhead_max);
    CHECK(payload_size(muster::register_reply{}) <= muster::message_overhead_max);
    CHECK(payload_size(muster::name_updates{{}, true, UINT64_MAX}) <= muster::message_overhead_max);
    CHECK(payload_size(muster::register_request{node, {item}}) <= muster::message_overhead_max + muster::encoded_size_max(item));
    CHECK(payload_size(muster::register_reply{{result}}) <= muster::message_overhead_max + muster::encoded_size_max(result));
    CHECK(payload_size(muster::name_updates{{record}, true, UINT64_MAX}) <=
          muster::message_overhead_max + muster::encoded_size_max(record));
    // One item of the largest size fits in the smallest message_size_max.
    CHECK(muster::message_overhead_max + muster::encoded_size_max(result) <= muster::message_size_max_lower);
}

TEST_CASE("codec rejects overlong varint", "[wire]") {
    auto payload = payload_of(sample(muster::updates_ack{1}));
    // 1 as a two-byte varint {0x81, 0x00} is not minimal.
    payload.back() = 0x81;
    payload.push_back(0x00);
    CHECK(error_of(payload) == decode_error::garbled);

    // Eleven continuation groups exceed 64 bits.
    auto too_long = payload_of(sample(muster::updates_ack{0}));
    too_long.pop_back();
    for (int i = 0; i < 10; ++i) too_long.push_back(0xff);
    too_long.push_back(0x01);
    CHECK(error_of(too_long) == decode_error::garbled);

    // The largest value round-trips.
    CHECK(muster::wire::decode(payload_of(sample(muster::updates_ack{UINT64_MAX}))).has_value());
}

TEST_CASE("codec bounds sync buckets", "[wire]") {
    muster::sync_digest digest;
    digest.buckets.assign(muster::wire::sync_buckets_max, 1);
    CHECK(muster::wire::decode(payload_of(sample(digest))).has_value());
    digest.buckets.push_back(1);
    CHECK(muster::wire::encode(sample(digest)).error() == encode_error::invalid_field);

    muster::sync_request request{{65535}, {}};
    auto payload = payload_of(sample(request));
    CHECK(muster::wire::decode(payload).has_value());
    request.buckets = {65536};
    CHECK(muster::wire::encode(sample(request)).error() == encode_error::invalid_field);
    // 65535 is {0xff, 0xff, 0x03}; 65536 is {0x80, 0x80, 0x04}. The last byte counts the known
    // digests (none).
    payload[payload.size() - 4] = 0x80;
    payload[payload.size() - 3] = 0x80;
    payload[payload.size() - 2] = 0x04;
    CHECK(error_of(payload) == decode_error::garbled);
}

TEST_CASE("codec requires ascending known digests in a sync request", "[wire]") {
    muster::sync_request request{{3, 9}, {5, 0x8000000000000000ULL}};
    auto payload = payload_of(sample(request));
    const auto decoded = muster::wire::decode(payload);
    REQUIRE(decoded.has_value());
    CHECK(std::get<muster::sync_request>(decoded->body) == request);

    // The digests are the last 16 bytes, big-endian; swapping them breaks the order.
    std::rotate(payload.end() - 16, payload.end() - 8, payload.end());
    CHECK(error_of(payload) == decode_error::garbled);

    request.known = {7, 7};
    CHECK(muster::wire::encode(sample(request)).error() == encode_error::invalid_field);
    request.known = {9, 4};
    CHECK(muster::wire::encode(sample(request)).error() == encode_error::invalid_field);
}

TEST_CASE("codec rejects hello version above 32 bits", "[wire]") {
    auto payload = payload_of(sample(muster::hello{0, false, false, {}}));
    std::vector<std::uint8_t> edited(payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(body_offset()));
    // 2^32 as a varint.
    for (const std::uint8_t b : {0x80, 0x80, 0x80, 0x80, 0x10}) edited.push_back(b);
    edited.insert(edited.end(), payload.begin() + static_cast<std::ptrdiff_t>(body_offset()) + 1, payload.end());
    CHECK(error_of(edited) == decode_error::garbled);
}

TEST_CASE("codec rejects message above frame_size_max", "[wire]") {
    const muster::wire::wire_config config{4096};
    const muster::conflict_yield small{"billing", 1, std::string(3000, 's')};
    CHECK(muster::wire::encode(sample(small), config).has_value());
    const muster::conflict_yield large{"billing", 1, std::string(5000, 's')};
    CHECK(muster::wire::encode(sample(large), config).error() == encode_error::oversized);
    CHECK(muster::wire::encode(sample(large)).has_value());

    std::vector<std::uint8_t> out{9, 9};
    CHECK(muster::wire::encode_to(out, sample(large), config) == encode_error::oversized);
    CHECK(out == std::vector<std::uint8_t>{9, 9});
}

TEST_CASE("codec appends several frames to one buffer", "[wire]") {
    std::vector<std::uint8_t> out;
    REQUIRE_FALSE(muster::wire::encode_to(out, sample(muster::heartbeat{})).has_value());
    const std::size_t first = out.size();
    REQUIRE_FALSE(muster::wire::encode_to(out, sample(muster::updates_ack{5})).has_value());
    const std::span<const std::uint8_t> all(out);
    CHECK(muster::wire::decode_frame(all.first(first))->body == muster::message{muster::heartbeat{}});
    CHECK(muster::wire::decode_frame(all.subspan(first))->body == muster::message{muster::updates_ack{5}});
}

TEST_CASE("codec decodes garbled bytes without crashing", "[wire][property]") {
    rc::prop("a frame with one byte changed decodes to an error or to a message that encodes back to it", [] {
        const muster::envelope e = *muster::testing::gen_envelope();
        const auto frame = muster::wire::encode(e);
        RC_ASSERT(frame.has_value());
        auto payload = std::vector<std::uint8_t>(frame->begin() + 4, frame->end());
        const auto at = *rc::gen::inRange<std::size_t>(0, payload.size());
        payload[at] = *rc::gen::arbitrary<std::uint8_t>();
        const auto decoded = muster::wire::decode(payload);
        if (decoded) {
            const auto again = muster::wire::encode(*decoded);
            RC_ASSERT(again.has_value());
            RC_ASSERT(std::vector<std::uint8_t>(again->begin() + 4, again->end()) == payload);
        }
    });
}

TEST_CASE("codec matches documented heartbeat frame", "[wire]") {
    muster::envelope e;
    e.from = {"a", 1};
    e.to = "b";
    e.body = muster::heartbeat{};
    const auto frame = muster::wire::encode(e);
    REQUIRE(frame.has_value());
    CHECK(*frame == std::vector<std::uint8_t>{0, 0, 0, 8, 3, 1, 1, 'a', 1, 1, 'b', 0});
}

#ifdef MUSTER_FUZZ_CORPUS_DIR
TEST_CASE("fuzz corpus files decode as named", "[wire]") {
    // Each file starts with the fuzz target byte; message files decode, bad ones fail as named.
    const auto read = [](const char* name) {
        std::ifstream in(std::filesystem::path(MUSTER_FUZZ_CORPUS_DIR) / name, std::ios::binary);
        std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        REQUIRE(bytes.size() > 1);
        return std::vector<std::uint8_t>(bytes.begin() + 1, bytes.end());
    };
    for (const char* name : {"message-hello", "message-heartbeat", "message-register-request", "message-register-reply",
                             "message-register-batch-request", "message-register-batch-reply",
                             "message-unregister-request", "message-name-updates", "message-handoff-offer",
                             "message-handoff-reply", "message-sync-digest", "message-sync-request",
                             "message-conflict-yield"}) {
        INFO(name);
        CHECK(muster::wire::decode(read(name)).has_value());
    }
    CHECK(error_of(read("bad-truncated")) == decode_error::truncated);
    CHECK(error_of(read("bad-unknown-version")) == decode_error::unknown_version);
    CHECK(error_of(read("bad-unknown-kind")) == decode_error::unknown_kind);
    CHECK(error_of(read("bad-count")) == decode_error::garbled);
    CHECK(error_of(read("bad-owner-index")) == decode_error::garbled);
}
#endif

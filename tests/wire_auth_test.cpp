#include <muster/wire/auth.hpp>

#include <muster/wire/frame.hpp>

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

using muster::wire::auth_error;
using muster::wire::auth_message;
using muster::wire::handshake;
using muster::wire::handshake_config;
using muster::wire::handshake_role;
using muster::wire::handshake_status;
using muster::wire::nonce;
using muster::wire::shared_secret;

namespace {

constexpr std::string_view cluster_secret = "correct horse battery staple";

shared_secret secret(std::string_view bytes = cluster_secret) { return shared_secret::make(bytes).value(); }

nonce nonce_of(std::uint8_t fill) {
    nonce n;
    n.fill(fill);
    return n;
}

handshake make_initiator(std::string_view key = cluster_secret, std::optional<std::string> expected_peer = "app@b",
                         nonce n = nonce_of(1)) {
    return handshake::create(secret(key), handshake_config{handshake_role::initiator, "app@a", n, std::move(expected_peer)})
        .value();
}

handshake make_responder(std::string_view key = cluster_secret, nonce n = nonce_of(2), std::string name = "app@b") {
    return handshake::create(secret(key), handshake_config{handshake_role::responder, std::move(name), n, std::nullopt})
        .value();
}

// Sends every pending message of `from` to `to` through the frame encoding and a splitter, as a
// TCP host would.
void deliver(handshake& from, handshake& to) {
    muster::wire::frame_splitter splitter;
    for (const auto& m : from.take_messages()) {
        const auto frame = muster::wire::encode_auth(m);
        REQUIRE(frame.has_value());
        splitter.feed(*frame);
    }
    for (;;) {
        auto payload = splitter.next();
        REQUIRE(payload.has_value());
        if (!payload->has_value()) return;
        to.on_payload(**payload);
    }
}

template <class T>
T take_one(handshake& h) {
    auto messages = h.take_messages();
    REQUIRE(messages.size() == 1);
    REQUIRE(std::holds_alternative<T>(messages[0]));
    return std::get<T>(messages[0]);
}

}  // namespace

TEST_CASE("handshake accepts matching secrets", "[wire]") {
    auto a = make_initiator();
    auto b = make_responder();
    deliver(a, b);
    CHECK(b.status() == handshake_status::in_progress);
    deliver(b, a);
    CHECK(a.status() == handshake_status::accepted);
    CHECK(a.peer_name() == "app@b");
    deliver(a, b);
    CHECK(b.status() == handshake_status::accepted);
    CHECK(b.peer_name() == "app@a");
    CHECK(a.take_messages().empty());
    CHECK(b.take_messages().empty());
    CHECK_FALSE(a.error().has_value());
    CHECK_FALSE(b.error().has_value());
}

TEST_CASE("handshake accepts with roles swapped", "[wire]") {
    auto b = handshake::create(secret(), handshake_config{handshake_role::initiator, "app@b", nonce_of(7), "app@a"}).value();
    auto a = make_responder(cluster_secret, nonce_of(8), "app@a");
    deliver(b, a);
    deliver(a, b);
    deliver(b, a);
    CHECK(a.status() == handshake_status::accepted);
    CHECK(b.status() == handshake_status::accepted);
}

TEST_CASE("handshake rejects wrong secret", "[wire]") {
    SECTION("initiator checks responder") {
        auto a = make_initiator();
        auto b = make_responder("another cluster's secret");
        deliver(a, b);
        deliver(b, a);
        CHECK(a.status() == handshake_status::rejected);
        CHECK(a.error() == auth_error::wrong_proof);
        CHECK(a.take_messages().empty());
    }
    SECTION("responder checks initiator") {
        // An initiator with another secret rejects the response, and without the secret an attacker
        // can only guess a proof, so the responder rejects it.
        auto b = make_responder();
        auto a = make_initiator();
        deliver(a, b);
        const auto response = take_one<muster::wire::auth_response>(b);
        auto outsider = make_initiator("another cluster's secret");
        outsider.take_messages();
        outsider.on_message(response);
        CHECK(outsider.error() == auth_error::wrong_proof);
        b.on_message(muster::wire::auth_proof{});
        CHECK(b.status() == handshake_status::rejected);
        CHECK(b.error() == auth_error::wrong_proof);
    }
}

TEST_CASE("handshake rejects reflected responder proof", "[wire]") {
    // An attacker without the secret calls b, then sends b's own responder MAC back as its proof.
    auto b = make_responder();
    b.on_message(muster::wire::auth_challenge{"app@a", nonce_of(9)});
    const auto response = take_one<muster::wire::auth_response>(b);
    b.on_message(muster::wire::auth_proof{response.proof});
    CHECK(b.status() == handshake_status::rejected);
    CHECK(b.error() == auth_error::wrong_proof);
}

TEST_CASE("handshake rejects echoed challenge", "[wire]") {
    SECTION("initiator gets its own nonce back") {
        auto a = make_initiator(cluster_secret, std::nullopt);
        const auto challenge = take_one<muster::wire::auth_challenge>(a);
        a.on_message(muster::wire::auth_response{"app@b", challenge.challenge, {}});
        CHECK(a.error() == auth_error::reflected_nonce);
    }
    SECTION("responder gets its own nonce as the challenge") {
        auto b = make_responder(cluster_secret, nonce_of(2));
        b.on_message(muster::wire::auth_challenge{"app@a", nonce_of(2)});
        CHECK(b.error() == auth_error::reflected_nonce);
    }
    SECTION("initiator gets its own challenge back") {
        auto a = make_initiator();
        const auto challenge = take_one<muster::wire::auth_challenge>(a);
        a.on_message(challenge);
        CHECK(a.error() == auth_error::unexpected_message);
    }
}

TEST_CASE("handshake rejects peer claiming own name", "[wire]") {
    auto b = make_responder();
    b.on_message(muster::wire::auth_challenge{"app@b", nonce_of(9)});
    CHECK(b.error() == auth_error::own_name);

    auto a = make_initiator(cluster_secret, std::nullopt);
    a.take_messages();
    a.on_message(muster::wire::auth_response{"app@a", nonce_of(9), {}});
    CHECK(a.error() == auth_error::own_name);
}

TEST_CASE("handshake rejects unexpected peer name", "[wire]") {
    auto a = make_initiator(cluster_secret, "app@c");
    auto b = make_responder();
    deliver(a, b);
    deliver(b, a);
    CHECK(a.error() == auth_error::unexpected_peer);
}

TEST_CASE("handshake rejects tampered messages", "[wire]") {
    auto a = make_initiator();
    auto b = make_responder();
    const auto challenge = take_one<muster::wire::auth_challenge>(a);

    SECTION("challenge nonce changed in transit") {
        auto changed = challenge;
        changed.challenge[0] ^= 1;
        b.on_message(changed);
        a.on_message(take_one<muster::wire::auth_response>(b));
        CHECK(a.error() == auth_error::wrong_proof);
    }
    SECTION("response MAC flipped") {
        b.on_message(challenge);
        auto response = take_one<muster::wire::auth_response>(b);
        response.proof[31] ^= 0x80;
        a.on_message(response);
        CHECK(a.error() == auth_error::wrong_proof);
    }
    SECTION("response nonce changed") {
        b.on_message(challenge);
        auto response = take_one<muster::wire::auth_response>(b);
        response.challenge[5] ^= 4;
        a.on_message(response);
        CHECK(a.error() == auth_error::wrong_proof);
    }
    SECTION("proof MAC flipped") {
        b.on_message(challenge);
        a.on_message(take_one<muster::wire::auth_response>(b));
        REQUIRE(a.status() == handshake_status::accepted);
        auto proof = take_one<muster::wire::auth_proof>(a);
        proof.proof[0] ^= 1;
        b.on_message(proof);
        CHECK(b.error() == auth_error::wrong_proof);
    }
}

TEST_CASE("handshake rejects replayed proof", "[wire]") {
    // Record a whole handshake, then replay the initiator's messages to a responder that draws a
    // fresh nonce.
    auto a = make_initiator();
    auto b = make_responder();
    const auto challenge = take_one<muster::wire::auth_challenge>(a);
    b.on_message(challenge);
    a.on_message(take_one<muster::wire::auth_response>(b));
    const auto proof = take_one<muster::wire::auth_proof>(a);

    auto fresh = make_responder(cluster_secret, nonce_of(3));
    fresh.on_message(challenge);
    fresh.on_message(proof);
    CHECK(fresh.error() == auth_error::wrong_proof);
}

TEST_CASE("handshake rejects messages out of order", "[wire]") {
    auto b = make_responder();
    b.on_message(muster::wire::auth_proof{});
    CHECK(b.error() == auth_error::unexpected_message);

    auto a = make_initiator();
    a.on_message(muster::wire::auth_proof{});
    CHECK(a.error() == auth_error::unexpected_message);
}

TEST_CASE("handshake ignores input after outcome", "[wire]") {
    auto b = make_responder();
    b.on_message(muster::wire::auth_proof{});
    REQUIRE(b.status() == handshake_status::rejected);
    b.on_message(muster::wire::auth_challenge{"app@a", nonce_of(9)});
    CHECK(b.status() == handshake_status::rejected);
    CHECK(b.error() == auth_error::unexpected_message);
    CHECK(b.take_messages().empty());
}

TEST_CASE("handshake rejects malformed frame", "[wire]") {
    auto b = make_responder();
    b.on_payload(std::vector<std::uint8_t>{muster::wire::wire_version, muster::wire::auth_challenge_kind, 0});
    CHECK(b.error() == auth_error::malformed_message);
    CHECK(b.decode_failure() == muster::wire::decode_error::garbled);

    auto c = make_responder();
    // A protocol message before the handshake is an unknown kind here.
    c.on_payload(std::vector<std::uint8_t>{muster::wire::wire_version, 1});
    CHECK(c.decode_failure() == muster::wire::decode_error::unknown_kind);
}

TEST_CASE("handshake config rejects invalid settings", "[wire]") {
    using muster::wire::handshake_config_error;
    CHECK(handshake::create(secret(), handshake_config{handshake_role::initiator, "", nonce_of(1), std::nullopt}).error() ==
          handshake_config_error::invalid_self_name);
    CHECK(handshake::create(secret(), handshake_config{handshake_role::initiator, "app@a", nonce_of(1), ""}).error() ==
          handshake_config_error::invalid_expected_peer);
    CHECK(handshake::create(secret(), handshake_config{handshake_role::responder, "app@b", nonce_of(1), "app@a"}).error() ==
          handshake_config_error::expected_peer_on_responder);
}

TEST_CASE("shared secret checks size", "[wire]") {
    using muster::wire::secret_error;
    CHECK(shared_secret::make(std::string(15, 'k')).error() == secret_error::too_short);
    CHECK(shared_secret::make(std::string(16, 'k')).has_value());
    CHECK(shared_secret::make(std::string(1024, 'k')).has_value());
    CHECK(shared_secret::make(std::string(1025, 'k')).error() == secret_error::too_long);
}

TEST_CASE("shared secret computes HMAC-SHA256", "[wire]") {
    // Expected value from `printf muster | openssl dgst -sha256 -hmac 0123456789abcdef` (OpenSSL 3.0).
    const auto key = shared_secret::make("0123456789abcdef").value();
    const std::string data = "muster";
    const auto mac = key.sign(std::span(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
    REQUIRE(mac.has_value());
    std::string hex;
    for (const auto b : *mac) {
        constexpr char digits[] = "0123456789abcdef";
        hex += digits[b >> 4];
        hex += digits[b & 0xf];
    }
    CHECK(hex == "1b4db876046c4047260fcd253c9a86b90b0023ff3d56aea6371f4cb8d839d604");
}

TEST_CASE("handshake frames round-trip", "[wire][property]") {
    rc::prop("decode_auth(encode_auth(m)) == m", [] {
        const auto name = *rc::gen::mapcat(rc::gen::inRange(1, 256), [](int size) {
            return rc::gen::container<std::string>(size, rc::gen::arbitrary<char>());
        });
        nonce n;
        muster::wire::mac m;
        for (auto& b : n) b = *rc::gen::arbitrary<std::uint8_t>();
        for (auto& b : m) b = *rc::gen::arbitrary<std::uint8_t>();
        const auto kind = *rc::gen::inRange(0, 3);
        const auth_message message = kind == 0   ? auth_message{muster::wire::auth_challenge{name, n}}
                                     : kind == 1 ? auth_message{muster::wire::auth_response{name, n, m}}
                                                 : auth_message{muster::wire::auth_proof{m}};
        const auto frame = muster::wire::encode_auth(message);
        RC_ASSERT(frame.has_value());
        const auto payload = muster::wire::unframe(*frame);
        RC_ASSERT(payload.has_value());
        const auto decoded = muster::wire::decode_auth(*payload);
        RC_ASSERT(decoded.has_value());
        RC_ASSERT(*decoded == message);

        // Every shorter payload fails to decode, and so does one with a byte appended.
        const auto size = *rc::gen::inRange<std::size_t>(0, payload->size());
        RC_ASSERT_FALSE(muster::wire::decode_auth(payload->first(size)).has_value());
        std::vector<std::uint8_t> longer(payload->begin(), payload->end());
        longer.push_back(0);
        RC_ASSERT(muster::wire::decode_auth(longer).error() == muster::wire::decode_error::garbled);
    });
}

TEST_CASE("handshake encoder rejects invalid name", "[wire]") {
    CHECK(muster::wire::encode_auth(muster::wire::auth_challenge{"", nonce_of(1)}).error() ==
          muster::wire::encode_error::invalid_field);
    CHECK(muster::wire::encode_auth(muster::wire::auth_response{std::string(256, 'n'), nonce_of(1), {}}).error() ==
          muster::wire::encode_error::invalid_field);
}

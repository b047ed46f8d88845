#pragma once
/// Authentication of a new connection: a sans-IO challenge-response handshake in which each side
/// proves that it has the cluster's shared secret, with HMAC-SHA256 from OpenSSL. The secret
/// never goes on the wire. Link `muster::auth`, which brings OpenSSL's libcrypto.
///
/// The side that opened the connection (the initiator) and the side that accepted it (the
/// responder) exchange three messages, each in its own frame:
///
///     initiator -> responder   auth_challenge  {initiator name, initiator nonce}
///     responder -> initiator   auth_response   {responder name, responder nonce, responder MAC}
///     initiator -> responder   auth_proof      {initiator MAC}
///
/// Each MAC covers a role label, both names and both nonces, so a MAC is valid for one role of
/// one connection only: a peer cannot replay an old proof against a fresh nonce, nor reflect a
/// node's own MAC back to it. A side that rejects closes the connection; nothing else is sent.
/// `docs/wire.md` gives the byte layouts.
///
/// The caller supplies the nonces, so the handshake stays deterministic. The runtime draws them
/// from `RAND_bytes`; a nonce must never be used twice with the same secret.

#include <muster/core/types.hpp>
#include <muster/wire/codec.hpp>
#include <muster/wire/detail/bytes.hpp>
#include <muster/wire/frame.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace muster::wire {

/// Size of a handshake nonce, in bytes.
inline constexpr std::size_t nonce_size = 32;

/// Size of an HMAC-SHA256 output, in bytes.
inline constexpr std::size_t mac_size = 32;

/// A fresh random value chosen by one side for one handshake.
using nonce = std::array<std::uint8_t, nonce_size>;

/// An HMAC-SHA256 output.
using mac = std::array<std::uint8_t, mac_size>;

/// Kind bytes of the handshake messages. They lie outside the message kinds, so a handshake
/// frame given to `decode` fails with `unknown_kind` and the other way round.
inline constexpr std::uint8_t auth_challenge_kind = 0x40;
inline constexpr std::uint8_t auth_response_kind = 0x41;
inline constexpr std::uint8_t auth_proof_kind = 0x42;

/// First handshake message: the initiator names itself and sends its nonce.
struct auth_challenge {
    std::string node_name;
    nonce challenge{};

    friend bool operator==(const auth_challenge&, const auth_challenge&) = default;
};

/// Second handshake message: the responder names itself, sends its nonce and proves it has the
/// secret.
struct auth_response {
    std::string node_name;
    nonce challenge{};
    mac proof{};

    friend bool operator==(const auth_response&, const auth_response&) = default;
};

/// Third handshake message: the initiator proves it has the secret.
struct auth_proof {
    mac proof{};

    friend bool operator==(const auth_proof&, const auth_proof&) = default;
};

/// Every handshake message.
using auth_message = std::variant<auth_challenge, auth_response, auth_proof>;

/// Returns one frame (length prefix and payload) holding a handshake message. Fails with
/// `invalid_field` when a node name fails `check_name`.
inline expected<std::vector<std::uint8_t>, encode_error> encode_auth(const auth_message& message);

/// Decodes a handshake frame payload, as `frame_splitter::next` returns it.
inline expected<auth_message, decode_error> decode_auth(std::span<const std::uint8_t> payload);

/// Shortest accepted shared secret, in bytes (128 bits).
inline constexpr std::size_t secret_size_min = 16;

/// Longest accepted shared secret, in bytes.
inline constexpr std::size_t secret_size_max = 1024;

/// Reason a shared secret is invalid.
enum class secret_error : std::uint8_t {
    too_short = 1,  ///< the secret has fewer than `secret_size_min` (16) bytes
    too_long,       ///< the secret has more than `secret_size_max` (1024) bytes
};

/// Returns an English message for a secret error, naming the accepted range.
constexpr std::string_view to_string(secret_error e) noexcept {
    switch (e) {
    case secret_error::too_short: return "shared secret is shorter than 16 bytes; use at least 16 random bytes";
    case secret_error::too_long: return "shared secret is longer than 1024 bytes";
    }
    return "unknown secret error";
}

/// The cluster's shared secret (the role of an Erlang cookie). Its bytes are wiped when it is
/// destroyed; it has no accessor, so code outside the handshake cannot log it by mistake.
class shared_secret {
public:
    /// Returns a secret holding a copy of `bytes`, or why they cannot be one.
    static expected<shared_secret, secret_error> make(std::string_view bytes) {
        if (bytes.size() < secret_size_min) return secret_error::too_short;
        if (bytes.size() > secret_size_max) return secret_error::too_long;
        return shared_secret(bytes);
    }

    shared_secret(const shared_secret&) = default;
    shared_secret(shared_secret&&) noexcept = default;
    shared_secret& operator=(const shared_secret& other) {
        if (this != &other) {
            wipe();
            key_ = other.key_;
        }
        return *this;
    }
    shared_secret& operator=(shared_secret&& other) noexcept {
        wipe();
        key_ = std::move(other.key_);
        return *this;
    }
    ~shared_secret() { wipe(); }

    /// Computes HMAC-SHA256 of `data` under the secret; returns nothing if OpenSSL fails.
    std::optional<mac> sign(std::span<const std::uint8_t> data) const {
        mac out{};
        unsigned int out_size = 0;
        const unsigned char* done = HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), data.data(),
                                         data.size(), out.data(), &out_size);
        if (done == nullptr || out_size != mac_size) return std::nullopt;
        return out;
    }

private:
    explicit shared_secret(std::string_view bytes) : key_(bytes.begin(), bytes.end()) {}

    void wipe() noexcept {
        if (!key_.empty()) OPENSSL_cleanse(key_.data(), key_.size());
    }

    std::vector<std::uint8_t> key_;
};

/// End of the connection that a handshake runs on.
enum class handshake_role : std::uint8_t {
    initiator,  ///< this node opened the connection and speaks first
    responder,  ///< this node accepted the connection
};

/// Settings of one handshake.
struct handshake_config {
    handshake_role role = handshake_role::initiator;
    std::string self_name;                     ///< this node's name, as in `registry_config::self`
    nonce own_nonce{};                         ///< fresh random bytes, never reused with this secret
    std::optional<std::string> expected_peer;  ///< initiator only: the name the responder must claim
};

/// Reason a handshake configuration is invalid.
enum class handshake_config_error : std::uint8_t {
    invalid_self_name = 1,   ///< `self_name` is empty or longer than 255 bytes
    invalid_expected_peer,   ///< `expected_peer` is empty or longer than 255 bytes
    expected_peer_on_responder,  ///< `expected_peer` is set on a responder, which cannot know it
};

/// Returns an English message for a handshake configuration error.
constexpr std::string_view to_string(handshake_config_error e) noexcept {
    switch (e) {
    case handshake_config_error::invalid_self_name: return "self_name is empty or longer than 255 bytes";
    case handshake_config_error::invalid_expected_peer: return "expected_peer is empty or longer than 255 bytes";
    case handshake_config_error::expected_peer_on_responder: return "expected_peer is set on a responder; only the initiator knows whom it called";
    }
    return "unknown handshake configuration error";
}

/// Checks a handshake configuration; returns the problem found, if any.
constexpr std::optional<handshake_config_error> validate(const handshake_config& c) noexcept {
    if (check_name(c.self_name)) return handshake_config_error::invalid_self_name;
    if (c.expected_peer && check_name(*c.expected_peer)) return handshake_config_error::invalid_expected_peer;
    if (c.expected_peer && c.role == handshake_role::responder)
        return handshake_config_error::expected_peer_on_responder;
    return std::nullopt;
}

/// Progress of a handshake.
enum class handshake_status : std::uint8_t {
    in_progress,  ///< waiting for the peer's next message
    accepted,     ///< the peer proved it holds the secret; `peer_name()` is authenticated
    rejected,     ///< the handshake failed; `error()` names the reason, and the host closes the connection
};

/// Reason a handshake was rejected.
enum class auth_error : std::uint8_t {
    malformed_message = 1,  ///< a handshake frame failed to decode
    unexpected_message,     ///< the message kind is not the one this step waits for
    unexpected_peer,        ///< the responder's name differs from `expected_peer`
    own_name,               ///< the peer claims this node's own name
    reflected_nonce,        ///< the peer's nonce equals this node's nonce: its challenge came back
    wrong_proof,            ///< the peer's MAC does not match: another secret, or a tampered message
    crypto_failure,         ///< OpenSSL failed to compute a MAC
};

/// Returns an English message for a handshake error, naming the reason.
constexpr std::string_view to_string(auth_error e) noexcept {
    switch (e) {
    case auth_error::malformed_message: return "handshake frame failed to decode; a protocol message sent before the handshake finished fails here too";
    case auth_error::unexpected_message: return "handshake message arrived out of order";
    case auth_error::unexpected_peer: return "peer answered with another node name than the one this node connected to";
    case auth_error::own_name: return "peer claims this node's own name";
    case auth_error::reflected_nonce: return "peer sent back this node's own challenge";
    case auth_error::wrong_proof: return "peer's proof does not match: it holds another shared secret, or the message was altered";
    case auth_error::crypto_failure: return "OpenSSL failed to compute HMAC-SHA256";
    }
    return "unknown handshake error";
}

/// One side of one handshake, a sans-IO machine. The host sends every message `take_messages`
/// returns (encoded with `encode_auth`), gives it every handshake frame received, and stops when
/// `status()` is no longer `in_progress`. The first frame after acceptance is a protocol message.
///
/// NOTE: The handshake authenticates the peer's name, and any holder of the secret may claim any
/// name. The host must check that every envelope's `from.name` equals `peer_name()`.
class handshake {
public:
    /// Returns a handshake ready to run, or why the configuration is invalid. An initiator's
    /// challenge is waiting in `take_messages()` at once.
    static expected<handshake, handshake_config_error> create(shared_secret secret, handshake_config config) {
        if (const auto error = validate(config)) return *error;
        return handshake(std::move(secret), std::move(config));
    }

    /// Decodes and handles one handshake frame payload. A payload that fails to decode rejects
    /// the handshake with `malformed_message`, and `decode_failure()` returns the decode error.
    void on_payload(std::span<const std::uint8_t> payload) {
        if (status_ != handshake_status::in_progress) return;
        auto message = decode_auth(payload);
        if (!message) {
            decode_failure_ = message.error();
            reject(auth_error::malformed_message);
            return;
        }
        on_message(*message);
    }

    /// Handles one decoded handshake message. After the outcome, further input changes nothing.
    void on_message(const auth_message& message) {
        if (status_ != handshake_status::in_progress) return;
        if (const auto* c = std::get_if<auth_challenge>(&message); c && step_ == step::wait_challenge)
            on_challenge(*c);
        else if (const auto* r = std::get_if<auth_response>(&message); r && step_ == step::wait_response)
            on_response(*r);
        else if (const auto* p = std::get_if<auth_proof>(&message); p && step_ == step::wait_proof)
            on_proof(*p);
        else
            reject(auth_error::unexpected_message);
    }

    /// Takes the messages to send to the peer, oldest first.
    std::vector<auth_message> take_messages() { return std::exchange(outbox_, {}); }

    handshake_status status() const noexcept { return status_; }

    /// The reason for a rejection; empty unless `status()` is `rejected`.
    std::optional<auth_error> error() const noexcept { return error_; }

    /// The decode error of the frame that caused `malformed_message`, if any.
    std::optional<decode_error> decode_failure() const noexcept { return decode_failure_; }

    /// The peer's claimed name once it arrived; authenticated only when `status()` is `accepted`.
    const std::string& peer_name() const noexcept { return peer_name_; }

    handshake_role role() const noexcept { return config_.role; }

private:
    enum class step : std::uint8_t { wait_challenge, wait_response, wait_proof, done };

    handshake(shared_secret secret, handshake_config config) : secret_(std::move(secret)), config_(std::move(config)) {
        if (config_.role == handshake_role::initiator) {
            outbox_.push_back(auth_challenge{config_.self_name, config_.own_nonce});
            step_ = step::wait_response;
        } else {
            step_ = step::wait_challenge;
        }
    }

    // Responder: the initiator introduced itself. Reply with our nonce and our proof.
    void on_challenge(const auth_challenge& c) {
        if (const auto error = check_peer(c.node_name, c.challenge)) return reject(*error);
        peer_name_ = c.node_name;
        peer_nonce_ = c.challenge;
        const auto proof = transcript_mac(handshake_role::responder, peer_name_, config_.self_name, peer_nonce_,
                                          config_.own_nonce);
        if (!proof) return reject(auth_error::crypto_failure);
        outbox_.push_back(auth_response{config_.self_name, config_.own_nonce, *proof});
        step_ = step::wait_proof;
    }

    // Initiator: check the responder's proof, then send ours.
    void on_response(const auth_response& r) {
        if (config_.expected_peer && r.node_name != *config_.expected_peer) return reject(auth_error::unexpected_peer);
        if (const auto error = check_peer(r.node_name, r.challenge)) return reject(*error);
        peer_name_ = r.node_name;
        peer_nonce_ = r.challenge;
        const auto expected_proof = transcript_mac(handshake_role::responder, config_.self_name, peer_name_,
                                                   config_.own_nonce, peer_nonce_);
        if (!expected_proof) return reject(auth_error::crypto_failure);
        if (!same(*expected_proof, r.proof)) return reject(auth_error::wrong_proof);

        const auto proof = transcript_mac(handshake_role::initiator, config_.self_name, peer_name_,
                                          config_.own_nonce, peer_nonce_);
        if (!proof) return reject(auth_error::crypto_failure);
        outbox_.push_back(auth_proof{*proof});
        finish();
    }

    // Responder: check the initiator's proof.
    void on_proof(const auth_proof& p) {
        const auto expected_proof = transcript_mac(handshake_role::initiator, peer_name_, config_.self_name,
                                                   peer_nonce_, config_.own_nonce);
        if (!expected_proof) return reject(auth_error::crypto_failure);
        if (!same(*expected_proof, p.proof)) return reject(auth_error::wrong_proof);
        finish();
    }

    std::optional<auth_error> check_peer(const std::string& name, const nonce& peer_nonce) const {
        if (name == config_.self_name) return auth_error::own_name;
        // A peer that sends back our nonce is relaying our own challenge. The role label in the
        // MAC already defeats that, and this check names the cause.
        if (same(peer_nonce, config_.own_nonce)) return auth_error::reflected_nonce;
        return std::nullopt;
    }

    // MAC over: a label naming the format version and the role that signs, then the
    // initiator's name, the responder's name (each with a one-byte length, as names have at
    // most 255 bytes), the initiator's nonce and the responder's nonce.
    std::optional<mac> transcript_mac(handshake_role signer, std::string_view initiator_name,
                                      std::string_view responder_name, const nonce& initiator_nonce,
                                      const nonce& responder_nonce) const {
        constexpr std::string_view initiator_label{"muster wire 1 initiator proof"};
        constexpr std::string_view responder_label{"muster wire 1 responder proof"};
        const std::string_view label = signer == handshake_role::initiator ? initiator_label : responder_label;

        std::vector<std::uint8_t> data;
        data.reserve(label.size() + 2 + initiator_name.size() + responder_name.size() + 2 * nonce_size);
        data.insert(data.end(), label.begin(), label.end());
        data.push_back(static_cast<std::uint8_t>(initiator_name.size()));
        data.insert(data.end(), initiator_name.begin(), initiator_name.end());
        data.push_back(static_cast<std::uint8_t>(responder_name.size()));
        data.insert(data.end(), responder_name.begin(), responder_name.end());
        data.insert(data.end(), initiator_nonce.begin(), initiator_nonce.end());
        data.insert(data.end(), responder_nonce.begin(), responder_nonce.end());
        return secret_.sign(data);
    }

    // Compares in constant time, so the time taken does not reveal how many leading bytes match.
    template <std::size_t N>
    static bool same(const std::array<std::uint8_t, N>& a, const std::array<std::uint8_t, N>& b) noexcept {
        return CRYPTO_memcmp(a.data(), b.data(), N) == 0;
    }

    void finish() {
        step_ = step::done;
        status_ = handshake_status::accepted;
    }

    void reject(auth_error error) {
        step_ = step::done;
        status_ = handshake_status::rejected;
        error_ = error;
        outbox_.clear();
    }

    shared_secret secret_;
    handshake_config config_;
    step step_ = step::wait_challenge;
    handshake_status status_ = handshake_status::in_progress;
    std::optional<auth_error> error_;
    std::optional<decode_error> decode_failure_;
    std::string peer_name_;
    nonce peer_nonce_{};
    std::vector<auth_message> outbox_;
};

// ---- handshake frame encoding ----

inline expected<std::vector<std::uint8_t>, encode_error> encode_auth(const auth_message& message) {
    std::vector<std::uint8_t> out;
    write_frame_header(out, 0);
    detail::writer w(out);
    w.u8(wire_version);
    bool valid = true;
    if (const auto* c = std::get_if<auth_challenge>(&message)) {
        valid = !check_name(c->node_name);
        w.u8(auth_challenge_kind);
        w.string(c->node_name);
        w.bytes(c->challenge);
    } else if (const auto* r = std::get_if<auth_response>(&message)) {
        valid = !check_name(r->node_name);
        w.u8(auth_response_kind);
        w.string(r->node_name);
        w.bytes(r->challenge);
        w.bytes(r->proof);
    } else {
        w.u8(auth_proof_kind);
        w.bytes(std::get<auth_proof>(message).proof);
    }
    if (!valid) return encode_error::invalid_field;

    // Every handshake frame is far below `frame_size_max_lower`, so no size check is needed.
    const std::size_t payload_size = out.size() - frame_header_size;
    static_assert(2 + detail::varint_size_max + name_size_max + nonce_size + mac_size < frame_size_max_lower);
    for (std::size_t i = 0; i < frame_header_size; ++i)
        out[i] = static_cast<std::uint8_t>(payload_size >> (8 * (frame_header_size - 1 - i)));
    return out;
}

inline expected<auth_message, decode_error> decode_auth(std::span<const std::uint8_t> payload) {
    if (payload.empty()) return decode_error::truncated;
    if (payload[0] != wire_version) return decode_error::unknown_version;
    if (payload.size() < 2) return decode_error::truncated;
    const std::uint8_t kind = payload[1];

    detail::decoder d(payload.subspan(2));
    auth_message message;
    switch (kind) {
    case auth_challenge_kind: {
        auth_challenge c;
        c.node_name = d.name();
        d.raw().bytes(c.challenge);
        message = std::move(c);
        break;
    }
    case auth_response_kind: {
        auth_response r;
        r.node_name = d.name();
        d.raw().bytes(r.challenge);
        d.raw().bytes(r.proof);
        message = std::move(r);
        break;
    }
    case auth_proof_kind: {
        auth_proof p;
        d.raw().bytes(p.proof);
        message = p;
        break;
    }
    default: return decode_error::unknown_kind;
    }

    if (d.failed()) return detail::to_decode_error(d.raw().failure());
    if (d.raw().remaining() != 0) return decode_error::garbled;
    return message;
}

}  // namespace muster::wire

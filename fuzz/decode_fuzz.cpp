// Fuzz entry point for every decoder of the wire format. The first input byte picks the target:
//   0: `decode` on the rest as one message payload,
//   1: `frame_splitter` on the rest as a byte stream, in chunks sized by the input, then `decode`
//      on every payload it returns,
//   2: `decode_auth` on the rest, and a responder handshake fed the rest as a payload,
//   3: a handshake between two sides with one secret, in which the input changes bytes of the
//      response or the proof in transit. The receiving side must reject every change.
// Whatever decodes must encode back to the same bytes; a difference aborts, as a crash would.

#include <muster/wire/auth.hpp>
#include <muster/wire/codec.hpp>
#include <muster/wire/frame.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace {

void fail(const char* reason) {
    std::fprintf(stderr, "fuzz: %s\n", reason);
    std::abort();
}

const muster::wire::shared_secret& fuzz_secret() {
    static const auto secret = muster::wire::shared_secret::make("fuzzing secret, not a real one").value();
    return secret;
}

muster::wire::handshake make_side(muster::wire::handshake_role role, const char* name, std::uint8_t fill,
                                  std::optional<std::string> expected_peer) {
    muster::wire::nonce n;
    n.fill(fill);
    auto side = muster::wire::handshake::create(fuzz_secret(), {role, name, n, std::move(expected_peer)});
    if (!side) fail("a handshake configuration is invalid");
    return std::move(*side);
}

std::vector<std::uint8_t> payload_of(const muster::wire::auth_message& message) {
    const auto frame = muster::wire::encode_auth(message);
    if (!frame) fail("a handshake message fails to encode");
    return {frame->begin() + muster::wire::frame_header_size, frame->end()};
}

void check_message(std::span<const std::uint8_t> payload) {
    const auto decoded = muster::wire::decode(payload);
    if (!decoded) return;
    const auto again = muster::wire::encode(*decoded, muster::wire::wire_config{muster::wire::frame_size_max_upper});
    if (!again) fail("a decoded message fails to encode");
    const std::span<const std::uint8_t> again_payload = std::span(*again).subspan(muster::wire::frame_header_size);
    if (!std::equal(again_payload.begin(), again_payload.end(), payload.begin(), payload.end()))
        fail("a decoded message encodes to other bytes");
}

void check_stream(std::span<const std::uint8_t> stream) {
    if (stream.empty()) return;
    // The smallest allowed frame limit, so that oversized frames are reachable with small inputs.
    muster::wire::frame_splitter splitter(muster::wire::wire_config{muster::wire::frame_size_max_lower});
    const std::size_t chunk = 1 + stream[0] % 13;
    std::size_t fed = 0;
    for (std::size_t at = 1; at < stream.size(); at += chunk) {
        const auto piece = stream.subspan(at, std::min(chunk, stream.size() - at));
        splitter.feed(piece);
        fed += piece.size();
        for (;;) {
            auto next = splitter.next();
            if (!next) {
                if (splitter.buffered_size() != 0) fail("a failed splitter still buffers bytes");
                return;
            }
            if (!next->has_value()) break;
            check_message(**next);
        }
        if (splitter.buffered_size() > fed) fail("the splitter buffers more bytes than it was fed");
    }
}

void check_handshake(std::span<const std::uint8_t> payload) {
    const auto decoded = muster::wire::decode_auth(payload);
    if (decoded) {
        const auto again = muster::wire::encode_auth(*decoded);
        if (!again) fail("a decoded handshake message fails to encode");
        const auto again_payload = std::span(*again).subspan(muster::wire::frame_header_size);
        if (!std::equal(again_payload.begin(), again_payload.end(), payload.begin(), payload.end()))
            fail("a decoded handshake message encodes to other bytes");
    }

    auto responder = make_side(muster::wire::handshake_role::responder, "app@fuzz", 0, std::nullopt);
    responder.on_payload(payload);
    // A single frame can never complete a handshake: the responder needs two.
    if (responder.status() == muster::wire::handshake_status::accepted) fail("one frame completed a handshake");
}

// Input: which message to change (even: the response, odd: the proof), then pairs of
// (position, XOR mask) applied to its payload.
void check_tampering(std::span<const std::uint8_t> edits) {
    if (edits.empty()) return;
    auto initiator = make_side(muster::wire::handshake_role::initiator, "app@a", 1, "app@b");
    auto responder = make_side(muster::wire::handshake_role::responder, "app@b", 2, std::nullopt);
    const bool change_proof = edits[0] % 2 == 1;

    const auto apply = [&](std::vector<std::uint8_t> payload) {
        bool changed = false;
        for (std::size_t i = 1; i + 1 < edits.size(); i += 2) {
            const std::size_t at = edits[i] % payload.size();
            payload[at] ^= edits[i + 1];
            changed = changed || edits[i + 1] != 0;
        }
        return std::pair{payload, changed};
    };

    for (const auto& m : initiator.take_messages()) responder.on_payload(payload_of(m));
    for (const auto& m : responder.take_messages()) {
        auto [payload, changed] = change_proof ? std::pair{payload_of(m), false} : apply(payload_of(m));
        initiator.on_payload(payload);
        // Edits that cancel out leave the message as it was; only a real change must be rejected.
        const bool same = payload == payload_of(m);
        if (changed && !same && initiator.status() != muster::wire::handshake_status::rejected)
            fail("the initiator accepted a changed response");
    }
    if (!change_proof) return;
    if (initiator.status() != muster::wire::handshake_status::accepted) fail("an unchanged handshake failed");
    for (const auto& m : initiator.take_messages()) {
        auto [payload, changed] = apply(payload_of(m));
        responder.on_payload(payload);
        const bool same = payload == payload_of(m);
        if (changed && !same && responder.status() != muster::wire::handshake_status::rejected)
            fail("the responder accepted a changed proof");
        if (same && responder.status() != muster::wire::handshake_status::accepted)
            fail("the responder rejected an unchanged proof");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::span<const std::uint8_t> rest(data + 1, size - 1);
    switch (data[0] % 4) {
    case 0: check_message(rest); break;
    case 1: check_stream(rest); break;
    case 2: check_handshake(rest); break;
    default: check_tampering(rest); break;
    }
    return 0;
}

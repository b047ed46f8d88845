// Fuzz entry point for every decoder of the wire format. The first input byte picks the target:
//   0: `decode` on the rest as one message payload,
//   1: `frame_splitter` on the rest as a byte stream, in chunks sized by the input, then `decode`
//      on every payload it returns,
//   2: `decode_auth` on the rest, and a responder handshake fed the rest as a payload.
// Whatever decodes must encode back to the same bytes; a difference aborts, as a crash would.

#include <muster/wire/auth.hpp>
#include <muster/wire/codec.hpp>
#include <muster/wire/frame.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

namespace {

void fail(const char* reason) {
    std::fprintf(stderr, "fuzz: %s\n", reason);
    std::abort();
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

    static const auto secret = muster::wire::shared_secret::make("fuzzing secret, not a real one").value();
    auto responder = muster::wire::handshake::create(
        secret, muster::wire::handshake_config{muster::wire::handshake_role::responder, "app@fuzz", {}, std::nullopt});
    if (!responder) fail("the responder configuration is invalid");
    responder->on_payload(payload);
    // A single frame can never complete a handshake: the responder needs two.
    if (responder->status() == muster::wire::handshake_status::accepted) fail("one frame completed a handshake");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::span<const std::uint8_t> rest(data + 1, size - 1);
    switch (data[0] % 3) {
    case 0: check_message(rest); break;
    case 1: check_stream(rest); break;
    default: check_handshake(rest); break;
    }
    return 0;
}

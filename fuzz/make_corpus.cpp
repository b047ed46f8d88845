// Writes the seed corpus of the decoder fuzz target: real encoded messages, a stream of frames,
// handshake messages, handshake edits, and a few malformed inputs. Each file starts with the
// target byte that `decode_fuzz.cpp` reads (0 message, 1 stream, 2 handshake, 3 handshake
// tampering). Run it again after a change of the wire format: muster-fuzz-corpus fuzz/corpus
//
// Usage: muster-fuzz-corpus OUTPUT_DIR

#include <muster/wire/auth.hpp>
#include <muster/wire/codec.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

std::filesystem::path folder;

void write(const std::string& name, std::uint8_t target, const std::vector<std::uint8_t>& bytes) {
    std::ofstream out(folder / name, std::ios::binary | std::ios::trunc);
    out.put(static_cast<char>(target));
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::uint8_t> payload(const muster::message& body) {
    muster::envelope e;
    e.from = {"app@10.0.0.1:7001", 4};
    e.to = "app@10.0.0.2:7001";
    e.body = body;
    const auto frame = muster::wire::encode(e).value();
    return {frame.begin() + muster::wire::frame_header_size, frame.end()};
}

std::vector<std::uint8_t> auth_payload(const muster::wire::auth_message& m) {
    const auto frame = muster::wire::encode_auth(m).value();
    return {frame.begin() + muster::wire::frame_header_size, frame.end()};
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fputs("usage: muster-fuzz-corpus OUTPUT_DIR\n", stderr);
        return 2;
    }
    folder = argv[1];
    std::filesystem::create_directories(folder);

    const muster::entry_record billing{"billing", {"app@10.0.0.2:7001", 2}, 17, {"sweeper", muster::restart_policy::transient}, false};
    const muster::entry_record removed{"reports", {"app@10.0.0.3:7001", 1}, 3, {"", muster::restart_policy::temporary}, true};

    write("message-hello", 0, payload(muster::hello{1, false, true, {"app@10.0.0.2:7001", "app@10.0.0.3:7001"}}));
    write("message-heartbeat", 0, payload(muster::heartbeat{}));
    write("message-register-request", 0,
          payload(muster::register_request{{"app@10.0.0.1:7001", 4}, {{300, "billing", {"sweeper", {}}, 16}}}));
    write("message-register-reply", 0,
          payload(muster::register_reply{{{300, muster::errc::already_registered, billing}}}));
    write("message-register-batch-request", 0,
          payload(muster::register_request{{"app@10.0.0.1:7001", 4},
                                           {{301, "billing", {"sweeper", {}}, 16},
                                            {302, "reports", {"", muster::restart_policy::temporary}, 0},
                                            {303, "invoices", {"sweeper", muster::restart_policy::transient}, 4}}}));
    write("message-register-batch-reply", 0,
          payload(muster::register_reply{{{301, std::nullopt, billing},
                                          {302, muster::errc::node_leaving, std::nullopt},
                                          {303, muster::errc::already_registered, removed}}}));
    write("message-unregister-request", 0,
          payload(muster::unregister_request{301, {"app@10.0.0.1:7001", 4}, "billing", 2}));
    write("message-name-updates", 0, payload(muster::name_updates{{billing, removed}, true, 77}));
    write("message-handoff-offer", 0,
          payload(muster::handoff_offer{{{9, "billing", 17, {"sweeper", {}}, std::string("counter=41")},
                                         {10, "reports", 3, {"", {}}, std::nullopt}}}));
    write("message-handoff-reply", 0, payload(muster::handoff_reply{{{9, "billing", true}, {10, "reports", false}}}));
    write("message-sync-digest", 0,
          payload(muster::sync_digest{{0, 1, 0xfedcba9876543210, 42, 7, 0, 0, UINT64_MAX}, true}));
    write("message-sync-request", 0, payload(muster::sync_request{{0, 5, 127, 128, 65535}, {3, 0x51f0c2d4e6a87b19ULL}}));
    write("message-conflict-yield", 0, payload(muster::conflict_yield{"billing", 18, std::string("counter=40")}));

    std::vector<std::uint8_t> stream{5};  // the chunk size byte read by the stream target
    for (const muster::message& body : {muster::message{muster::heartbeat{}}, muster::message{muster::updates_ack{77}},
                                        muster::message{muster::unregister_reply{301, std::nullopt}}}) {
        const auto p = payload(body);
        muster::wire::write_frame_header(stream, static_cast<std::uint32_t>(p.size()));
        stream.insert(stream.end(), p.begin(), p.end());
    }
    write("stream-three-frames", 1, stream);

    muster::wire::nonce n{};
    for (std::size_t i = 0; i < n.size(); ++i) n[i] = static_cast<std::uint8_t>(i * 7);
    muster::wire::mac m{};
    for (std::size_t i = 0; i < m.size(); ++i) m[i] = static_cast<std::uint8_t>(255 - i);
    write("auth-challenge", 2, auth_payload(muster::wire::auth_challenge{"app@10.0.0.1:7001", n}));
    write("auth-response", 2, auth_payload(muster::wire::auth_response{"app@10.0.0.2:7001", n, m}));
    write("auth-proof", 2, auth_payload(muster::wire::auth_proof{m}));

    write("tamper-response", 3, {0, 40, 0x01});
    write("tamper-proof", 3, {1, 5, 0x80, 30, 0x10});

    auto truncated = payload(muster::name_updates{{billing}, false, 0});
    truncated.resize(truncated.size() - 6);
    write("bad-truncated", 0, truncated);
    auto version = payload(muster::heartbeat{});
    version[0] = muster::wire::wire_version + 1;
    write("bad-unknown-version", 0, version);
    auto kind = payload(muster::heartbeat{});
    kind[1] = 0x30;
    write("bad-unknown-kind", 0, kind);
    auto count = payload(muster::sync_request{{1, 2}, {}});
    count[count.size() - 4] = 0x7f;  // the bucket count: 127 buckets in 2 bytes
    write("bad-count", 0, count);
    // The record's owner index follows its name; 1 points past the one-node table.
    auto owner = payload(muster::name_updates{{billing}, false, 0});
    const std::string_view record_name = "billing";
    const auto name_at = std::search(owner.begin(), owner.end(), record_name.begin(), record_name.end());
    name_at[static_cast<std::ptrdiff_t>(record_name.size())] = 1;
    write("bad-owner-index", 0, owner);
    write("bad-oversized-stream", 1, {3, 0x00, 0x10, 0x00, 0x01, 0xaa, 0xbb});

    std::printf("muster-fuzz-corpus: wrote the corpus to %s\n", folder.string().c_str());
    return 0;
}

#include <muster/wire/frame.hpp>

#include <muster/wire/codec.hpp>

#include "support/message_gen.hpp"

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

using muster::wire::decode_error;
using muster::wire::frame_splitter;
using muster::wire::wire_config;
using muster::wire::wire_config_error;

namespace {

std::vector<std::uint8_t> frame_of(std::vector<std::uint8_t> payload) {
    // The prefix is written by hand here, so these tests also pin its byte order.
    const auto size = static_cast<std::uint32_t>(payload.size());
    std::vector<std::uint8_t> out(muster::wire::frame_header_size + payload.size());
    out[0] = static_cast<std::uint8_t>(size >> 24);
    out[1] = static_cast<std::uint8_t>(size >> 16);
    out[2] = static_cast<std::uint8_t>(size >> 8);
    out[3] = static_cast<std::uint8_t>(size);
    std::copy(payload.begin(), payload.end(), out.begin() + muster::wire::frame_header_size);
    return out;
}

// Takes every payload the splitter has ready; fails the test on an error.
std::vector<std::vector<std::uint8_t>> drain(frame_splitter& splitter) {
    std::vector<std::vector<std::uint8_t>> out;
    for (;;) {
        auto next = splitter.next();
        REQUIRE(next.has_value());
        if (!next->has_value()) return out;
        out.push_back(std::move(**next));
    }
}

}  // namespace

TEST_CASE("wire config accepts default and bounds", "[wire]") {
    CHECK_FALSE(muster::wire::validate(wire_config{}).has_value());
    CHECK(wire_config{}.frame_size_max == 1024 * 1024);
    CHECK_FALSE(muster::wire::validate(wire_config{muster::wire::frame_size_max_lower}).has_value());
    CHECK_FALSE(muster::wire::validate(wire_config{muster::wire::frame_size_max_upper}).has_value());
    CHECK(muster::wire::validate(wire_config{muster::wire::frame_size_max_lower - 1}) ==
          wire_config_error::frame_size_too_small);
    CHECK(muster::wire::validate(wire_config{muster::wire::frame_size_max_upper + 1}) ==
          wire_config_error::frame_size_too_large);
    CHECK(muster::wire::validate(wire_config{0}) == wire_config_error::frame_size_too_small);
}

TEST_CASE("error messages name the reason", "[wire]") {
    CHECK(muster::wire::to_string(decode_error::truncated).find("truncated") != std::string_view::npos);
    CHECK(muster::wire::to_string(decode_error::oversized).find("frame_size_max") != std::string_view::npos);
    CHECK(muster::wire::to_string(decode_error::unknown_version).find("version") != std::string_view::npos);
    CHECK(muster::wire::to_string(decode_error::unknown_kind).find("kind") != std::string_view::npos);
    CHECK(muster::wire::to_string(decode_error::garbled).find("garbled") != std::string_view::npos);
    CHECK(muster::wire::to_string(wire_config_error::frame_size_too_small).find("frame_size_max") !=
          std::string_view::npos);
}

TEST_CASE("unframe checks length prefix", "[wire]") {
    const wire_config config{4096};
    CHECK(muster::wire::unframe(std::vector<std::uint8_t>{0, 0, 0}, config).error() == decode_error::truncated);
    CHECK(muster::wire::unframe(std::vector<std::uint8_t>{0, 0, 0, 3, 1, 2}, config).error() == decode_error::truncated);
    CHECK(muster::wire::unframe(std::vector<std::uint8_t>{0, 0, 0, 1, 1, 2}, config).error() == decode_error::garbled);
    CHECK(muster::wire::unframe(std::vector<std::uint8_t>{0, 0, 0x10, 0x01}, config).error() == decode_error::oversized);
    const std::vector<std::uint8_t> frame{0, 0, 0, 2, 7, 8};
    const auto payload = muster::wire::unframe(frame, config);
    REQUIRE(payload.has_value());
    CHECK(std::vector<std::uint8_t>(payload->begin(), payload->end()) == std::vector<std::uint8_t>{7, 8});
}

TEST_CASE("decode_frame reports frame errors", "[wire]") {
    CHECK(muster::wire::decode_frame(std::vector<std::uint8_t>{0, 0}).error() == decode_error::truncated);
    CHECK(muster::wire::decode_frame(std::vector<std::uint8_t>{0x7f, 0xff, 0xff, 0xff}).error() == decode_error::oversized);
    CHECK(muster::wire::decode_frame(frame_of({9, 0})).error() == decode_error::unknown_version);
    CHECK(muster::wire::decode_frame(frame_of({muster::wire::wire_version, 99})).error() == decode_error::unknown_kind);
}

TEST_CASE("splitter returns frames fed byte by byte", "[wire]") {
    frame_splitter splitter;
    const auto a = frame_of({1, 2, 3});
    const auto b = frame_of({});
    std::vector<std::uint8_t> stream = a;
    stream.insert(stream.end(), b.begin(), b.end());
    std::vector<std::vector<std::uint8_t>> got;
    for (const auto byte : stream) {
        splitter.feed(std::span(&byte, 1));
        for (auto& p : drain(splitter)) got.push_back(std::move(p));
    }
    REQUIRE(got.size() == 2);
    CHECK(got[0] == std::vector<std::uint8_t>{1, 2, 3});
    CHECK(got[1].empty());
    CHECK(splitter.buffered_size() == 0);
}

TEST_CASE("splitter rejects oversized prefix at once", "[wire]") {
    frame_splitter splitter(wire_config{4096});
    splitter.feed(frame_of({5}));
    // The prefix of a 4097-byte frame, with no payload yet.
    splitter.feed(std::vector<std::uint8_t>{0, 0, 0x10, 0x01});
    auto first = splitter.next();
    REQUIRE(first.has_value());
    REQUIRE(first->has_value());
    CHECK(**first == std::vector<std::uint8_t>{5});
    CHECK(splitter.next().error() == decode_error::oversized);
    // The error sticks and later input is ignored.
    splitter.feed(frame_of({6}));
    CHECK(splitter.next().error() == decode_error::oversized);
    CHECK(splitter.error() == decode_error::oversized);
    CHECK(splitter.buffered_size() == 0);
}

TEST_CASE("splitter accepts frame of exactly frame_size_max", "[wire]") {
    frame_splitter splitter(wire_config{4096});
    splitter.feed(frame_of(std::vector<std::uint8_t>(4096, 1)));
    const auto got = drain(splitter);
    REQUIRE(got.size() == 1);
    CHECK(got[0].size() == 4096);
}

TEST_CASE("splitter waits on partial frame", "[wire]") {
    frame_splitter splitter;
    const auto frame = frame_of({1, 2, 3, 4});
    splitter.feed(std::span(frame).first(6));
    CHECK(drain(splitter).empty());
    CHECK(splitter.buffered_size() == 6);
    splitter.feed(std::span(frame).subspan(6));
    CHECK(drain(splitter).size() == 1);
}

TEST_CASE("splitter cuts random chunks into messages", "[wire][property]") {
    rc::prop("feeding encoded messages in random chunks returns every message in order", [] {
        const auto messages = *rc::gen::container<std::vector<muster::envelope>>(muster::testing::gen_envelope());
        std::vector<std::uint8_t> stream;
        for (const auto& m : messages) RC_ASSERT_FALSE(muster::wire::encode_to(stream, m).has_value());

        frame_splitter splitter;
        std::vector<muster::envelope> got;
        std::size_t at = 0;
        while (at < stream.size()) {
            const auto chunk = std::min(stream.size() - at, *rc::gen::inRange<std::size_t>(1, 200));
            splitter.feed(std::span(stream).subspan(at, chunk));
            at += chunk;
            for (;;) {
                auto next = splitter.next();
                RC_ASSERT(next.has_value());
                if (!next->has_value()) break;
                auto decoded = muster::wire::decode(**next);
                RC_ASSERT(decoded.has_value());
                got.push_back(std::move(*decoded));
            }
        }
        RC_ASSERT(got == messages);
        RC_ASSERT(splitter.buffered_size() == 0u);
    });
}

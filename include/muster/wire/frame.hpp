#pragma once
/// Framing of the wire format: the length prefix, the frame size limit and its configuration, the
/// decode errors, and a streaming splitter that cuts a byte stream into frames.
///
/// A frame is a 4-byte big-endian payload length followed by the payload. The payload starts with
/// the format version byte (`wire_version`) and a kind byte; `codec.hpp` and `auth.hpp` define
/// what follows. `docs/wire.md` describes every layout.

#include <muster/core/types.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace muster::wire {

/// Version of the byte encoding, the first payload byte of every frame. It changes whenever a
/// layout changes; a frame with another version is rejected with `decode_error::unknown_version`.
inline constexpr std::uint8_t wire_version = 3;

/// Size of the length prefix in front of every payload, in bytes.
inline constexpr std::size_t frame_header_size = 4;

/// Settings of the wire format.
struct wire_config {
    /// Largest accepted payload, in bytes, not counting the 4-byte length prefix. Applies to
    /// both directions: an encoder rejects a larger message and a decoder rejects a larger frame.
    std::uint32_t frame_size_max = 1024 * 1024;
};

/// Smallest allowed `frame_size_max`: room for every handshake message and a hello with a few
/// members.
inline constexpr std::uint32_t frame_size_max_lower = 4 * 1024;

/// Largest allowed `frame_size_max` (256 MiB), so one peer cannot make a node buffer gigabytes.
inline constexpr std::uint32_t frame_size_max_upper = 256 * 1024 * 1024;

/// Reason a `wire_config` is invalid.
enum class wire_config_error : std::uint8_t {
    frame_size_too_small = 1,  ///< `frame_size_max` is under `frame_size_max_lower` (4 KiB)
    frame_size_too_large,      ///< `frame_size_max` is above `frame_size_max_upper` (256 MiB)
};

/// Returns an English message for a configuration error, naming the setting and the accepted range.
constexpr std::string_view to_string(wire_config_error e) noexcept {
    switch (e) {
    case wire_config_error::frame_size_too_small: return "frame_size_max is under 4096 bytes; use at least 4 KiB";
    case wire_config_error::frame_size_too_large: return "frame_size_max is above 268435456 bytes; use at most 256 MiB";
    }
    return "unknown wire configuration error";
}

/// Checks a wire configuration; returns the problem found, if any.
constexpr std::optional<wire_config_error> validate(const wire_config& c) noexcept {
    if (c.frame_size_max < frame_size_max_lower) return wire_config_error::frame_size_too_small;
    if (c.frame_size_max > frame_size_max_upper) return wire_config_error::frame_size_too_large;
    return std::nullopt;
}

/// Reason a frame was rejected. A host closes the connection on any of them.
enum class decode_error : std::uint8_t {
    truncated = 1,         ///< the input ends inside the length prefix, the payload or a field
    oversized,             ///< the length prefix is above `frame_size_max`
    unknown_version,       ///< the payload's first byte is not `wire_version`
    unknown_kind,          ///< the kind byte names no message of this version
    garbled,               ///< a field is out of range, a count exceeds the remaining bytes, a
                           ///< name is empty or too long, or bytes follow the last field
};

/// Returns an English message for a decode error, naming the reason.
constexpr std::string_view to_string(decode_error e) noexcept {
    switch (e) {
    case decode_error::truncated: return "frame is truncated: the input ends before the frame or one of its fields is complete";
    case decode_error::oversized: return "frame is larger than frame_size_max; if the peer is trusted and sends large messages, raise frame_size_max on every node";
    case decode_error::unknown_version: return "frame has an unknown wire format version; the peer runs an incompatible build";
    case decode_error::unknown_kind: return "frame has an unknown message kind";
    case decode_error::garbled: return "frame is garbled: a field is out of range, a name is invalid, a count exceeds the frame, or bytes follow the last field";
    }
    return "unknown decode error";
}

/// Appends the 4-byte big-endian length prefix of a payload of `payload_size` bytes.
inline void write_frame_header(std::vector<std::uint8_t>& out, std::uint32_t payload_size) {
    const std::array<std::uint8_t, frame_header_size> header{
        static_cast<std::uint8_t>(payload_size >> 24), static_cast<std::uint8_t>(payload_size >> 16),
        static_cast<std::uint8_t>(payload_size >> 8), static_cast<std::uint8_t>(payload_size)};
    out.insert(out.end(), header.begin(), header.end());
}

/// Reads the payload length from the first 4 bytes of `header`. Precondition: `header.size() >= 4`.
inline std::uint32_t read_frame_header(std::span<const std::uint8_t> header) noexcept {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < frame_header_size; ++i) v = (v << 8) | header[i];
    return v;
}

/// Returns the payload of the single frame in `frame`, or why it is not one: truncated (shorter
/// than its prefix states), oversized, or garbled (bytes after the frame).
inline expected<std::span<const std::uint8_t>, decode_error> unframe(std::span<const std::uint8_t> frame,
                                                                     const wire_config& config = {}) {
    if (frame.size() < frame_header_size) return decode_error::truncated;
    const std::uint32_t size = read_frame_header(frame);
    if (size > config.frame_size_max) return decode_error::oversized;
    const auto rest = frame.subspan(frame_header_size);
    if (rest.size() < size) return decode_error::truncated;
    if (rest.size() > size) return decode_error::garbled;
    return rest;
}

/// Cuts a byte stream, fed in chunks of any size, into frame payloads. A TCP host feeds every
/// chunk it reads, then takes payloads with `next` until it returns nothing.
///
/// Memory: the splitter buffers the bytes fed and not yet returned. It rejects an oversized
/// frame as soon as its length prefix arrives, so the buffer stays under `frame_size_max` plus
/// the prefix plus the size of the chunks fed since the last `next`.
class frame_splitter {
public:
    /// Precondition: `validate(config)` found no problem.
    explicit frame_splitter(wire_config config = {}) : config_(config) {}

    /// Appends received bytes. After an error the splitter ignores further input.
    void feed(std::span<const std::uint8_t> bytes) {
        if (error_) return;
        buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
    }

    /// Returns the next complete payload, nothing when more bytes are needed, or
    /// `decode_error::oversized`. The error sticks: every later call returns it again, since
    /// the stream position is lost and the host must close the connection.
    expected<std::optional<std::vector<std::uint8_t>>, decode_error> next() {
        if (error_) return *error_;
        const std::span<const std::uint8_t> pending{buffer_.data() + start_, buffer_.size() - start_};
        if (pending.size() < frame_header_size) return compact_and_wait();
        const std::uint32_t size = read_frame_header(pending);
        if (size > config_.frame_size_max) {
            error_ = decode_error::oversized;
            buffer_.clear();
            buffer_.shrink_to_fit();
            start_ = 0;
            return *error_;
        }
        if (pending.size() - frame_header_size < size) return compact_and_wait();
        const auto payload = pending.subspan(frame_header_size, size);
        std::vector<std::uint8_t> out(payload.begin(), payload.end());
        start_ += frame_header_size + size;
        return std::optional{std::move(out)};
    }

    /// Bytes fed and not yet returned in a payload.
    std::size_t buffered_size() const noexcept { return buffer_.size() - start_; }

    /// The error that stopped the splitter, if any.
    std::optional<decode_error> error() const noexcept { return error_; }

private:
    // Drops the bytes already returned, so the buffer does not grow with the stream's length.
    std::optional<std::vector<std::uint8_t>> compact_and_wait() {
        if (start_ > 0) {
            buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(start_));
            start_ = 0;
        }
        return std::nullopt;
    }

    wire_config config_;
    std::vector<std::uint8_t> buffer_;
    std::size_t start_ = 0;
    std::optional<decode_error> error_;
};

}  // namespace muster::wire

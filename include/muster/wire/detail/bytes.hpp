#pragma once
// Byte-level writer and reader shared by the message codec and the handshake codec. Integers are
// unsigned LEB128 varints (minimal form only) or fixed-width big-endian; strings are a varint
// length followed by the bytes.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace muster::wire::detail {

/// Maximum size of a 64-bit varint, in bytes: ten groups of seven bits.
inline constexpr std::size_t varint_size_max = 10;

/// Appends encoded fields to a byte vector.
class writer {
public:
    explicit writer(std::vector<std::uint8_t>& out) : out_(out) {}

    void u8(std::uint8_t v) { out_.push_back(v); }

    void boolean(bool v) { out_.push_back(v ? 1 : 0); }

    void varint(std::uint64_t v) {
        while (v >= 0x80) {
            out_.push_back(static_cast<std::uint8_t>(v | 0x80));
            v >>= 7;
        }
        out_.push_back(static_cast<std::uint8_t>(v));
    }

    void u32_be(std::uint32_t v) {
        for (int shift = 24; shift >= 0; shift -= 8) out_.push_back(static_cast<std::uint8_t>(v >> shift));
    }

    void u64_be(std::uint64_t v) {
        for (int shift = 56; shift >= 0; shift -= 8) out_.push_back(static_cast<std::uint8_t>(v >> shift));
    }

    void bytes(std::span<const std::uint8_t> v) { out_.insert(out_.end(), v.begin(), v.end()); }

    void string(std::string_view v) {
        varint(v.size());
        out_.insert(out_.end(), v.begin(), v.end());
    }

private:
    std::vector<std::uint8_t>& out_;
};

/// Whether a read failed, and why: the input ended, or a value has a form the encoder never
/// produces.
enum class read_failure : std::uint8_t { none, truncated, garbled };

/// Reads fields from a byte span. The first failure sticks: later reads return zero or empty
/// values and `failure()` reports the first cause, so a decoder may check once after a group of reads.
class reader {
public:
    explicit reader(std::span<const std::uint8_t> in) : in_(in) {}

    std::size_t remaining() const noexcept { return failed() ? 0 : in_.size() - pos_; }
    read_failure failure() const noexcept { return failure_; }
    bool failed() const noexcept { return failure_ != read_failure::none; }

    /// Marks the input garbled (a value out of range), unless an earlier read already failed.
    void fail_garbled() noexcept {
        if (!failed()) failure_ = read_failure::garbled;
    }

    std::uint8_t u8() {
        if (!need(1)) return 0;
        return in_[pos_++];
    }

    /// Reads a byte that must be 0 or 1; any other value is garbled.
    bool boolean() {
        const std::uint8_t v = u8();
        if (v > 1) fail_garbled();
        return v == 1;
    }

    /// Reads a minimal varint. An overlong form (a trailing zero group) or a value above 64 bits
    /// is garbled, so every value has exactly one encoding.
    std::uint64_t varint() {
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < varint_size_max; ++i) {
            if (!need(1)) return 0;
            const std::uint8_t b = in_[pos_++];
            // The tenth group holds only bit 63, so it must be 0 or 1.
            if (i == varint_size_max - 1 && b > 1) break;
            v |= static_cast<std::uint64_t>(b & 0x7f) << (7 * i);
            if ((b & 0x80) == 0) {
                if (b == 0 && i > 0) break;
                return v;
            }
        }
        fail_garbled();
        return 0;
    }

    std::uint32_t u32_be() {
        if (!need(4)) return 0;
        std::uint32_t v = 0;
        for (int i = 0; i < 4; ++i) v = (v << 8) | in_[pos_++];
        return v;
    }

    std::uint64_t u64_be() {
        if (!need(8)) return 0;
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i) v = (v << 8) | in_[pos_++];
        return v;
    }

    /// Copies `out.size()` bytes.
    void bytes(std::span<std::uint8_t> out) {
        if (!need(out.size())) return;
        for (auto& b : out) b = in_[pos_++];
    }

    /// Reads a string of at most `size_max` bytes. A longer declared length is garbled when it
    /// fits in the input, and truncated when it does not; nothing is allocated before the check.
    std::string string(std::size_t size_max) {
        const std::uint64_t size = varint();
        if (failed()) return {};
        if (size > remaining()) {
            failure_ = read_failure::truncated;
            return {};
        }
        if (size > size_max) {
            fail_garbled();
            return {};
        }
        std::string v(reinterpret_cast<const char*>(in_.data() + pos_), static_cast<std::size_t>(size));
        pos_ += static_cast<std::size_t>(size);
        return v;
    }

    /// Reads an element count and checks that the remaining input can hold that many elements
    /// of at least `element_size_min` bytes each. A larger count is garbled, so a caller may
    /// reserve the returned count without trusting the peer.
    std::size_t count(std::size_t element_size_min) {
        const std::uint64_t n = varint();
        if (failed()) return 0;
        if (n > remaining() / element_size_min) {
            fail_garbled();
            return 0;
        }
        return static_cast<std::size_t>(n);
    }

private:
    bool need(std::size_t n) {
        if (failed()) return false;
        if (in_.size() - pos_ < n) {
            failure_ = read_failure::truncated;
            return false;
        }
        return true;
    }

    std::span<const std::uint8_t> in_;
    std::size_t pos_ = 0;
    read_failure failure_ = read_failure::none;
};

}  // namespace muster::wire::detail

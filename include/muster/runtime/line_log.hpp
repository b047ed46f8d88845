#pragma once
/// `line_log`: a log sink that writes one text line per record, for programs run by hand or by a
/// process supervisor that collects standard error.

#include <muster/core/log.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>

namespace muster::runtime {

/// Write mode of a `line_log`: each line at once, or lines collected until `flush`.
enum class log_buffering : std::uint8_t {
    none,      ///< each line goes out in its own `fwrite` and `fflush`
    per_flush, ///< lines collect in memory and go out together at `flush`
};

/// A log sink that writes each record as one line:
///
///     2026-12-04T23:10:00.123Z info app@127.0.0.1:7001 member_joined member=app@127.0.0.1:7002
///
/// The time is UTC wall-clock time with milliseconds, then the level, the node, the event and
/// the fields as `key=value`. A value that is empty or contains a space, a quote, a backslash or
/// a control byte is written in double quotes, with `\"`, `\\`, `\n`, `\r`, `\t` and `\xHH`
/// escapes, so every record stays on one line. Copies share the stream, which must outlive them.
///
/// Unbuffered, each line goes out in one `fwrite` followed by `fflush`, so lines from several
/// threads do not interleave. With `log_buffering::per_flush`, copies also share one buffer,
/// guarded by a mutex. Lines collect there and go out together in one `fwrite` and `fflush`. That
/// happens at `flush`, once 64 KiB have collected, at a `warn` or `error` record, and when the
/// last copy is destroyed, so each write ends at a line boundary. `runtime::host` calls `flush`
/// at the end of every handler.
class line_log {
public:
    explicit line_log(std::FILE* stream = stderr, log_level level_min = log_level::info,
                      log_buffering buffering = log_buffering::none)
        : stream_(stream), level_min_(level_min) {
        if (buffering == log_buffering::per_flush) shared_ = std::make_shared<shared_buffer>(stream);
    }

    bool enabled(log_level level) const { return level >= level_min_; }

    void write(const log_record& record) {
        if (!enabled(record.level)) return;
        // Each thread formats into its own line, kept to reuse its memory.
        thread_local std::string line;
        line.clear();
        append_time(line, std::chrono::system_clock::now());
        line += ' ';
        line += to_string(record.level);
        line += ' ';
        line += record.node.empty() ? std::string_view("-") : record.node;
        line += ' ';
        line += record.event;
        for (const auto& [key, value] : record.fields) {
            line += ' ';
            line += key;
            line += '=';
            append_value(line, value);
        }
        line += '\n';
        if (!shared_) {
            std::fwrite(line.data(), 1, line.size(), stream_);
            std::fflush(stream_);
            return;
        }
        const std::lock_guard lock(shared_->mutex);
        shared_->text += line;
        // An operator waiting for a warning should not wait for the next handler's end.
        if (shared_->text.size() >= buffer_bytes_max || record.level >= log_level::warn) shared_->write_out();
    }

    /// Writes out the lines collected so far. Does nothing for an unbuffered log.
    void flush() {
        if (!shared_) return;
        const std::lock_guard lock(shared_->mutex);
        shared_->write_out();
    }

private:
    static constexpr std::size_t buffer_bytes_max = 64 * 1024;

    struct shared_buffer {
        explicit shared_buffer(std::FILE* s) : stream(s) {}
        shared_buffer(const shared_buffer&) = delete;
        shared_buffer& operator=(const shared_buffer&) = delete;
        ~shared_buffer() { write_out(); }

        // The caller has locked `mutex`, except in the destructor, when no copy is left.
        void write_out() {
            if (text.empty()) return;
            std::fwrite(text.data(), 1, text.size(), stream);
            std::fflush(stream);
            text.clear();
        }

        std::FILE* stream;
        std::mutex mutex;
        std::string text;
    };

    // Appends the time as 2026-12-04T23:10:00.123Z. Each thread formats the part up to the
    // seconds once per second, because a busy node writes many lines within one.
    static void append_time(std::string& line, std::chrono::system_clock::time_point t) {
        thread_local std::time_t formatted_second = -1;
        thread_local char second_text[80] = {};  // room for any int values, which GCC checks
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
        const auto seconds = static_cast<std::time_t>(ms / 1000);
        if (seconds != formatted_second) {
            std::tm utc{};
            gmtime_r(&seconds, &utc);
            std::snprintf(second_text, sizeof second_text, "%04d-%02d-%02dT%02d:%02d:%02d.", utc.tm_year + 1900,
                          utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
            formatted_second = seconds;
        }
        const auto millis = static_cast<int>(ms % 1000);
        line += second_text;
        line += static_cast<char>('0' + millis / 100);
        line += static_cast<char>('0' + millis / 10 % 10);
        line += static_cast<char>('0' + millis % 10);
        line += 'Z';
    }

    // A value may come from a peer (a name claimed in a handshake), so it must not be able to
    // end the line or forge another one: control bytes are escaped inside quotes.
    static bool plain(const std::string& value) {
        if (value.empty()) return false;
        for (const char c : value) {
            const auto byte = static_cast<unsigned char>(c);
            if (byte <= ' ' || byte == 0x7f || c == '"' || c == '\\') return false;
        }
        return true;
    }

    static void append_value(std::string& line, const std::string& value) {
        if (plain(value)) {
            line += value;
            return;
        }
        line += '"';
        for (const char c : value) {
            const auto byte = static_cast<unsigned char>(c);
            if (c == '"' || c == '\\') {
                line += '\\';
                line += c;
            } else if (c == '\n') {
                line += "\\n";
            } else if (c == '\r') {
                line += "\\r";
            } else if (c == '\t') {
                line += "\\t";
            } else if (byte < ' ' || byte == 0x7f) {
                constexpr char digits[] = "0123456789abcdef";
                line += "\\x";
                line += digits[byte >> 4];
                line += digits[byte & 15];
            } else {
                line += c;
            }
        }
        line += '"';
    }

    std::FILE* stream_;
    log_level level_min_;
    std::shared_ptr<shared_buffer> shared_;
};

static_assert(log_sink<line_log>);

}  // namespace muster::runtime

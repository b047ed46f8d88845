#pragma once
/// `line_log`: a log sink that writes one text line per record, for programs run by hand or by a
/// process supervisor that collects standard error.

#include <muster/core/log.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace muster::runtime {

/// A log sink that writes each record as one line:
///
///     2026-12-04T23:10:00.123Z info app@127.0.0.1:7001 member_joined member=app@127.0.0.1:7002
///
/// The time is UTC wall-clock time with milliseconds, then the level, the node, the event and
/// the fields as `key=value`. A value that contains a space or a quote is written in double
/// quotes. Each line goes out in one `fwrite`, so lines from several threads do not interleave.
/// Copies share the stream, which must outlive them.
class line_log {
public:
    explicit line_log(std::FILE* stream = stderr, log_level level_min = log_level::info)
        : stream_(stream), level_min_(level_min) {}

    bool enabled(log_level level) const { return level >= level_min_; }

    void write(const log_record& record) {
        if (!enabled(record.level)) return;
        std::string line = format_time(std::chrono::system_clock::now());
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
        std::fwrite(line.data(), 1, line.size(), stream_);
        std::fflush(stream_);
    }

private:
    static std::string format_time(std::chrono::system_clock::time_point t) {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
        const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
        std::tm utc{};
        gmtime_r(&seconds, &utc);
        char text[64];
        std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                      utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(ms % 1000));
        return text;
    }

    static void append_value(std::string& line, const std::string& value) {
        if (!value.empty() && value.find_first_of(" \"\n") == std::string::npos) {
            line += value;
            return;
        }
        line += '"';
        for (const char c : value) {
            if (c == '"' || c == '\\') line += '\\';
            line += c == '\n' ? ' ' : c;
        }
        line += '"';
    }

    std::FILE* stream_;
    log_level level_min_;
};

static_assert(log_sink<line_log>);

}  // namespace muster::runtime

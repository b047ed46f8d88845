#pragma once
/// The logging sink: a policy like the others. Machines log stable snake_case events with
/// key/value fields; the default sink discards everything.

#include <concepts>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace muster {

/// Severity of a log record.
enum class log_level : std::uint8_t { debug, info, warn, error };

/// Returns a stable lower-case name for a level.
constexpr std::string_view to_string(log_level level) noexcept {
    switch (level) {
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warn: return "warn";
    case log_level::error: return "error";
    }
    return "unknown";
}

/// One structured record. `event` is a stable snake_case name such as `member_joined`.
struct log_record {
    log_level level = log_level::info;
    std::string_view node;
    std::string_view event;
    std::vector<std::pair<std::string_view, std::string>> fields;
};

/// A sink reports whether a level is enabled (so records are only built when wanted) and accepts
/// records.
template <class S>
concept log_sink = requires(S& s, const S& cs, log_level level, const log_record& record) {
    { cs.enabled(level) } -> std::convertible_to<bool>;
    s.write(record);
};

/// The default sink: discards every record.
struct null_log {
    bool enabled(log_level) const { return false; }
    void write(const log_record&) {}
};

static_assert(log_sink<null_log>);

}  // namespace muster

#pragma once
/// Configuration of a registry node, its defaults, and its validation.

#include <muster/core/types.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace muster {

using namespace std::chrono_literals;

/// Settings of one node. Every duration is on the host's monotonic clock.
struct registry_config {
    node_id self;                           ///< this node's name and incarnation (≥ 1)
    std::uint64_t seed = 0;                 ///< seeds the machine's only random choices
    std::uint64_t generation = 0;           ///< release of this node, such as a Deployment revision
    duration heartbeat_interval = 1s;       ///< time between heartbeats to each member
    duration failure_timeout = 5s;          ///< silence after which a member is declared failed
    duration connect_timeout = 3s;          ///< a connection attempt not answered by then is dropped
    duration sync_interval = 2s;            ///< anti-entropy: one digest to one member per interval
    duration flush_interval = 5ms;          ///< registry updates are batched for this long
    duration request_timeout = 5s;          ///< deadline of a register or unregister request
    duration handoff_retry = 1s;            ///< an unanswered handoff offer is sent again after this
    duration rebalance_delay = 50ms;        ///< membership changes within this window move names once
    /// Delay from the detection of a failure to the restart of the failed member's names. A
    /// member announced at that moment (a new incarnation of the failed node, say) reaches every
    /// view first, so every node applies the placement rule to the same members. May be 0. A
    /// node waits longer when the longest round trip it measured to a member is longer, up to
    /// `heartbeat_interval` (see docs/design.md, "Failures").
    duration failover_delay = 10ms;
    duration stop_grace = 5s;               ///< a worker asked to stop is killed after this
    duration leave_deadline = 25s;          ///< a leaving node stops waiting for handoffs after this
    /// A leaving node with no member of a newer generation in its view keeps its workers running up to
    /// this long, waiting for one to join, before it hands them off. In a rollout the first pods
    /// told to stop often go before any new pod is up, and without a wait their workers move to
    /// old pods that stop next. 0 (the default) hands off at once. Must be below `leave_deadline`.
    duration newer_generation_wait = 0s;
    duration tombstone_ttl = 5min;          ///< removed names are remembered this long
    std::uint32_t sync_buckets = 1024;      ///< anti-entropy buckets, a power of two in [1, 65536]
    /// Upper bound, in bytes, on the encoded size of one `name_updates`, `sync_request`,
    /// `register_request` or `register_reply`: larger batches and anti-entropy responses go out
    /// as several messages. A host with a frame size limit keeps it above this by at least
    /// `message_overhead_max`; `runtime::host` lowers it to fit.
    std::uint32_t message_size_max = 1023 * 1024;
};

/// Bytes a message adds beyond its records or digests on the wire: the envelope, with two node
/// names of at most 255 bytes, and the counts and flags.
inline constexpr std::uint32_t message_overhead_max = 1024;

/// Smallest allowed `message_size_max`: room for the largest possible entry record.
inline constexpr std::uint32_t message_size_max_lower = 4 * 1024;

/// Reason a configuration is invalid.
enum class config_error : std::uint8_t {
    empty_node_name = 1,           ///< `self.name` is empty
    node_name_too_long,            ///< `self.name` is longer than 255 bytes
    zero_incarnation,              ///< `self.incarnation` is 0; incarnations start at 1
    nonpositive_duration,          ///< a duration setting is zero or negative
    duration_too_large,            ///< a duration setting is above `duration_max` (100 days)
    failure_timeout_too_short,     ///< `failure_timeout` is under twice `heartbeat_interval`
    invalid_sync_buckets,          ///< `sync_buckets` is not a power of two in [1, 65536]
    generation_wait_too_long,      ///< `newer_generation_wait` is not below `leave_deadline`
    message_size_too_small,        ///< `message_size_max` is under 4 KiB or under 9 bytes per sync bucket
};

/// Returns an English message for a configuration error, naming the setting and the accepted range.
constexpr std::string_view to_string(config_error e) noexcept {
    switch (e) {
    case config_error::empty_node_name: return "self.name is empty; set it to a name like app@10.0.0.5";
    case config_error::node_name_too_long: return "self.name is longer than 255 bytes";
    case config_error::zero_incarnation: return "self.incarnation is 0; use a value of at least 1 that grows on every restart";
    case config_error::nonpositive_duration: return "a duration setting is zero or negative; every interval and timeout must be positive";
    case config_error::duration_too_large: return "a duration setting is above 100 days; use a shorter interval or timeout";
    case config_error::failure_timeout_too_short: return "failure_timeout is shorter than twice heartbeat_interval";
    case config_error::invalid_sync_buckets: return "sync_buckets must be a power of two between 1 and 65536";
    case config_error::generation_wait_too_long:
        return "newer_generation_wait is not below leave_deadline, so a leaving node would have no time left to hand off";
    case config_error::message_size_too_small:
        return "message_size_max is under 4096 bytes or under 9 bytes per sync bucket; raise it or lower sync_buckets";
    }
    return "unknown configuration error";
}

/// Upper bound on every duration setting: far above any useful timeout, and low enough that
/// `now + setting` and `2 * setting` cannot overflow.
inline constexpr duration duration_max = std::chrono::hours(24 * 100);

/// One duration setting of `registry_config`, by name, for validation and its messages.
struct duration_setting {
    std::string_view name;
    duration value;
    bool zero_allowed;
};

/// Returns every duration setting of `c`, in the order `validate` checks them.
constexpr std::array<duration_setting, 13> duration_settings(const registry_config& c) noexcept {
    return {{{"heartbeat_interval", c.heartbeat_interval, false},
             {"failure_timeout", c.failure_timeout, false},
             {"connect_timeout", c.connect_timeout, false},
             {"sync_interval", c.sync_interval, false},
             {"flush_interval", c.flush_interval, false},
             {"request_timeout", c.request_timeout, false},
             {"handoff_retry", c.handoff_retry, false},
             {"stop_grace", c.stop_grace, false},
             {"leave_deadline", c.leave_deadline, false},
             {"tombstone_ttl", c.tombstone_ttl, false},
             {"rebalance_delay", c.rebalance_delay, true},
             {"failover_delay", c.failover_delay, true},
             {"newer_generation_wait", c.newer_generation_wait, true}}};
}

/// Returns the error of one duration setting, if its value is out of range.
constexpr std::optional<config_error> check_duration(const duration_setting& d) noexcept {
    if (d.value < duration::zero() || (d.value == duration::zero() && !d.zero_allowed))
        return config_error::nonpositive_duration;
    if (d.value > duration_max) return config_error::duration_too_large;
    return std::nullopt;
}

/// Checks a configuration; returns the first problem found.
constexpr std::optional<config_error> validate(const registry_config& c) noexcept {
    if (c.self.name.empty()) return config_error::empty_node_name;
    if (c.self.name.size() > name_size_max) return config_error::node_name_too_long;
    if (c.self.incarnation == 0) return config_error::zero_incarnation;
    for (const auto& d : duration_settings(c))
        if (const auto e = check_duration(d)) return e;
    if (c.failure_timeout < 2 * c.heartbeat_interval) return config_error::failure_timeout_too_short;
    if (c.newer_generation_wait >= c.leave_deadline) return config_error::generation_wait_too_long;
    if (c.sync_buckets == 0 || c.sync_buckets > 65536 || (c.sync_buckets & (c.sync_buckets - 1)) != 0)
        return config_error::invalid_sync_buckets;
    // A digest takes 8 bytes per bucket, and a pull of every bucket up to 3 more.
    if (c.message_size_max < message_size_max_lower ||
        c.message_size_max < std::uint64_t{c.sync_buckets} * 9 + message_overhead_max)
        return config_error::message_size_too_small;
    return std::nullopt;
}

/// Returns a message for the first problem `validate` finds in `c`, or an empty string when it
/// finds none. Unlike `to_string`, it names the duration setting at fault and its value.
inline std::string describe_problem(const registry_config& c) {
    const auto e = validate(c);
    if (!e) return {};
    if (*e != config_error::nonpositive_duration && *e != config_error::duration_too_large)
        return std::string(to_string(*e));
    for (const auto& d : duration_settings(c)) {
        if (check_duration(d) != e) continue;
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d.value).count();
        std::string message = std::string(d.name) + " is " + std::to_string(ms) + " ms; ";
        if (*e == config_error::duration_too_large) return message + "the largest accepted duration is 100 days";
        return message + (d.zero_allowed ? "it must be zero or positive" : "it must be positive");
    }
    return std::string(to_string(*e));
}

}  // namespace muster

#pragma once
/// Vocabulary types shared by every layer: time, node identity, worker specs, errors and results.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace muster {

/// Duration unit of every input and effect. Machines never read a clock: the host passes `now`.
using duration = std::chrono::nanoseconds;

/// A point on the host's monotonic clock (the simulator counts from its own epoch).
using time_point = std::chrono::time_point<std::chrono::steady_clock, duration>;

/// Upper bound on a node name, worker name or worker kind, in bytes.
inline constexpr std::size_t name_size_max = 255;

/// Upper bound on an entry version. Versions grow by one per change, so a peer claiming a version
/// above this is malformed, and the bound keeps every `version + 1` from wrapping.
inline constexpr std::uint64_t version_max = std::uint64_t{1} << 62;

/// One life of a node: its stable name (for example `app@10.0.0.5`) and the incarnation number it
/// chose at boot. A restarted process keeps its name and takes a higher incarnation.
struct node_id {
    std::string name;
    std::uint64_t incarnation = 0;

    /// Compares the incarnations first, which is cheaper than comparing names. Where
    /// incarnations come from a clock, as in `muster-node`, unequal identities seldom get further.
    friend bool operator==(const node_id& a, const node_id& b) noexcept {
        return a.incarnation == b.incarnation && a.name == b.name;
    }
    friend auto operator<=>(const node_id&, const node_id&) = default;
};

/// When a worker that exited on its own is started again (the OTP restart types).
enum class restart_policy : std::uint8_t {
    permanent,  ///< always restarted, whatever the exit reason
    transient,  ///< restarted only after an abnormal exit; a normal exit unregisters the name
    temporary,  ///< never restarted; any exit unregisters the name
};

/// Reason a worker stopped running.
enum class exit_reason : std::uint8_t {
    normal,    ///< the worker finished its work
    crashed,   ///< the worker failed
};

/// Description of a worker for the registry: an application-defined kind (the host maps it to
/// code) and the restart policy.
struct worker_spec {
    std::string kind;
    restart_policy restart = restart_policy::permanent;

    friend bool operator==(const worker_spec&, const worker_spec&) = default;
};

/// Opaque worker state moved by a handoff. The registry never looks inside.
using worker_state = std::string;

/// Identifier of an asynchronous request; the reply effect carries the same id.
using request_id = std::uint64_t;

/// Errors returned to the application for API misuse, invalid configuration and failed requests.
enum class errc : std::uint8_t {
    empty_name = 1,        ///< a worker or node name is empty
    name_too_long,         ///< a name is longer than `name_size_max` bytes
    already_registered,    ///< the name is registered already (the reply carries where)
    not_registered,        ///< the name is not in the registry
    unknown_node,          ///< the node is not a known member
    node_leaving,          ///< this node is leaving the cluster and accepts no new workers
    no_members,            ///< placement picks no node (an empty view, or no quorum)
    timed_out,             ///< no reply arrived before the request's deadline
    invalid_spec,          ///< the worker kind is longer than 255 bytes, or too many kinds exist
    invalid_config,        ///< a configuration value is out of range (see `config_error`)
    not_running,           ///< the node has not started or has stopped
    duplicate_in_batch,    ///< the name appears earlier in the same `register_names` batch
};

/// Returns a short English description of an error code, for messages and logs.
constexpr std::string_view to_string(errc e) noexcept {
    switch (e) {
    case errc::empty_name: return "name is empty";
    case errc::name_too_long: return "name is longer than 255 bytes";
    case errc::already_registered: return "name is already registered";
    case errc::not_registered: return "name is not registered";
    case errc::unknown_node: return "node is not a known member";
    case errc::node_leaving: return "node is leaving the cluster and accepts no new workers";
    case errc::no_members: return "placement picks no member for the name (no members, or fewer than its quorum)";
    case errc::timed_out: return "request timed out";
    case errc::invalid_spec: return "worker kind is longer than 255 bytes, or the registry already holds 65535 kinds";
    case errc::invalid_config: return "configuration is invalid";
    case errc::not_running: return "node is not running";
    case errc::duplicate_in_batch: return "name appears more than once in the batch; the first occurrence is registered";
    }
    return "unknown error";
}

/// A value or an error, the shape of C++23 `std::expected<T, E>`.
template <class T, class E>
class expected {
public:
    expected(T value) : v_(std::move(value)) {}  // NOLINT: implicit like std::expected
    expected(E e) : v_(e) {}                     // NOLINT

    bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }
    const T& value() const& { return std::get<0>(v_); }
    T& value() & { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    const T& operator*() const& { return std::get<0>(v_); }
    T& operator*() & { return std::get<0>(v_); }
    const T* operator->() const { return &std::get<0>(v_); }
    T* operator->() { return &std::get<0>(v_); }
    E error() const { return std::get<1>(v_); }

private:
    std::variant<T, E> v_;
};

/// A value or an `errc`.
template <class T>
using result = expected<T, errc>;

/// A `result` without a value.
struct ok_t {
    friend bool operator==(ok_t, ok_t) = default;
};
inline constexpr ok_t ok{};

/// Checks a worker or node name; returns the error for an empty or oversized one.
constexpr std::optional<errc> check_name(std::string_view name) noexcept {
    if (name.empty()) return errc::empty_name;
    if (name.size() > name_size_max) return errc::name_too_long;
    return std::nullopt;
}

}  // namespace muster

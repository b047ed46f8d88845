#pragma once
/// The Discovery concept: where candidate peers come from.

#include <muster/core/types.hpp>

#include <concepts>
#include <optional>
#include <string>
#include <vector>

namespace muster {

/// Result of one discovery poll: candidate node names now, or a host name to resolve first.
struct discovery_poll {
    std::vector<std::string> candidates;
    std::optional<std::string> resolve_host;  ///< the registry emits a `resolve_effect` for it
};

/// The host's result for a `resolve_effect`: the addresses found, or an error.
struct resolve_result {
    std::string host;
    std::vector<std::string> addresses;
    std::optional<std::string> error;  ///< set when the lookup failed (timeout, NXDOMAIN, ...)
};

/// A discovery model proposes candidate peers. The registry connects to new candidates and never
/// removes a member because a poll omitted it or failed: members leave only by announcing it or
/// by the failure detector.
///
/// Requirements:
/// - `d.poll_interval()`: time between polls (the first poll runs at start).
/// - `d.poll(now)`: starts a poll; returns candidates directly or a host to resolve.
/// - `d.on_resolved(now, result)`: turns a resolve result into candidate names. On a failed
///   lookup it returns the names it still trusts (`dns_poll` returns its last successful answer),
///   or an empty list. Deterministic: the same results in the same order give the same names.
template <class D>
concept discovery = requires(D& d, const D& cd, time_point now, const resolve_result& r) {
    { cd.poll_interval() } -> std::convertible_to<duration>;
    { d.poll(now) } -> std::same_as<discovery_poll>;
    { d.on_resolved(now, r) } -> std::same_as<std::vector<std::string>>;
};

}  // namespace muster

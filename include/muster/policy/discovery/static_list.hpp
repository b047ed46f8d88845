#pragma once
/// Discovery from a fixed list of peer names.

#include <muster/policy/discovery.hpp>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace muster {

/// Proposes the same fixed peers on every poll, so peers that were down are retried each interval.
class static_list {
public:
    explicit static_list(std::vector<std::string> peers,
                         duration interval = std::chrono::seconds(5))
        : peers_(std::move(peers)), interval_(interval) {}

    duration poll_interval() const { return interval_; }
    discovery_poll poll(time_point) { return {peers_, std::nullopt}; }
    std::vector<std::string> on_resolved(time_point, const resolve_result&) { return {}; }

private:
    std::vector<std::string> peers_;
    duration interval_;
};

static_assert(discovery<static_list>);

}  // namespace muster

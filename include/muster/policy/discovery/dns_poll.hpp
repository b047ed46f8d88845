#pragma once
/// Discovery through a DNS name that lists every peer (the Kubernetes headless-service pattern).

#include <muster/policy/discovery.hpp>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace muster {

/// Polls one DNS name every interval and turns each A record into the node name
/// `<basename>@<address>`. The lookup is a `resolve_effect` the host performs. A failed or empty
/// lookup proposes nothing and removes no member.
class dns_poll {
public:
    dns_poll(std::string host, std::string basename,
             duration interval = std::chrono::seconds(10))
        : host_(std::move(host)), basename_(std::move(basename)), interval_(interval) {}

    duration poll_interval() const { return interval_; }

    discovery_poll poll(time_point) { return {{}, host_}; }

    std::vector<std::string> on_resolved(time_point, const resolve_result& result) {
        std::vector<std::string> names;
        if (result.error) return names;
        names.reserve(result.addresses.size());
        for (const auto& address : result.addresses) names.push_back(basename_ + "@" + address);
        return names;
    }

    const std::string& host() const { return host_; }

private:
    std::string host_;
    std::string basename_;
    duration interval_;
};

static_assert(discovery<dns_poll>);

}  // namespace muster

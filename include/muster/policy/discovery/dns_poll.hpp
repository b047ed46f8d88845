#pragma once
/// Discovery through a DNS name that lists every peer (the Kubernetes headless-service pattern).

#include <muster/policy/discovery.hpp>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace muster {

/// Polls one DNS name every interval and turns each A record into the node name
/// `<basename>@<address>`. The lookup is a `resolve_effect` the host performs. A failed lookup
/// proposes the names of the last successful answer again, so peers that crash and restart during
/// a DNS outage are still reconnected. No answer, failed or not, removes a member.
class dns_poll {
public:
    dns_poll(std::string host, std::string basename,
             duration interval = std::chrono::seconds(10))
        : host_(std::move(host)), basename_(std::move(basename)), interval_(interval) {}

    duration poll_interval() const { return interval_; }

    discovery_poll poll(time_point) { return {{}, host_}; }

    std::vector<std::string> on_resolved(time_point, const resolve_result& result) {
        if (result.error) return last_answer_;
        std::vector<std::string> names;
        names.reserve(result.addresses.size());
        for (const auto& address : result.addresses) names.push_back(basename_ + "@" + address);
        last_answer_ = names;
        return names;
    }

    const std::string& host() const { return host_; }

private:
    std::string host_;
    std::string basename_;
    duration interval_;
    std::vector<std::string> last_answer_;  // names of the last lookup that did not fail
};

static_assert(discovery<dns_poll>);

}  // namespace muster

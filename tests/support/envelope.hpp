#pragma once
// Builds envelopes for tests that feed a machine messages by hand.

#include <muster/core/message.hpp>

#include <cstdint>
#include <string>
#include <utility>

namespace muster::testing {

/// Builds an envelope from `from` (at `incarnation`) to `to`, addressed to any incarnation.
inline envelope make_envelope(const std::string& from, std::uint64_t incarnation, const std::string& to,
                              message body) {
    envelope e;
    e.from = node_id{from, incarnation};
    e.to = to;
    e.body = std::move(body);
    return e;
}

}  // namespace muster::testing

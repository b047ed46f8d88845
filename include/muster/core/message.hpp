#pragma once
/// Protocol messages exchanged between nodes, as in-memory values. The byte encoding lives in
/// `muster/wire/codec.hpp`; the simulator passes these values directly.

#include <muster/core/types.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace muster {

/// Version of the protocol spoken by this build. A hello with another version is rejected.
inline constexpr std::uint32_t protocol_version = 1;

/// One replicated registry entry: the node running the name's instance, and the entry version.
/// A removed entry (a tombstone) keeps its version so a stale copy cannot bring the name back.
struct entry_record {
    std::string name;
    node_id owner;
    std::uint64_t version = 0;
    worker_spec spec;
    bool removed = false;

    friend bool operator==(const entry_record&, const entry_record&) = default;
};

/// Opens a session: sent after a connection is established, and in reply to a hello.
struct hello {
    std::uint32_t version = protocol_version;
    bool leaving = false;          ///< the sender is leaving and takes no new workers
    bool reply_requested = false;  ///< the receiver should answer with its own hello
    std::vector<std::string> members;  ///< the sender's members, so the mesh becomes complete
    std::uint64_t generation = 0;      ///< the sender's release (`registry_config::generation`)

    friend bool operator==(const hello&, const hello&) = default;
};

/// Keeps the failure detector quiet when there is nothing else to send.
struct heartbeat {
    friend bool operator==(const heartbeat&, const heartbeat&) = default;
};

/// Announces a graceful leave: the sender hands off its workers and takes no new ones.
struct leave_notice {
    friend bool operator==(const leave_notice&, const leave_notice&) = default;
};

/// Ends a graceful leave. The receiver removes the sender and never accepts this incarnation again.
struct goodbye {
    friend bool operator==(const goodbye&, const goodbye&) = default;
};

/// One name of a `register_request`, with the request id the caller's reply for it carries.
struct register_item {
    request_id id = 0;
    std::string name;
    worker_spec spec;
    std::uint64_t known_version = 0;  ///< the caller's version of the name (a tombstone, say)

    friend bool operator==(const register_item&, const register_item&) = default;
};

/// Asks the receiver to start and register names. Sent by `register_names` to the node placement
/// picks, with every name of the batch placed there (split to fit `message_size_max`).
struct register_request {
    node_id origin;  ///< where the replies go
    std::vector<register_item> items;

    friend bool operator==(const register_request&, const register_request&) = default;
};

/// The owner's result for one `register_item`. On success or `already_registered`, `entry` names
/// where the name runs.
struct register_result {
    request_id id = 0;
    std::optional<errc> error;
    std::optional<entry_record> entry;

    friend bool operator==(const register_result&, const register_result&) = default;
};

/// Replies to a `register_request`, one result per item that the receiver did not pass on.
struct register_reply {
    std::vector<register_result> results;

    friend bool operator==(const register_reply&, const register_reply&) = default;
};

/// Asks the holder of a name to stop its worker and remove the name.
struct unregister_request {
    request_id id = 0;
    node_id origin;
    std::string name;
    std::uint8_t hops = 0;  ///< forwards so far; bounded so a request cannot circle

    friend bool operator==(const unregister_request&, const unregister_request&) = default;
};

/// Replies to an `unregister_request`.
struct unregister_reply {
    request_id id = 0;
    std::optional<errc> error;

    friend bool operator==(const unregister_reply&, const unregister_reply&) = default;
};

/// Carries changed registry entries (registrations, moves, removals) and anti-entropy repairs.
struct name_updates {
    std::vector<entry_record> entries;
    bool sync_response = false;  ///< replies to a `sync_request`, ending the receiver's pull
    request_id ack_id = 0;       ///< when not 0, the receiver confirms with `updates_ack`

    friend bool operator==(const name_updates&, const name_updates&) = default;
};

/// Confirms that a `name_updates` with `ack_id` was applied: the entries now have a second replica.
struct updates_ack {
    request_id ack_id = 0;

    friend bool operator==(const updates_ack&, const updates_ack&) = default;
};

/// One name offered by its old holder to its new owner, after the old worker stopped.
struct handoff_item {
    std::uint64_t handoff_id = 0;
    std::string name;
    std::uint64_t version = 0;  ///< the entry version at the old holder
    worker_spec spec;
    std::optional<worker_state> state;  ///< present under the resume policy

    friend bool operator==(const handoff_item&, const handoff_item&) = default;
};

/// Offers names to their new owner. The sender keeps each state until it is accepted.
struct handoff_offer {
    std::vector<handoff_item> items;

    friend bool operator==(const handoff_offer&, const handoff_offer&) = default;
};

/// The new owner's result for one handoff item: accepted (the old holder drops its copy) or rejected.
struct handoff_result {
    std::uint64_t handoff_id = 0;
    std::string name;
    bool accepted = false;

    friend bool operator==(const handoff_result&, const handoff_result&) = default;
};

/// Answers a `handoff_offer`, one result per item.
struct handoff_reply {
    std::vector<handoff_result> results;

    friend bool operator==(const handoff_reply&, const handoff_reply&) = default;
};

/// Anti-entropy: one digest per bucket of the name space. Sent every sync interval and on join.
struct sync_digest {
    std::vector<std::uint64_t> buckets;
    bool after_failure = false;  ///< sent to a member declared failed that came back: pull all

    friend bool operator==(const sync_digest&, const sync_digest&) = default;
};

/// A request for the entries of the listed buckets that the sender lacks. `known` contains the
/// digest of every entry the sender has in those buckets (`detail::name_table::entry_digest`),
/// strictly ascending, and the peer responds with its entries whose digest is not among them.
/// An empty `known` requests every entry of the buckets.
struct sync_request {
    std::vector<std::uint32_t> buckets;
    std::vector<std::uint64_t> known;

    friend bool operator==(const sync_request&, const sync_request&) = default;
};

/// Sent by the instance that lost a conflict after it stopped, carrying its state to the winner.
struct conflict_yield {
    std::string name;
    std::uint64_t version = 0;
    std::optional<worker_state> state;

    friend bool operator==(const conflict_yield&, const conflict_yield&) = default;
};

/// Every message of the protocol.
using message = std::variant<hello, heartbeat, leave_notice, goodbye, register_request,
                             register_reply, unregister_request, unregister_reply, name_updates,
                             handoff_offer, handoff_reply, sync_digest, sync_request,
                             conflict_yield, updates_ack>;

/// Number of message kinds; the simulator counts messages per kind.
inline constexpr std::size_t message_kinds_count = std::variant_size_v<message>;

/// Returns a stable snake_case name for a message kind, for logs and reports.
constexpr std::string_view message_kind_name(std::size_t index) noexcept {
    constexpr std::string_view names[] = {
        "hello",         "heartbeat",     "leave_notice",  "goodbye",
        "register_request", "register_reply", "unregister_request", "unregister_reply",
        "name_updates",  "handoff_offer", "handoff_reply", "sync_digest",
        "sync_request",  "conflict_yield", "updates_ack"};
    static_assert(std::size(names) == message_kinds_count);
    return index < message_kinds_count ? names[index] : std::string_view{"unknown"};
}

/// A message with its addressing. Shared between every recipient of a broadcast.
struct envelope {
    node_id from;
    std::string to;
    std::uint64_t to_incarnation = 0;  ///< the incarnation addressed; 0 addresses any
    message body;

    friend bool operator==(const envelope&, const envelope&) = default;
};

using envelope_ptr = std::shared_ptr<const envelope>;

// Upper bounds on the wire encoding (`muster/wire/codec.hpp`) of the list elements of register
// messages. With `message_overhead_max` for the envelope and the other fields, they let the core
// split a batch into messages within `registry_config::message_size_max`. The codec tests check
// them against the encoder.

/// Upper bound on the encoded size of one `register_item`, in bytes.
constexpr std::size_t encoded_size_max(const register_item& item) noexcept {
    // id (10), name length (2), kind length (2), restart (1), known_version (9)
    return item.name.size() + item.spec.kind.size() + 24;
}

/// Upper bound on the encoded size of one `entry_record`, in bytes, including its owner's entry
/// in the message's node table, which the record may be the first to use.
constexpr std::size_t encoded_size_max(const entry_record& record) noexcept {
    // name length (2), owner index (4: a table within a 256 MiB frame has under 2^28 entries),
    // version (9), kind length (2), restart (1), removed (1), and the table entry: owner length
    // (2), incarnation (10)
    return record.name.size() + record.owner.name.size() + record.spec.kind.size() + 31;
}

/// Upper bound on the encoded size of one `register_result`, in bytes.
constexpr std::size_t encoded_size_max(const register_result& result) noexcept {
    // id (10), error (2), entry presence (1)
    return 13 + (result.entry ? encoded_size_max(*result.entry) : 0);
}

}  // namespace muster

#pragma once
/// Binary encoding of every protocol message and its envelope. `docs/wire.md` gives each layout.
///
/// A message frame's payload is: the format version byte, the kind byte (the message's index
/// in `muster::message`), the envelope's addressing, then the message's fields in declaration
/// order. Integers are minimal unsigned LEB128 varints, except the digests of `sync_digest`,
/// which are 8-byte big-endian. Strings and lists start with a varint length or count.
///
/// `name_updates` and `register_reply` start with a table of the node identities their records
/// name as owners. Each record refers to its owner by index in that table, so a batch of records
/// owned by a few nodes carries each node name once.
///
/// Decoding enforces the limits the core enforces: every node and worker name passes
/// `check_name`, every entry version is below `version_max`, a worker kind has at most
/// `name_size_max` bytes, and enumerations hold a defined value. Every encoding is canonical:
/// decoding and encoding again returns the same bytes.

#include <muster/core/message.hpp>
#include <muster/core/types.hpp>
#include <muster/wire/detail/bytes.hpp>
#include <muster/wire/frame.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace muster::wire {

/// Reason a message could not be encoded. Either is a bug or a limit of the sender, not of a peer.
enum class encode_error : std::uint8_t {
    invalid_field = 1,  ///< a field breaks a limit the decoder enforces (see the file comment)
    oversized,          ///< the payload would be larger than `frame_size_max`
};

/// Returns an English message for an encode error.
constexpr std::string_view to_string(encode_error e) noexcept {
    switch (e) {
    case encode_error::invalid_field: return "message has an invalid field: an empty or too long name, a version at or above version_max, an undefined enumeration value, a zero sender incarnation, or too many buckets";
    case encode_error::oversized: return "encoded message is larger than frame_size_max; send its content in smaller messages";
    }
    return "unknown encode error";
}

/// Upper bound on the buckets of a `sync_digest` or `sync_request`: the largest `sync_buckets`
/// setting the core accepts.
inline constexpr std::size_t sync_buckets_max = 65536;

/// Appends one frame (length prefix and payload) holding `message` to `out`. On error `out`
/// keeps its previous content. Cost: linear in the message size. The registry keeps its update
/// batches and anti-entropy messages within `registry_config::message_size_max`, so a
/// `frame_size_max` at least `message_overhead_max` above it carries all of them. A single
/// worker state larger than the frame still fails with `oversized`.
inline std::optional<encode_error> encode_to(std::vector<std::uint8_t>& out, const envelope& message,
                                             const wire_config& config = {});

/// Appends one frame holding `message` addressed to `to` instead of `message.to`, as `encode_to`
/// does. A host sends a broadcast, whose shared envelope has an empty `to`, to each peer this
/// way without copying the message.
inline std::optional<encode_error> encode_to(std::vector<std::uint8_t>& out, const envelope& message,
                                             std::string_view to, const wire_config& config = {});

/// Returns one frame (length prefix and payload) holding `message`.
inline expected<std::vector<std::uint8_t>, encode_error> encode(const envelope& message, const wire_config& config = {});

/// Decodes a frame payload, as `frame_splitter::next` returns it. Memory stays within a fixed
/// multiple of the payload size, whatever the payload claims, because every list count is
/// checked against the bytes left before anything is reserved.
inline expected<envelope, decode_error> decode(std::span<const std::uint8_t> payload);

/// Decodes a buffer that contains exactly one frame, length prefix included.
inline expected<envelope, decode_error> decode_frame(std::span<const std::uint8_t> frame, const wire_config& config = {});

namespace detail {

// The highest defined value of each enumeration carried on the wire. A new enumerator needs a
// new value here, or the decoder rejects it.
inline constexpr auto errc_last = static_cast<std::uint8_t>(errc::duplicate_in_batch);
inline constexpr auto errc_first = static_cast<std::uint8_t>(errc::empty_name);
inline constexpr auto restart_policy_last = static_cast<std::uint8_t>(restart_policy::temporary);

static_assert(message_kinds_count <= 0x40, "message kinds must stay below the handshake kinds");

// Smallest encoding of one list element, used to bound counts by the bytes left.
inline constexpr std::size_t entry_record_size_min = 7;
inline constexpr std::size_t handoff_item_size_min = 7;
inline constexpr std::size_t handoff_result_size_min = 4;
inline constexpr std::size_t register_item_size_min = 6;
inline constexpr std::size_t register_result_size_min = 3;
inline constexpr std::size_t member_name_size_min = 2;
inline constexpr std::size_t node_size_min = 3;

/// The node table of a `name_updates` or `register_reply` as the encoder builds it: each owner
/// once, in the order the records first name them.
struct owner_index {
    std::vector<const node_id*> nodes;
    std::vector<std::uint32_t> of_record;  // table index of each record's owner, in record order

    void add(const node_id& owner) {
        // Most messages name one owner or a few, and consecutive records usually share it.
        if (!of_record.empty() && *nodes[of_record.back()] == owner) {
            of_record.push_back(of_record.back());
            return;
        }
        for (std::uint32_t i = 0; i < nodes.size(); ++i) {
            if (nodes[i]->incarnation == owner.incarnation && nodes[i]->name == owner.name) {
                of_record.push_back(i);
                return;
            }
        }
        of_record.push_back(static_cast<std::uint32_t>(nodes.size()));
        nodes.push_back(&owner);
    }
};

/// The node table of a received message. Records must use its entries in table order: each
/// refers to an entry used before or to the next unused one, and every entry gets used, so the
/// table has the one order the encoder writes.
struct owner_table {
    std::vector<node_id> nodes;
    std::size_t used = 0;  // entries that records have referred to so far

    // Returns entry `index` for the next record, or null if the reference is out of order.
    const node_id* use(std::uint64_t index) {
        if (index > used || index >= nodes.size()) return nullptr;
        if (index == used) ++used;
        return &nodes[static_cast<std::size_t>(index)];
    }

    bool all_used() const { return used == nodes.size(); }

    bool distinct() const {
        std::vector<const node_id*> sorted;
        sorted.reserve(nodes.size());
        for (const auto& n : nodes) sorted.push_back(&n);
        std::sort(sorted.begin(), sorted.end(), [](const node_id* a, const node_id* b) { return *a < *b; });
        return std::adjacent_find(sorted.begin(), sorted.end(),
                                  [](const node_id* a, const node_id* b) { return *a == *b; }) == sorted.end();
    }
};

/// A writer that also checks each field against the decoder's limits.
class encoder {
public:
    explicit encoder(std::vector<std::uint8_t>& out) : w_(out) {}

    bool valid() const noexcept { return valid_; }
    void require(bool condition) noexcept { valid_ = valid_ && condition; }

    void u8(std::uint8_t v) { w_.u8(v); }
    void boolean(bool v) { w_.boolean(v); }
    void varint(std::uint64_t v) { w_.varint(v); }
    void u64_be(std::uint64_t v) { w_.u64_be(v); }
    void bytes(std::string_view v) { w_.string(v); }

    void name(std::string_view v) {
        require(!check_name(v).has_value());
        w_.string(v);
    }

    void version(std::uint64_t v) {
        require(v < version_max);
        w_.varint(v);
    }

    void node(const node_id& v) {
        name(v.name);
        w_.varint(v.incarnation);
    }

    void spec(const worker_spec& v) {
        require(v.kind.size() <= name_size_max);
        w_.string(v.kind);
        const auto restart = static_cast<std::uint8_t>(v.restart);
        require(restart <= restart_policy_last);
        w_.u8(restart);
    }

    void error(const std::optional<errc>& v) {
        w_.boolean(v.has_value());
        if (!v) return;
        const auto code = static_cast<std::uint8_t>(*v);
        require(code >= errc_first && code <= errc_last);
        w_.u8(code);
    }

    void state(const std::optional<worker_state>& v) {
        w_.boolean(v.has_value());
        if (v) w_.string(*v);
    }

    // Writes `v`, whose owner is entry `owner` of the message's node table.
    void record(const entry_record& v, std::size_t owner) {
        name(v.name);
        w_.varint(owner);
        version(v.version);
        spec(v.spec);
        w_.boolean(v.removed);
    }

    void count(std::size_t n) { w_.varint(n); }

private:
    writer w_;
    bool valid_ = true;
};

/// A reader that also checks each field against the core's limits; a violation is garbled.
class decoder {
public:
    explicit decoder(std::span<const std::uint8_t> in) : r_(in) {}

    reader& raw() noexcept { return r_; }

    std::uint8_t u8() { return r_.u8(); }
    bool boolean() { return r_.boolean(); }
    std::uint64_t varint() { return r_.varint(); }
    std::uint64_t u64_be() { return r_.u64_be(); }

    std::string name() {
        std::string v = r_.string(name_size_max);
        if (v.empty()) r_.fail_garbled();
        return v;
    }

    std::uint64_t version() {
        const std::uint64_t v = r_.varint();
        if (v >= version_max) r_.fail_garbled();
        return v;
    }

    node_id node() {
        node_id v;
        v.name = name();
        v.incarnation = r_.varint();
        return v;
    }

    worker_spec spec() {
        worker_spec v;
        v.kind = r_.string(name_size_max);
        const std::uint8_t restart = r_.u8();
        if (restart > restart_policy_last) r_.fail_garbled();
        v.restart = static_cast<restart_policy>(restart);
        return v;
    }

    std::optional<errc> error() {
        if (!r_.boolean()) return std::nullopt;
        const std::uint8_t code = r_.u8();
        if (code < errc_first || code > errc_last) r_.fail_garbled();
        return static_cast<errc>(code);
    }

    std::optional<worker_state> state() {
        if (!r_.boolean()) return std::nullopt;
        // The frame size bounds a state; the string is no longer than the bytes left.
        return r_.string(std::numeric_limits<std::size_t>::max());
    }

    // Reads a record whose owner is an index into `owners`, the message's node table.
    entry_record record(owner_table& owners) {
        entry_record v;
        v.name = name();
        if (const auto owner = owners.use(r_.varint())) v.owner = *owner;
        else r_.fail_garbled();
        v.version = version();
        v.spec = spec();
        v.removed = r_.boolean();
        return v;
    }

    // Reads a node table and checks that no identity appears twice.
    owner_table owners() {
        owner_table t;
        const std::size_t n = r_.count(node_size_min);
        t.nodes.reserve(n);
        for (std::size_t i = 0; i < n && !r_.failed(); ++i) t.nodes.push_back(node());
        if (!t.distinct()) r_.fail_garbled();
        return t;
    }

    std::size_t count(std::size_t element_size_min) { return r_.count(element_size_min); }

    bool failed() const noexcept { return r_.failed(); }

private:
    reader r_;
};

// ---- message bodies, one encode and one decode per message, fields in declaration order ----

inline void encode_body(encoder& e, const hello& m) {
    e.varint(m.version);
    e.boolean(m.leaving);
    e.boolean(m.reply_requested);
    e.count(m.members.size());
    for (const auto& member : m.members) e.name(member);
    e.varint(m.generation);
}

inline void decode_body(decoder& d, hello& m) {
    const std::uint64_t version = d.varint();
    if (version > std::numeric_limits<std::uint32_t>::max()) d.raw().fail_garbled();
    m.version = static_cast<std::uint32_t>(version);
    m.leaving = d.boolean();
    m.reply_requested = d.boolean();
    const std::size_t n = d.count(member_name_size_min);
    m.members.reserve(n);
    for (std::size_t i = 0; i < n && !d.failed(); ++i) m.members.push_back(d.name());
    m.generation = d.varint();
}

inline void encode_body(encoder&, const heartbeat&) {}
inline void decode_body(decoder&, heartbeat&) {}
inline void encode_body(encoder&, const leave_notice&) {}
inline void decode_body(decoder&, leave_notice&) {}
inline void encode_body(encoder&, const goodbye&) {}
inline void decode_body(decoder&, goodbye&) {}

inline void encode_body(encoder& e, const register_request& m) {
    e.node(m.origin);
    e.count(m.items.size());
    for (const auto& item : m.items) {
        e.varint(item.id);
        e.name(item.name);
        e.spec(item.spec);
        e.version(item.known_version);
    }
}

inline void decode_body(decoder& d, register_request& m) {
    m.origin = d.node();
    const std::size_t n = d.count(register_item_size_min);
    m.items.reserve(n);
    for (std::size_t i = 0; i < n && !d.failed(); ++i) {
        register_item item;
        item.id = d.varint();
        item.name = d.name();
        item.spec = d.spec();
        item.known_version = d.version();
        m.items.push_back(std::move(item));
    }
}

inline void encode_owners(encoder& e, const owner_index& owners) {
    e.count(owners.nodes.size());
    for (const auto* owner : owners.nodes) e.node(*owner);
}

inline void encode_body(encoder& e, const register_reply& m) {
    owner_index owners;
    for (const auto& r : m.results)
        if (r.entry) owners.add(r.entry->owner);
    encode_owners(e, owners);
    e.count(m.results.size());
    std::size_t k = 0;
    for (const auto& r : m.results) {
        e.varint(r.id);
        e.error(r.error);
        e.boolean(r.entry.has_value());
        if (r.entry) e.record(*r.entry, owners.of_record[k++]);
    }
}

inline void decode_body(decoder& d, register_reply& m) {
    auto owners = d.owners();
    const std::size_t n = d.count(register_result_size_min);
    m.results.reserve(n);
    for (std::size_t i = 0; i < n && !d.failed(); ++i) {
        register_result r;
        r.id = d.varint();
        r.error = d.error();
        if (d.boolean()) r.entry = d.record(owners);
        m.results.push_back(std::move(r));
    }
    if (!owners.all_used()) d.raw().fail_garbled();
}

inline void encode_body(encoder& e, const unregister_request& m) {
    e.varint(m.id);
    e.node(m.origin);
    e.name(m.name);
    e.u8(m.hops);
}

inline void decode_body(decoder& d, unregister_request& m) {
    m.id = d.varint();
    m.origin = d.node();
    m.name = d.name();
    m.hops = d.u8();
}

inline void encode_body(encoder& e, const unregister_reply& m) {
    e.varint(m.id);
    e.error(m.error);
}

inline void decode_body(decoder& d, unregister_reply& m) {
    m.id = d.varint();
    m.error = d.error();
}

inline void encode_body(encoder& e, const name_updates& m) {
    owner_index owners;
    owners.of_record.reserve(m.entries.size());
    for (const auto& r : m.entries) owners.add(r.owner);
    encode_owners(e, owners);
    e.count(m.entries.size());
    for (std::size_t k = 0; k < m.entries.size(); ++k) e.record(m.entries[k], owners.of_record[k]);
    e.boolean(m.sync_response);
    e.varint(m.ack_id);
}

inline void decode_body(decoder& d, name_updates& m) {
    auto owners = d.owners();
    const std::size_t n = d.count(entry_record_size_min);
    m.entries.reserve(n);
    for (std::size_t i = 0; i < n && !d.failed(); ++i) m.entries.push_back(d.record(owners));
    if (!owners.all_used()) d.raw().fail_garbled();
    m.sync_response = d.boolean();
    m.ack_id = d.varint();
}

inline void encode_body(encoder& e, const handoff_offer& m) {
    e.count(m.items.size());
    for (const auto& item : m.items) {
        e.varint(item.handoff_id);
        e.name(item.name);
        e.version(item.version);
        e.spec(item.spec);
        e.state(item.state);
    }
}

inline void decode_body(decoder& d, handoff_offer& m) {
    const std::size_t n = d.count(handoff_item_size_min);
    m.items.reserve(n);
    for (std::size_t i = 0; i < n && !d.failed(); ++i) {
        handoff_item item;
        item.handoff_id = d.varint();
        item.name = d.name();
        item.version = d.version();
        item.spec = d.spec();
        item.state = d.state();
        m.items.push_back(std::move(item));
    }
}

inline void encode_body(encoder& e, const handoff_reply& m) {
    e.count(m.results.size());
    for (const auto& r : m.results) {
        e.varint(r.handoff_id);
        e.name(r.name);
        e.boolean(r.accepted);
    }
}

inline void decode_body(decoder& d, handoff_reply& m) {
    const std::size_t n = d.count(handoff_result_size_min);
    m.results.reserve(n);
    for (std::size_t i = 0; i < n && !d.failed(); ++i) {
        handoff_result r;
        r.handoff_id = d.varint();
        r.name = d.name();
        r.accepted = d.boolean();
        m.results.push_back(std::move(r));
    }
}

inline void encode_body(encoder& e, const sync_digest& m) {
    e.require(m.buckets.size() <= sync_buckets_max);
    e.count(m.buckets.size());
    for (const auto b : m.buckets) e.u64_be(b);
    e.boolean(m.after_failure);
}

inline void decode_body(decoder& d, sync_digest& m) {
    const std::size_t n = d.count(8);
    if (n > sync_buckets_max) d.raw().fail_garbled();
    if (d.failed()) return;
    m.buckets.reserve(n);
    for (std::size_t i = 0; i < n; ++i) m.buckets.push_back(d.u64_be());
    m.after_failure = d.boolean();
}

inline void encode_body(encoder& e, const sync_request& m) {
    e.require(m.buckets.size() <= sync_buckets_max);
    e.count(m.buckets.size());
    for (const auto b : m.buckets) {
        e.require(b < sync_buckets_max);
        e.varint(b);
    }
    e.require(std::adjacent_find(m.known.begin(), m.known.end(), std::greater_equal<>{}) == m.known.end());
    e.count(m.known.size());
    for (const auto k : m.known) e.u64_be(k);
}

inline void decode_body(decoder& d, sync_request& m) {
    const std::size_t n = d.count(1);
    if (n > sync_buckets_max) d.raw().fail_garbled();
    if (d.failed()) return;
    m.buckets.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t b = d.varint();
        if (b >= sync_buckets_max) d.raw().fail_garbled();
        m.buckets.push_back(static_cast<std::uint32_t>(b));
    }
    // The known digests are strictly ascending, so the encoding stays canonical and the receiver
    // can search them.
    const std::size_t k = d.count(8);
    if (d.failed()) return;
    m.known.reserve(k);
    for (std::size_t i = 0; i < k && !d.failed(); ++i) {
        const std::uint64_t digest = d.u64_be();
        if (!m.known.empty() && digest <= m.known.back()) d.raw().fail_garbled();
        m.known.push_back(digest);
    }
}

inline void encode_body(encoder& e, const conflict_yield& m) {
    e.name(m.name);
    e.version(m.version);
    e.state(m.state);
}

inline void decode_body(decoder& d, conflict_yield& m) {
    m.name = d.name();
    m.version = d.version();
    m.state = d.state();
}

inline void encode_body(encoder& e, const updates_ack& m) { e.varint(m.ack_id); }
inline void decode_body(decoder& d, updates_ack& m) { m.ack_id = d.varint(); }

template <std::size_t Kind>
message decode_kind(decoder& d) {
    std::variant_alternative_t<Kind, message> body;
    decode_body(d, body);
    return message{std::in_place_index<Kind>, std::move(body)};
}

template <std::size_t... Kinds>
constexpr auto make_decode_table(std::index_sequence<Kinds...>) {
    return std::array<message (*)(decoder&), sizeof...(Kinds)>{&decode_kind<Kinds>...};
}

inline constexpr auto decode_table = make_decode_table(std::make_index_sequence<message_kinds_count>{});

inline decode_error to_decode_error(read_failure f) noexcept {
    return f == read_failure::truncated ? decode_error::truncated : decode_error::garbled;
}

}  // namespace detail

inline std::optional<encode_error> encode_to(std::vector<std::uint8_t>& out, const envelope& message,
                                             const wire_config& config) {
    return encode_to(out, message, message.to, config);
}

inline std::optional<encode_error> encode_to(std::vector<std::uint8_t>& out, const envelope& message,
                                             std::string_view to, const wire_config& config) {
    const std::size_t start = out.size();
    write_frame_header(out, 0);
    detail::encoder e(out);
    e.u8(wire_version);
    e.u8(static_cast<std::uint8_t>(message.body.index()));
    e.node(message.from);
    e.require(message.from.incarnation != 0);
    e.name(to);
    e.varint(message.to_incarnation);
    std::visit([&](const auto& body) { detail::encode_body(e, body); }, message.body);

    const std::size_t payload_size = out.size() - start - frame_header_size;
    if (!e.valid() || payload_size > config.frame_size_max) {
        out.resize(start);
        return e.valid() ? encode_error::oversized : encode_error::invalid_field;
    }
    // Fill in the length prefix written as a placeholder above, big-endian.
    for (std::size_t i = 0; i < frame_header_size; ++i)
        out[start + i] = static_cast<std::uint8_t>(payload_size >> (8 * (frame_header_size - 1 - i)));
    return std::nullopt;
}

inline expected<std::vector<std::uint8_t>, encode_error> encode(const envelope& message, const wire_config& config) {
    std::vector<std::uint8_t> out;
    // Room for the header, the addressing and a small body, reserved up front.
    out.reserve(128);
    if (const auto error = encode_to(out, message, config)) return *error;
    return out;
}

inline expected<envelope, decode_error> decode(std::span<const std::uint8_t> payload) {
    if (payload.empty()) return decode_error::truncated;
    if (payload[0] != wire_version) return decode_error::unknown_version;
    if (payload.size() < 2) return decode_error::truncated;
    const std::uint8_t kind = payload[1];
    if (kind >= message_kinds_count) return decode_error::unknown_kind;

    detail::decoder d(payload.subspan(2));
    envelope e;
    e.from = d.node();
    // Incarnations start at 1, so a sender at 0 is malformed.
    if (e.from.incarnation == 0) d.raw().fail_garbled();
    e.to = d.name();
    e.to_incarnation = d.varint();
    if (!d.failed()) e.body = detail::decode_table[kind](d);

    if (d.failed()) return detail::to_decode_error(d.raw().failure());
    if (d.raw().remaining() != 0) return decode_error::garbled;
    return e;
}

inline expected<envelope, decode_error> decode_frame(std::span<const std::uint8_t> frame, const wire_config& config) {
    const auto payload = unframe(frame, config);
    if (!payload) return payload.error();
    return decode(*payload);
}

}  // namespace muster::wire

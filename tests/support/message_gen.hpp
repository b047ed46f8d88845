#pragma once
// rapidcheck generators of valid protocol messages and envelopes: every field within the limits
// the wire codec enforces, with the limits themselves drawn often.

#include <muster/core/message.hpp>
#include <muster/core/types.hpp>

#include <rapidcheck.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace muster::testing {

/// An empty optional half of the time, otherwise a value from `value`.
template <class T>
rc::Gen<std::optional<T>> gen_optional(rc::Gen<T> value) {
    return rc::gen::exec([value] {
        if (*rc::gen::arbitrary<bool>()) return std::optional<T>(*value);
        return std::optional<T>();
    });
}

/// Generates a node or worker name of 1 to `name_size_max` arbitrary bytes, often at the extremes.
inline rc::Gen<std::string> gen_name() {
    return rc::gen::mapcat(rc::gen::weightedOneOf<int>({{1, rc::gen::just(1)},
                                                        {1, rc::gen::just(static_cast<int>(name_size_max))},
                                                        {6, rc::gen::inRange(1, 24)}}),
                           [](int size) { return rc::gen::container<std::string>(size, rc::gen::arbitrary<char>()); });
}

/// An entry version in [0, version_max), often at the edges.
inline rc::Gen<std::uint64_t> gen_version() {
    return rc::gen::weightedOneOf<std::uint64_t>({{1, rc::gen::just<std::uint64_t>(0)},
                                                  {1, rc::gen::just<std::uint64_t>(version_max - 1)},
                                                  {4, rc::gen::inRange<std::uint64_t>(0, version_max)}});
}

/// Any 64-bit value, often one whose varint has a boundary length.
inline rc::Gen<std::uint64_t> gen_u64() {
    return rc::gen::weightedOneOf<std::uint64_t>({{2, rc::gen::arbitrary<std::uint64_t>()},
                                                  {1, rc::gen::element<std::uint64_t>(0, 127, 128, 16383, 16384,
                                                                                      UINT64_MAX)}});
}

inline rc::Gen<node_id> gen_node() {
    return rc::gen::exec([] { return node_id{*gen_name(), *gen_u64()}; });
}

inline rc::Gen<worker_spec> gen_spec() {
    return rc::gen::exec([] {
        worker_spec spec;
        const int size = *rc::gen::inRange(0, static_cast<int>(name_size_max) + 1);
        spec.kind = *rc::gen::container<std::string>(size, rc::gen::arbitrary<char>());
        spec.restart = *rc::gen::element(restart_policy::permanent, restart_policy::transient, restart_policy::temporary);
        return spec;
    });
}

inline rc::Gen<std::optional<errc>> gen_error() {
    return gen_optional(rc::gen::map(rc::gen::inRange(static_cast<int>(errc::empty_name), static_cast<int>(errc::duplicate_in_batch) + 1),
                                     [](int v) { return static_cast<errc>(v); }));
}

inline rc::Gen<std::optional<worker_state>> gen_state() { return gen_optional(rc::gen::arbitrary<std::string>()); }

inline rc::Gen<entry_record> gen_record() {
    return rc::gen::exec([] {
        return entry_record{*gen_name(), *gen_node(), *gen_version(), *gen_spec(), *rc::gen::arbitrary<bool>()};
    });
}

/// A message body of type `T` with arbitrary valid fields.
template <class T>
rc::Gen<T> gen_body();

template <>
inline rc::Gen<hello> gen_body<hello>() {
    return rc::gen::exec([] {
        hello m;
        m.version = *rc::gen::arbitrary<std::uint32_t>();
        m.leaving = *rc::gen::arbitrary<bool>();
        m.reply_requested = *rc::gen::arbitrary<bool>();
        m.members = *rc::gen::container<std::vector<std::string>>(gen_name());
        m.generation = *rc::gen::arbitrary<std::uint64_t>();
        return m;
    });
}

template <>
inline rc::Gen<heartbeat> gen_body<heartbeat>() { return rc::gen::just(heartbeat{}); }

template <>
inline rc::Gen<leave_notice> gen_body<leave_notice>() { return rc::gen::just(leave_notice{}); }

template <>
inline rc::Gen<goodbye> gen_body<goodbye>() { return rc::gen::just(goodbye{}); }

template <>
inline rc::Gen<register_request> gen_body<register_request>() {
    const auto item = rc::gen::exec([] {
        return register_item{*gen_u64(), *gen_name(), *gen_spec(), *gen_version()};
    });
    return rc::gen::exec([item] {
        return register_request{*gen_node(), *rc::gen::container<std::vector<register_item>>(item)};
    });
}

template <>
inline rc::Gen<register_reply> gen_body<register_reply>() {
    const auto result = rc::gen::exec([] {
        return register_result{*gen_u64(), *gen_error(), *gen_optional(gen_record())};
    });
    return rc::gen::exec([result] { return register_reply{*rc::gen::container<std::vector<register_result>>(result)}; });
}

template <>
inline rc::Gen<unregister_request> gen_body<unregister_request>() {
    return rc::gen::exec([] {
        return unregister_request{*gen_u64(), *gen_node(), *gen_name(), *rc::gen::arbitrary<std::uint8_t>()};
    });
}

template <>
inline rc::Gen<unregister_reply> gen_body<unregister_reply>() {
    return rc::gen::exec([] { return unregister_reply{*gen_u64(), *gen_error()}; });
}

template <>
inline rc::Gen<name_updates> gen_body<name_updates>() {
    return rc::gen::exec([] {
        return name_updates{*rc::gen::container<std::vector<entry_record>>(gen_record()), *rc::gen::arbitrary<bool>(),
                            *gen_u64()};
    });
}

template <>
inline rc::Gen<handoff_offer> gen_body<handoff_offer>() {
    const auto item = rc::gen::exec([] {
        return handoff_item{*gen_u64(), *gen_name(), *gen_version(), *gen_spec(), *gen_state()};
    });
    return rc::gen::exec([item] { return handoff_offer{*rc::gen::container<std::vector<handoff_item>>(item)}; });
}

template <>
inline rc::Gen<handoff_reply> gen_body<handoff_reply>() {
    const auto result = rc::gen::exec([] {
        return handoff_result{*gen_u64(), *gen_name(), *rc::gen::arbitrary<bool>()};
    });
    return rc::gen::exec([result] { return handoff_reply{*rc::gen::container<std::vector<handoff_result>>(result)}; });
}

template <>
inline rc::Gen<sync_digest> gen_body<sync_digest>() {
    return rc::gen::exec([] {
        return sync_digest{*rc::gen::container<std::vector<std::uint64_t>>(rc::gen::arbitrary<std::uint64_t>()),
                           *rc::gen::arbitrary<bool>()};
    });
}

template <>
inline rc::Gen<sync_request> gen_body<sync_request>() {
    return rc::gen::exec([] {
        const auto known = *rc::gen::container<std::set<std::uint64_t>>(rc::gen::arbitrary<std::uint64_t>());
        return sync_request{*rc::gen::container<std::vector<std::uint32_t>>(rc::gen::inRange<std::uint32_t>(0, 65536)),
                            std::vector<std::uint64_t>(known.begin(), known.end())};
    });
}

template <>
inline rc::Gen<conflict_yield> gen_body<conflict_yield>() {
    return rc::gen::exec([] { return conflict_yield{*gen_name(), *gen_version(), *gen_state()}; });
}

template <>
inline rc::Gen<updates_ack> gen_body<updates_ack>() {
    return rc::gen::exec([] { return updates_ack{*gen_u64()}; });
}

/// An envelope carrying a body of type `T`, from a sender at incarnation 1 or more.
template <class T>
rc::Gen<envelope> gen_envelope_of() {
    return rc::gen::exec([] {
        envelope e;
        e.from = node_id{*gen_name(), *rc::gen::inRange<std::uint64_t>(1, UINT64_MAX)};
        e.to = *gen_name();
        e.to_incarnation = *gen_u64();
        e.body = *gen_body<T>();
        return e;
    });
}

/// Generates an envelope carrying any message kind.
inline rc::Gen<envelope> gen_envelope() {
    return rc::gen::oneOf(gen_envelope_of<hello>(), gen_envelope_of<heartbeat>(), gen_envelope_of<leave_notice>(),
                          gen_envelope_of<goodbye>(), gen_envelope_of<register_request>(),
                          gen_envelope_of<register_reply>(), gen_envelope_of<unregister_request>(),
                          gen_envelope_of<unregister_reply>(), gen_envelope_of<name_updates>(),
                          gen_envelope_of<handoff_offer>(), gen_envelope_of<handoff_reply>(),
                          gen_envelope_of<sync_digest>(), gen_envelope_of<sync_request>(),
                          gen_envelope_of<conflict_yield>(), gen_envelope_of<updates_ack>());
}

}  // namespace muster::testing

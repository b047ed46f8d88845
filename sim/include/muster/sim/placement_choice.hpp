#pragma once
/// A placement model chosen at run time, so one simulator build compares every shipped model.

#include <muster/policy/placement.hpp>
#include <muster/policy/placement/bounded_load.hpp>
#include <muster/policy/placement/hash_ring.hpp>
#include <muster/policy/placement/rendezvous.hpp>
#include <muster/policy/placement/rollout_aware.hpp>
#include <muster/policy/placement/static_quorum.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

namespace muster::sim {

/// The placement models `muster-sim --placement` accepts.
enum class placement_kind : std::uint8_t { ring, rendezvous, bounded_load, rollout_aware, quorum };

/// Every placement kind with its command-line spelling, in the order the help lists them.
inline constexpr std::array<std::pair<placement_kind, std::string_view>, 5> placement_kinds{{
    {placement_kind::ring, "ring"},
    {placement_kind::rendezvous, "rendezvous"},
    {placement_kind::bounded_load, "bounded-load"},
    {placement_kind::rollout_aware, "rollout-aware"},
    {placement_kind::quorum, "quorum"},
}};

/// Returns the command-line spelling of `k`.
constexpr std::string_view to_string(placement_kind k) noexcept {
    for (const auto& [kind, name] : placement_kinds)
        if (kind == k) return name;
    return "unknown";
}

/// Returns the kind spelled `name`, or nothing.
constexpr std::optional<placement_kind> parse_placement_kind(std::string_view name) noexcept {
    for (const auto& [kind, spelling] : placement_kinds)
        if (spelling == name) return kind;
    return std::nullopt;
}

/// Settings of a `placement_choice`.
struct placement_options {
    placement_kind kind = placement_kind::ring;
    std::uint32_t vnodes = 128;   ///< ring points per member (ring, bounded-load, rollout-aware, quorum)
    std::optional<double> load_factor;  ///< c of bounded-load (default 1.25) and rollout-aware (1.10)
    std::size_t quorum = 1;       ///< members the quorum model needs
};

/// One of the shipped placement models, picked by `placement_options::kind`. It forwards the
/// registered names to the models that read them, and reports to the registry whether the chosen
/// one does, so the others cost nothing extra.
class placement_choice {
public:
    explicit placement_choice(const placement_options& o = {}) : model_(make(o)) {}

    void rebuild(std::span<const member_info> members) {
        std::visit([&](auto& m) { m.rebuild(members); }, model_);
    }

    std::optional<std::size_t> owner_of(std::string_view name) const {
        return std::visit([&](const auto& m) { return m.owner_of(name); }, model_);
    }

    void assign(std::span<const placed_name> names) {
        std::visit(
            [&](auto& m) {
                if constexpr (name_set_placement<std::decay_t<decltype(m)>>) m.assign(names);
            },
            model_);
    }

    /// Returns the view-only owner of the models that have one, and `owner_of` for the others.
    std::optional<std::size_t> view_owner_of(std::string_view name) const {
        return std::visit(
            [&](const auto& m) -> std::optional<std::size_t> {
                if constexpr (requires { m.view_owner_of(name); }) return m.view_owner_of(name);
                else return m.owner_of(name);
            },
            model_);
    }

    std::size_t members_count() const {
        return std::visit([](const auto& m) { return m.members_count(); }, model_);
    }

    /// Names assigned to member `i`, for the load-bounded models; 0 for the others.
    std::uint64_t load(std::size_t i) const {
        return std::visit(
            [&](const auto& m) -> std::uint64_t {
                if constexpr (requires { m.load(i); }) return m.load(i);
                else return 0;
            },
            model_);
    }

    /// Capacity of member `i`, for the load-bounded models; unbounded for the others.
    std::uint64_t capacity(std::size_t i) const {
        return std::visit(
            [&](const auto& m) -> std::uint64_t {
                if constexpr (requires { m.capacity(i); }) return m.capacity(i);
                else return UINT64_MAX;
            },
            model_);
    }

    /// Whether the registry must pass the registered names (see `name_set_placement`).
    bool uses_names() const {
        return std::visit([](const auto& m) { return name_set_placement<std::decay_t<decltype(m)>>; }, model_);
    }

    /// Returns whether the names' current owners change the assignment (see `name_set_placement`).
    bool uses_owners() const {
        return std::visit([](const auto& m) { return reads_owners(m); }, model_);
    }

private:
    using model = std::variant<hash_ring, rendezvous, bounded_load, rollout_aware<hash_ring>, static_quorum<hash_ring>>;

    static model make(const placement_options& o) {
        const hash_ring ring{hash_ring_config{o.vnodes}};
        switch (o.kind) {
        case placement_kind::ring: return ring;
        case placement_kind::rendezvous: return rendezvous{};
        case placement_kind::bounded_load: return bounded_load{bounded_load_config{o.load_factor.value_or(1.25), o.vnodes}};
        case placement_kind::rollout_aware: {
            // The keep factor may not be below c.
            const double c = o.load_factor.value_or(1.10);
            return rollout_aware<hash_ring>{ring, rollout_aware_config{c, std::max(1.5, c)}};
        }
        case placement_kind::quorum: return static_quorum<hash_ring>{o.quorum, ring};
        }
        return ring;
    }

    model model_;
};

static_assert(name_set_placement<placement_choice>);

}  // namespace muster::sim

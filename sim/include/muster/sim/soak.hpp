#pragma once
/// Soak runs: many seeds of mixed ready-made scenarios (rolling deploy, churn, netsplit), each
/// with its handoff, placement and network faults drawn from its seed. The network faults use
/// swarm testing: each run switches whole fault kinds (loss, duplication, reordering) on or off
/// at random, so runs with a single fault kind and runs with all of them both occur. The totals
/// count events, violations and which protocol paths the runs reached.

#include <muster/sim/scenario_export.hpp>
#include <muster/sim/scenarios.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace muster::sim {

/// The ready-made scenario a soak run uses.
enum class soak_kind : std::uint8_t { rolling_deploy, churn, netsplit };

/// Returns the command-line name of a soak run's scenario.
constexpr std::string_view to_string(soak_kind k) noexcept {
    switch (k) {
    case soak_kind::rolling_deploy: return "rolling-deploy";
    case soak_kind::churn: return "churn";
    case soak_kind::netsplit: return "netsplit";
    }
    return "unknown";
}

/// One soak run, fully decided by its seed.
struct soak_plan {
    soak_kind kind = soak_kind::netsplit;
    rolling_deploy_options rolling;  ///< the options used when `kind` is `rolling_deploy`
    churn_options churn;             ///< ... `churn`
    netsplit_options split;          ///< ... `netsplit`
    bool loss = false;               ///< fault kinds switched on for this run
    bool duplicate = false;
    bool reorder = false;

    /// Returns the options of the chosen scenario.
    const run_options& common() const {
        if (kind == soak_kind::rolling_deploy) return rolling;
        if (kind == soak_kind::churn) return churn;
        return split;
    }
};

/// Draws the scenario, sizes, policies and faults of the soak run with `seed`. Small clusters
/// and short runs keep most runs well under a second of wall time on one core.
inline soak_plan plan_soak_run(std::uint64_t seed) {
    rng r = rng(seed).split("soak");
    soak_plan p;
    p.kind = static_cast<soak_kind>(r.uniform<int>(0, 2));

    run_options common;
    common.seed = seed;
    common.nodes = r.uniform<std::uint32_t>(3, 7);
    common.names = r.uniform<std::uint32_t>(20, 150);
    common.handoff.m = static_cast<handoff_choice::mode>(r.uniform<int>(0, 2));
    common.placement.kind = placement_kinds[r.uniform<std::size_t>(0, placement_kinds.size() - 1)].first;
    common.placement.quorum = common.nodes / 2 + 1;

    // Swarm testing: each fault kind is on or off for the whole run.
    p.loss = r.chance(0.5);
    p.duplicate = r.chance(0.5);
    p.reorder = r.chance(0.5);
    if (p.loss) common.link.loss = 0.005 + 0.045 * r.uniform_real();
    if (p.duplicate) common.link.duplicate = 0.005 + 0.045 * r.uniform_real();
    if (p.reorder) common.link.reorder = 0.01 + 0.09 * r.uniform_real();

    static_cast<run_options&>(p.rolling) = common;
    static_cast<run_options&>(p.churn) = common;
    static_cast<run_options&>(p.split) = common;
    p.churn.churn_for = r.duration_between(20s, 60s);
    p.churn.crash_share = r.uniform_real();
    p.churn.names_during = r.uniform<std::uint32_t>(0, 30);
    p.split.split_for = r.duration_between(1s, 30s);
    p.split.one_way = r.chance(0.5);
    // Drawn last, so every draw above stays what it was before churn runs removed names.
    p.churn.unregister_during = r.uniform<std::uint32_t>(0, common.names / 4);
    return p;
}

/// Runs the planned scenario.
inline run_report run_soak_plan(const soak_plan& p) {
    if (p.kind == soak_kind::rolling_deploy) return rolling_deploy(p.rolling);
    if (p.kind == soak_kind::churn) return churn(p.churn);
    return netsplit(p.split);
}

/// Writes a failed soak run as a scenario file (see `scenario_export.hpp` for how exactly each
/// kind replays). `end` is the simulated time the run reached.
inline exported_scenario export_soak_plan(const soak_plan& p, time_point end) {
    if (p.kind == soak_kind::rolling_deploy) return export_rolling_deploy(p.rolling, end);
    if (p.kind == soak_kind::netsplit) return export_netsplit(p.split);
    // The churn export needs the faults in order, so the run is repeated with recording on. The
    // seed fixes the run, so the repeat is the same run.
    auto o = p.churn;
    std::vector<std::pair<time_point, std::string>> faults;
    o.on_fault = [&faults](time_point at, const std::string& step) { faults.emplace_back(at, step); };
    churn(o);
    return export_churn(o, faults, std::max(end, time_point{} + 20s));
}

/// Sums over soak runs.
struct soak_totals {
    std::uint64_t runs = 0;
    std::uint64_t events = 0;
    std::uint64_t messages = 0;
    std::uint64_t violations = 0;
    std::array<std::uint64_t, 3> runs_by_kind{};       ///< indexed by `soak_kind`
    std::array<std::uint64_t, 3> runs_by_handoff{};    ///< indexed by `handoff_choice::mode`
    std::uint64_t runs_with_loss = 0;
    std::uint64_t runs_with_duplicate = 0;
    std::uint64_t runs_with_reorder = 0;
    std::array<std::uint64_t, message_kinds_count> messages_by_kind{};
    /// Protocol counters, summed over the nodes alive at the end of each run: a node that crashed
    /// or stopped earlier takes its counters with it.
    registry_stats protocol;

    /// Adds one run.
    void add(const soak_plan& p, const run_report& r) {
        ++runs;
        events += r.events;
        messages += r.messages;
        if (!r.ok()) ++violations;
        ++runs_by_kind[static_cast<std::size_t>(p.kind)];
        ++runs_by_handoff[static_cast<std::size_t>(p.common().handoff.m)];
        runs_with_loss += p.loss ? 1 : 0;
        runs_with_duplicate += p.duplicate ? 1 : 0;
        runs_with_reorder += p.reorder ? 1 : 0;
        for (std::size_t k = 0; k < messages_by_kind.size(); ++k) messages_by_kind[k] += r.messages_by_kind[k];
        protocol += r.protocol;
    }
};

}  // namespace muster::sim

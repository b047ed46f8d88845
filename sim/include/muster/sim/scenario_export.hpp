#pragma once
/// Writes the runs of `scenarios.hpp` (netsplit, churn, rolling deploy) as scenario files, so a
/// failure found by a random run can be read, edited and replayed with `muster-sim run`.

#include <muster/sim/scenario_file.hpp>
#include <muster/sim/scenarios.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace muster::sim {

/// A scenario file's text and how faithfully it replays the run it came from.
struct exported_scenario {
    std::string text;
    /// Whether `muster-sim run` on the text repeats the run event for event, with the same
    /// trace hash. Otherwise it performs the same steps at the same times, but the schedules of
    /// the two runs may differ, and only the original command replays the run exactly.
    bool exact = false;
};

namespace detail {

inline std::string decimal_text(double p) {
    // The parser reads at most nine digits after the point, so the value is rounded to nine
    // places, and trailing zeros are dropped.
    char text[48];
    std::snprintf(text, sizeof text, "%.9f", p);
    std::string out = text;
    if (out.find('.') != std::string::npos) {
        while (out.back() == '0') out.pop_back();
        if (out.back() == '.') out.pop_back();
    }
    return out;
}

// The settings every run of `scenarios.hpp` shares: nodes, handoff and network.
inline std::string common_settings(const run_options& o, bool static_nodes, std::uint32_t nodes) {
    std::string t;
    if (static_nodes) {
        t += "nodes";
        for (const auto& name : static_names(nodes)) t += " " + name;
        t += "\ndiscovery static\npoll-interval 5s\nboot-spread 500ms\n";
    }
    t += "handoff " + std::string(to_string(o.handoff.m)) + "\n";
    t += "placement " + std::string(to_string(o.placement.kind)) + "\n";
    t += "vnodes " + std::to_string(o.placement.vnodes) + "\n";
    if (o.placement.load_factor) t += "load-factor " + decimal_text(*o.placement.load_factor) + "\n";
    // The ready-made scenarios give rollout-aware placement its wait for a newer generation.
    if (o.placement.kind == placement_kind::rollout_aware) t += "newer-generation-wait 15s\n";
    if (o.placement.kind == placement_kind::quorum) t += "quorum " + std::to_string(o.placement.quorum) + "\n";
    t += "latency " + format_duration(o.link.latency_min) + " " + format_duration(o.link.latency_max) + "\n";
    t += "loss " + decimal_text(o.link.loss) + "\n";
    t += "duplicate " + decimal_text(o.link.duplicate) + "\n";
    t += "reorder " + decimal_text(o.link.reorder) + "\n";
    t += "seed " + std::to_string(o.seed) + "\n";
    return t;
}

inline std::string at(time_point t) { return "at " + format_duration(t.time_since_epoch()) + " "; }

inline std::string limit_text(const rollout_limit& l) { return std::to_string(l.value) + (l.percent ? "%" : ""); }

}  // namespace detail

/// Writes a netsplit run as a scenario file. The file replays the run exactly.
inline exported_scenario export_netsplit(const netsplit_options& o) {
    std::string t = "# The netsplit run of muster-sim with seed " + std::to_string(o.seed) + ".\n";
    t += detail::common_settings(o, true, o.nodes);
    t += "\n" + detail::at(time_point{} + 10s) + "register-many " + std::to_string(o.names) + " worker- over " +
         format_duration(o.register_window) + "\n";
    const auto names = detail::static_names(o.nodes);
    const std::vector<std::string> left(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(names.size() / 2));
    const std::vector<std::string> right(names.begin() + static_cast<std::ptrdiff_t>(names.size() / 2), names.end());
    auto join = [](const std::vector<std::string>& v) {
        std::string s;
        for (const auto& n : v) s += (s.empty() ? "" : " ") + n;
        return s;
    };
    const auto split = time_point{} + o.split_at;
    if (o.one_way) t += detail::at(split) + "cut " + join(left) + " -> " + join(right) + "\n";
    else t += detail::at(split) + "partition " + join(left) + " | " + join(right) + "\n";
    t += detail::at(split + o.split_for) + "heal\n";
    // The ready-made runs end message loss when their quiet period begins.
    if (o.link.loss > 0) t += detail::at(split + o.split_for) + "link loss 0\n";
    t += "end " + format_duration(o.split_at + o.split_for + o.quiet) + "\n";
    t += "expect no violations\n";
    return {t, true};
}

/// Writes a churn run as a scenario file from the faults it recorded through
/// `churn_options::on_fault`, in order.
inline exported_scenario export_churn(const churn_options& o, const std::vector<std::pair<time_point, std::string>>& faults,
                                      time_point end) {
    std::string t = "# The churn run of muster-sim with seed " + std::to_string(o.seed) + ".\n";
    // NOTE: churn schedules each restart as an event of its own, while the file performs it after
    // every event at that time, so the replay may order same-time events differently.
    t += "# The file repeats the faults at the same times, but the order of events at equal times\n"
         "# may differ, so only the printed muster-sim churn command replays the run exactly.\n";
    t += detail::common_settings(o, true, o.nodes);
    t += "\n" + detail::at(time_point{} + 10s) + "register-many " + std::to_string(o.names) + " worker- over " +
         format_duration(o.register_window) + "\n";
    t += detail::at(time_point{} + 20s) + "register-many " + std::to_string(o.names_during) + " late- over " +
         format_duration(o.churn_for) + "\n";
    for (const auto& [when, step] : faults) t += detail::at(when) + step + "\n";
    t += "end " + format_duration(end.time_since_epoch()) + "\n";
    t += "expect no violations\n";
    return {t, false};
}

/// Writes a rolling deploy run as a scenario file that ends at `end`, the simulated time the run
/// reached. `quiet_from` is `run_report::quiet_from`, when the run ended message loss. The file
/// replays the run exactly.
inline exported_scenario export_rolling_deploy(const rolling_deploy_options& o, time_point end,
                                                std::optional<duration> quiet_from = std::nullopt) {
    std::string t = "# The rolling-deploy run of muster-sim with seed " + std::to_string(o.seed) + ".\n";
    t += "deployment " + std::to_string(o.nodes) + "\n";
    t += "max-surge " + detail::limit_text(o.deployment.max_surge) + "\n";
    t += "max-unavailable " + detail::limit_text(o.deployment.max_unavailable) + "\n";
    t += "termination-grace " + format_duration(o.deployment.grace) + "\n";
    t += "poll-interval " + format_duration(o.deployment.dns_poll_interval) + "\n";
    t += "dns-stale " + format_duration(o.deployment.dns_stale_max) + "\n";
    t += detail::common_settings(o, false, o.nodes);
    t += "\n" + detail::at(time_point{} + o.register_at) + "register-many " + std::to_string(o.names) + " worker- over " +
         format_duration(o.register_window) + "\n";
    t += detail::at(time_point{} + o.rollout_at) + "rollout\n";
    // The ready-made runs end message loss when their quiet period begins.
    if (o.link.loss > 0 && quiet_from) t += detail::at(time_point{} + *quiet_from) + "link loss 0\n";
    t += "end " + format_duration(std::max(end, time_point{} + o.rollout_at).time_since_epoch()) + "\n";
    t += "expect no violations\n";
    t += "expect rollout finished\n";
    return {t, true};
}

}  // namespace muster::sim

// muster-sim: runs simulated clusters of real muster machines through a Kubernetes rolling
// deploy, random churn or a netsplit, checks every invariant at every event, and reports.

#include "run_command.hpp"
#include "soak_command.hpp"

#include <muster/sim/scenario_export.hpp>
#include <muster/sim/scenarios.hpp>

#include <sys/resource.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using namespace muster;
using namespace muster::sim;
using namespace std::chrono_literals;

constexpr const char* usage = R"(usage: muster-sim COMMAND [OPTIONS]

Runs a simulated muster cluster, checks the invariants after every event and prints a report.
Exit status: 0 when every invariant held, 1 when one broke, 2 on invalid arguments.

The report counts a move each time a name starts on another node than its previous instance,
and a name's unavailability as the time it had no live instance after its first start.

Commands:
  rolling-deploy   a Kubernetes Deployment rolls over to a new pod template (the main job)
  churn            nodes crash, stop gracefully and restart at random
  netsplit         the cluster splits in two halves, then heals
  run FILE         runs a scenario file and checks its expectations (see run options below)
  soak             runs many seeds of mixed scenarios and counts what they reached (see below)

Options for rolling-deploy, churn and netsplit:
  --seed N               seed of the run, an integer (default 1)
  --seeds A..B           run every seed from A to B and print one line per seed (with --json, the
                         file holds an array of one report per seed)
  --nodes N              number of nodes, 2 to 5000 (default 10; netsplit 6, churn 8)
  --names N              registered names, 0 to 10000000 (default 1000)
  --handoff MODE         restart, resume or ignore (default resume)
  --placement NAME       ring, rendezvous, bounded-load, rollout-aware or quorum (default ring);
                         see docs/design.md for what each one does
  --vnodes N             points per member on the hash ring, 1 to 65536 (default 128)
  --load-factor C        the load bound c of bounded-load and rollout-aware: no node is given
                         more than c times the mean, 1 to 16 (default 1.25 and 1.10)
  --quorum N             members the quorum placement needs, 1 to the node count (default a
                         majority of --nodes)
  --latency-min-ms X     minimum one-way message latency in milliseconds, 0 to 1000 (default 0.2)
  --latency-max-ms X     maximum one-way message latency in milliseconds, 0 to 1000 (default 2);
                         the timeouts (1 s heartbeats, 5 s failure detection) need it lower
  --loss P               probability a message is lost, 0 to 1 (default 0); loss ends when
                         the faults stop, so the quiet period has none
  --duplicate P          probability a message is delivered twice, 0 to 1 (default 0)
  --reorder P            probability a message is delayed past later ones, 0 to 1 (default 0)
  --quiet-s X            quiescence in seconds after the last fault, before the final check, 10 to
                         86400 (default 60)
  --deep-checks          also run every machine's own invariant check after every event
  --threads N            threads that run the nodes, 1 to 64; every count gives the same trace
                         hash and report (default 1 below 5 million nodes × names, otherwise
                         one per processor, at most 8)
  --watch NAME           print the timeline of one worker name (starts, stops, replies) and of
                         node boots, stops and crashes to standard error
  --json FILE            also write the report as JSON to FILE (checked before the run starts)
  --help                 print this help

rolling-deploy options:
  --max-surge V          maxSurge as a count or a percentage such as 25% (default 25%)
  --max-unavailable V    maxUnavailable as a count or a percentage (default 25%)
  --grace-s X            termination grace period in seconds, 1 to 3600 (default 30)
  --dns-interval-s X     DNS discovery poll interval in seconds, 0.1 to 600 (default 10)
  --dns-stale-s X        maximum age of a DNS answer in seconds, 0 to 600 (default 5)

churn options:
  --duration-s X         how long churn goes on, in seconds (default 120)
  --crash-share P        share of stops that are crashes rather than graceful, 0 to 1 (default 0.5)
  --names-during N       names registered while churn goes on, 0 to 10000000 (default 100)
  --unregister-during N  names of the first batch removed while churn goes on, 0 to --names
                         (default 0)
  --interval-min-s X     minimum time between two churn events in seconds (default 1)
  --interval-max-s X     maximum time between two churn events in seconds (default 8)

netsplit options:
  --split-s X            how long the partition lasts, in seconds (default 20)
  --one-way              cut one direction only (left half to right half)
)";

struct invalid_argument {
    std::string message;
};

[[noreturn]] void reject(const std::string& message) { throw invalid_argument{message}; }

double parse_number(const std::string& option, const std::string& text, double lo, double hi) {
    double value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || end != text.data() + text.size() || !(value >= lo && value <= hi)) {
        std::ostringstream m;
        m << "invalid value '" << text << "' for " << option << ": expected a number from " << lo << " to " << hi;
        reject(m.str());
    }
    return value;
}

std::uint64_t parse_integer(const std::string& option, const std::string& text, std::uint64_t lo, std::uint64_t hi) {
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || end != text.data() + text.size() || value < lo || value > hi) {
        reject("invalid value '" + text + "' for " + option + ": expected an integer from " + std::to_string(lo) + " to " +
               std::to_string(hi));
    }
    return value;
}

duration seconds(double s) { return std::chrono::duration_cast<duration>(std::chrono::duration<double>(s)); }
duration millis(double ms) { return std::chrono::duration_cast<duration>(std::chrono::duration<double, std::milli>(ms)); }

rollout_limit parse_limit(const std::string& option, const std::string& text) {
    if (!text.empty() && text.back() == '%') {
        std::uint32_t percent = 0;
        const auto digits = std::string_view(text).substr(0, text.size() - 1);
        const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), percent);
        if (error != std::errc{} || end != digits.data() + digits.size() || percent > 100)
            reject("invalid value '" + text + "' for " + option + ": expected a percentage from 0% to 100% or a count");
        return {percent, true};
    }
    return {static_cast<std::uint32_t>(parse_integer(option, text, 0, 100000)), false};
}

struct command_line {
    std::string command;
    std::optional<std::pair<std::uint64_t, std::uint64_t>> seeds;
    std::optional<std::string> json;
    rolling_deploy_options rolling;
    churn_options churn;
    netsplit_options split;
};

// Returns the command an option belongs to, or nothing for options every command accepts.
std::string_view command_of_option(std::string_view option) {
    for (const char* o : {"--max-surge", "--max-unavailable", "--grace-s", "--dns-interval-s", "--dns-stale-s"})
        if (option == o) return "rolling-deploy";
    for (const char* o : {"--duration-s", "--crash-share", "--names-during", "--unregister-during", "--interval-min-s", "--interval-max-s"})
        if (option == o) return "churn";
    for (const char* o : {"--split-s", "--one-way"})
        if (option == o) return "netsplit";
    return {};
}

command_line parse(int argc, char** argv) {
    command_line cl;
    if (argc < 2) reject("missing command: expected rolling-deploy, churn, netsplit, run or soak (see --help)");
    cl.command = argv[1];
    if (cl.command != "rolling-deploy" && cl.command != "churn" && cl.command != "netsplit")
        reject("unknown command '" + cl.command + "': expected rolling-deploy, churn, netsplit, run or soak");
    run_options common;
    if (cl.command == "churn") common.nodes = 8;
    if (cl.command == "netsplit") common.nodes = 6;
    bool seed_given = false;
    bool threads_given = false;
    std::optional<std::uint64_t> quorum;
    std::vector<std::string> options_seen;
    for (int i = 2; i < argc; ++i) {
        const std::string option = argv[i];
        // A repeated option would silently keep one of its values.
        if (option.starts_with("--") && std::find(options_seen.begin(), options_seen.end(), option) != options_seen.end())
            reject("option " + option + " is given twice: give each option once");
        options_seen.push_back(option);
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) reject("missing value for " + option);
            return argv[++i];
        };
        if (const auto owner = command_of_option(option); !owner.empty() && owner != cl.command)
            reject("option " + option + " applies to " + std::string(owner) + " only, not to " + cl.command);
        if (option == "--seed") {
            common.seed = parse_integer(option, value(), 0, UINT64_MAX);
            seed_given = true;
        } else if (option == "--seeds") {
            const auto text = value();
            const auto dots = text.find("..");
            if (dots == std::string::npos) reject("invalid value '" + text + "' for --seeds: expected FIRST..LAST, such as 1..100");
            const auto a = parse_integer(option, text.substr(0, dots), 0, UINT64_MAX);
            const auto b = parse_integer(option, text.substr(dots + 2), 0, UINT64_MAX);
            if (b < a) reject("invalid value '" + text + "' for --seeds: the last seed is below the first; expected FIRST..LAST");
            cl.seeds = {a, b};
        } else if (option == "--nodes") common.nodes = static_cast<std::uint32_t>(parse_integer(option, value(), 2, 5000));
        else if (option == "--names") common.names = static_cast<std::uint32_t>(parse_integer(option, value(), 0, 10'000'000));
        else if (option == "--handoff") {
            const auto m = value();
            if (m == "restart") common.handoff.m = handoff_choice::mode::restart;
            else if (m == "resume") common.handoff.m = handoff_choice::mode::resume;
            else if (m == "ignore") common.handoff.m = handoff_choice::mode::ignore;
            else reject("invalid value '" + m + "' for --handoff: expected restart, resume or ignore");
        } else if (option == "--placement") {
            const auto name = value();
            const auto kind = parse_placement_kind(name);
            if (!kind) reject("invalid value '" + name + "' for --placement: expected ring, rendezvous, bounded-load, rollout-aware or quorum");
            common.placement.kind = *kind;
        } else if (option == "--vnodes") common.placement.vnodes = static_cast<std::uint32_t>(parse_integer(option, value(), 1, 65536));
        else if (option == "--load-factor") common.placement.load_factor = parse_number(option, value(), 1, 16);
        else if (option == "--quorum") quorum = parse_integer(option, value(), 1, 5000);
        else if (option == "--latency-min-ms") common.link.latency_min = millis(parse_number(option, value(), 0, 1000));
        else if (option == "--latency-max-ms") common.link.latency_max = millis(parse_number(option, value(), 0, 1000));
        else if (option == "--loss") common.link.loss = parse_number(option, value(), 0, 1);
        else if (option == "--duplicate") common.link.duplicate = parse_number(option, value(), 0, 1);
        else if (option == "--reorder") common.link.reorder = parse_number(option, value(), 0, 1);
        else if (option == "--quiet-s") common.quiet = seconds(parse_number(option, value(), 10, 86400));
        else if (option == "--deep-checks") common.deep_checks = true;
        else if (option == "--threads") {
            common.threads = static_cast<unsigned>(parse_integer(option, value(), 1, 64));
            threads_given = true;
        }
        else if (option == "--watch") common.watch = value();
        else if (option == "--json") cl.json = value();
        else if (option == "--max-surge") cl.rolling.deployment.max_surge = parse_limit(option, value());
        else if (option == "--max-unavailable") cl.rolling.deployment.max_unavailable = parse_limit(option, value());
        else if (option == "--grace-s") cl.rolling.deployment.grace = seconds(parse_number(option, value(), 1, 3600));
        else if (option == "--dns-interval-s") cl.rolling.deployment.dns_poll_interval = seconds(parse_number(option, value(), 0.1, 600));
        else if (option == "--dns-stale-s") cl.rolling.deployment.dns_stale_max = seconds(parse_number(option, value(), 0, 600));
        else if (option == "--duration-s") cl.churn.churn_for = seconds(parse_number(option, value(), 1, 86400));
        else if (option == "--crash-share") cl.churn.crash_share = parse_number(option, value(), 0, 1);
        else if (option == "--names-during") cl.churn.names_during = static_cast<std::uint32_t>(parse_integer(option, value(), 0, 10'000'000));
        else if (option == "--unregister-during") cl.churn.unregister_during = static_cast<std::uint32_t>(parse_integer(option, value(), 0, 10'000'000));
        else if (option == "--interval-min-s") cl.churn.churn_interval_min = seconds(parse_number(option, value(), 0.001, 3600));
        else if (option == "--interval-max-s") cl.churn.churn_interval_max = seconds(parse_number(option, value(), 0.001, 3600));
        else if (option == "--split-s") cl.split.split_for = seconds(parse_number(option, value(), 0.1, 86400));
        else if (option == "--one-way") cl.split.one_way = true;
        else reject("unknown option '" + option + "' (see --help)");
    }
    if (quorum && common.placement.kind != placement_kind::quorum) reject("--quorum applies to --placement quorum only");
    if (common.placement.load_factor && common.placement.kind != placement_kind::bounded_load &&
        common.placement.kind != placement_kind::rollout_aware)
        reject("--load-factor applies to --placement bounded-load and rollout-aware only");
    if (quorum && *quorum > common.nodes)
        reject("invalid value " + std::to_string(*quorum) + " for --quorum: above --nodes (" + std::to_string(common.nodes) +
               "), so no view would ever hold a quorum");
    common.placement.quorum = quorum ? static_cast<std::size_t>(*quorum) : common.nodes / 2 + 1;
    if (seed_given && cl.seeds) reject("--seed and --seeds cannot be combined: use --seeds N..N for one seed");
    if (cl.json) {
        // Checked before the run, so a long run does not end in an unwritable path.
        std::ofstream probe(*cl.json, std::ios::app);
        if (!probe) reject("cannot write the JSON report to " + *cl.json + ": check that the folder exists and is writable");
    }
    if (cl.churn.unregister_during > common.names)
        reject("invalid value " + std::to_string(cl.churn.unregister_during) + " for --unregister-during: above --names (" +
               std::to_string(common.names) + "), the names it can remove");
    if (cl.churn.churn_interval_min > cl.churn.churn_interval_max)
        reject("invalid churn interval: --interval-min-s is above --interval-max-s");
    if (common.link.latency_min > common.link.latency_max)
        reject("invalid latency range: --latency-min-ms is above --latency-max-ms");
    // Small runs are fastest on one thread, because a window then has too few inputs to share.
    if (!threads_given && static_cast<std::uint64_t>(common.nodes) * common.names >= 5'000'000)
        common.threads = std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
    static_cast<run_options&>(cl.rolling) = common;
    static_cast<run_options&>(cl.churn) = common;
    static_cast<run_options&>(cl.split) = common;
    if (cl.command == "rolling-deploy") {
        const auto& d = cl.rolling.deployment;
        if (d.max_surge.resolve(common.nodes, true) == 0 && d.max_unavailable.resolve(common.nodes, false) == 0)
            reject("invalid rollout limits: --max-surge and --max-unavailable both resolve to 0 pods for " +
                   std::to_string(common.nodes) +
                   " replicas (maxSurge rounds up, maxUnavailable rounds down), and Kubernetes rejects that; "
                   "raise one of them");
    }
    return cl;
}

double as_seconds(duration d) { return std::chrono::duration<double>(d).count(); }

long peak_memory_kib() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

void print_report(const run_report& r, double wall, unsigned threads) {
    std::printf("scenario:            %s\n", r.scenario.c_str());
    std::printf("seed:                %llu\n", static_cast<unsigned long long>(r.seed));
    std::printf("nodes:               %u\n", r.nodes);
    std::printf("names:               %u registration requests (acknowledged %llu, failed %llu, no reply %llu)\n", r.names,
                static_cast<unsigned long long>(r.acknowledged), static_cast<unsigned long long>(r.failed_registrations),
                static_cast<unsigned long long>(r.no_reply()));
    std::printf("placement:           %s\n", r.placement.c_str());
    std::printf("handoff:             %s\n", r.handoff.c_str());
    if (r.rollout) std::printf("rollout:             %.1f s in %u scale-up waves\n", as_seconds(*r.rollout), r.waves);
    std::printf("moves per name:      mean %.3f, max %u\n", r.moves_mean, r.moves_max);
    if (r.rollout) std::printf("moves onto old pods: %llu\n", static_cast<unsigned long long>(r.moves_into_old));
    std::printf("unavailability:      p50 %.3f s, p99 %.3f s, max %.3f s\n", as_seconds(r.unavailable_p50),
                as_seconds(r.unavailable_p99), as_seconds(r.unavailable_max));
    std::printf("messages sent:       %llu\n", static_cast<unsigned long long>(r.messages));
    std::printf("events:              %llu\n", static_cast<unsigned long long>(r.events));
    std::printf("convergence:         %.3f s after the last disruption\n", as_seconds(r.convergence));
    std::printf("simulated time:      %.1f s\n", as_seconds(r.simulated));
    // Each node keeps its own counters, so nodes gone by the end (a rollout's old pods) are not counted.
    std::printf("protocol:            %llu handoffs accepted, %llu orphans restarted, %llu conflicts resolved "
                "(nodes running at the end)\n",
                static_cast<unsigned long long>(r.protocol.handoffs_accepted),
                static_cast<unsigned long long>(r.protocol.orphans_restarted),
                static_cast<unsigned long long>(r.protocol.conflicts_lost));
    std::printf("replica memory:      %zu bytes at most per node\n", r.replica_bytes_max);
    std::printf("trace hash:          %016llx\n", static_cast<unsigned long long>(r.trace_hash));
    std::printf("wall time:           %.3f s on %u thread%s, peak memory %ld MiB\n", wall, threads, threads == 1 ? "" : "s",
                peak_memory_kib() / 1024);
    if (r.ok()) {
        std::printf("invariants:          all held\n");
        return;
    }
    std::printf("invariants:          BROKEN: %s at t=%.6f s: %s\n", r.failure->invariant.c_str(), as_seconds(r.failure->at.time_since_epoch()),
                r.failure->detail.c_str());
    std::printf("last events:\n");
    for (const auto& line : r.trace) std::printf("  %s\n", line.c_str());
}

std::string json_report(const run_report& r, double wall) {
    std::ostringstream j;
    j << "{\"scenario\":\"" << r.scenario << "\",\"seed\":" << r.seed << ",\"nodes\":" << r.nodes << ",\"names\":" << r.names
      << ",\"placement\":\"" << r.placement << "\",\"handoff\":\"" << r.handoff << "\",\"acknowledged\":" << r.acknowledged
      << ",\"failed_registrations\":" << r.failed_registrations << ",\"no_reply\":" << r.no_reply() << ",\"moves_mean\":" << r.moves_mean
      << ",\"moves_max\":" << r.moves_max << ",\"moves_into_old\":" << r.moves_into_old << ",\"unavailable_p50_s\":" << as_seconds(r.unavailable_p50)
      << ",\"unavailable_p99_s\":" << as_seconds(r.unavailable_p99) << ",\"unavailable_max_s\":" << as_seconds(r.unavailable_max)
      << ",\"messages\":" << r.messages << ",\"events\":" << r.events << ",\"convergence_s\":" << as_seconds(r.convergence)
      << ",\"simulated_s\":" << as_seconds(r.simulated);
    if (r.rollout) j << ",\"rollout_s\":" << as_seconds(*r.rollout) << ",\"waves\":" << r.waves;
    if (r.quiet_from) j << ",\"quiet_from_s\":" << as_seconds(*r.quiet_from);
    j << ",\"messages_by_kind\":{";
    for (std::size_t k = 0; k < r.messages_by_kind.size(); ++k)
        j << (k ? "," : "") << "\"" << message_kind_name(k) << "\":" << r.messages_by_kind[k];
    j << "},\"replica_bytes_max\":" << r.replica_bytes_max << ",\"trace_hash\":\"" << std::hex << r.trace_hash << std::dec
      << "\",\"wall_s\":" << wall << ",\"invariants_held\":" << (r.ok() ? "true" : "false");
    if (!r.ok()) {
        j << ",\"violation\":{\"invariant\":\"" << r.failure->invariant << "\",\"at_s\":" << as_seconds(r.failure->at.time_since_epoch())
          << ",\"detail\":\"";
        for (const char ch : r.failure->detail) {
            if (ch == '"' || ch == '\\') j << '\\';
            j << ch;
        }
        j << "\"}";
    }
    j << "}";
    return j.str();
}

// The options shared by every scenario, inside the chosen command's options.
run_options& common_options(command_line& cl) {
    if (cl.command == "rolling-deploy") return cl.rolling;
    if (cl.command == "churn") return cl.churn;
    return cl.split;
}

run_report run_one(command_line& cl, std::uint64_t seed, bool show_progress) {
    auto progress = [](time_point t) {
        std::fprintf(stderr, "\r  simulated %.1f s ...", as_seconds(t.time_since_epoch()));
        std::fflush(stderr);
    };
    run_options& base = common_options(cl);
    base.seed = seed;
    if (show_progress) base.progress = progress;
    run_report r;
    if (cl.command == "rolling-deploy") r = rolling_deploy(cl.rolling);
    else if (cl.command == "churn") r = churn(cl.churn);
    else r = netsplit(cl.split);
    if (show_progress) std::fprintf(stderr, "\r%40s\r", "");
    return r;
}

std::string replay_command(const command_line& cl, std::uint64_t seed, int argc, char** argv) {
    std::string cmd = "muster-sim " + cl.command;
    for (int i = 2; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--seed" || a == "--seeds" || a == "--json") {
            ++i;
            continue;
        }
        cmd += " " + a;
    }
    return cmd + " --seed " + std::to_string(seed);
}

// Prints a failed run as a scenario file and the command that replays it through the file. A
// churn run is repeated with fault recording on, which gives the same run because the seed fixes it.
void print_failure_scenario(const command_line& cl, const run_report& r, std::uint64_t seed, const std::string& replay) {
    exported_scenario e;
    const auto end = time_point{} + r.simulated;
    if (cl.command == "netsplit") {
        auto o = cl.split;
        o.seed = seed;
        e = export_netsplit(o);
    } else if (cl.command == "rolling-deploy") {
        auto o = cl.rolling;
        o.seed = seed;
        e = export_rolling_deploy(o, end, r.quiet_from);
    } else {
        auto o = cl.churn;
        o.seed = seed;
        o.progress = {};
        o.watch.clear();  // the run printed the watched timeline already
        std::vector<std::pair<time_point, std::string>> faults;
        o.on_fault = [&faults](time_point at, const std::string& step) { faults.emplace_back(at, step); };
        churn(o);
        e = export_churn(o, faults, std::max(end, time_point{} + 20s));
    }
    const std::string file = cl.command + "-seed-" + std::to_string(seed) + ".scenario";
    std::printf("scenario file %s (save the lines between the markers):\n--- begin %s\n%s--- end %s\n", file.c_str(),
                file.c_str(), e.text.c_str(), file.c_str());
    std::printf("replay through the file: muster-sim run %s --seed %llu\n", file.c_str(), static_cast<unsigned long long>(seed));
    if (!e.exact)
        std::printf("NOTE: the file repeats the faults at the same times but may order same-time events differently;\n"
                    "the exact replay is: %s\n", replay.c_str());
}

bool write_json(const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text << "\n";
    if (out) return true;
    std::fprintf(stderr, "muster-sim: cannot write the JSON report to %s\n", path.c_str());
    return false;
}

// A run replaces every simulated node, and each new replica grows to the size of the registry.
// By default glibc gives large blocks back to the kernel when they are freed, and the next
// replica then pays a page fault and a page clearing for every page it touches: about 8 % of a
// 100-node, 100,000-name rollout. Keeping freed memory in the process lets the new replicas
// reuse it.
void keep_freed_memory() {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

}  // namespace

int main(int argc, char** argv) {
    keep_freed_memory();
    for (int i = 1; i < argc; ++i) {
        // A word after an option that takes a value is that value: `--watch -h` watches a name.
        const std::string_view previous = i > 1 ? std::string_view(argv[i - 1]) : std::string_view{};
        const bool option_value = previous.starts_with("--") && previous != "--deep-checks" && previous != "--one-way";
        if (!option_value && (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h")) {
            std::fputs(usage, stdout);
            std::fputs(run_command_usage, stdout);
            std::fputs(soak_command_usage, stdout);
            return 0;
        }
    }
    if (argc >= 2 && std::string_view(argv[1]) == "run") return run_command(argc, argv);
    if (argc >= 2 && std::string_view(argv[1]) == "soak") return soak_command(argc, argv);
    command_line cl;
    try {
        cl = parse(argc, argv);
    } catch (const invalid_argument& e) {
        std::fprintf(stderr, "muster-sim: %s\n", e.message.c_str());
        return 2;
    }
    const bool tty = isatty(STDERR_FILENO) != 0;
    const run_options& base = common_options(cl);

    if (cl.seeds) {
        std::uint64_t broken = 0;
        std::string json = "[";
        for (std::uint64_t seed = cl.seeds->first;; ++seed) {
            const auto start = std::chrono::steady_clock::now();
            const auto r = run_one(cl, seed, false);
            const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            std::printf("seed %llu: %s, moves mean %.3f, unavailability max %.3f s, trace %016llx, %.2f s wall\n",
                        static_cast<unsigned long long>(seed), r.ok() ? "invariants held" : "BROKEN", r.moves_mean,
                        as_seconds(r.unavailable_max), static_cast<unsigned long long>(r.trace_hash), wall);
            if (!r.ok()) {
                ++broken;
                std::printf("  %s at t=%.6f s: %s\n  replay: %s\n", r.failure->invariant.c_str(),
                            as_seconds(r.failure->at.time_since_epoch()), r.failure->detail.c_str(),
                            replay_command(cl, seed, argc, argv).c_str());
                print_failure_scenario(cl, r, seed, replay_command(cl, seed, argc, argv));
            }
            std::fflush(stdout);
            if (cl.json) json += (json.size() > 1 ? "," : "") + json_report(r, wall);
            if (seed == cl.seeds->second) break;
        }
        const auto runs = cl.seeds->second - cl.seeds->first + 1;
        std::printf("%llu runs, %llu with a broken invariant\n", static_cast<unsigned long long>(runs),
                    static_cast<unsigned long long>(broken));
        if (cl.json && !write_json(*cl.json, json + "]")) return 2;
        return broken == 0 ? 0 : 1;
    }

    std::printf("muster-sim %s --seed %llu --nodes %u --names %u --placement %s --handoff %s\n", cl.command.c_str(),
                static_cast<unsigned long long>(base.seed), base.nodes, base.names,
                std::string(to_string(base.placement.kind)).c_str(), std::string(to_string(base.handoff.m)).c_str());
    std::fflush(stdout);
    const auto start = std::chrono::steady_clock::now();
    const auto r = run_one(cl, base.seed, tty);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    print_report(r, wall, base.threads);
    if (!r.ok()) {
        std::printf("replay:              %s\n", replay_command(cl, base.seed, argc, argv).c_str());
        print_failure_scenario(cl, r, base.seed, replay_command(cl, base.seed, argc, argv));
    }
    if (cl.json && !write_json(*cl.json, json_report(r, wall))) return 2;
    return r.ok() ? 0 : 1;
}

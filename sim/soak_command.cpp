// The `muster-sim soak` command: runs many seeds of mixed scenarios and prints what they reached.

#include "soak_command.hpp"

#include <muster/sim/soak.hpp>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

const char* const soak_command_usage = R"(
soak options (muster-sim soak --seeds N [--seed-base B], or muster-sim soak --seeds A..B):
  --seeds N              number of runs, 1 to 1000000 (required, as a count or a range)
  --seeds A..B           the runs of seeds A to B, as for the other commands (at most 1000000)
  --seed-base B          seed of the first run with --seeds N; run i uses seed B + i (default 1)
  Each run draws from its seed a scenario (rolling-deploy, churn or netsplit), a cluster of 3 to
  7 nodes, 20 to 150 names, a handoff and a placement policy, and switches each network fault
  kind (loss, duplication, reordering) on or off. The summary counts runs, events, violations,
  messages per kind and protocol outcomes. A failing run prints its scenario file and the
  command that replays it. Exit status: 0 when every run kept every invariant, 1 when one broke,
  2 on invalid arguments.
)";

namespace {

using namespace muster;
using namespace muster::sim;

int invalid(const std::string& message) {
    std::fprintf(stderr, "muster-sim soak: %s\n", message.c_str());
    return 2;
}

bool parse_u64(std::string_view text, std::uint64_t& value) {
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    return error == std::errc{} && end == text.data() + text.size();
}

unsigned long long ull(std::uint64_t v) { return static_cast<unsigned long long>(v); }

void print_failure(std::uint64_t seed, const soak_plan& p, const run_report& r) {
    std::printf("seed %llu: BROKEN %s at t=%.6f s: %s\n", ull(seed), r.failure->invariant.c_str(),
                std::chrono::duration<double>(r.failure->at.time_since_epoch()).count(), r.failure->detail.c_str());
    for (const auto& line : r.trace) std::printf("  %s\n", line.c_str());
    std::printf("  replay: muster-sim soak --seeds %llu..%llu\n", ull(seed), ull(seed));
    const auto e = export_soak_plan(p, time_point{} + r.simulated);
    const std::string file = std::string(to_string(p.kind)) + "-soak-seed-" + std::to_string(seed) + ".scenario";
    std::printf("scenario file %s (save the lines between the markers):\n--- begin %s\n%s--- end %s\n", file.c_str(),
                file.c_str(), e.text.c_str(), file.c_str());
    std::printf("replay through the file: muster-sim run %s --seed %llu\n", file.c_str(), ull(seed));
    if (!e.exact) std::printf("NOTE: the file may order same-time events differently; the soak command above is exact\n");
}

void print_totals(const soak_totals& t, std::uint64_t base, double wall) {
    std::printf("runs:        %llu (seeds %llu to %llu)\n", ull(t.runs), ull(base), ull(base + t.runs - 1));
    std::printf("scenarios:   rolling-deploy %llu, churn %llu, netsplit %llu\n", ull(t.runs_by_kind[0]),
                ull(t.runs_by_kind[1]), ull(t.runs_by_kind[2]));
    std::printf("handoff:     restart %llu, resume %llu, ignore %llu\n", ull(t.runs_by_handoff[0]),
                ull(t.runs_by_handoff[1]), ull(t.runs_by_handoff[2]));
    std::printf("faults on:   loss %llu runs, duplicate %llu, reorder %llu\n", ull(t.runs_with_loss),
                ull(t.runs_with_duplicate), ull(t.runs_with_reorder));
    std::printf("events:      %llu\n", ull(t.events));
    std::printf("messages:    %llu\n", ull(t.messages));
    std::printf("violations:  %llu\n", ull(t.violations));
    std::printf("messages by kind:\n");
    for (std::size_t k = 0; k < t.messages_by_kind.size(); ++k)
        std::printf("  %-20s %llu\n", std::string(message_kind_name(k)).c_str(), ull(t.messages_by_kind[k]));
    const auto& s = t.protocol;
    std::printf("protocol outcomes (summed over the nodes alive at each run's end):\n");
    const std::pair<const char*, std::uint64_t> outcomes[] = {
        {"workers started", s.workers_started},
        {"handoffs offered", s.handoffs_offered},
        {"handoffs accepted", s.handoffs_accepted},
        {"handoffs rejected", s.handoffs_rejected},
        {"handoffs retried", s.handoffs_retried},
        {"orphans restarted", s.orphans_restarted},
        {"conflicts won", s.conflicts_won},
        {"conflicts lost", s.conflicts_lost},
        {"workers suspended", s.workers_suspended},
        {"handed states recovered", s.handed_states_recovered},
        {"sync repairs", s.sync_repairs},
        {"messages rejected", s.messages_rejected},
    };
    for (const auto& [what, count] : outcomes) std::printf("  %-24s %llu\n", what, ull(count));
    std::printf("wall time:   %.1f s\n", wall);
}

}  // namespace

int soak_command(int argc, char** argv) {
    std::uint64_t runs = 0;
    std::uint64_t base = 1;
    bool range = false;
    bool base_given = false;
    bool seeds_given = false;
    for (int i = 2; i < argc; ++i) {
        const std::string_view option = argv[i];
        if (option != "--seeds" && option != "--seed-base")
            return invalid("unknown option '" + std::string(option) + "': expected --seeds or --seed-base (see --help)");
        // A repeated option would silently keep one of its values.
        if ((option == "--seeds" && seeds_given) || (option == "--seed-base" && base_given))
            return invalid("option " + std::string(option) + " is given twice: give each option once");
        if (i + 1 >= argc) return invalid("missing value for " + std::string(option));
        const std::string_view text = argv[++i];
        std::uint64_t value = 0;
        if (option == "--seeds") seeds_given = true;
        if (option == "--seeds" && text.find("..") != std::string_view::npos) {
            const auto dots = text.find("..");
            std::uint64_t first = 0;
            std::uint64_t last = 0;
            if (!parse_u64(text.substr(0, dots), first) || !parse_u64(text.substr(dots + 2), last) || first > last)
                return invalid("invalid value '" + std::string(text) + "' for --seeds: expected A..B with integers A <= B");
            if (last - first >= 1'000'000)
                return invalid("invalid value '" + std::string(text) + "' for --seeds: expected at most 1000000 runs");
            base = first;
            runs = last - first + 1;
            range = true;
            continue;
        }
        if (!parse_u64(text, value)) return invalid("invalid value '" + std::string(text) + "' for " + std::string(option) + ": expected an integer");
        if (option == "--seeds") {
            if (value < 1 || value > 1'000'000)
                return invalid("invalid value '" + std::string(text) + "' for --seeds: expected 1 to 1000000 runs");
            runs = value;
            range = false;
        } else {
            base = value;
            base_given = true;
        }
    }
    if (runs == 0) return invalid("missing --seeds N: the number of runs");
    if (range && base_given) return invalid("--seed-base applies to --seeds N only; --seeds A..B names its seeds itself");
    if (base > UINT64_MAX - (runs - 1)) return invalid("--seed-base plus --seeds overflows a 64-bit seed");

    std::printf("muster-sim soak --seeds %llu..%llu\n", ull(base), ull(base + runs - 1));
    std::fflush(stdout);
    const auto start = std::chrono::steady_clock::now();
    soak_totals totals;
    for (std::uint64_t i = 0; i < runs; ++i) {
        const auto seed = base + i;
        const auto plan = plan_soak_run(seed);
        const auto report = run_soak_plan(plan);
        totals.add(plan, report);
        if (!report.ok()) print_failure(seed, plan, report);
        std::fflush(stdout);
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    print_totals(totals, base, wall);
    return totals.violations == 0 ? 0 : 1;
}

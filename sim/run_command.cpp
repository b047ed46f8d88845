// The `muster-sim run FILE` command: parses a scenario file, runs it and reports.

#include "run_command.hpp"

#include <muster/sim/scenario_runner.hpp>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

const char* const run_command_usage = R"(
run options (muster-sim run FILE [OPTIONS]; the format is in docs/scenarios.md):
  --seed N               seed of the run, overriding the file's 'seed' setting (default 1)
  --seeds A..B           run every seed from A to B; print the whole report of each seed that
                         fails, then the number of runs and failures
  --deep-checks          also run every machine's own invariant check after every event
  --watch NAME           print the timeline of one worker name to standard error
  Exit status: 0 when every expectation held, 1 when one failed or an invariant broke,
  2 on an invalid file or invalid arguments.
)";

namespace {

using namespace muster;
using namespace muster::sim;

int invalid(const std::string& message) {
    std::fprintf(stderr, "muster-sim run: %s\n", message.c_str());
    return 2;
}

// Runs the scenario once per seed, quietly, and prints the whole report of each failing seed.
int run_seeds(const std::string& path, const scenario& s, scenario_run_options options, std::pair<std::uint64_t, std::uint64_t> seeds) {
    std::FILE* sink = std::fopen("/dev/null", "w");
    if (!sink) return invalid("cannot open /dev/null to discard the reports of passing seeds");
    std::uint64_t failed = 0;
    int status = 0;
    for (std::uint64_t seed = seeds.first;; ++seed) {
        options.seed = seed;
        const auto quiet = run_scenario(s, options, sink);
        if (quiet.exit_status() != 0) {
            ++failed;
            status = std::max(status, quiet.exit_status());
            std::printf("seed %llu: FAILED\n", static_cast<unsigned long long>(seed));
            // The run is deterministic, so running the seed again prints the same report.
            run_scenario(s, options, stdout);
            std::printf("replay: muster-sim run %s --seed %llu\n", path.c_str(), static_cast<unsigned long long>(seed));
        }
        if (seed == seeds.second) break;
    }
    std::fclose(sink);
    std::printf("%llu runs, %llu failed\n", static_cast<unsigned long long>(seeds.second - seeds.first + 1),
                static_cast<unsigned long long>(failed));
    return status;
}

}  // namespace

int run_command(int argc, char** argv) {
    std::optional<std::string> path;
    std::optional<std::uint64_t> seed;
    std::optional<std::pair<std::uint64_t, std::uint64_t>> seeds;
    scenario_run_options options;
    std::vector<std::string_view> options_seen;
    for (int i = 2; i < argc; ++i) {
        const std::string_view arg = argv[i];
        // A repeated option would silently keep one of its values.
        if (arg.starts_with("--") && std::find(options_seen.begin(), options_seen.end(), arg) != options_seen.end())
            return invalid("option " + std::string(arg) + " is given twice: give each option once");
        options_seen.push_back(arg);
        if (arg == "--seed") {
            if (i + 1 >= argc) return invalid("missing value for --seed");
            const std::string_view text = argv[++i];
            const auto value = muster::sim::detail::parse_count(text, UINT64_MAX);
            if (!value) return invalid("invalid value '" + std::string(text) + "' for --seed: expected an integer from 0 to " + std::to_string(UINT64_MAX));
            seed = *value;
        } else if (arg == "--seeds") {
            if (i + 1 >= argc) return invalid("missing value for --seeds");
            const std::string_view text = argv[++i];
            const auto dots = text.find("..");
            const auto first = dots == std::string_view::npos ? std::nullopt : muster::sim::detail::parse_count(text.substr(0, dots), UINT64_MAX);
            const auto last = dots == std::string_view::npos ? std::nullopt : muster::sim::detail::parse_count(text.substr(dots + 2), UINT64_MAX);
            if (!first || !last || *first > *last)
                return invalid("invalid value '" + std::string(text) + "' for --seeds: expected FIRST..LAST with FIRST <= LAST, such as 1..100");
            seeds = {*first, *last};
        } else if (arg == "--deep-checks") {
            options.deep_checks = true;
        } else if (arg == "--watch") {
            if (i + 1 >= argc) return invalid("missing value for --watch");
            options.watch = argv[++i];
        } else if (arg.starts_with("--")) {
            return invalid("unknown option '" + std::string(arg) + "': expected --seed, --seeds, --deep-checks or --watch");
        } else if (path) {
            return invalid("more than one scenario file given: '" + *path + "' and '" + std::string(arg) + "'");
        } else {
            path = std::string(arg);
        }
    }
    if (!path) return invalid("missing scenario file: usage is muster-sim run FILE [--seed N]");

    const auto text = read_scenario_file(*path);
    if (!text) return invalid(text.error().message);
    const auto parsed = parse_scenario(*text);
    if (!parsed) {
        const auto& e = parsed.error();
        if (e.line == 0) std::fprintf(stderr, "muster-sim run: %s: %s\n", path->c_str(), e.message.c_str());
        else std::fprintf(stderr, "muster-sim run: %s:%zu: %s\n", path->c_str(), e.line, e.message.c_str());
        return 2;
    }
    if (seed && seeds) return invalid("--seed and --seeds cannot be combined: use --seeds N..N for one seed");
    if (seeds) return run_seeds(*path, *parsed, options, *seeds);
    options.seed = seed.value_or(parsed->seed.value_or(1));

    std::printf("muster-sim run %s --seed %llu\n", path->c_str(), static_cast<unsigned long long>(options.seed));
    std::fflush(stdout);
    const auto result = run_scenario(*parsed, options, stdout);
    std::fflush(stdout);
    if (result.exit_status() == 1)
        std::printf("replay: muster-sim run %s --seed %llu\n", path->c_str(), static_cast<unsigned long long>(options.seed));
    return result.exit_status();
}

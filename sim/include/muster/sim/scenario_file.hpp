#pragma once
/// The scenario file format: a plain-text, line-oriented description of a simulated run (the
/// cluster, the network, timed events and expectations), and its bounded parser. The format is
/// documented with a complete example in docs/scenarios.md, and `scenario_runner.hpp` runs a
/// parsed scenario.

#include <muster/core/config.hpp>
#include <muster/core/types.hpp>
#include <muster/sim/kubernetes.hpp>
#include <muster/sim/network.hpp>
#include <muster/sim/scenarios.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace muster::sim {

/// Limits of the parser, so a hostile or mistaken file cannot exhaust memory or time.
inline constexpr std::size_t scenario_bytes_max = 1 << 20;
inline constexpr std::size_t scenario_line_bytes_max = 4096;
inline constexpr std::size_t scenario_nodes_max = 1000;
inline constexpr std::uint64_t scenario_register_many_max = 1'000'000;
inline constexpr duration scenario_time_max = std::chrono::hours(24 * 100);

/// A comparison in an expectation, such as `== 1` or `>= 30`.
enum class compare_op : std::uint8_t { eq, ne, lt, le, gt, ge };

/// Returns the spelling of a comparison, as the file writes it.
constexpr std::string_view to_string(compare_op op) noexcept {
    switch (op) {
    case compare_op::eq: return "==";
    case compare_op::ne: return "!=";
    case compare_op::lt: return "<";
    case compare_op::le: return "<=";
    case compare_op::gt: return ">";
    case compare_op::ge: return ">=";
    }
    return "?";
}

/// Returns whether `value op expected` holds.
constexpr bool compare(std::uint64_t value, compare_op op, std::uint64_t expected) noexcept {
    switch (op) {
    case compare_op::eq: return value == expected;
    case compare_op::ne: return value != expected;
    case compare_op::lt: return value < expected;
    case compare_op::le: return value <= expected;
    case compare_op::gt: return value > expected;
    case compare_op::ge: return value >= expected;
    }
    return false;
}

// ---- actions ----------------------------------------------------------------------------------

/// Boots a node; `generation` labels its release (`registry_config::generation`), and a node
/// booted again keeps its previous label unless a new one is given.
struct start_action { std::string node; std::optional<std::uint64_t> generation; };
struct stop_action { std::string node; duration grace = std::chrono::seconds(30); };
struct crash_action { std::string node; bool reset = false; };
struct restart_action { std::string node; std::optional<std::uint64_t> generation; };
struct partition_action { std::vector<std::vector<std::string>> groups; };
struct cut_action { std::vector<std::string> from; std::vector<std::string> to; };
struct heal_action {};
/// A client on `node` adds `amount` to the worker's counter on the owner that node's replica
/// records, and counts an `increment-acked` event when the acknowledgement returns.
struct increment_action { std::string name; std::string node; std::uint64_t amount = 1; };
struct pause_action { std::string node; };
struct resume_action { std::string node; };
/// A change of a node's clock speed: 1.05 runs 5% fast.
struct drift_action { std::string node; double rate = 1.0; };
/// A change of one link setting for every message from now on.
struct link_action {
    enum class setting : std::uint8_t { latency, loss, duplicate, reorder };
    setting what = setting::loss;
    double probability = 0;
    duration latency_min{};
    duration latency_max{};
};
/// A change of the DNS answers that `discovery dns` nodes get.
struct dns_action {
    enum class mode : std::uint8_t { fail, ok, list, add, remove, partial };
    mode what = mode::ok;
    std::vector<std::string> nodes;
    std::uint32_t count = 0;  ///< `partial`: addresses per answer
};
struct register_action {
    std::string name;
    std::optional<std::string> node;  ///< the registering node; the first running node if absent
    restart_policy restart = restart_policy::permanent;
};
/// Registers `count` names `<prefix>000000`, `<prefix>000001`, ... spread over `over`.
struct register_many_action {
    std::uint32_t count = 0;
    std::string prefix;
    std::optional<std::string> node;      ///< the registering node; a seeded random pick per name if absent
    std::optional<std::string> owned_by;  ///< keep only names this node's placement owner is `owned_by`
    duration over{};
};
struct unregister_action { std::string name; std::optional<std::string> node; };
struct whereis_action { std::string name; std::string node; };
struct rollout_action {};
/// Every worker of `name` ignores stop requests from now on, so it is killed without state when
/// the request's grace period (`stop-grace`) ends.
struct ignore_stop_action { std::string name; };
/// The worker of `name` exits on its own, normally or by crashing.
struct exit_action { std::string name; exit_reason reason = exit_reason::normal; };

// ---- expectations -----------------------------------------------------------------------------

/// `expect whereis NAME on NODE returns instance|nothing|OWNER`.
struct expect_whereis {
    enum class answer : std::uint8_t { instance, nothing, owner };
    std::string name;
    std::string node;
    answer wanted = answer::instance;
    std::string owner;
};
/// `expect NAME instances|moves|starts|counter OP N`.
struct expect_name_count {
    enum class field : std::uint8_t { instances, moves, starts, counter };
    std::string name;
    field what = field::instances;
    compare_op op = compare_op::eq;
    std::uint64_t value = 0;
};
/// `expect NAME on NODE`: a live instance of NAME runs on NODE.
struct expect_runs_on { std::string name; std::string node; };
/// `expect NAME acknowledged`: a registration of NAME was acknowledged.
struct expect_acknowledged { std::string name; };
/// Kinds of observed events that `expect events` counts.
enum class observed_kind : std::uint8_t {
    member_joined, member_leaving, member_left, member_failed, worker_started, worker_stopped,
    register_ok, register_failed, unregister_ok, unregister_failed, increment_acked,
};
inline constexpr std::array<std::string_view, 11> observed_kind_names{
    "member-joined", "member-leaving", "member-left", "member-failed", "worker-started", "worker-stopped",
    "register-ok", "register-failed", "unregister-ok", "unregister-failed", "increment-acked"};
/// `expect events KIND[+KIND...] [NODE] [by NODE] [since TIME] OP N`: counts the events of
/// any of the kinds.
struct expect_events {
    std::vector<observed_kind> kinds;
    std::optional<std::string> node;  ///< the member (member events) or the acting node
    std::optional<std::string> by;    ///< the node that reported the event
    duration since{};
    compare_op op = compare_op::eq;
    std::uint64_t value = 0;
};
/// `expect node NODE members|workers OP N`.
struct expect_node_count {
    enum class field : std::uint8_t { members, workers };
    std::string node;
    field what = field::members;
    compare_op op = compare_op::eq;
    std::uint64_t value = 0;
};
/// `expect node NODE running|leaving|stopped|crashed`.
struct expect_node_status { std::string node; node_status status = node_status::running; };
struct expect_no_violations {};
/// `expect converged`: exactly one instance per registered name and every replica agrees.
struct expect_converged {};
/// `expect read-your-writes`: at every ok register reply, the registering node's whereis
/// returned a running instance.
struct expect_read_your_writes {};
/// `expect rollout finished`.
struct expect_rollout_finished {};

using expectation = std::variant<expect_whereis, expect_name_count, expect_runs_on, expect_acknowledged,
                                 expect_events, expect_node_count, expect_node_status, expect_no_violations,
                                 expect_converged, expect_read_your_writes, expect_rollout_finished>;

using scenario_action = std::variant<start_action, stop_action, crash_action, restart_action, partition_action,
                                     cut_action, heal_action, link_action, dns_action, register_action,
                                     register_many_action, unregister_action, whereis_action, rollout_action,
                                     exit_action, ignore_stop_action, pause_action, resume_action, drift_action,
                                     increment_action,
                                     expectation>;

/// One `at TIME ...` line, or a final `expect ...` line (without `at`).
struct scenario_step {
    std::size_t line = 0;
    std::optional<duration> at;  ///< absent for final expectations, checked after the final check
    scenario_action what;
    std::string text;            ///< the line as written, without comment, for reports
};

/// A parsed scenario: settings, then steps in file order.
struct scenario {
    std::vector<std::string> nodes;    ///< booted at the start, in this order
    std::vector<std::string> standby;  ///< known to discovery, booted only by a `start` step
    bool dns = false;                  ///< `discovery dns`: nodes find each other through DNS answers
    std::string dns_basename = "app";
    std::optional<std::uint32_t> replicas;  ///< `deployment N`: the cluster is a Kubernetes Deployment
    deployment_config deployment;
    handoff_choice handoff;
    placement_options placement;       ///< `quorum` is set to a majority of the nodes unless given
    std::optional<std::size_t> quorum;
    duration boot_spread{};
    std::optional<duration> poll_interval;
    registry_config timing;            ///< `self` and `seed` are set per node
    link_config link;
    std::optional<std::uint64_t> seed;
    std::optional<duration> end;
    std::vector<scenario_step> steps;

    /// Returns every node the file declares, booted ones first.
    std::vector<std::string> declared() const {
        auto all = nodes;
        all.insert(all.end(), standby.begin(), standby.end());
        return all;
    }
};

/// A rejected scenario file: the 1-based line (0 for the whole file) and what was expected.
struct scenario_error {
    std::size_t line = 0;
    std::string message;
};

/// Formats a duration in seconds as the file writes it, exactly and without trailing zeros:
/// `10s`, `0.25s`, `10.000999123s`.
inline std::string format_duration(duration d) {
    const auto ns = d.count();
    const bool negative = ns < 0;
    const auto magnitude = static_cast<std::uint64_t>(negative ? -ns : ns);
    std::string text = std::to_string(magnitude / 1'000'000'000ULL);
    if (const auto fraction = magnitude % 1'000'000'000ULL; fraction != 0) {
        std::string digits = std::to_string(fraction);
        digits.insert(0, 9 - digits.size(), '0');
        while (digits.back() == '0') digits.pop_back();
        text += "." + digits;
    }
    return (negative ? "-" : "") + text + "s";
}

namespace detail {

using tokens = std::vector<std::string_view>;

// Parses a non-negative decimal with up to 9 fraction digits, exactly, scaled by 10^9.
inline std::optional<std::uint64_t> parse_scaled(std::string_view text) {
    std::uint64_t whole = 0, fraction = 0;
    std::size_t i = 0, digits = 0, fraction_digits = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++digits) {
        whole = whole * 10 + static_cast<std::uint64_t>(text[i] - '0');
        // Above 10^10 the scaled value would overflow; every caller rejects such values anyway.
        if (whole > 10'000'000'000ULL) return std::nullopt;
    }
    if (i < text.size() && text[i] == '.') {
        for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++fraction_digits) {
            if (fraction_digits == 9) return std::nullopt;
            fraction = fraction * 10 + static_cast<std::uint64_t>(text[i] - '0');
        }
        if (fraction_digits == 0) return std::nullopt;
    }
    if (digits == 0 || i != text.size()) return std::nullopt;
    for (std::size_t k = fraction_digits; k < 9; ++k) fraction *= 10;
    return whole * 1'000'000'000ULL + fraction;
}

}  // namespace detail

/// Parses a duration as the file writes it: a non-negative decimal number with up to 9 fraction
/// digits and a unit ns, us, ms, s, m or h, such as 250ms or 1.5s. Returns nothing for any other
/// text or a value above 100 days.
inline std::optional<duration> parse_duration(std::string_view text) {
    static constexpr std::pair<std::string_view, std::uint64_t> units[] = {
        {"ns", 1}, {"us", 1'000}, {"ms", 1'000'000}, {"s", 1'000'000'000}, {"m", 60'000'000'000}, {"h", 3'600'000'000'000}};
    for (const auto& [unit, ns] : units) {
        if (text.size() <= unit.size() || !text.ends_with(unit)) continue;
        const auto number = text.substr(0, text.size() - unit.size());
        // "5ms" also ends with "s"; the number part must then hold only digits and a dot.
        const auto scaled = detail::parse_scaled(number);
        if (!scaled) continue;
        const long double value = static_cast<long double>(*scaled) * static_cast<long double>(ns) / 1e9L;
        if (value > static_cast<long double>(scenario_time_max.count())) return std::nullopt;
        const std::uint64_t whole = *scaled / 1'000'000'000ULL, part = *scaled % 1'000'000'000ULL;
        return duration{static_cast<duration::rep>(whole * ns + part * ns / 1'000'000'000ULL)};
    }
    return std::nullopt;
}

namespace detail {

struct scenario_parse_failure {
    scenario_error error;
};

[[noreturn]] inline void reject_line(std::size_t line, std::string message) {
    throw scenario_parse_failure{{line, std::move(message)}};
}

// Quotes a word of the file for a message; bytes outside printable ASCII appear as \xNN.
inline std::string quoted(std::string_view s) {
    std::string out = "'";
    for (const char c : s) {
        const auto ch = static_cast<unsigned char>(c);
        if (ch >= 0x20 && ch < 0x7f) {
            out += c;
            continue;
        }
        static constexpr char hex[] = "0123456789abcdef";
        out += "\\x";
        out += hex[ch >> 4];
        out += hex[ch & 15];
    }
    return out + "'";
}

inline std::optional<std::uint64_t> parse_count(std::string_view text, std::uint64_t max) {
    std::uint64_t value = 0;
    if (text.empty()) return std::nullopt;
    for (const char ch : text) {
        if (ch < '0' || ch > '9') return std::nullopt;
        const auto digit = static_cast<std::uint64_t>(ch - '0');
        if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
        value = value * 10 + digit;
    }
    if (value > max) return std::nullopt;
    return value;
}

inline std::optional<double> parse_probability(std::string_view text) {
    const auto scaled = parse_scaled(text);
    if (!scaled || *scaled > 1'000'000'000ULL) return std::nullopt;
    return static_cast<double>(*scaled) / 1e9;
}

inline std::optional<compare_op> parse_op(std::string_view text) {
    if (text == "==") return compare_op::eq;
    if (text == "!=") return compare_op::ne;
    if (text == "<") return compare_op::lt;
    if (text == "<=") return compare_op::le;
    if (text == ">") return compare_op::gt;
    if (text == ">=") return compare_op::ge;
    return std::nullopt;
}

// Reads one line's tokens with the line number for every error.
class line_reader {
public:
    line_reader(std::size_t line, tokens words) : line_(line), words_(std::move(words)) {}

    std::size_t line() const { return line_; }
    bool done() const { return next_ == words_.size(); }
    std::string_view peek() const { return done() ? std::string_view{} : words_[next_]; }
    bool accept(std::string_view word) {
        if (done() || words_[next_] != word) return false;
        ++next_;
        return true;
    }

    std::string_view word(std::string_view expected) {
        if (done()) reject_line(line_, "missing " + std::string(expected) + " at the end of the line");
        return words_[next_++];
    }

    void expect(std::string_view keyword, std::string_view context) {
        const auto w = word("'" + std::string(keyword) + "'");
        if (w != keyword)
            reject_line(line_, "expected '" + std::string(keyword) + "' " + std::string(context) + ", found " + quoted(w));
    }

    duration time(std::string_view what) {
        const auto w = word(std::string(what) + " (a duration such as 250ms, 1.5s or 2m)");
        const auto d = parse_duration(w);
        if (!d)
            reject_line(line_, "invalid " + std::string(what) + " " + quoted(w) +
                                   ": expected a number with a unit ns, us, ms, s, m or h (such as 250ms), at most 100 days");
        return *d;
    }

    std::uint64_t count(std::string_view what, std::uint64_t max) {
        const auto w = word(std::string(what));
        const auto n = parse_count(w, max);
        if (!n) reject_line(line_, "invalid " + std::string(what) + " " + quoted(w) + ": expected an integer from 0 to " + std::to_string(max));
        return *n;
    }

    double probability(std::string_view what) {
        const auto w = word(std::string(what) + " (a probability from 0 to 1)");
        const auto p = parse_probability(w);
        if (!p) reject_line(line_, "invalid " + std::string(what) + " " + quoted(w) + ": expected a probability from 0 to 1, such as 0.05");
        return *p;
    }

    compare_op op() {
        const auto w = word("comparison (==, !=, <, <=, > or >=)");
        const auto o = parse_op(w);
        if (!o) reject_line(line_, "invalid comparison " + quoted(w) + ": expected ==, !=, <, <=, > or >=");
        return *o;
    }

    void finish() {
        if (!done()) reject_line(line_, "unexpected " + quoted(words_[next_]) + " at the end of the line");
    }

    // Every word left on the line.
    std::vector<std::string> rest() {
        std::vector<std::string> out;
        while (!done()) out.emplace_back(words_[next_++]);
        return out;
    }

private:
    std::size_t line_;
    tokens words_;
    std::size_t next_ = 0;
};

class scenario_parser {
public:
    scenario parse(std::string_view text) {
        if (text.size() > scenario_bytes_max)
            reject_line(0, "the file is larger than 1 MiB; split the scenario or use register-many for bulk registrations");
        std::size_t line = 0;
        while (!text.empty()) {
            ++line;
            const auto end = text.find('\n');
            auto raw = text.substr(0, end);
            text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
            if (raw.size() > scenario_line_bytes_max) reject_line(line, "the line is longer than 4096 bytes");
            if (const auto hash = raw.find('#'); hash != std::string_view::npos) raw = raw.substr(0, hash);
            auto words = split(line, raw);
            if (words.empty()) continue;
            parse_line(line_reader(line, std::move(words)), raw);
        }
        finish();
        return std::move(s_);
    }

private:
    static tokens split(std::size_t line, std::string_view raw) {
        tokens words;
        std::size_t i = 0;
        for (const char c : raw) {
            const auto ch = static_cast<unsigned char>(c);
            if ((ch < 0x20 && ch != '\t' && ch != '\r') || ch == 0x7f)
                reject_line(line, "invalid control character (code " + std::to_string(ch) + "); use spaces or tabs");
        }
        while (i < raw.size()) {
            if (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\r') {
                ++i;
                continue;
            }
            std::size_t j = i;
            while (j < raw.size() && raw[j] != ' ' && raw[j] != '\t' && raw[j] != '\r') ++j;
            words.push_back(raw.substr(i, j - i));
            i = j;
        }
        return words;
    }

    static std::string trimmed(std::string_view raw) {
        while (!raw.empty() && (raw.front() == ' ' || raw.front() == '\t')) raw.remove_prefix(1);
        while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\r')) raw.remove_suffix(1);
        return std::string(raw);
    }

    void parse_line(line_reader r, std::string_view raw) {
        const auto first = r.peek();
        if (first == "at") {
            r.word("at");
            const auto at = r.time("time");
            if (at < last_at_)
                reject_line(r.line(), "time " + format_duration(at) + " is before the previous step's time " +
                                          format_duration(last_at_) + ": list timed steps in time order");
            last_at_ = at;
            seen_steps_ = true;
            auto what = r.peek() == "expect" ? scenario_action{parse_expect(r)} : parse_action(r);
            s_.steps.push_back({r.line(), at, std::move(what), trimmed(raw)});
            return;
        }
        if (first == "expect") {
            seen_steps_ = true;
            s_.steps.push_back({r.line(), std::nullopt, parse_expect(r), trimmed(raw)});
            return;
        }
        if (first == "end") {
            r.word("end");
            if (s_.end) reject_line(r.line(), "'end' appears twice; keep one 'end TIME' line");
            s_.end = r.time("end time");
            r.finish();
            end_line_ = r.line();
            return;
        }
        if (seen_steps_)
            reject_line(r.line(), "setting " + quoted(first) + " after the first step: put every setting before the first 'at' or 'expect' line");
        parse_setting(r);
    }

    void parse_setting(line_reader& r) {
        const auto key = r.word("setting");
        const std::size_t line = r.line();
        if (!parse_cluster_setting(r, key) && !parse_policy_setting(r, key) && !parse_network_setting(r, key)) {
            reject_line(line, "unknown setting " + quoted(key) +
                                  ": expected nodes, standby, discovery, deployment, handoff, placement, vnodes, load-factor, "
                                  "quorum, seed, boot-spread, poll-interval, latency, loss, duplicate, reorder, a timing setting "
                                  "(see docs/scenarios.md), 'at TIME ...', 'expect ...' or 'end TIME'");
        }
        r.finish();
    }

    // Parses a setting of the nodes and their deployment. Returns false for a key of another group.
    bool parse_cluster_setting(line_reader& r, std::string_view key) {
        const std::size_t line = r.line();
        if (key == "nodes" || key == "standby") {
            if (s_.replicas) reject_line(line, "'" + std::string(key) + "' cannot be combined with 'deployment': a Deployment creates its own pods");
            auto& list = key == "nodes" ? s_.nodes : s_.standby;
            auto names = r.rest();
            if (names.empty()) reject_line(line, "missing node names or a node count after '" + std::string(key) + "'");
            if (key == "nodes" && names.size() == 1 && parse_count(names[0], scenario_nodes_max)) {
                const auto n = *parse_count(names[0], scenario_nodes_max);
                if (n == 0) reject_line(line, "invalid node count 0: expected 1 to 1000");
                names.clear();
                for (std::uint64_t i = 1; i <= n; ++i) names.push_back("n" + std::to_string(i));
            }
            for (auto& name : names) add_node(line, list, std::move(name));
            node_line_ = line;
        } else if (key == "discovery") {
            const auto mode = r.word("discovery mode (static or dns)");
            if (mode == "static") s_.dns = false;
            else if (mode == "dns") s_.dns = true;
            else reject_line(line, "invalid discovery " + quoted(mode) + ": expected static or dns");
            if (s_.dns && !s_.nodes.empty())
                reject_line(line, "put 'discovery dns' before the 'nodes' line, so node names get their DNS form");
        } else if (key == "deployment") {
            if (!s_.nodes.empty() || !s_.standby.empty())
                reject_line(line, "'deployment' cannot be combined with 'nodes' or 'standby': a Deployment creates its own pods");
            s_.replicas = static_cast<std::uint32_t>(r.count("replica count", scenario_nodes_max));
            if (*s_.replicas == 0) reject_line(line, "invalid replica count 0: expected 1 to 1000");
            node_line_ = line;
        } else if (key == "max-surge" || key == "max-unavailable") {
            const auto w = r.word("a pod count or a percentage such as 25%");
            rollout_limit limit;
            const bool percent = w.ends_with('%');
            const auto n = parse_count(percent ? w.substr(0, w.size() - 1) : w, percent ? 100 : scenario_nodes_max);
            if (!n) reject_line(line, "invalid " + std::string(key) + " " + quoted(w) + ": expected a pod count or a percentage from 0% to 100%");
            limit.value = static_cast<std::uint32_t>(*n);
            limit.percent = percent;
            (key == "max-surge" ? s_.deployment.max_surge : s_.deployment.max_unavailable) = limit;
        } else if (key == "termination-grace") {
            s_.deployment.grace = r.time("termination grace");
        } else if (key == "dns-stale") {
            s_.deployment.dns_stale_max = r.time("DNS cache age");
        } else {
            return false;
        }
        return true;
    }

    // Parses a policy, seed or boot schedule setting. Returns false for a key of another group.
    bool parse_policy_setting(line_reader& r, std::string_view key) {
        const std::size_t line = r.line();
        if (key == "handoff") {
            const auto m = r.word("handoff mode (restart, resume or ignore)");
            if (m == "restart") s_.handoff.m = handoff_choice::mode::restart;
            else if (m == "resume") s_.handoff.m = handoff_choice::mode::resume;
            else if (m == "ignore") s_.handoff.m = handoff_choice::mode::ignore;
            else reject_line(line, "invalid handoff " + quoted(m) + ": expected restart, resume or ignore");
        } else if (key == "placement") {
            const auto name = r.word("placement (ring, rendezvous, bounded-load, rollout-aware or quorum)");
            const auto kind = parse_placement_kind(name);
            if (!kind) reject_line(line, "invalid placement " + quoted(name) + ": expected ring, rendezvous, bounded-load, rollout-aware or quorum");
            s_.placement.kind = *kind;
        } else if (key == "vnodes") {
            s_.placement.vnodes = static_cast<std::uint32_t>(r.count("ring point count", 65536));
            if (s_.placement.vnodes == 0) reject_line(line, "invalid ring point count 0: expected 1 to 65536");
        } else if (key == "load-factor") {
            const auto w = r.word("load factor (a number from 1 to 16)");
            const auto scaled = parse_scaled(w);
            if (!scaled || *scaled < 1'000'000'000ULL || *scaled > 16'000'000'000ULL)
                reject_line(line, "invalid load factor " + quoted(w) + ": expected a number from 1 to 16, such as 1.25");
            s_.placement.load_factor = static_cast<double>(*scaled) / 1e9;
        } else if (key == "quorum") {
            s_.quorum = static_cast<std::size_t>(r.count("quorum size", scenario_nodes_max));
            if (*s_.quorum == 0) reject_line(line, "invalid quorum 0: expected 1 to the node count");
        } else if (key == "seed") {
            s_.seed = r.count("seed", UINT64_MAX);
        } else if (key == "boot-spread") {
            s_.boot_spread = r.time("boot spread");
        } else if (key == "poll-interval") {
            s_.poll_interval = r.time("poll interval");
            if (*s_.poll_interval <= duration::zero()) reject_line(line, "invalid poll interval 0: expected a positive duration");
        } else {
            return false;
        }
        return true;
    }

    // Parses a link or node timing setting. Returns false for a key of another group.
    bool parse_network_setting(line_reader& r, std::string_view key) {
        const std::size_t line = r.line();
        if (key == "latency") {
            s_.link.latency_min = r.time("minimum latency");
            s_.link.latency_max = r.time("maximum latency");
            if (s_.link.latency_min > s_.link.latency_max) reject_line(line, "invalid latency range: the minimum is above the maximum");
        } else if (key == "loss") {
            s_.link.loss = r.probability("loss");
        } else if (key == "duplicate") {
            s_.link.duplicate = r.probability("duplication");
        } else if (key == "reorder") {
            s_.link.reorder = r.probability("reordering");
        } else if (auto* setting = timing_setting(key)) {
            // These set how often a node does periodic work or how long it waits. Far below the
            // network's latency, a value would only make the run spin through timer events.
            const auto value = r.time(key);
            if (value < std::chrono::milliseconds(1))
                reject_line(line, "invalid " + std::string(key) + " " + format_duration(value) + ": expected at least 1ms");
            *setting = value;
        } else if (key == "sync-buckets") {
            s_.timing.sync_buckets = static_cast<std::uint32_t>(r.count("bucket count", 65536));
        } else {
            return false;
        }
        return true;
    }

    duration* timing_setting(std::string_view key) {
        auto& t = s_.timing;
        if (key == "heartbeat-interval") return &t.heartbeat_interval;
        if (key == "failure-timeout") return &t.failure_timeout;
        if (key == "connect-timeout") return &t.connect_timeout;
        if (key == "sync-interval") return &t.sync_interval;
        if (key == "flush-interval") return &t.flush_interval;
        if (key == "request-timeout") return &t.request_timeout;
        if (key == "handoff-retry") return &t.handoff_retry;
        if (key == "rebalance-delay") return &t.rebalance_delay;
        if (key == "stop-grace") return &t.stop_grace;
        if (key == "leave-deadline") return &t.leave_deadline;
        if (key == "newer-generation-wait") return &t.newer_generation_wait;
        if (key == "tombstone-ttl") return &t.tombstone_ttl;
        return nullptr;
    }

    void add_node(std::size_t line, std::vector<std::string>& list, std::string name) {
        if (check_name(name)) reject_line(line, "invalid node name " + quoted(name) + ": expected 1 to 255 bytes");
        if (s_.dns) {
            if (name.find('@') == std::string::npos) name = s_.dns_basename + "@" + name;
            else if (!name.starts_with(s_.dns_basename + "@"))
                reject_line(line, "invalid node name " + quoted(name) + " for DNS discovery: expected " + s_.dns_basename +
                                      "@ADDRESS or a plain address");
        }
        if (s_.nodes.size() + s_.standby.size() >= scenario_nodes_max) reject_line(line, "too many nodes: at most 1000");
        const auto all = s_.declared();
        if (std::find(all.begin(), all.end(), name) != all.end()) reject_line(line, "node " + quoted(name) + " is declared twice");
        list.push_back(std::move(name));
    }

    // Resolves a node reference: a declared name, or with DNS discovery the address part alone.
    // In a Deployment pods appear at run time, so names are checked when the step runs.
    std::string node(line_reader& r) {
        const auto w = r.word("node name");
        if (s_.replicas) return std::string(w);
        const auto all = s_.declared();
        if (all.empty()) reject_line(r.line(), "node " + quoted(w) + " used before any 'nodes' or 'standby' line");
        if (std::find(all.begin(), all.end(), w) != all.end()) return std::string(w);
        if (s_.dns) {
            const std::string full = s_.dns_basename + "@" + std::string(w);
            if (std::find(all.begin(), all.end(), full) != all.end()) return full;
        }
        reject_line(r.line(), "unknown node " + quoted(w) + ": expected a node declared by 'nodes' or 'standby'");
    }

    std::vector<std::string> node_list(line_reader& r, std::string_view stop) {
        std::vector<std::string> out;
        while (!r.done() && r.peek() != stop) out.push_back(node(r));
        return out;
    }

    std::string worker_name(line_reader& r) {
        const auto w = r.word("worker name");
        if (check_name(w)) reject_line(r.line(), "invalid worker name " + quoted(w) + ": expected 1 to 255 bytes");
        return std::string(w);
    }

    scenario_action parse_action(line_reader& r) {
        const auto verb = r.word("event (start, stop, crash, restart, pause, resume, drift, partition, cut, heal, link, "
                                 "dns, register, register-many, unregister, whereis, exit, ignore-stop, rollout or expect)");
        const std::size_t line = r.line();
        scenario_action a = heal_action{};
        if (verb == "start") {
            start_action s{node(r), std::nullopt};
            if (r.accept("generation")) s.generation = r.count("generation", UINT64_MAX);
            a = s;
        } else if (verb == "stop") {
            stop_action s{node(r)};
            if (r.accept("grace")) s.grace = r.time("grace period");
            a = s;
        } else if (verb == "crash") {
            crash_action c{node(r)};
            c.reset = r.accept("reset");
            a = c;
        } else if (verb == "restart") {
            restart_action s{node(r), std::nullopt};
            if (r.accept("generation")) s.generation = r.count("generation", UINT64_MAX);
            a = s;
        } else if (verb == "partition") {
            a = parse_partition(r);
        } else if (verb == "cut") {
            a = parse_cut(r);
        } else if (verb == "heal") {
            a = heal_action{};
        } else if (verb == "link") {
            a = parse_link(r);
        } else if (verb == "dns") {
            a = parse_dns(r);
        } else if (verb == "register") {
            register_action g{worker_name(r), std::nullopt};
            if (r.accept("on")) g.node = node(r);
            if (r.accept("transient")) g.restart = restart_policy::transient;
            else if (r.accept("temporary")) g.restart = restart_policy::temporary;
            a = g;
        } else if (verb == "register-many") {
            a = parse_register_many(r);
        } else if (verb == "unregister") {
            unregister_action u{worker_name(r), std::nullopt};
            if (r.accept("on")) u.node = node(r);
            a = u;
        } else if (verb == "whereis") {
            whereis_action w{worker_name(r), {}};
            r.expect("on", "after the worker name of whereis");
            w.node = node(r);
            a = w;
        } else if (verb == "rollout") {
            if (!s_.replicas) reject_line(line, "'rollout' needs a Deployment: add a 'deployment N' setting");
            a = rollout_action{};
        } else if (verb == "pause") {
            a = pause_action{node(r)};
        } else if (verb == "resume") {
            a = resume_action{node(r)};
        } else if (verb == "drift") {
            drift_action d{node(r)};
            const auto w = r.word("clock rate (a number from 0.01 to 100, such as 1.05)");
            const auto scaled = parse_scaled(w);
            if (!scaled || *scaled < 10'000'000ULL || *scaled > 100'000'000'000ULL)
                reject_line(line, "invalid clock rate " + quoted(w) + ": expected a number from 0.01 to 100, such as 1.05");
            d.rate = static_cast<double>(*scaled) / 1e9;
            a = d;
        } else if (verb == "exit") {
            a = parse_exit(r);
        } else if (verb == "ignore-stop") {
            a = ignore_stop_action{worker_name(r)};
        } else if (verb == "increment") {
            increment_action c{worker_name(r), {}};
            r.expect("on", "after the worker name of increment");
            c.node = node(r);
            if (r.accept("by")) {
                c.amount = r.count("increment amount", 1'000'000'000);
                if (c.amount == 0) reject_line(line, "invalid increment amount 0: expected 1 to 1000000000");
            }
            a = c;
        } else {
            reject_line(line, "unknown event " + quoted(verb) +
                                  ": expected start, stop, crash, restart, pause, resume, drift, partition, cut, heal, "
                                  "link, dns, register, register-many, unregister, whereis, exit, ignore-stop, rollout or "
                                  "expect");
        }
        r.finish();
        return a;
    }

    partition_action parse_partition(line_reader& r) {
        partition_action p;
        p.groups.push_back(node_list(r, "|"));
        while (r.accept("|")) p.groups.push_back(node_list(r, "|"));
        if (p.groups.size() < 2) reject_line(r.line(), "a partition needs at least two groups separated by '|', such as: partition a b | c");
        for (const auto& g : p.groups)
            if (g.empty()) reject_line(r.line(), "a partition group is empty: put at least one node on each side of '|'");
        return p;
    }

    cut_action parse_cut(line_reader& r) {
        cut_action c;
        c.from = node_list(r, "->");
        r.expect("->", "between the sending and the receiving nodes of a cut");
        c.to = node_list(r, "->");
        if (c.from.empty() || c.to.empty()) reject_line(r.line(), "a cut needs nodes on both sides, such as: cut a -> b c");
        return c;
    }

    register_many_action parse_register_many(line_reader& r) {
        register_many_action m;
        m.count = static_cast<std::uint32_t>(r.count("name count", scenario_register_many_max));
        m.prefix = std::string(r.word("name prefix"));
        if (m.prefix.size() > 240) reject_line(r.line(), "the name prefix is longer than 240 bytes");
        while (!r.done()) {
            if (r.accept("on")) m.node = node(r);
            else if (r.accept("owned-by")) m.owned_by = node(r);
            else if (r.accept("over")) m.over = r.time("registration window");
            else reject_line(r.line(), "unexpected " + quoted(r.peek()) + ": expected 'on NODE', 'owned-by NODE' or 'over DURATION'");
        }
        if (m.owned_by && !m.node) reject_line(r.line(), "'owned-by' needs 'on NODE': the registering node's view decides the owner");
        return m;
    }

    exit_action parse_exit(line_reader& r) {
        exit_action x{worker_name(r), exit_reason::normal};
        const auto reason = r.word("exit reason (normal or crashed)");
        if (reason == "normal") x.reason = exit_reason::normal;
        else if (reason == "crashed") x.reason = exit_reason::crashed;
        else reject_line(r.line(), "invalid exit reason " + quoted(reason) + ": expected normal or crashed");
        return x;
    }

    link_action parse_link(line_reader& r) {
        link_action l;
        const auto what = r.word("link setting (latency, loss, duplicate or reorder)");
        if (what == "latency") {
            l.what = link_action::setting::latency;
            l.latency_min = r.time("minimum latency");
            l.latency_max = r.time("maximum latency");
            if (l.latency_min > l.latency_max) reject_line(r.line(), "invalid latency range: the minimum is above the maximum");
        } else if (what == "loss" || what == "duplicate" || what == "reorder") {
            l.what = what == "loss" ? link_action::setting::loss
                     : what == "duplicate" ? link_action::setting::duplicate : link_action::setting::reorder;
            l.probability = r.probability(what);
        } else {
            reject_line(r.line(), "invalid link setting " + quoted(what) + ": expected latency, loss, duplicate or reorder");
        }
        return l;
    }

    dns_action parse_dns(line_reader& r) {
        if (!s_.dns) reject_line(r.line(), "'dns' events need 'discovery dns' among the settings");
        dns_action d;
        const auto what = r.word("DNS change (fail, ok, list, add, remove or partial)");
        if (what == "fail") d.what = dns_action::mode::fail;
        else if (what == "ok") d.what = dns_action::mode::ok;
        else if (what == "partial") {
            d.what = dns_action::mode::partial;
            d.count = static_cast<std::uint32_t>(r.count("address count", scenario_nodes_max));
        } else if (what == "list" || what == "add" || what == "remove") {
            if (what == "list") d.what = dns_action::mode::list;
            else if (what == "add") d.what = dns_action::mode::add;
            else d.what = dns_action::mode::remove;
            d.nodes = node_list(r, "");
            if (d.nodes.empty() && d.what != dns_action::mode::list)
                reject_line(r.line(), "missing node names after 'dns " + std::string(what) + "'");
        } else {
            reject_line(r.line(), "invalid DNS change " + quoted(what) + ": expected fail, ok, list, add, remove or partial");
        }
        return d;
    }

    expectation parse_expect(line_reader& r) {
        r.expect("expect", "");
        const std::size_t line = r.line();
        const auto first = r.word("expectation");
        expectation e = expect_no_violations{};
        if (first == "no") {
            r.expect("violations", "after 'expect no'");
        } else if (first == "converged") {
            e = expect_converged{};
        } else if (first == "read-your-writes") {
            e = expect_read_your_writes{};
        } else if (first == "rollout") {
            r.expect("finished", "after 'expect rollout'");
            if (!s_.replicas) reject_line(line, "'expect rollout finished' needs a Deployment: add a 'deployment N' setting");
            e = expect_rollout_finished{};
        } else if (first == "whereis") {
            expect_whereis w{worker_name(r), {}, expect_whereis::answer::instance, {}};
            r.expect("on", "after the worker name");
            w.node = node(r);
            r.expect("returns", "after the node name");
            if (r.accept("instance")) w.wanted = expect_whereis::answer::instance;
            else if (r.accept("nothing")) w.wanted = expect_whereis::answer::nothing;
            else {
                w.wanted = expect_whereis::answer::owner;
                w.owner = node(r);
            }
            e = w;
        } else if (first == "events") {
            e = parse_expect_events(r);
        } else if (first == "node") {
            e = parse_expect_node(r);
        } else {
            e = parse_expect_name(r, first);
        }
        r.finish();
        return e;
    }

    expect_events parse_expect_events(line_reader& r) {
        expect_events ev;
        auto kinds = r.word("event kind");
        while (true) {
            const auto plus = kinds.find('+');
            const auto kind = kinds.substr(0, plus);
            const auto it = std::find(observed_kind_names.begin(), observed_kind_names.end(), kind);
            if (it == observed_kind_names.end())
                reject_line(r.line(), "invalid event kind " + quoted(kind) +
                                          ": expected member-joined, member-leaving, member-left, member-failed, worker-started, "
                                          "worker-stopped, register-ok, register-failed, unregister-ok, unregister-failed or increment-acked");
            ev.kinds.push_back(static_cast<observed_kind>(it - observed_kind_names.begin()));
            if (plus == std::string_view::npos) break;
            kinds = kinds.substr(plus + 1);
        }
        if (!r.done() && !parse_op(r.peek()) && r.peek() != "since" && r.peek() != "by") ev.node = node(r);
        if (r.accept("by")) ev.by = node(r);
        if (r.accept("since")) ev.since = r.time("start of the count");
        ev.op = r.op();
        ev.value = r.count("expected count", UINT64_MAX);
        return ev;
    }

    expectation parse_expect_node(line_reader& r) {
        const auto n = node(r);
        const auto what = r.word("node property (members, workers, running, leaving, stopped or crashed)");
        if (what == "members" || what == "workers") {
            expect_node_count c{n, what == "members" ? expect_node_count::field::members : expect_node_count::field::workers};
            c.op = r.op();
            c.value = r.count("expected count", UINT64_MAX);
            return c;
        }
        static constexpr std::pair<std::string_view, node_status> statuses[] = {
            {"running", node_status::running}, {"leaving", node_status::leaving},
            {"stopped", node_status::stopped}, {"crashed", node_status::crashed}};
        for (const auto& [word, status] : statuses)
            if (what == word) return expect_node_status{n, status};
        reject_line(r.line(), "invalid node property " + quoted(what) + ": expected members, workers, running, leaving, stopped or crashed");
    }

    expectation parse_expect_name(line_reader& r, std::string_view name) {
        if (check_name(name)) reject_line(r.line(), "invalid worker name " + quoted(name));
        const auto what = r.word("name property (instances, moves, starts, counter, on or acknowledged)");
        if (what == "on") return expect_runs_on{std::string(name), node(r)};
        if (what == "acknowledged") return expect_acknowledged{std::string(name)};
        expect_name_count c{std::string(name)};
        if (what == "instances") c.what = expect_name_count::field::instances;
        else if (what == "moves") c.what = expect_name_count::field::moves;
        else if (what == "starts") c.what = expect_name_count::field::starts;
        else if (what == "counter") c.what = expect_name_count::field::counter;
        else
            reject_line(r.line(), "invalid expectation " + quoted(std::string(name) + " " + std::string(what)) +
                                      ": expected 'no violations', converged, read-your-writes, 'rollout finished', whereis, "
                                      "events, node, or NAME followed by instances, moves, starts, counter, on or acknowledged");
        c.op = r.op();
        c.value = r.count("expected value", UINT64_MAX);
        return c;
    }

    void finish() {
        if (s_.nodes.empty() && !s_.replicas)
            reject_line(0, "missing cluster: add a 'nodes NAMES...' or 'nodes COUNT' line, or 'deployment REPLICAS'");
        if (s_.end) {
            for (const auto& step : s_.steps)
                if (step.at && *step.at > *s_.end)
                    reject_line(end_line_, "end time " + format_duration(*s_.end) + " is before the step on line " + std::to_string(step.line));
        }
        if (s_.replicas) {
            s_.deployment.replicas = *s_.replicas;
            if (s_.poll_interval) s_.deployment.dns_poll_interval = *s_.poll_interval;
            if (s_.deployment.max_surge.resolve(*s_.replicas, true) == 0 && s_.deployment.max_unavailable.resolve(*s_.replicas, false) == 0)
                reject_line(node_line_, "max-surge and max-unavailable both resolve to 0 pods, which Kubernetes rejects; raise one of them");
        }
        const std::size_t nodes_count = s_.replicas ? *s_.replicas : s_.nodes.size() + s_.standby.size();
        if (s_.quorum && s_.placement.kind != placement_kind::quorum)
            reject_line(0, "'quorum' applies to 'placement quorum' only");
        if (s_.quorum && *s_.quorum > nodes_count)
            reject_line(0, "invalid quorum " + std::to_string(*s_.quorum) + ": above the node count " + std::to_string(nodes_count) +
                               ", so no view would ever hold a quorum");
        s_.placement.quorum = s_.quorum.value_or(nodes_count / 2 + 1);
        auto node_config = s_.timing;
        node_config.self = node_id{"check", 1};
        if (const auto problem = validate(node_config)) reject_line(0, "invalid timing settings: " + std::string(to_string(*problem)));
    }

    scenario s_;
    duration last_at_{};
    bool seen_steps_ = false;
    std::size_t end_line_ = 0;
    std::size_t node_line_ = 0;
};

}  // namespace detail

/// Parses a scenario file's text. Returns the scenario, or the first error with its line number
/// (0 when it concerns the whole file) and what was expected there.
inline expected<scenario, scenario_error> parse_scenario(std::string_view text) {
    try {
        return detail::scenario_parser().parse(text);
    } catch (const detail::scenario_parse_failure& f) {
        return f.error;
    }
}

}  // namespace muster::sim

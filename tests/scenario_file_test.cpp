#include <muster/sim/scenario_file.hpp>

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace muster;
using namespace muster::sim;
using namespace std::chrono_literals;

namespace {

scenario parse_ok(const std::string& text) {
    auto parsed = parse_scenario(text);
    INFO((parsed ? std::string("parsed") : "line " + std::to_string(parsed.error().line) + ": " + parsed.error().message));
    REQUIRE(parsed.has_value());
    return std::move(parsed).value();
}

}  // namespace

TEST_CASE("scenario parser reads settings", "[sim]") {
    const auto s = parse_ok(
        "# a comment line\n"
        "nodes a b   # trailing comment\n"
        "standby c\n"
        "handoff restart\n"
        "vnodes 64\n"
        "seed 99\n"
        "boot-spread 500ms\n"
        "latency 1ms 3ms\n"
        "loss 0.05\n"
        "duplicate 0.5\n"
        "reorder 1\n"
        "heartbeat-interval 500ms\n"
        "failure-timeout 2s\n"
        "end 2m\n");

    CHECK(s.nodes == std::vector<std::string>{"a", "b"});
    CHECK(s.standby == std::vector<std::string>{"c"});
    CHECK(s.handoff.m == handoff_choice::mode::restart);
    CHECK(s.placement.vnodes == 64);
    CHECK(s.placement.kind == placement_kind::ring);
    CHECK(s.placement.quorum == 2);
    CHECK(s.seed == 99u);
    CHECK(s.boot_spread == 500ms);
    CHECK(s.link.latency_min == 1ms);
    CHECK(s.link.latency_max == 3ms);
    CHECK(s.link.loss == Approx(0.05));
    CHECK(s.link.duplicate == Approx(0.5));
    CHECK(s.link.reorder == Approx(1.0));
    CHECK(s.timing.heartbeat_interval == 500ms);
    CHECK(s.timing.failure_timeout == 2s);
    CHECK(s.end == std::chrono::minutes(2));
    CHECK(s.steps.empty());
}

TEST_CASE("scenario parser reads placement", "[sim]") {
    const auto bounded = parse_ok("nodes 4\nplacement bounded-load\nload-factor 1.5\n");
    CHECK(bounded.placement.kind == placement_kind::bounded_load);
    CHECK(bounded.placement.load_factor == Approx(1.5));
    const auto quorum = parse_ok("nodes 5\nplacement quorum\nquorum 2\n");
    CHECK(quorum.placement.kind == placement_kind::quorum);
    CHECK(quorum.placement.quorum == 2);
    const auto majority = parse_ok("deployment 6\nplacement quorum\n");
    CHECK(majority.placement.quorum == 4);
}

TEST_CASE("scenario parser names counted nodes", "[sim]") {
    const auto plain = parse_ok("nodes 3\n");
    CHECK(plain.nodes == std::vector<std::string>{"n1", "n2", "n3"});
    const auto dns = parse_ok("discovery dns\nnodes 2\nstandby app@x\nat 1s crash n2\n");
    CHECK(dns.dns);
    CHECK(dns.nodes == std::vector<std::string>{"app@n1", "app@n2"});
    CHECK(dns.standby == std::vector<std::string>{"app@x"});
    // A step may name a DNS node by its address alone.
    REQUIRE(dns.steps.size() == 1);
    CHECK(std::get<crash_action>(dns.steps[0].what).node == "app@n2");
}

TEST_CASE("scenario parser reads every step kind", "[sim]") {
    const auto s = parse_ok(
        "discovery dns\n"
        "nodes a b c\n"
        "at 0s partition a | b c\n"
        "at 1s cut a b -> c\n"
        "at 1.5s heal\n"
        "at 2s start a generation 2\n"
        "at 2s stop b grace 10s\n"
        "at 2s crash c reset\n"
        "at 3s restart c\n"
        "at 3s link loss 0.1\n"
        "at 3s link latency 1ms 5ms\n"
        "at 4s dns fail\n"
        "at 4s dns partial 2\n"
        "at 4s dns remove c\n"
        "at 5s register w on a transient\n"
        "at 5s register-many 10 x- on b owned-by c over 100ms\n"
        "at 6s unregister w\n"
        "at 6s whereis w on b\n"
        "at 6s exit w normal\n"
        "at 6s ignore-stop w\n"
        "at 7s expect whereis w on a returns instance\n"
        "at 7s expect whereis w on a returns b\n"
        "at 7s expect w instances == 1\n"
        "at 7s expect x-* counter >= 30\n"
        "at 7s expect w on c\n"
        "at 7s expect events member-failed+member-left c by a since 2s <= 1\n"
        "at 7s expect node a members == 2\n"
        "at 7s expect node b stopped\n"
        "expect no violations\n"
        "expect converged\n"
        "expect read-your-writes\n"
        "expect w acknowledged\n");

    REQUIRE(s.steps.size() == 30);
    CHECK(std::get<partition_action>(s.steps[0].what).groups.size() == 2);
    const auto& cut = std::get<cut_action>(s.steps[1].what);
    CHECK(cut.from == std::vector<std::string>{"app@a", "app@b"});
    CHECK(cut.to == std::vector<std::string>{"app@c"});

    CHECK(std::get<start_action>(s.steps[3].what).generation == 2u);
    CHECK(std::get<stop_action>(s.steps[4].what).grace == 10s);
    CHECK(std::get<crash_action>(s.steps[5].what).reset);
    CHECK(std::get<link_action>(s.steps[7].what).probability == Approx(0.1));
    CHECK(std::get<dns_action>(s.steps[10].what).count == 2);
    const auto& reg = std::get<register_action>(s.steps[12].what);
    CHECK(reg.restart == restart_policy::transient);
    const auto& many = std::get<register_many_action>(s.steps[13].what);
    CHECK(many.count == 10);
    CHECK(many.owned_by == std::string("app@c"));
    CHECK(many.over == 100ms);

    CHECK(std::get<ignore_stop_action>(s.steps[17].what).name == "w");
    const auto& events = std::get<expect_events>(std::get<expectation>(s.steps[23].what));
    CHECK(events.kinds.size() == 2);
    CHECK(events.by == std::string("app@a"));
    CHECK(events.since == 2s);
    CHECK(events.op == compare_op::le);
    CHECK(s.steps[25].at == 7s);
    CHECK_FALSE(s.steps[26].at.has_value());
    CHECK(s.steps[26].line == 29);
}

TEST_CASE("scenario durations are exact", "[sim]") {
    CHECK(parse_duration("1.5s") == 1500ms);
    CHECK(parse_duration("250ms") == 250ms);
    CHECK(parse_duration("2m") == std::chrono::minutes(2));
    CHECK(parse_duration("10.000999123s") == duration{10'000'999'123});
    CHECK(parse_duration("7us") == 7us);
    CHECK_FALSE(parse_duration("5").has_value());
    CHECK_FALSE(parse_duration("-1s").has_value());
    CHECK_FALSE(parse_duration("1.s").has_value());
    CHECK_FALSE(parse_duration("0.0000000001s").has_value());
    CHECK_FALSE(parse_duration("3000h").has_value());
    for (const duration d : {duration{0}, duration{1}, duration{10'000'999'123}, duration{1'500'000'000}}) {
        INFO(format_duration(d));
        CHECK(parse_duration(format_duration(d)) == d);
    }
    CHECK(format_duration(1500ms) == "1.5s");
    CHECK(format_duration(10s) == "10s");
}

TEST_CASE("scenario parser names the invalid line", "[sim]") {
    struct bad_case {
        std::string text;
        std::size_t line;
        std::string message;
    };
    const std::vector<bad_case> cases{
        {"nodes a\nfrobnicate 3\n", 2, "unknown setting 'frobnicate'"},
        {"nodes a\nat 1s crash a\nloss 0.1\n", 3, "after the first step"},
        {"nodes a\nat 5s crash a\nat 1s crash a\n", 3, "before the previous step's time 5s"},
        {"nodes a\nat 1s crash z\n", 2, "unknown node 'z'"},
        {"nodes a\nat 1 crash a\n", 2, "invalid time '1'"},
        {"nodes a b\nat 1s partition a b\n", 2, "at least two groups"},
        {"nodes a b\nat 1s partition a |\n", 2, "group is empty"},
        {"nodes a b\nat 1s cut a b\n", 2, "missing '->'"},
        {"nodes a b\nat 1s cut a b => a\n", 2, "unknown node '=>'"},
        {"nodes a\nat 1s pause z\n", 2, "unknown node 'z'"},
        {"nodes a\nat 1s drift a 10ms\n", 2, "invalid clock rate '10ms'"},
        {"nodes a\nat 1s drift a 0.001\n", 2, "invalid clock rate '0.001'"},
        {"nodes a\nat 1s increment w\n", 2, "missing 'on'"},
        {"nodes a\nat 1s increment w on a by 0\n", 2, "increment amount"},
        {"nodes a\nat 1s dns fail\n", 2, "need 'discovery dns'"},
        {"nodes a\nat 1s rollout\n", 2, "needs a Deployment"},
        {"nodes a\nend 10s\nat 20s crash a\n", 2, "before the step on line 3"},
        {"handoff resume\n", 0, "missing cluster"},
        {"nodes a a\n", 1, "declared twice"},
        {"nodes a\nloss 1.5\n", 2, "probability from 0 to 1"},
        {"nodes a\nat 1s crash a now\n", 2, "unexpected 'now'"},
        {"nodes a\nat 1s expect w instances = 1\n", 2, "invalid comparison '='"},
        {"nodes a\nat 1s expect w size == 1\n", 2, "invalid expectation 'w size'"},
        {"nodes a\nat 1s expect events member-lost == 1\n", 2, "invalid event kind 'member-lost'"},
        {"nodes a\nat 1s register-many 5 x- owned-by a\n", 2, "needs 'on NODE'"},
        {"nodes a\nat 1s register\n", 2, "missing worker name"},
        {"nodes a\nat 1s exit w softly\n", 2, "invalid exit reason"},
        {"nodes a\nheartbeat-interval 3s\n", 0, "failure_timeout is shorter than twice heartbeat_interval"},
        {"nodes a\nat 1s\tcrash\x01 a\n", 2, "control character"},
        {"deployment 2\nmax-surge 0\nmax-unavailable 0\n", 1, "both resolve to 0 pods"},
        {"deployment 2\nnodes a\n", 2, "cannot be combined"},
        {"nodes a\n" + std::string(5000, 'x') + "\n", 2, "longer than 4096 bytes"},
        {"nodes a\n\xff\xfe bad\n", 2, "unknown setting '\\xff\\xfe'"},
        {"nodes a\nplacement random\n", 2, "invalid placement 'random'"},
        {"nodes a\nload-factor 0.5\n", 2, "invalid load factor '0.5'"},
        {"nodes a b\nquorum 2\n", 0, "applies to 'placement quorum' only"},
        {"nodes a b\nplacement quorum\nquorum 3\n", 0, "above the node count 2"},
        {"nodes a\nat 1s start a generation x\n", 2, "invalid generation 'x'"},
    };
    for (const auto& c : cases) {
        INFO(c.text);
        const auto parsed = parse_scenario(c.text);
        REQUIRE_FALSE(parsed.has_value());
        CHECK(parsed.error().line == c.line);
        CHECK_THAT(parsed.error().message, Catch::Contains(c.message));
    }
}

TEST_CASE("scenario parser rejects oversized file", "[sim]") {
    std::string text = "nodes a\n";
    while (text.size() <= scenario_bytes_max) text += "# padding padding padding padding padding padding\n";
    const auto parsed = parse_scenario(text);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().line == 0);
    CHECK_THAT(parsed.error().message, Catch::Contains("larger than 1 MiB"));
}

TEST_CASE("scenario parser bounds integers", "[sim]") {
    CHECK(parse_ok("nodes a\nseed 18446744073709551615\n").seed == UINT64_MAX);
    const auto parsed = parse_scenario("nodes a\nseed 18446744073709551616\n");
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().line == 2);
    CHECK_FALSE(parse_duration("99999999999999999999s").has_value());
}

TEST_CASE("scenario parser survives random input", "[sim][property]") {
    rc::prop("arbitrary bytes give a scenario or a located error", [](const std::string& text) {
        const auto parsed = parse_scenario(text);
        if (!parsed) RC_ASSERT(parsed.error().line <= static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1);
    });

    // Lines built from the format's own words reach far deeper than random bytes do.
    static const std::vector<std::string> words{
        "nodes", "a", "b", "c", "3", "standby", "discovery", "dns", "static", "at", "1s", "0s", "2.5s", "250ms",
        "expect", "crash", "reset", "stop", "grace", "start", "restart", "partition", "|", "cut", "->", "heal", "link",
        "loss", "0.5", "latency", "register", "register-many", "10", "x-", "on", "owned-by", "over", "unregister",
        "whereis", "returns", "instance", "nothing", "events", "member-failed+worker-started", "by", "since", "==",
        ">=", "node", "members", "workers", "running", "w", "w*", "instances", "counter", "exit", "normal", "end",
        "deployment", "rollout", "finished", "no", "violations", "converged", "handoff", "resume", "dns", "partial"};
    rc::prop("lines of format words never crash the parser", [] {
        const auto lines = *rc::gen::container<std::vector<std::vector<std::size_t>>>(
            rc::gen::container<std::vector<std::size_t>>(rc::gen::inRange<std::size_t>(0, words.size())));
        std::string text;
        for (const auto& line : lines) {
            for (const auto w : line) text += words[w] + " ";
            text += "\n";
        }
        const auto parsed = parse_scenario(text);
        if (!parsed) RC_ASSERT(parsed.error().line <= lines.size());
    });
}

#include <muster/policy/discovery.hpp>
#include <muster/policy/handoff.hpp>
#include <muster/policy/placement.hpp>
#include <muster/policy/transport.hpp>

#include <muster/policy/discovery/dns_poll.hpp>
#include <muster/policy/discovery/static_list.hpp>
#include <muster/policy/handoff/ignore.hpp>
#include <muster/policy/handoff/restart.hpp>
#include <muster/policy/handoff/resume.hpp>
#include <muster/policy/placement/hash_ring.hpp>

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using namespace std::chrono_literals;

namespace {

// Each type below lacks exactly one requirement of its concept.

struct discovery_without_poll {
    muster::duration poll_interval() const { return 1s; }
    std::vector<std::string> on_resolved(muster::time_point, const muster::resolve_result&) { return {}; }
};

struct discovery_with_wrong_poll_result {
    muster::duration poll_interval() const { return 1s; }
    std::vector<std::string> poll(muster::time_point) { return {}; }
    std::vector<std::string> on_resolved(muster::time_point, const muster::resolve_result&) { return {}; }
};

struct handoff_without_conflict_winner {
    bool moves_on_topology_change() const { return true; }
    bool transfers_state() const { return true; }
};

struct handoff_with_mutable_queries {
    bool moves_on_topology_change() { return true; }
    bool transfers_state() { return true; }
    int pick_conflict_winner(std::string_view, const muster::conflict_claim&, const muster::conflict_claim&,
                             std::optional<std::string_view>) {
        return 0;
    }
};

struct placement_without_rebuild {
    std::optional<std::size_t> owner_of(std::string_view) const { return std::nullopt; }
    std::size_t members_count() const { return 0; }
};

struct transport_without_disconnect {
    void send(const std::string&, muster::envelope_ptr) {}
    void connect(const std::string&) {}
};

struct recording_transport {
    void send(const std::string&, muster::envelope_ptr) {}
    void connect(const std::string&) {}
    void disconnect(const std::string&) {}
};

static_assert(muster::discovery<muster::static_list>);
static_assert(muster::discovery<muster::dns_poll>);
static_assert(!muster::discovery<discovery_without_poll>);
static_assert(!muster::discovery<discovery_with_wrong_poll_result>);

static_assert(muster::handoff<muster::restart>);
static_assert(muster::handoff<muster::resume>);
static_assert(muster::handoff<muster::ignore>);
static_assert(!muster::handoff<handoff_without_conflict_winner>);
static_assert(!muster::handoff<handoff_with_mutable_queries>);

static_assert(muster::placement<muster::hash_ring>);
static_assert(!muster::placement<placement_without_rebuild>);

static_assert(muster::transport<recording_transport>);
static_assert(!muster::transport<transport_without_disconnect>);

const muster::time_point now = muster::time_point{} + std::chrono::hours(1);

}  // namespace

TEST_CASE("static_list proposes fixed peers", "[policy]") {
    muster::static_list discovery({"app@a", "app@b"}, 3s);

    CHECK(discovery.poll_interval() == 3s);
    for (int poll = 0; poll < 2; ++poll) {
        const auto result = discovery.poll(now + poll * 3s);
        CHECK(result.candidates == std::vector<std::string>{"app@a", "app@b"});
        CHECK_FALSE(result.resolve_host.has_value());
    }
    CHECK(discovery.on_resolved(now, {"anything", {"10.0.0.1"}, std::nullopt}).empty());
}

TEST_CASE("dns_poll asks to resolve host", "[policy]") {
    muster::dns_poll discovery("muster.default.svc", "app", 7s);

    CHECK(discovery.poll_interval() == 7s);
    CHECK(discovery.host() == "muster.default.svc");
    const auto result = discovery.poll(now);
    CHECK(result.candidates.empty());
    REQUIRE(result.resolve_host.has_value());
    CHECK(*result.resolve_host == "muster.default.svc");
}

TEST_CASE("dns_poll maps records to names", "[policy]") {
    muster::dns_poll discovery("muster.default.svc", "app");
    const muster::resolve_result found{"muster.default.svc", {"10.0.0.5", "10.0.0.7"}, std::nullopt};

    const auto names = discovery.on_resolved(now, found);

    CHECK(names == std::vector<std::string>{"app@10.0.0.5", "app@10.0.0.7"});
    CHECK(discovery.on_resolved(now, found) == names);
}

TEST_CASE("dns_poll lookup error before any answer proposes nothing", "[policy]") {
    muster::dns_poll discovery("muster.default.svc", "app");

    const muster::resolve_result failed{"muster.default.svc", {"10.0.0.5"}, "NXDOMAIN"};
    CHECK(discovery.on_resolved(now, failed).empty());

    const muster::resolve_result empty{"muster.default.svc", {}, std::nullopt};
    CHECK(discovery.on_resolved(now, empty).empty());
}

TEST_CASE("dns_poll lookup error repeats last answer", "[policy]") {
    muster::dns_poll discovery("muster.default.svc", "app");
    const muster::resolve_result found{"muster.default.svc", {"10.0.0.5", "10.0.0.7"}, std::nullopt};
    const muster::resolve_result failed{"muster.default.svc", {}, "SERVFAIL"};
    const muster::resolve_result shrunk{"muster.default.svc", {"10.0.0.7"}, std::nullopt};

    discovery.on_resolved(now, found);
    CHECK(discovery.on_resolved(now, failed) == std::vector<std::string>{"app@10.0.0.5", "app@10.0.0.7"});

    // A successful answer replaces the remembered one, so a node removed from DNS is not proposed.
    discovery.on_resolved(now, shrunk);
    CHECK(discovery.on_resolved(now, failed) == std::vector<std::string>{"app@10.0.0.7"});
}

TEST_CASE("handoff models set movement flags", "[policy]") {
    CHECK(muster::restart{}.moves_on_topology_change());
    CHECK_FALSE(muster::restart{}.transfers_state());
    CHECK(muster::resume{}.moves_on_topology_change());
    CHECK(muster::resume{}.transfers_state());
    CHECK_FALSE(muster::ignore{}.moves_on_topology_change());
    CHECK_FALSE(muster::ignore{}.transfers_state());
}

TEST_CASE("conflict winner prefers placed node", "[policy]") {
    const muster::conflict_claim a{"app@a", 1, 1};
    const muster::conflict_claim b{"app@b", 1, 9};

    CHECK(muster::default_conflict_winner(a, b, "app@a") == 0);
    CHECK(muster::default_conflict_winner(b, a, "app@a") == 1);
    CHECK(muster::default_conflict_winner(a, b, "app@c") == 1);
    CHECK(muster::default_conflict_winner(a, b, std::nullopt) == 1);
}

TEST_CASE("conflict winner breaks ties by name", "[policy]") {
    const muster::conflict_claim a{"app@a", 1, 4};
    const muster::conflict_claim b{"app@b", 1, 4};
    CHECK(muster::default_conflict_winner(a, b, std::nullopt) == 0);
    CHECK(muster::default_conflict_winner(b, a, std::nullopt) == 1);

    // Two incarnations of one node: the later one wins.
    const muster::conflict_claim old{"app@a", 1, 4};
    const muster::conflict_claim later{"app@a", 2, 4};
    CHECK(muster::default_conflict_winner(old, later, std::nullopt) == 1);
    CHECK(muster::default_conflict_winner(later, old, std::nullopt) == 0);
}

TEST_CASE("conflict winner is symmetric", "[policy][property]") {
    rc::prop("swapping claims swaps the winner", [] {
        const std::vector<std::string> nodes{"app@a", "app@b", "app@c"};
        const auto claim = [&] {
            return muster::conflict_claim{nodes[*rc::gen::inRange<std::size_t>(0, nodes.size())],
                                          *rc::gen::inRange<std::uint64_t>(1, 3),
                                          *rc::gen::inRange<std::uint64_t>(0, 4)};
        };
        const auto a = claim();
        auto b = claim();
        // Identical claims describe one instance, so either result keeps it.
        if (a.node == b.node && a.incarnation == b.incarnation && a.version == b.version) ++b.version;
        std::optional<std::string_view> placed;
        if (const auto pick = *rc::gen::inRange<std::size_t>(0, nodes.size() + 1); pick < nodes.size())
            placed = nodes[pick];

        const int forward = muster::default_conflict_winner(a, b, placed);
        const int backward = muster::default_conflict_winner(b, a, placed);
        RC_ASSERT(forward + backward == 1);
        RC_ASSERT(muster::resume{}.pick_conflict_winner("billing", a, b, placed) == forward);
        RC_ASSERT(muster::restart{}.pick_conflict_winner("billing", a, b, placed) == forward);
        RC_ASSERT(muster::ignore{}.pick_conflict_winner("billing", a, b, placed) == forward);
    });
}

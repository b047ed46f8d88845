#include <muster/policy/placement/hash_ring.hpp>

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace {

// Has `rebuild` and `owner_of` but lacks `members_count`.
struct placement_without_members_count {
    void rebuild(std::span<const muster::member_info>) {}
    std::optional<std::size_t> owner_of(std::string_view) const { return std::nullopt; }
};

static_assert(muster::placement<muster::hash_ring>);
static_assert(!muster::placement<placement_without_members_count>);

std::vector<muster::member_info> make_members(std::size_t count) {
    std::vector<muster::member_info> members;
    for (std::size_t i = 0; i < count; ++i) {
        members.push_back({"app@10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256), 1, 1});
    }
    std::sort(members.begin(), members.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    return members;
}

std::string worker_name(std::size_t i) { return "worker-" + std::to_string(i); }

}  // namespace

TEST_CASE("hash_ring empty view places nothing", "[policy]") {
    muster::hash_ring ring;
    CHECK(ring.members_count() == 0);
    CHECK(ring.points_count() == 0);
    CHECK_FALSE(ring.owner_of("billing").has_value());

    ring.rebuild({});
    CHECK_FALSE(ring.owner_of("billing").has_value());
}

TEST_CASE("hash_ring rejects out-of-range vnodes", "[policy]") {
    CHECK(muster::hash_ring::validate({0}) == muster::errc::invalid_config);
    CHECK(muster::hash_ring::validate({muster::hash_ring_vnodes_max + 1}) == muster::errc::invalid_config);
    CHECK_FALSE(muster::hash_ring::validate({1}).has_value());
    CHECK_FALSE(muster::hash_ring::validate({muster::hash_ring_vnodes_max}).has_value());

    const auto made = muster::hash_ring::make({0});
    REQUIRE_FALSE(made.has_value());
    CHECK(made.error() == muster::errc::invalid_config);

    CHECK_THROWS_AS(muster::hash_ring{muster::hash_ring_config{0}}, std::invalid_argument);
    CHECK(muster::hash_ring::make({16}).has_value());
}

TEST_CASE("hash_ring points scale with vnodes and weight", "[policy]") {
    std::vector<muster::member_info> members{{"a", 1, 1}, {"b", 1, 3}, {"c", 1, 0}};
    const auto made = muster::hash_ring::make({16});
    REQUIRE(made.has_value());
    muster::hash_ring ring = *made;
    ring.rebuild(members);

    CHECK(ring.members_count() == 3);
    CHECK(ring.points_count() == 16 * 4);
    CHECK(ring.memory_bytes() >= ring.points_count() * 12);
    for (std::size_t i = 0; i < 1000; ++i) {
        const auto owner = ring.owner_of(worker_name(i));
        REQUIRE(owner.has_value());
        CHECK(*owner != 2);  // weight 0 owns nothing
    }
}

TEST_CASE("hash_ring with only zero weights places nothing", "[policy]") {
    std::vector<muster::member_info> members{{"a", 1, 0}, {"b", 1, 0}};
    muster::hash_ring ring;
    ring.rebuild(members);
    CHECK(ring.members_count() == 2);
    CHECK_FALSE(ring.owner_of("billing").has_value());
}

TEST_CASE("hash_ring single member owns everything", "[policy]") {
    std::vector<muster::member_info> members{{"solo", 1, 1}};
    const auto made = muster::hash_ring::make({1});
    REQUIRE(made.has_value());
    muster::hash_ring ring = *made;
    ring.rebuild(members);
    REQUIRE(ring.points_count() == 1);

    for (std::size_t i = 0; i < 100; ++i) CHECK(ring.owner_of(worker_name(i)) == std::optional<std::size_t>{0});
    CHECK(ring.owner_of_hash(0) == std::optional<std::size_t>{0});
    CHECK(ring.owner_of_hash(~std::uint64_t{0}) == std::optional<std::size_t>{0});
}

TEST_CASE("hash_ring matches linear search over points", "[policy]") {
    // Recomputes each owner from first principles: the first point at or after the key, ties
    // going to the lower member index, wrapping to the smallest point.
    const auto members = make_members(37);
    const std::uint32_t vnodes = 8;
    const auto made = muster::hash_ring::make({vnodes});
    REQUIRE(made.has_value());
    muster::hash_ring ring = *made;
    ring.rebuild(members);

    const auto expected_owner = [&](std::uint64_t key) {
        std::optional<std::pair<std::uint64_t, std::size_t>> after;
        std::optional<std::pair<std::uint64_t, std::size_t>> smallest;
        for (std::size_t m = 0; m < members.size(); ++m) {
            for (std::uint32_t v = 0; v < vnodes; ++v) {
                const std::pair point{muster::hash64(members[m].name, v), m};
                if (!smallest || point < *smallest) smallest = point;
                if (point.first >= key && (!after || point < *after)) after = point;
            }
        }
        return after ? after->second : smallest->second;
    };

    for (std::size_t i = 0; i < 2000; ++i) {
        const std::uint64_t key = muster::hash64(worker_name(i));
        CHECK(ring.owner_of_hash(key) == expected_owner(key));
    }
    CHECK(ring.owner_of_hash(0) == expected_owner(0));
    CHECK(ring.owner_of_hash(~std::uint64_t{0}) == expected_owner(~std::uint64_t{0}));
}

TEST_CASE("hash_ring is deterministic across instances", "[policy]") {
    const auto members = make_members(50);
    muster::hash_ring first;
    first.rebuild(members);

    // The second ring is rebuilt with another view first, so only the final rebuild may matter.
    muster::hash_ring second;
    second.rebuild(make_members(7));
    second.rebuild(members);

    REQUIRE(first.points_count() == second.points_count());
    for (std::size_t i = 0; i < 5000; ++i) {
        CHECK(first.owner_of(worker_name(i)) == second.owner_of(worker_name(i)));
    }
}

TEST_CASE("hash_ring ignores member insertion order", "[policy]") {
    // Two views assembled in opposite orders, then sorted by name as the registry does.
    auto members = make_members(20);
    std::vector<muster::member_info> forward(members.begin(), members.end());
    std::vector<muster::member_info> backward(members.rbegin(), members.rend());
    const auto by_name = [](const auto& a, const auto& b) { return a.name < b.name; };
    std::sort(forward.begin(), forward.end(), by_name);
    std::sort(backward.begin(), backward.end(), by_name);

    muster::hash_ring ring_forward;
    ring_forward.rebuild(forward);
    muster::hash_ring ring_backward;
    ring_backward.rebuild(backward);

    for (std::size_t i = 0; i < 2000; ++i) {
        CHECK(ring_forward.owner_of(worker_name(i)) == ring_backward.owner_of(worker_name(i)));
    }
}

TEST_CASE("hash_ring ignores incarnation", "[policy]") {
    auto members = make_members(10);
    muster::hash_ring before;
    before.rebuild(members);

    for (auto& member : members) member.incarnation += 7;
    muster::hash_ring after;
    after.rebuild(members);

    for (std::size_t i = 0; i < 2000; ++i) CHECK(before.owner_of(worker_name(i)) == after.owner_of(worker_name(i)));
}

TEST_CASE("hash_ring balances names across members", "[policy]") {
    const auto members = make_members(10);
    muster::hash_ring ring;
    ring.rebuild(members);

    const std::size_t names_count = 100'000;
    std::vector<std::size_t> owned(members.size(), 0);
    for (std::size_t i = 0; i < names_count; ++i) {
        const auto owner = ring.owner_of(worker_name(i));
        REQUIRE(owner.has_value());
        ++owned[*owner];
    }

    const double mean = static_cast<double>(names_count) / static_cast<double>(members.size());
    const double max = static_cast<double>(*std::max_element(owned.begin(), owned.end()));
    const double min = static_cast<double>(*std::min_element(owned.begin(), owned.end()));
    INFO("max " << max << ", min " << min << ", mean " << mean);
    CHECK(max / mean < 1.3);
    CHECK(min / mean > 0.7);
}

TEST_CASE("hash_ring adding member moves only its names", "[policy][property]") {
    rc::prop("names either stay or move to the new member", [] {
        const auto existing_count = *rc::gen::inRange<std::size_t>(1, 12);
        const auto vnodes = *rc::gen::inRange<std::uint32_t>(1, 64);
        const auto names = *rc::gen::container<std::vector<std::string>>(
            rc::gen::nonEmpty(rc::gen::string<std::string>()));

        // Random member names made distinct by a numbered suffix; the last one is the new member.
        const auto prefixes = *rc::gen::container<std::vector<std::string>>(
            existing_count + 1, rc::gen::string<std::string>());
        std::vector<std::string> member_names;
        for (std::size_t i = 0; i < prefixes.size(); ++i) member_names.push_back(prefixes[i] + "#" + std::to_string(i));
        std::vector<muster::member_info> before;
        for (std::size_t i = 0; i < existing_count; ++i) before.push_back({member_names[i], 1, 1});
        const std::string added = member_names.back();
        std::vector<muster::member_info> after = before;
        after.push_back({added, 1, 1});

        const auto by_name = [](const auto& a, const auto& b) { return a.name < b.name; };
        std::sort(before.begin(), before.end(), by_name);
        std::sort(after.begin(), after.end(), by_name);

        auto ring_before = *muster::hash_ring::make({vnodes});
        auto ring_after = *muster::hash_ring::make({vnodes});
        ring_before.rebuild(before);
        ring_after.rebuild(after);

        // Indices shift when a member is inserted, so owners are compared by name.
        for (const auto& name : names) {
            const std::string& old_owner = before[*ring_before.owner_of(name)].name;
            const std::string& new_owner = after[*ring_after.owner_of(name)].name;
            if (new_owner != added) RC_ASSERT(new_owner == old_owner);
        }
    });
}

TEST_CASE("hash_ring incremental rebuild matches fresh", "[policy][property]") {
    rc::prop("a ring rebuilt through many views equals one built from the last view", [] {
        const auto steps = *rc::gen::inRange(1, 12);
        muster::hash_ring evolved(muster::hash_ring_config{16});
        std::vector<muster::member_info> view;
        for (int step = 0; step < steps; ++step) {
            // Each step keeps a random subset of 30 candidate members with random weights.
            view.clear();
            for (int m = 0; m < 30; ++m) {
                if (!*rc::gen::arbitrary<bool>()) continue;
                const auto weight = *rc::gen::inRange<std::uint32_t>(0, 3);
                char name[16];
                std::snprintf(name, sizeof name, "app@n%02d", m);
                view.push_back(muster::member_info{name, 1, weight});
            }
            evolved.rebuild(view);
        }
        muster::hash_ring fresh(muster::hash_ring_config{16});
        fresh.rebuild(view);

        RC_ASSERT(evolved.points_count() == fresh.points_count());
        RC_ASSERT(evolved.members_count() == fresh.members_count());
        for (std::size_t i = 0; i < 500; ++i) {
            const auto name = worker_name(i);
            RC_ASSERT(evolved.owner_of(name) == fresh.owner_of(name));
        }
    });
}

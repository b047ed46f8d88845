// Properties of the placement models beside the ring: rendezvous, bounded_load, static_quorum
// and rollout_aware.

#include <muster/core/hash.hpp>
#include <muster/policy/placement/bounded_load.hpp>
#include <muster/policy/placement/default_placement.hpp>
#include <muster/policy/placement/hash_ring.hpp>
#include <muster/policy/placement/rendezvous.hpp>
#include <muster/policy/placement/rollout_aware.hpp>
#include <muster/policy/placement/static_quorum.hpp>

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace {

using muster::member_info;
using muster::placed_name;

static_assert(muster::ordered_placement<muster::hash_ring>);
static_assert(muster::ordered_placement<muster::rendezvous>);
static_assert(muster::name_set_placement<muster::bounded_load>);
static_assert(muster::name_set_placement<muster::rollout_aware<>>);
static_assert(muster::name_set_placement<muster::static_quorum<muster::rollout_aware<>>>);
static_assert(!muster::name_set_placement<muster::static_quorum<muster::hash_ring>>);
static_assert(muster::name_set_placement<muster::default_placement>);

std::vector<member_info> members_named(std::vector<std::string> names, std::uint64_t generation = 0) {
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    std::vector<member_info> members;
    for (auto& n : names) members.push_back({n, 1, 1, generation});
    return members;
}

std::vector<member_info> numbered_members(std::size_t count, const std::string& prefix = "app@10.0.0.") {
    std::vector<std::string> names;
    for (std::size_t i = 0; i < count; ++i) names.push_back(prefix + std::to_string(i + 1));
    return members_named(names);
}

std::vector<std::string> worker_names(std::size_t count) {
    std::vector<std::string> names;
    for (std::size_t i = 0; i < count; ++i) names.push_back("worker-" + std::to_string(i));
    return names;
}

// The list a registry would pass to `assign`: every name sorted by hash, with no current owner.
std::vector<placed_name> unowned(const std::vector<std::string>& names) {
    std::vector<placed_name> list;
    for (const auto& n : names) list.push_back({muster::hash64(n), placed_name::no_member});
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.hash < b.hash; });
    return list;
}

// Builds the same view in two instances, one of them through an unrelated earlier view.
template <class P>
void check_agreement(P a, P b, const std::vector<member_info>& view, const std::vector<member_info>& detour,
                     const std::vector<std::string>& names) {
    a.rebuild(view);
    b.rebuild(detour);
    b.rebuild(view);
    if constexpr (muster::name_set_placement<P>) {
        a.assign(unowned(names));
        b.assign(unowned(names));
    }
    for (const auto& n : names) RC_ASSERT(a.owner_of(n) == b.owner_of(n));
}

}  // namespace

TEST_CASE("every model agrees across instances built through different views", "[policy][property]") {
    rc::prop("same view and names give the same owners", [] {
        const auto names = *rc::gen::container<std::vector<std::string>>(rc::gen::nonEmpty(rc::gen::string<std::string>()));
        const auto view = members_named(*rc::gen::nonEmpty(rc::gen::container<std::vector<std::string>>(
            rc::gen::nonEmpty(rc::gen::string<std::string>()))));
        const auto detour = members_named(*rc::gen::container<std::vector<std::string>>(
            rc::gen::nonEmpty(rc::gen::string<std::string>())));
        check_agreement(muster::hash_ring(muster::hash_ring_config{16}), muster::hash_ring(muster::hash_ring_config{16}), view,
                        detour, names);
        check_agreement(muster::rendezvous{}, muster::rendezvous{}, view, detour, names);
        check_agreement(muster::bounded_load({1.25, 16}), muster::bounded_load({1.25, 16}), view, detour, names);
        check_agreement(muster::rollout_aware<>(muster::hash_ring(muster::hash_ring_config{16})),
                        muster::rollout_aware<>(muster::hash_ring(muster::hash_ring_config{16})), view, detour, names);
    });
}

TEST_CASE("rendezvous moves only what a join or a leave must move", "[policy][property]") {
    rc::prop("a join moves names to the new member only; a leave moves only the leaver's names", [] {
        const auto count = *rc::gen::inRange<std::size_t>(1, 20);
        const auto before = numbered_members(count);
        auto after = before;
        after.push_back({"app@new", 1, 1});
        std::sort(after.begin(), after.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
        muster::rendezvous small;
        muster::rendezvous large;
        small.rebuild(before);
        large.rebuild(after);
        for (const auto& name : *rc::gen::container<std::vector<std::string>>(rc::gen::string<std::string>())) {
            const auto& was = before[*small.owner_of(name)].name;
            const auto& now = after[*large.owner_of(name)].name;
            // Read forward it is a join, read backward a leave of app@new.
            if (now != "app@new") RC_ASSERT(now == was);
        }
    });
}

TEST_CASE("rendezvous first_accepted follows owner_of", "[policy][property]") {
    rc::prop("the first member offered is the owner, and every member is offered once", [] {
        const auto count = *rc::gen::inRange<std::size_t>(1, 30);
        muster::rendezvous r;
        r.rebuild(numbered_members(count));
        const auto key = *rc::gen::arbitrary<std::uint64_t>();
        std::vector<std::size_t> offered;
        const auto none = r.first_accepted(key, [&](std::size_t i) {
            offered.push_back(i);
            return false;
        });
        RC_ASSERT(!none.has_value());
        RC_ASSERT(offered.size() == count);
        RC_ASSERT(offered.front() == *r.owner_of_hash(key));
        std::sort(offered.begin(), offered.end());
        RC_ASSERT(std::adjacent_find(offered.begin(), offered.end()) == offered.end());
    });
}

TEST_CASE("rendezvous gives weighted members their share", "[policy]") {
    auto members = numbered_members(4);
    members[0].weight = 3;  // 3 of 5 units of weight
    members[1].weight = 0;  // owns nothing
    muster::rendezvous r;
    r.rebuild(members);
    std::vector<std::size_t> counts(members.size(), 0);
    const std::size_t names = 60000;
    for (std::size_t i = 0; i < names; ++i) ++counts[*r.owner_of("worker-" + std::to_string(i))];
    CHECK(counts[1] == 0);
    CHECK(std::abs(static_cast<double>(counts[0]) / names - 0.6) < 0.02);
    CHECK(std::abs(static_cast<double>(counts[2]) / names - 0.2) < 0.02);
}

TEST_CASE("rendezvous movement on a join is near the ideal", "[policy]") {
    const auto before = numbered_members(50);
    auto after = before;
    after.push_back({"app@10.0.1.1", 1, 1});
    std::sort(after.begin(), after.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    muster::rendezvous small;
    muster::rendezvous large;
    small.rebuild(before);
    large.rebuild(after);
    std::size_t moved = 0;
    const std::size_t names = 100000;
    for (std::size_t i = 0; i < names; ++i) {
        const auto n = "worker-" + std::to_string(i);
        if (before[*small.owner_of(n)].name != after[*large.owner_of(n)].name) ++moved;
    }
    const double ideal = 1.0 / 51;
    CHECK(static_cast<double>(moved) / names / ideal < 1.05);
    CHECK(static_cast<double>(moved) / names / ideal > 0.95);
}

TEST_CASE("bounded_load keeps every member within its cap", "[policy][property]") {
    rc::prop("no member is assigned more than ceil(c * n / m) names", [] {
        const auto count = *rc::gen::inRange<std::size_t>(1, 40);
        const auto name_count = *rc::gen::inRange<std::size_t>(0, 3000);
        const double c = *rc::gen::element(1.0, 1.1, 1.25, 2.0);
        muster::bounded_load b({c, 8});
        b.rebuild(numbered_members(count));
        const auto names = worker_names(name_count);
        b.assign(unowned(names));
        const auto cap = static_cast<std::uint64_t>(std::ceil(c * static_cast<double>(name_count) / static_cast<double>(count) - 1e-9));
        std::vector<std::uint64_t> loads(count, 0);
        for (const auto& n : names) ++loads[*b.owner_of(n)];
        for (std::size_t i = 0; i < count; ++i) {
            RC_ASSERT(loads[i] <= cap);
            RC_ASSERT(loads[i] == b.load(i));
        }
    });
}

TEST_CASE("bounded_load rejects invalid settings", "[policy]") {
    CHECK(muster::bounded_load::validate({0.99, 128}) == muster::errc::invalid_config);
    CHECK(muster::bounded_load::validate({16.5, 128}) == muster::errc::invalid_config);
    CHECK(muster::bounded_load::validate({std::nan(""), 128}) == muster::errc::invalid_config);
    CHECK(muster::bounded_load::validate({1.25, 0}) == muster::errc::invalid_config);
    CHECK_FALSE(muster::bounded_load::validate({1.25, 128}).has_value());
    CHECK_THROWS_AS(muster::bounded_load({0.5, 128}), std::invalid_argument);
}

TEST_CASE("static_quorum places only with a quorum", "[policy]") {
    muster::static_quorum<muster::hash_ring> q(3);
    const auto names = worker_names(200);
    for (const std::size_t count : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{4}}) {
        INFO(count << " members");
        const auto view = numbered_members(count);
        q.rebuild(view);
        muster::hash_ring plain;
        plain.rebuild(view);
        CHECK(q.has_quorum() == (count >= 3));
        for (const auto& n : names) {
            if (count < 3) CHECK_FALSE(q.owner_of(n).has_value());
            else CHECK(q.owner_of(n) == plain.owner_of(n));
        }
    }
    CHECK_THROWS_AS(muster::static_quorum<muster::hash_ring>(0), std::invalid_argument);
}

TEST_CASE("rollout_aware keeps running names and places new ones on the newest generation", "[policy]") {
    auto view = numbered_members(6);
    muster::rollout_aware<> r;
    r.rebuild(view);
    const auto names = worker_names(3000);
    r.assign(unowned(names));
    CHECK_FALSE(r.rollout_in_progress());

    // Record where each name runs, then add two members of generation 1.
    std::map<std::string, std::string> owner;
    for (const auto& n : names) owner[n] = view[*r.owner_of(n)].name;
    view.push_back({"app@10.0.1.1", 1, 1, 1});
    view.push_back({"app@10.0.1.2", 1, 1, 1});
    std::sort(view.begin(), view.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    const auto index_of = [&](const std::string& name) {
        return static_cast<std::uint32_t>(std::find_if(view.begin(), view.end(), [&](const auto& m) { return m.name == name; }) -
                                          view.begin());
    };
    std::vector<placed_name> list;
    for (const auto& n : names) list.push_back({muster::hash64(n), index_of(owner[n])});
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.hash < b.hash; });
    r.rebuild(view);
    r.assign(list);
    CHECK(r.rollout_in_progress());
    for (const auto& n : names) CHECK(view[*r.owner_of(n)].name == owner[n]);

    // A name without an owner goes to generation 1.
    for (std::size_t i = 0; i < 100; ++i) CHECK(view[*r.owner_of("new-" + std::to_string(i))].generation == 1);

    // An old member leaves: its names go to generation 1, the others stay.
    const std::string gone = view[0].name;
    view.erase(view.begin());
    std::vector<placed_name> after;
    for (const auto& n : names) {
        const auto i = owner[n] == gone ? placed_name::no_member : index_of(owner[n]);
        after.push_back({muster::hash64(n), i});
    }
    std::sort(after.begin(), after.end(), [](const auto& a, const auto& b) { return a.hash < b.hash; });
    r.rebuild(view);
    r.assign(after);
    for (const auto& n : names) {
        const auto& now = view[*r.owner_of(n)];
        if (owner[n] == gone) CHECK(now.generation == 1);
        else CHECK(now.name == owner[n]);
    }
}

TEST_CASE("rollout_aware bounds loads after a join", "[policy][property]") {
    rc::prop("no member holds more than its keep cap after reassignment", [] {
        const auto count = *rc::gen::inRange<std::size_t>(2, 20);
        const auto name_count = *rc::gen::inRange<std::size_t>(1, 4000);
        auto view = numbered_members(count);
        muster::rollout_aware<> r;
        r.rebuild(view);
        const auto names = worker_names(name_count);
        r.assign(unowned(names));
        // Keep the owners, then add a member: the assignment with those owners stays bounded.
        std::vector<std::string> owner;
        for (const auto& n : names) owner.push_back(view[*r.owner_of(n)].name);
        view.push_back({"app@zz-new", 1, 1, 0});
        r.rebuild(view);
        std::vector<std::uint64_t> loads(view.size(), 0);
        for (const auto& n : names) ++loads[*r.owner_of(n)];
        const double mean = static_cast<double>(name_count) / static_cast<double>(view.size());
        for (std::size_t i = 0; i < view.size(); ++i)
            RC_ASSERT(static_cast<double>(loads[i]) <= std::ceil(1.5 * mean) + 3 * std::sqrt(mean) + 1);
    });
}

TEST_CASE("default placement holds loads within 1.10 of the mean", "[policy]") {
    for (const std::size_t count : {std::size_t{10}, std::size_t{100}}) {
        INFO(count << " members");
        muster::default_placement p;
        const auto view = numbered_members(count);
        p.rebuild(view);
        const auto names = worker_names(20000);
        p.assign(unowned(names));
        std::vector<std::size_t> loads(count, 0);
        for (const auto& n : names) ++loads[*p.owner_of(n)];
        const double mean = 20000.0 / static_cast<double>(count);
        CHECK(static_cast<double>(*std::max_element(loads.begin(), loads.end())) <= std::ceil(1.10 * mean));
    }
}

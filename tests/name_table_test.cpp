#include <muster/core/detail/name_table.hpp>

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

using muster::detail::name_table;
using muster::detail::npos32;

namespace {

const muster::worker_spec counter_spec{"counter", muster::restart_policy::permanent};
const muster::worker_spec cache_spec{"cache", muster::restart_policy::transient};

const muster::node_id node_a{"app@a", 1};
const muster::node_id node_b{"app@b", 1};
const muster::node_id node_c{"app@c", 1};

struct model_entry {
    muster::node_id owner;
    std::uint64_t version = 0;
    bool removed = false;
};

// Compares every observable of the table with a map of the same entries.
void check_matches(const name_table& table, const std::map<std::string, model_entry>& model,
                   const std::set<std::string>& erased, bool fingerprints) {
    RC_ASSERT(table.size() == model.size());
    for (const auto& [name, expected] : model) {
        const auto index = table.find(name);
        RC_ASSERT(index != npos32);
        RC_ASSERT(table.name(index) == name);
        RC_ASSERT(table.owner(index) == expected.owner);
        RC_ASSERT(table.at(index).version == expected.version);
        RC_ASSERT(table.at(index).removed == expected.removed);
    }
    for (const auto& name : erased)
        if (!model.contains(name)) RC_ASSERT(table.find(name) == npos32);

    // Each owner's list contains exactly the entries it owns.
    std::map<muster::node_id, std::multiset<std::string>> by_owner;
    for (const auto& [name, expected] : model) by_owner[expected.owner].insert(name);
    std::vector<muster::node_id> owners;
    for (const auto& [owner, names] : by_owner) owners.push_back(owner);
    RC_ASSERT(table.owners() == owners);
    for (const auto& [owner, names] : by_owner) {
        std::multiset<std::string> listed;
        table.for_each_owned_by(owner, [&](std::uint32_t i) { listed.insert(std::string(table.name(i))); });
        RC_ASSERT(listed == names);
    }

    // Each bucket's walk visits exactly the entries of that bucket, once each, and their entry
    // digests combine into the bucket's digest.
    std::vector<int> visits(table.size(), 0);
    for (std::uint32_t b = 0; b < table.digests().size(); ++b) {
        std::uint64_t combined = 0;
        table.for_each_in_bucket(b, [&](std::uint32_t i) {
            RC_ASSERT(table.bucket_of(table.at(i).hash) == b);
            ++visits[i];
            combined ^= table.entry_digest(i);
        });
        RC_ASSERT(combined == table.digests()[b]);
    }
    RC_ASSERT(std::all_of(visits.begin(), visits.end(), [](int v) { return v == 1; }));

    // Once kept, the fingerprints of the live names equal ones computed afresh, and every entry
    // gives its name's full hash.
    std::uint64_t fingerprint = 0;
    std::uint64_t names_fingerprint = 0;
    std::size_t live = 0;
    for (const auto& [name, expected] : model) {
        if (expected.removed) continue;
        ++live;
        names_fingerprint += muster::mix64(muster::hash64(name));
        fingerprint += muster::mix64(muster::hash_combine(muster::hash64(name),
                                                          muster::hash64(expected.owner.name, expected.owner.incarnation)));
    }
    RC_ASSERT(table.live() == live);
    if (fingerprints) {
        RC_ASSERT(table.live_fingerprint() == fingerprint);
        RC_ASSERT(table.live_names_fingerprint() == names_fingerprint);
    }
    for (std::uint32_t i = 0; i < table.size(); ++i) RC_ASSERT(table.full_hash(i) == muster::hash64(table.name(i)));
}

std::string numbered(const std::string& prefix, int i) { return prefix + std::to_string(i); }

}  // namespace

TEST_CASE("name_table finds many inserted names", "[core]") {
    name_table table(256);
    for (int i = 0; i < 5000; ++i) table.upsert(numbered("worker-", i), i % 2 == 0 ? node_a : node_b, i, counter_spec, false);

    REQUIRE(table.size() == 5000);
    for (int i = 0; i < 5000; ++i) {
        const auto index = table.find(numbered("worker-", i));
        REQUIRE(index != npos32);
        CHECK(table.name(index) == numbered("worker-", i));
        CHECK(table.at(index).version == static_cast<std::uint64_t>(i));
        CHECK(table.owner(index) == (i % 2 == 0 ? node_a : node_b));
    }
    CHECK(table.find("worker-5000") == npos32);
    CHECK(table.find("") == npos32);
}

TEST_CASE("name_table walks each bucket of a large table", "[core]") {
    name_table table(1024);
    for (int i = 0; i < 20000; ++i) table.upsert(numbered("worker-", i), node_a, 1, counter_spec, false);
    std::size_t visited = 0;
    for (std::uint32_t b = 0; b < 1024; ++b) {
        std::uint64_t combined = 0;
        table.for_each_in_bucket(b, [&](std::uint32_t i) {
            CHECK(table.bucket_of(table.at(i).hash) == b);
            combined ^= table.entry_digest(i);
            ++visited;
        });
        CHECK(combined == table.digests()[b]);
    }
    CHECK(visited == 20000);
}

TEST_CASE("name_table empty table finds nothing", "[core]") {
    const name_table table(1);
    CHECK(table.size() == 0);
    CHECK(table.find("anything") == npos32);
    CHECK(table.owners().empty());
    REQUIRE(table.digests().size() == 1);
    CHECK(table.digests()[0] == 0);
}

TEST_CASE("name_table upsert replaces existing entry", "[core]") {
    name_table table(16);
    const auto first = table.upsert("billing", node_a, 1, counter_spec, false);
    const auto second = table.upsert("billing", node_b, 2, cache_spec, true);

    CHECK(first == second);
    CHECK(table.size() == 1);
    CHECK(table.owner(second) == node_b);
    CHECK(table.at(second).version == 2);
    CHECK(table.at(second).removed);
    CHECK(table.spec(second) == cache_spec);
    CHECK(table.owners() == std::vector<muster::node_id>{node_b});

    std::vector<std::uint32_t> owned_by_a;
    table.for_each_owned_by(node_a, [&](std::uint32_t i) { owned_by_a.push_back(i); });
    CHECK(owned_by_a.empty());
}

TEST_CASE("name_table erase keeps others findable", "[core]") {
    name_table table(64);
    for (int i = 0; i < 2000; ++i) table.upsert(numbered("n", i), node_a, 1, counter_spec, false);

    // Erase every third name, looking each up again since erasing moves the last entry.
    for (int i = 0; i < 2000; i += 3) {
        const auto index = table.find(numbered("n", i));
        REQUIRE(index != npos32);
        table.erase(index);
    }

    CHECK(table.size() == 2000 - 667);
    for (int i = 0; i < 2000; ++i) {
        INFO("name n" << i);
        const auto index = table.find(numbered("n", i));
        if (i % 3 == 0) {
            CHECK(index == npos32);
        } else {
            REQUIRE(index != npos32);
            CHECK(table.name(index) == numbered("n", i));
        }
    }
}

TEST_CASE("name_table erase compacts long names", "[core]") {
    name_table table(16);
    std::vector<std::string> names;
    for (int i = 0; i < 100; ++i) names.push_back(numbered(std::string(200, 'a' + i % 26), i));
    for (const auto& name : names) table.upsert(name, node_a, 1, counter_spec, false);

    // Erasing most long names leaves more garbage than live bytes, which compacts the arena.
    for (std::size_t i = 0; i < names.size(); i += 4) {
        for (std::size_t k = i; k < i + 3 && k < names.size(); ++k) table.erase(table.find(names[k]));
    }

    CHECK(table.size() == 25);
    for (std::size_t i = 0; i < names.size(); ++i) {
        INFO("name " << i);
        const auto index = table.find(names[i]);
        if (i % 4 == 3) {
            REQUIRE(index != npos32);
            CHECK(table.name(index) == names[i]);
        } else {
            CHECK(index == npos32);
        }
    }
    CHECK(table.memory_bytes() > 0);
}

TEST_CASE("name_table iterates owner after erases", "[core]") {
    name_table table(16);
    for (int i = 0; i < 300; ++i) {
        const auto& owner = i % 3 == 0 ? node_a : (i % 3 == 1 ? node_b : node_c);
        table.upsert(numbered("w", i), owner, 1, counter_spec, false);
    }
    for (int i = 0; i < 300; i += 2) table.erase(table.find(numbered("w", i)));

    for (const auto& [owner, remainder] : {std::pair{node_a, 0}, std::pair{node_b, 1}, std::pair{node_c, 2}}) {
        std::set<std::string> expected;
        for (int i = 1; i < 300; i += 2)
            if (i % 3 == remainder) expected.insert(numbered("w", i));
        std::set<std::string> listed;
        std::size_t visits = 0;
        table.for_each_owned_by(owner, [&](std::uint32_t i) {
            listed.insert(std::string(table.name(i)));
            ++visits;
        });
        INFO("owner " << owner.name);
        CHECK(listed == expected);
        CHECK(visits == expected.size());
    }

    // Erasing all of one owner's entries drops the owner.
    for (int i = 1; i < 300; i += 2)
        if (i % 3 == 0) table.erase(table.find(numbered("w", i)));
    CHECK(table.owners() == std::vector<muster::node_id>{node_b, node_c});
    std::size_t visits = 0;
    table.for_each_owned_by(node_a, [&](std::uint32_t) { ++visits; });
    CHECK(visits == 0);
}

TEST_CASE("name_table distinguishes owner incarnations", "[core]") {
    name_table table(16);
    const muster::node_id restarted{node_a.name, 2};
    table.upsert("old", node_a, 1, counter_spec, false);
    table.upsert("new", restarted, 1, counter_spec, false);

    CHECK(table.owners() == std::vector<muster::node_id>{node_a, restarted});
    std::vector<std::string> of_old;
    table.for_each_owned_by(node_a, [&](std::uint32_t i) { of_old.emplace_back(table.name(i)); });
    CHECK(of_old == std::vector<std::string>{"old"});
}

TEST_CASE("name_table digests ignore insertion order", "[core]") {
    std::vector<std::pair<std::string, muster::node_id>> entries;
    for (int i = 0; i < 500; ++i) entries.emplace_back(numbered("svc-", i), i % 2 == 0 ? node_a : node_b);

    name_table forward(64);
    for (const auto& [name, owner] : entries) forward.upsert(name, owner, 3, counter_spec, false);
    name_table backward(64);
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) backward.upsert(it->first, it->second, 3, counter_spec, false);
    CHECK(forward.digests() == backward.digests());

    SECTION("a different version changes one bucket") {
        const auto index = backward.upsert("svc-7", node_b, 4, counter_spec, false);
        const auto bucket = backward.bucket_of(backward.at(index).hash);
        for (std::uint32_t b = 0; b < 64; ++b) {
            INFO("bucket " << b);
            if (b == bucket) CHECK(forward.digests()[b] != backward.digests()[b]);
            else CHECK(forward.digests()[b] == backward.digests()[b]);
        }
    }
    SECTION("replacing and restoring an entry restores the digest") {
        backward.upsert("svc-7", node_b, 9, cache_spec, true);
        backward.upsert("svc-7", node_b, 3, counter_spec, false);
        CHECK(forward.digests() == backward.digests());
    }
    SECTION("erasing an entry and adding it back restores the digest") {
        backward.erase(backward.find("svc-9"));
        CHECK(forward.digests() != backward.digests());
        backward.upsert("svc-9", node_b, 3, counter_spec, false);
        CHECK(forward.digests() == backward.digests());
    }
}

TEST_CASE("name_table matches map model", "[core][property]") {
    rc::prop("random upserts and erases", [] {
        // Few names, so probe chains collide and erases shift them often. Their lengths straddle
        // `inline_name_max`, so names kept in the entries and in the arena mix.
        const auto buckets = *rc::gen::element<std::uint32_t>(1, 4, 256, 65536);
        name_table table(buckets);
        std::map<std::string, model_entry> model;
        std::set<std::string> erased;
        const std::vector<muster::node_id> owners{node_a, node_b, node_c, {node_a.name, 2}};

        const auto steps_count = *rc::gen::inRange(0, 400);
        // The fingerprints start at a random step, so both their first computation and their
        // upkeep are checked.
        const auto fingerprints_from = *rc::gen::inRange(0, 400);
        for (int step = 0; step < steps_count; ++step) {
            if (step == fingerprints_from) table.keep_fingerprints();
            const auto prefix_size = *rc::gen::element<std::size_t>(1, 14, 15, 16, 40);
            const std::string name = numbered(std::string(prefix_size, 'k'), *rc::gen::inRange(0, 60));
            if (*rc::gen::inRange(0, 100) < 60) {
                const auto& owner = owners[*rc::gen::inRange<std::size_t>(0, owners.size())];
                const auto version = *rc::gen::inRange<std::uint64_t>(0, 5);
                const bool removed = *rc::gen::inRange(0, 4) == 0;
                // A name not present goes in through `insert` half of the time, as the
                // registry does after a failed `find`; the prefetch hints change nothing.
                const auto hash = muster::detail::name_hash(name);
                table.prefetch_slot(hash);
                table.prefetch_entry(hash);
                table.prefetch_name(hash);
                const bool absent = table.find(name, hash) == npos32;
                const auto index = absent && *rc::gen::arbitrary<bool>()
                                       ? table.insert(name, muster::hash64(name), owner, version, counter_spec, removed)
                                       : table.upsert(name, owner, version, counter_spec, removed);
                RC_ASSERT(table.name(index) == name);
                model[name] = model_entry{owner, version, removed};
            } else if (const auto index = table.find(name); index != npos32) {
                RC_ASSERT(model.contains(name));
                table.erase(index);
                model.erase(name);
                erased.insert(name);
            } else {
                RC_ASSERT(!model.contains(name));
            }
            check_matches(table, model, erased, step >= fingerprints_from);
        }

        // A table built from the final model alone, in name order, has the same digests.
        name_table rebuilt(buckets);
        for (const auto& [name, entry] : model) rebuilt.upsert(name, entry.owner, entry.version, counter_spec, entry.removed);
        RC_ASSERT(rebuilt.digests() == table.digests());
    });
}

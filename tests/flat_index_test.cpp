#include <muster/core/detail/flat_index.hpp>
#include <muster/core/membership.hpp>

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <cstdint>
#include <map>
#include <string>

using muster::detail::flat_index;

TEST_CASE("flat_index matches map model", "[core][property]") {
    rc::prop("random keys with colliding hashes", [] {
        // Hashes come from a few values, some equal for different keys and one of them 0, so
        // probe runs form and backward shifts move entries across them.
        const auto hash_of = [](int key) { return static_cast<std::uint64_t>(key % 7) * 16; };
        flat_index<int> index;
        std::map<int, bool> model;
        const auto steps = *rc::gen::inRange(0, 300);
        for (int step = 0; step < steps; ++step) {
            const int key = *rc::gen::inRange(0, 40);
            const auto same = [key](int v) { return v == key; };
            if (*rc::gen::arbitrary<bool>()) {
                if (!model.contains(key)) {
                    index.insert(hash_of(key), key);
                    model[key] = true;
                }
            } else {
                index.erase(hash_of(key), same);
                model.erase(key);
            }
            RC_ASSERT(index.size() == model.size());
            for (int k = 0; k < 40; ++k) {
                const int* found = index.find(hash_of(k), [k](int v) { return v == k; });
                RC_ASSERT((found != nullptr) == model.contains(k));
                if (found) RC_ASSERT(*found == k);
            }
        }
    });
}

TEST_CASE("indexed_map lookup after copy, erase", "[core]") {
    muster::detail::indexed_map<int> peers;
    for (int i = 0; i < 50; ++i) peers.emplace("app@10.0.0." + std::to_string(i), i);
    CHECK_FALSE(peers.emplace("app@10.0.0.7", 99).second);
    peers.erase(peers.find("app@10.0.0.7"));
    CHECK(peers.find("app@10.0.0.7") == peers.end());
    CHECK(peers.size() == 49);

    // A copy searches its own index, so an erase from the original leaves the copy unchanged.
    const auto copy = peers;
    peers.erase(peers.find("app@10.0.0.8"));
    REQUIRE(copy.find("app@10.0.0.8") != copy.end());
    CHECK(copy.find("app@10.0.0.8")->second == 8);
    CHECK(peers.find("app@10.0.0.8") == peers.end());
    for (int i = 0; i < 50; ++i) {
        if (i == 7) continue;
        const auto it = copy.find("app@10.0.0." + std::to_string(i));
        REQUIRE(it != copy.end());
        CHECK(it->second == i);
    }

    // Iteration follows name order, whatever the insertion order.
    std::string previous;
    for (const auto& [name, value] : copy) {
        CHECK(previous < name);
        previous = name;
    }
    peers.clear();
    CHECK(peers.find("app@10.0.0.1") == peers.end());
    CHECK(peers.empty());
}

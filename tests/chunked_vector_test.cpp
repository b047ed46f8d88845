#include <muster/core/detail/chunked_vector.hpp>

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <cstddef>
#include <vector>

using muster::detail::chunked_vector;

TEST_CASE("chunked_vector matches vector model", "[core][property]") {
    rc::prop("random pushes and pops across chunk boundaries", [] {
        // Chunks of four, so a few dozen steps cross many boundaries both ways.
        chunked_vector<int, 2> chunks;
        std::vector<int> model;
        const auto steps = *rc::gen::inRange(0, 200);
        for (int step = 0; step < steps; ++step) {
            if (model.empty() || *rc::gen::inRange(0, 3) > 0) {
                chunks.push_back(step);
                model.push_back(step);
            } else {
                chunks.pop_back();
                model.pop_back();
            }
            RC_ASSERT(chunks.size() == model.size());
            if (!model.empty()) RC_ASSERT(chunks.back() == model.back());
        }
        for (std::size_t i = 0; i < model.size(); ++i) RC_ASSERT(chunks[i] == model[i]);
        std::vector<int> seen;
        chunks.for_each([&](int v) { seen.push_back(v); });
        RC_ASSERT(seen == model);
    });
}

TEST_CASE("chunked_vector keeps element addresses", "[core]") {
    // The first chunk grows like a vector up to eight elements. From then on no growth moves an
    // element, so every address taken after that stays valid.
    chunked_vector<int, 3> chunks;
    std::vector<const int*> addresses;
    for (int i = 0; i < 200; ++i) {
        chunks.push_back(i);
        if (i == 7)
            for (std::size_t k = 0; k < 8; ++k) addresses.push_back(&chunks[k]);
        if (i >= 8) addresses.push_back(&chunks[static_cast<std::size_t>(i)]);
    }
    for (std::size_t k = 0; k < addresses.size(); ++k) {
        REQUIRE(addresses[k] == &chunks[k]);
        REQUIRE(*addresses[k] == static_cast<int>(k));
    }
}

TEST_CASE("chunked_vector gives an emptied chunk back", "[core]") {
    chunked_vector<int, 2> chunks;
    for (int i = 0; i < 4; ++i) chunks.push_back(i);
    const auto one_chunk = chunks.capacity_bytes();
    chunks.push_back(4);
    const auto two_chunks = chunks.capacity_bytes();
    REQUIRE(two_chunks >= one_chunk + 4 * sizeof(int));
    chunks.pop_back();
    // The chunk list itself keeps its room for two.
    REQUIRE(chunks.capacity_bytes() == two_chunks - 4 * sizeof(int));
    REQUIRE(chunks.size() == 4);
    REQUIRE(chunks.back() == 3);
}

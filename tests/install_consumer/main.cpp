// Compiles against installed headers and checks that placement works end to end.
#include <muster/core/hash.hpp>
#include <muster/policy/placement/hash_ring.hpp>
#include <muster/sim/rng.hpp>

#include <array>
#include <cstdio>

int main() {
    const std::array<muster::member_info, 2> members{{{"app@10.0.0.1", 1, 1}, {"app@10.0.0.2", 1, 1}}};
    muster::hash_ring ring;
    ring.rebuild(members);

    const auto owner = ring.owner_of("billing");
    if (!owner || *owner >= members.size()) {
        std::puts("consumer: hash_ring returned no valid owner for 'billing'");
        return 1;
    }
    muster::sim::rng random{muster::hash64("consumer")};
    std::printf("consumer: 'billing' is owned by %s (draw %llu)\n", members[*owner].name.c_str(),
                static_cast<unsigned long long>(random.next_u64()));
    return 0;
}

// Compiles against installed headers and links OpenSSL through muster::auth: runs one handshake
// between two in-memory sides and checks that both accept.
#include <muster/wire/auth.hpp>

#include <cstdio>

int main() {
    const auto secret = muster::wire::shared_secret::make("consumer cluster secret").value();
    muster::wire::nonce a_nonce{};
    muster::wire::nonce b_nonce{};
    a_nonce.fill(1);
    b_nonce.fill(2);
    auto a = muster::wire::handshake::create(
                 secret, {muster::wire::handshake_role::initiator, "app@a", a_nonce, "app@b"})
                 .value();
    auto b = muster::wire::handshake::create(
                 secret, {muster::wire::handshake_role::responder, "app@b", b_nonce, std::nullopt})
                 .value();
    for (int round = 0; round < 2; ++round) {
        for (const auto& m : a.take_messages()) b.on_message(m);
        for (const auto& m : b.take_messages()) a.on_message(m);
    }
    if (a.status() != muster::wire::handshake_status::accepted ||
        b.status() != muster::wire::handshake_status::accepted) {
        std::puts("consumer_auth: the handshake between two sides with one secret did not complete");
        return 1;
    }
    std::puts("consumer_auth: handshake accepted on both sides");
    return 0;
}

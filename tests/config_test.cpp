#include <muster/core/config.hpp>

#include <muster/core/registry.hpp>
#include <muster/policy/discovery/static_list.hpp>
#include <muster/policy/handoff/resume.hpp>
#include <muster/policy/placement/hash_ring.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <string_view>

using namespace std::chrono_literals;

namespace {

muster::registry_config valid_config() {
    muster::registry_config config;
    config.self = {"app@a", 1};
    return config;
}

using machine = muster::registry<muster::static_list, muster::hash_ring, muster::resume>;

std::optional<muster::config_error> create_error(const muster::registry_config& config) {
    auto created = machine::create(config, muster::static_list{{}}, muster::hash_ring{}, muster::resume{});
    if (created) return std::nullopt;
    return created.error();
}

}  // namespace

TEST_CASE("config accepts defaults with identity", "[core]") {
    CHECK_FALSE(muster::validate(valid_config()).has_value());
    CHECK_FALSE(create_error(valid_config()).has_value());
}

TEST_CASE("config rejects invalid identity", "[core]") {
    auto config = valid_config();

    SECTION("empty node name") {
        config.self.name = "";
        CHECK(muster::validate(config) == muster::config_error::empty_node_name);
        CHECK(create_error(config) == muster::config_error::empty_node_name);
    }
    SECTION("node name of 256 bytes") {
        config.self.name = std::string(256, 'n');
        CHECK(muster::validate(config) == muster::config_error::node_name_too_long);
        CHECK(create_error(config) == muster::config_error::node_name_too_long);
    }
    SECTION("node name of 255 bytes") {
        config.self.name = std::string(255, 'n');
        CHECK_FALSE(muster::validate(config).has_value());
    }
    SECTION("zero incarnation") {
        config.self.incarnation = 0;
        CHECK(muster::validate(config) == muster::config_error::zero_incarnation);
        CHECK(create_error(config) == muster::config_error::zero_incarnation);
    }
}

TEST_CASE("config rejects nonpositive durations", "[core]") {
    using field = muster::duration muster::registry_config::*;
    const std::pair<std::string_view, field> fields[] = {
        {"heartbeat_interval", &muster::registry_config::heartbeat_interval},
        {"failure_timeout", &muster::registry_config::failure_timeout},
        {"connect_timeout", &muster::registry_config::connect_timeout},
        {"sync_interval", &muster::registry_config::sync_interval},
        {"flush_interval", &muster::registry_config::flush_interval},
        {"request_timeout", &muster::registry_config::request_timeout},
        {"handoff_retry", &muster::registry_config::handoff_retry},
        {"stop_grace", &muster::registry_config::stop_grace},
        {"leave_deadline", &muster::registry_config::leave_deadline},
        {"tombstone_ttl", &muster::registry_config::tombstone_ttl},
    };
    for (const auto& [name, member] : fields) {
        for (const muster::duration value : {muster::duration::zero(), muster::duration(-1)}) {
            INFO(name << " = " << value.count() << " ns");
            auto config = valid_config();
            config.*member = value;
            CHECK(muster::validate(config) == muster::config_error::nonpositive_duration);
            CHECK(create_error(config) == muster::config_error::nonpositive_duration);
        }
    }
}

TEST_CASE("config problem names the setting", "[core]") {
    auto config = valid_config();
    CHECK(muster::describe_problem(config).empty());

    config.sync_interval = -2s;
    CHECK(muster::describe_problem(config) == "sync_interval is -2000 ms; it must be positive");

    config = valid_config();
    config.failover_delay = -1ms;
    CHECK(muster::describe_problem(config) == "failover_delay is -1 ms; it must be zero or positive");

    config = valid_config();
    config.tombstone_ttl = std::chrono::hours(24 * 101);
    CHECK(muster::describe_problem(config) == "tombstone_ttl is 8726400000 ms; the largest accepted duration is 100 days");

    // Other problems keep the message of `to_string`.
    config = valid_config();
    config.sync_buckets = 3;
    CHECK(muster::describe_problem(config) == muster::to_string(muster::config_error::invalid_sync_buckets));
}

TEST_CASE("config allows zero rebalance delay", "[core]") {
    auto config = valid_config();
    config.rebalance_delay = muster::duration::zero();
    CHECK_FALSE(muster::validate(config).has_value());

    config.rebalance_delay = -1ms;
    CHECK(muster::validate(config) == muster::config_error::nonpositive_duration);
    CHECK(create_error(config) == muster::config_error::nonpositive_duration);
}

TEST_CASE("config allows zero failover delay", "[core]") {
    auto config = valid_config();
    config.failover_delay = muster::duration::zero();
    CHECK_FALSE(muster::validate(config).has_value());

    config.failover_delay = -1ms;
    CHECK(muster::validate(config) == muster::config_error::nonpositive_duration);
    config.failover_delay = std::chrono::hours(24 * 101);
    CHECK(muster::validate(config) == muster::config_error::duration_too_large);
}

TEST_CASE("config rejects short failure timeout", "[core]") {
    auto config = valid_config();
    config.heartbeat_interval = 1s;

    config.failure_timeout = 2s;
    CHECK_FALSE(muster::validate(config).has_value());

    config.failure_timeout = 2s - 1ns;
    CHECK(muster::validate(config) == muster::config_error::failure_timeout_too_short);
    CHECK(create_error(config) == muster::config_error::failure_timeout_too_short);
}

TEST_CASE("config rejects invalid sync buckets", "[core]") {
    for (const std::uint32_t buckets : {1u, 2u, 256u, 65536u}) {
        INFO("sync_buckets = " << buckets);
        auto config = valid_config();
        config.sync_buckets = buckets;
        CHECK_FALSE(muster::validate(config).has_value());
    }
    for (const std::uint32_t buckets : {0u, 3u, 255u, 131072u, 65535u, 0x80000000u}) {
        INFO("sync_buckets = " << buckets);
        auto config = valid_config();
        config.sync_buckets = buckets;
        CHECK(muster::validate(config) == muster::config_error::invalid_sync_buckets);
        CHECK(create_error(config) == muster::config_error::invalid_sync_buckets);
    }
}

TEST_CASE("config reports first problem found", "[core]") {
    auto config = valid_config();
    config.self.name = "";
    config.self.incarnation = 0;
    config.sync_buckets = 3;
    CHECK(muster::validate(config) == muster::config_error::empty_node_name);
}

TEST_CASE("config errors have distinct messages", "[core]") {
    std::set<std::string_view> messages;
    for (auto e = static_cast<std::uint8_t>(muster::config_error::empty_node_name);
         e <= static_cast<std::uint8_t>(muster::config_error::message_size_too_small); ++e) {
        const auto message = muster::to_string(static_cast<muster::config_error>(e));
        INFO("config_error " << int(e));
        CHECK(message != "unknown configuration error");
        CHECK_FALSE(message.empty());
        messages.insert(message);
    }
    CHECK(messages.size() == 9);
}

TEST_CASE("config bounds the message size", "[core]") {
    auto config = valid_config();
    config.message_size_max = muster::message_size_max_lower;
    config.sync_buckets = 256;
    CHECK_FALSE(muster::validate(config).has_value());
    config.message_size_max = muster::message_size_max_lower - 1;
    CHECK(muster::validate(config) == muster::config_error::message_size_too_small);
    CHECK(create_error(config) == muster::config_error::message_size_too_small);

    // Every digest must fit in one message: 65,536 buckets need 9 bytes each.
    config.sync_buckets = 65536;
    config.message_size_max = 65536 * 9 + muster::message_overhead_max - 1;
    CHECK(muster::validate(config) == muster::config_error::message_size_too_small);
    config.message_size_max = 65536 * 9 + muster::message_overhead_max;
    CHECK_FALSE(muster::validate(config).has_value());
    CHECK_FALSE(muster::validate(muster::registry_config{{"app@a", 1}}).has_value());
}

TEST_CASE("config bounds the generation wait", "[core]") {
    auto config = valid_config();
    config.leave_deadline = 25s;
    config.newer_generation_wait = 0s;
    CHECK_FALSE(muster::validate(config).has_value());
    config.newer_generation_wait = 25s - 1ns;
    CHECK_FALSE(muster::validate(config).has_value());

    config.newer_generation_wait = 25s;
    CHECK(muster::validate(config) == muster::config_error::generation_wait_too_long);
    CHECK(create_error(config) == muster::config_error::generation_wait_too_long);

    config.newer_generation_wait = -1s;
    CHECK(muster::validate(config) == muster::config_error::nonpositive_duration);
}

TEST_CASE("config rejects durations above bound", "[core]") {
    muster::registry_config config;
    config.self = {"app@a", 1};
    config.connect_timeout = muster::duration_max + muster::duration(1);
    CHECK(muster::validate(config) == muster::config_error::duration_too_large);
    config.connect_timeout = muster::duration_max;
    CHECK_FALSE(muster::validate(config).has_value());
    config.heartbeat_interval = muster::duration::max();
    CHECK(muster::validate(config) == muster::config_error::duration_too_large);
}

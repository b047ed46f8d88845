// Work of one registration burst, without sockets, threads or logging: three nodes in one
// process, each message encoded and decoded with the wire codec on its way, as between
// `muster-node` processes. The first node registers the names in `register_names` calls of
// 1,024, and each call is followed by the delivery of every message it caused. Reports the
// time per registration summed over the three nodes: the part of the runtime benchmark's CPU
// figure that the registry and the codec account for, measured without the scheduling noise
// of three processes on a shared machine.
#include <muster/node.hpp>
#include <muster/policy/discovery/static_list.hpp>
#include <muster/policy/handoff/resume.hpp>
#include <muster/policy/placement/hash_ring.hpp>
#include <muster/wire/codec.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;

struct outbox {
    std::deque<std::pair<std::size_t, std::vector<std::uint8_t>>> frames;  // (receiver, frame)
    std::vector<std::string> names;
    std::size_t index_of(const std::string& name) const {
        for (std::size_t i = 0; i < names.size(); ++i)
            if (names[i] == name) return i;
        throw std::runtime_error("peer not found: " + name);
    }
};

// Encodes every message as a TCP host would, so decoding is part of the cost.
struct frame_transport {
    outbox* box;
    void send(const std::string& peer, muster::envelope_ptr message) {
        std::vector<std::uint8_t> frame;
        frame.reserve(4096);
        if (const auto error = muster::wire::encode_to(frame, *message, peer))
            throw std::runtime_error("encoding a message for " + peer + " failed: " + std::string(muster::wire::to_string(*error)));
        box->frames.emplace_back(box->index_of(peer), std::move(frame));
    }
    void connect(const std::string&) {}
    void disconnect(const std::string&) {}
};

using node_type = muster::node<muster::static_list, frame_transport, muster::hash_ring, muster::resume>;

class cluster {
public:
    explicit cluster(std::size_t nodes_count) {
        for (std::size_t i = 0; i < nodes_count; ++i) box_.names.push_back("app@127.0.0.1:" + std::to_string(40001 + i));
        for (std::size_t i = 0; i < nodes_count; ++i) {
            muster::registry_config config;
            config.self = {box_.names[i], 1000 + i};
            auto created = node_type::create(config, muster::static_list(box_.names), frame_transport{&box_},
                                          muster::hash_ring{}, muster::resume{});
            if (!created) throw std::runtime_error("invalid configuration: " + std::string(muster::to_string(created.error())));
            nodes_.push_back(std::make_unique<node_type>(std::move(created).value()));
            timers_.emplace_back();
        }
        for (std::size_t i = 0; i < nodes_.size(); ++i) {
            nodes_[i]->start(now_);
            drain(i);
        }
        // Connections succeed at once; hellos and heartbeats run for a while, so every node
        // counts the others as members before the burst.
        for (std::size_t i = 0; i < nodes_.size(); ++i)
            for (const auto& peer : box_.names)
                if (peer != box_.names[i]) {
                    nodes_[i]->on_connected(now_, peer);
                    drain(i);
                }
        advance(6s);
    }

    // Registers `names` from the first node, delivering every message after each call, then
    // lets 50 ms pass. Returns the number of replies the first node received.
    std::size_t register_all(const std::vector<muster::registration>& names, std::size_t batch_size) {
        for (std::size_t at = 0; at < names.size(); at += batch_size) {
            const auto count = std::min(batch_size, names.size() - at);
            const auto results = nodes_[0]->register_names(now_, std::span(names).subspan(at, count));
            for (std::size_t k = 0; k < results.size(); ++k) {
                if (results[k]) continue;
                throw std::runtime_error("register_names rejected " + names[at + k].name + ": " +
                                         std::string(muster::to_string(results[k].error())));
            }
            drain(0);
            deliver();
            advance(1ms);
        }
        advance(50ms);
        return replies_;
    }

private:
    void drain(std::size_t i) {
        for (auto& effect : nodes_[i]->drain_effects()) {
            if (auto* t = std::get_if<muster::timer_effect>(&effect)) {
                if (!timers_[i] || t->at < *timers_[i]) timers_[i] = t->at;
            } else if (std::holds_alternative<muster::reply_effect>(effect)) {
                ++replies_;
            }
        }
    }

    void deliver() {
        while (!box_.frames.empty()) {
            auto [to, frame] = std::move(box_.frames.front());
            box_.frames.pop_front();
            auto message = muster::wire::decode_frame(frame);
            if (!message) throw std::runtime_error("decoding a frame failed: " + std::string(muster::wire::to_string(message.error())));
            nodes_[to]->step(now_, *message);
            drain(to);
        }
    }

    void advance(muster::duration by) {
        const auto until = now_ + by;
        for (;;) {
            deliver();
            std::optional<muster::time_point> next;
            for (const auto& t : timers_)
                if (t && (!next || *t < *next)) next = t;
            if (!next || *next > until) break;
            now_ = *next;
            for (std::size_t i = 0; i < nodes_.size(); ++i) {
                if (!timers_[i] || *timers_[i] > now_) continue;
                timers_[i].reset();
                nodes_[i]->tick(now_);
                drain(i);
            }
        }
        now_ = until;
    }

    outbox box_;
    std::vector<std::unique_ptr<node_type>> nodes_;
    std::vector<std::optional<muster::time_point>> timers_;
    muster::time_point now_{};
    std::size_t replies_ = 0;
};

void registration_burst(benchmark::State& state) {
    const auto count = static_cast<std::size_t>(state.range(0));
    std::vector<muster::registration> names;
    for (std::size_t i = 0; i < count; ++i)
        names.push_back({"counter-" + std::to_string(i), {"counter", muster::restart_policy::permanent}});
    for (auto _ : state) {
        state.PauseTiming();
        auto c = std::make_unique<cluster>(3);
        state.ResumeTiming();
        const auto replies = c->register_all(names, 1024);
        if (replies != count) state.SkipWithError("not every registration was acknowledged");
        state.PauseTiming();
        c.reset();
        state.ResumeTiming();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * count));
    state.counters["time_per_registration"] =
        benchmark::Counter(static_cast<double>(state.iterations() * count), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

BENCHMARK(registration_burst)->Arg(100000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

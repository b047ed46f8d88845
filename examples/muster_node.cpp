// muster-node: one muster node on real TCP sockets, running counter workers.
//
//   muster-node --name app@127.0.0.1:7001 --listen 127.0.0.1:7001
//               --peers app@127.0.0.1:7002,app@127.0.0.1:7003 --cookie-file cookie
//               --workers 100 --admin 127.0.0.1:9001
//
// Each worker is a counter that counts up every 100 ms. Its state is the counter, so a worker
// that moves by a graceful leave keeps counting from where it was. The program logs one line per
// record on standard error. A client that connects to the admin address gets a text dump and the
// connection closes:
//
//   self <node> <incarnation>
//   member <node> <up|leaving>        one line per member
//   name <worker> <owner node>        one line per registered name, from this node's replica
//   counter <worker> <value>          one line per worker running here
//   stats <bytes sent> <frames sent>  traffic to peers since start, handshakes included
//   end
//
// SIGTERM or SIGINT: the node leaves gracefully, hands its workers off with their counters,
// waits for `node_stopped` (at most --stop-timeout-ms), writes out its queues and exits 0.

#include <muster/policy/discovery/dns_poll.hpp>
#include <muster/policy/discovery/static_list.hpp>
#include <muster/policy/handoff/resume.hpp>
#include <muster/policy/placement/hash_ring.hpp>
#include <muster/runtime/host.hpp>

#include <boost/asio.hpp>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

struct options {
    std::string name;
    std::string listen;
    std::vector<std::string> peers;
    std::string dns;
    std::string cookie_file;
    std::string admin;
    int workers = 0;
    long batch_size = 1024;
    std::chrono::milliseconds stop_timeout = 30s;
    std::chrono::milliseconds heartbeat = 1s;
    long whereis_bench = 0;
    std::uint64_t incarnation = 0;
    muster::log_level log_level = muster::log_level::info;
};

constexpr const char* usage =
    "usage: muster-node --name BASE@HOST[:PORT] --listen HOST:PORT --cookie-file PATH\n"
    "                   (--peers NODE,NODE,... | --dns NAME) [--workers N] [--batch-size N]\n"
    "                   [--admin HOST:PORT]\n"
    "                   [--stop-timeout-ms MS] [--heartbeat-ms MS] [--whereis-bench N]\n"
    "                   [--incarnation N] [--log-level debug|info|warn|error]\n"
    "  --name             this node's name; peers connect to the HOST:PORT after '@'. With\n"
    "                     --dns it is BASE@HOST without a port, and peers use the port of --listen\n"
    "  --listen           address to accept peers on\n"
    "  --peers            static list of peer node names\n"
    "  --dns              DNS name listing every peer; each address A becomes BASE@A, with the\n"
    "                     port of --listen\n"
    "  --cookie-file      file holding the cluster's shared secret (16 to 1024 bytes; one\n"
    "                     trailing newline is ignored)\n"
    "  --workers          registers N counter workers named counter-0 ... counter-(N-1)\n"
    "  --batch-size       names per register_names call, one call per event-loop handler (1024)\n"
    "  --admin            loopback address where a connection receives a dump of every name\n"
    "  --stop-timeout-ms  after SIGTERM, exit at the latest after this many milliseconds (30000)\n"
    "  --heartbeat-ms     heartbeat interval; the failure timeout is 5 heartbeats (1000)\n"
    "  --whereis-bench    after the workers are registered, times N lookups and logs the rate\n"
    "  --incarnation      this life of the node, at least 1 and higher after every restart\n"
    "                     (default: microseconds since 1970 on the system clock)\n"
    "  --log-level        lowest level written to standard error (info)\n";

std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> out;
    std::stringstream stream(text);
    for (std::string item; std::getline(stream, item, ',');)
        if (!item.empty()) out.push_back(item);
    return out;
}

std::optional<muster::log_level> parse_level(const std::string& text) {
    for (const auto level : {muster::log_level::debug, muster::log_level::info, muster::log_level::warn, muster::log_level::error})
        if (text == muster::to_string(level)) return level;
    return std::nullopt;
}

// Reads an integer option's value. Returns nothing when it is not an integer within [low, high].
template <class T>
std::optional<T> parse_integer(const std::string& text, T low, T high) {
    T value{};
    const char* end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, value);
    if (error != std::errc{} || stop != end || value < low || value > high) return std::nullopt;
    return value;
}

// Fills `o` from the command line. Returns an error message naming the argument at fault, or
// nothing when the options are complete and valid.
std::optional<std::string> parse_options(int argc, char** argv, options& o) {
    const auto range = [](const std::string& flag, const std::string& value, auto low, auto high) {
        return flag + " expects an integer from " + std::to_string(low) + " to " + std::to_string(high) + ", got '" +
               value + "'";
    };
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "--help" || flag == "-h") return std::string("--help");
        if (flag.rfind("--", 0) != 0) return "unexpected argument '" + flag + "'; options start with --";
        static const char* const known[] = {"--name", "--listen", "--peers", "--dns", "--cookie-file", "--admin",
                                            "--workers", "--batch-size", "--stop-timeout-ms", "--heartbeat-ms",
                                            "--whereis-bench", "--incarnation", "--log-level"};
        if (std::find(std::begin(known), std::end(known), flag) == std::end(known)) return "unknown option '" + flag + "'";
        if (i + 1 >= argc) return "missing value after " + flag;
        const std::string value = argv[++i];
        if (flag == "--name") o.name = value;
        else if (flag == "--listen") o.listen = value;
        else if (flag == "--peers") o.peers = split_list(value);
        else if (flag == "--dns") o.dns = value;
        else if (flag == "--cookie-file") o.cookie_file = value;
        else if (flag == "--admin") o.admin = value;
        else if (flag == "--log-level") {
            const auto level = parse_level(value);
            if (!level) return "--log-level expects debug, info, warn or error, got '" + value + "'";
            o.log_level = *level;
        } else if (flag == "--incarnation") {
            const auto v = parse_integer<std::uint64_t>(value, 1, std::numeric_limits<std::uint64_t>::max());
            if (!v) return range(flag, value, std::uint64_t{1}, std::numeric_limits<std::uint64_t>::max());
            o.incarnation = *v;
        } else {
            // The remaining options take integers; the millisecond ones at least 1.
            const long low = flag == "--batch-size" || flag == "--stop-timeout-ms" || flag == "--heartbeat-ms" ? 1 : 0;
            long high = 1'000'000'000;
            if (flag == "--workers") high = 10'000'000;
            if (flag == "--heartbeat-ms") high = 3'600'000;
            const auto v = parse_integer<long>(value, low, high);
            if (!v) return range(flag, value, low, high);
            if (flag == "--workers") o.workers = static_cast<int>(*v);
            else if (flag == "--batch-size") o.batch_size = *v;
            else if (flag == "--stop-timeout-ms") o.stop_timeout = std::chrono::milliseconds(*v);
            else if (flag == "--heartbeat-ms") o.heartbeat = std::chrono::milliseconds(*v);
            else o.whereis_bench = *v;
        }
    }
    if (o.name.empty()) return std::string("missing --name");
    if (o.listen.empty()) return std::string("missing --listen");
    if (o.cookie_file.empty()) return std::string("missing --cookie-file");
    if (o.peers.empty() == o.dns.empty()) return std::string("pass exactly one of --peers and --dns");
    if (o.dns.empty()) {
        // Peers connect to the address in a node's name, so a name with another port than the
        // one this node listens on makes it a member that no peer can reach.
        const auto named = muster::runtime::parse_peer_address(o.name, 0);
        const auto listened = muster::runtime::parse_peer_address(o.listen, 0);
        if (named && listened && named->second != 0 && named->second != listened->second)
            return "the port in --name (" + std::to_string(named->second) + ") differs from the --listen port (" +
                   std::to_string(listened->second) + "); peers connect to the address in a node's name, so use the same port";
    } else {
        // Discovery names each peer BASE@ADDRESS, and peers reach each other on the port of
        // --listen, so this node's own name must take the same form or no peer would match it.
        const auto address = muster::runtime::parse_peer_address(o.name, 0);
        if (o.name.find('@') == std::string::npos || !address || address->second != 0)
            return "with --dns, --name must be BASE@ADDRESS without a port (peers are named BASE@A for each "
                   "address A and listen on the port of --listen), got '" + o.name + "'";
    }
    return std::nullopt;
}

std::optional<tcp::endpoint> parse_endpoint(const std::string& text) {
    const auto address = muster::runtime::parse_peer_address(text, 0);
    if (!address || address->second == 0) return std::nullopt;
    boost::system::error_code error;
    const auto ip = asio::ip::make_address(address->first, error);
    if (error) return std::nullopt;
    return tcp::endpoint(ip, address->second);
}

// The counter workers, and the program's own log records. All counters count up together on
// one 100 ms tick, so the tick increments one shared count, and each worker keeps its value's
// offset from that count (in modulo 2^64 arithmetic) instead of being touched on every tick.
class counters final : public muster::runtime::worker_handler {
public:
    counters(asio::io_context& io, std::string node, muster::runtime::line_log log)
        : node_(std::move(node)), log_(log), timer_(io),
          started_{muster::log_level::info, node_, "worker_started", {{"name", {}}, {"origin", {}}, {"counter", {}}}} {}

    void start_ticking() {
        timer_.expires_after(100ms);
        timer_.async_wait([this](const boost::system::error_code& error) {
            if (error) return;
            ++ticks_;
            start_ticking();
        });
    }

    void start_worker(const muster::start_worker_effect& e) override {
        const std::uint64_t value = e.state ? std::stoull(*e.state) : 0;
        offsets_[e.name] = value - ticks_;
        // One line per worker start, so its fields reuse one record's memory.
        if (!log_.enabled(muster::log_level::info)) return;
        started_.fields[0].second = e.name;
        started_.fields[1].second = e.state ? "handoff" : "fresh";
        started_.fields[2].second = std::to_string(value);
        log_.write(started_);
    }

    std::optional<muster::worker_state> stop_worker(const muster::stop_worker_effect& e) override {
        const auto it = offsets_.find(e.name);
        if (it == offsets_.end()) return std::nullopt;
        const std::uint64_t value = it->second + ticks_;
        offsets_.erase(it);
        write("worker_stopped", {{"name", e.name}, {"cause", std::string(muster::to_string(e.cause))}, {"counter", std::to_string(value)}});
        return std::to_string(value);
    }

    void merge_state(const muster::merge_state_effect& e) override {
        auto& offset = offsets_[e.name];
        const std::uint64_t value = std::max<std::uint64_t>(offset + ticks_, std::stoull(e.state));
        offset = value - ticks_;
        write("worker_merged", {{"name", e.name}, {"counter", std::to_string(value)}});
    }

    void on_reply(const muster::reply_effect& r) override {
        if (reply_hook) reply_hook(r);
    }
    void on_stopped() override { stopped = true; }

    void write(std::string_view event, std::vector<std::pair<std::string_view, std::string>> fields) {
        log_.write(muster::log_record{muster::log_level::info, node_, event, std::move(fields)});
    }

    // Writes out the log lines collected outside the host's handlers.
    void flush_log() { log_.flush(); }

    /// Calls `f(name, value)` for every worker running here, in name order.
    template <class F>
    void for_each_value(F&& f) const {
        for (const auto& [name, offset] : offsets_) f(name, offset + ticks_);
    }

    std::function<void(const muster::reply_effect&)> reply_hook;
    bool stopped = false;

private:
    std::string node_;
    muster::runtime::line_log log_;
    asio::steady_timer timer_;
    std::uint64_t ticks_ = 0;
    // Ordered rather than hashed: names registered in sequence land near each other in the tree,
    // so an insert finds its path in the caches, where a hash table's random bucket misses them.
    // In bench/runtime_bench.py (33,000 workers per node) perf measured std::unordered_map at 9%
    // of the CPU time and this map at under 3%.
    std::map<std::string, std::uint64_t> offsets_;
    muster::log_record started_;  // the worker_started record, refilled for each start
};

template <class Host>
std::string dump(const Host& host, const counters& workers) {
    std::string out;
    const auto& machine = host.node().machine();
    out += "self " + machine.self().name + " " + std::to_string(machine.self().incarnation) + "\n";
    for (const auto& [name, peer] : machine.members().peers()) {
        if (peer.state == muster::peer_state::connecting) continue;
        out += "member " + name + (peer.state == muster::peer_state::up ? " up\n" : " leaving\n");
    }
    machine.for_each_entry([&](std::string_view name, const muster::node_id& owner, std::uint64_t, bool removed) {
        if (!removed) out += "name " + std::string(name) + " " + owner.name + "\n";
    });
    workers.for_each_value([&](const std::string& name, std::uint64_t value) {
        out += "counter " + name + " " + std::to_string(value) + "\n";
    });
    const auto& stats = host.stats();
    out += "stats " + std::to_string(stats.bytes_sent) + " " + std::to_string(stats.frames_sent) + "\n";
    out += "end\n";
    return out;
}

// Registers counter-0 ... counter-(N-1) in batches through `register_names`, and retries, once a
// second, every name whose request failed: a request can time out or find no member while the
// cluster forms. With --whereis-bench it then times that many lookups.
template <class Host>
class registrar {
public:
    registrar(asio::io_context& io, Host& host, counters& workers, int count, std::size_t batch_size, long lookups)
        : host_(host), workers_(workers), timer_(io), batch_size_(batch_size), lookups_(lookups) {
        names_.reserve(static_cast<std::size_t>(count));
        for (int i = 0; i < count; ++i) names_.push_back("counter-" + std::to_string(i));
        states_.assign(names_.size(), name_state::missing);
        missing_count_ = names_.size();
        pending_.reserve(names_.size());
        workers_.reply_hook = [this](const muster::reply_effect& r) { on_reply(r); };
    }

    void schedule(std::chrono::milliseconds delay) {
        if (missing_count_ == 0) return;
        timer_.expires_after(delay);
        timer_.async_wait([this](const boost::system::error_code& error) {
            if (!error) round();
        });
    }

private:
    enum class name_state : std::uint8_t { missing, in_flight, registered };

    void on_reply(const muster::reply_effect& r) {
        const auto it = find_pending(r.id);
        if (it == pending_.end()) {
            // A name placed on this node, with no other member to copy it to, gets its reply
            // before register_names returns the id. round() matches such replies afterwards.
            early_replies_.push_back(r);
            return;
        }
        const std::size_t index = it->second;
        it->second = answered;
        if (!r.error || *r.error == muster::errc::already_registered) mark_registered(index);
        else states_[index] = name_state::missing;
        if (missing_count_ == 0) finish();
    }

    // Request ids grow with every call, so appending keeps `pending_` sorted. The insertion
    // search runs only if an id arrives out of order.
    void add_pending(muster::request_id id, std::size_t index) {
        if (pending_.empty() || pending_.back().first < id) {
            pending_.emplace_back(id, index);
            return;
        }
        const auto at = std::lower_bound(pending_.begin(), pending_.end(), std::pair{id, std::size_t{0}});
        pending_.insert(at, {id, index});
    }

    // Returns the entry of a request still waiting for its reply, or `pending_.end()`.
    std::vector<std::pair<muster::request_id, std::size_t>>::iterator find_pending(muster::request_id id) {
        const auto at = std::lower_bound(pending_.begin(), pending_.end(), std::pair{id, std::size_t{0}});
        if (at == pending_.end() || at->first != id || at->second == answered) return pending_.end();
        return at;
    }

    void mark_registered(std::size_t index) {
        if (states_[index] == name_state::registered) return;
        states_[index] = name_state::registered;
        --missing_count_;
    }

    // Registers every missing name, `batch_size_` names per event-loop handler: the handlers
    // between two batches write the earlier batches to their owners, which start those workers
    // while this node builds the next batch.
    void round() {
        if (started_at_ == std::chrono::steady_clock::time_point{}) started_at_ = std::chrono::steady_clock::now();
        cursor_ = 0;
        register_next_batch();
    }

    void register_next_batch() {
        std::vector<std::size_t> indexes;
        std::vector<muster::registration> batch;
        for (; cursor_ < names_.size() && batch.size() < batch_size_; ++cursor_) {
            if (states_[cursor_] != name_state::missing) continue;
            indexes.push_back(cursor_);
            batch.push_back({names_[cursor_], {"counter", muster::restart_policy::permanent}});
        }
        const auto results = host_.register_names(batch);
        for (std::size_t k = 0; k < results.size(); ++k) {
            if (results[k]) {
                add_pending(*results[k], indexes[k]);
                states_[indexes[k]] = name_state::in_flight;
            } else if (results[k].error() == muster::errc::already_registered) {
                mark_registered(indexes[k]);
            }
        }
        for (const auto& r : std::exchange(early_replies_, {}))
            if (find_pending(r.id) != pending_.end()) on_reply(r);
        if (missing_count_ == 0) {
            finish();
            return;
        }
        if (cursor_ < names_.size()) {
            asio::post(timer_.get_executor(), [this] { register_next_batch(); });
            return;
        }
        schedule(1s);
    }

    void finish() {
        if (finished_) return;
        finished_ = true;
        const auto elapsed = std::chrono::steady_clock::now() - started_at_;
        workers_.write("workers_registered", {{"elapsed_us", std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count())}});
        workers_.flush_log();
        if (lookups_ > 0) measure_lookups();
    }

    void measure_lookups() {
        std::vector<std::string> names;
        host_.node().machine().for_each_entry([&](std::string_view name, const muster::node_id&, std::uint64_t, bool) {
            names.emplace_back(name);
        });
        if (names.empty()) return;
        std::size_t found = 0;
        const auto begin = std::chrono::steady_clock::now();
        for (long i = 0; i < lookups_; ++i) found += host_.whereis(names[static_cast<std::size_t>(i) % names.size()]).has_value();
        const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
        workers_.write("whereis_measured", {{"lookups", std::to_string(lookups_)}, {"found", std::to_string(found)},
                                            {"per_second", std::to_string(static_cast<long long>(lookups_ / elapsed))}});
        workers_.flush_log();
    }

    Host& host_;
    counters& workers_;
    asio::steady_timer timer_;
    std::size_t batch_size_;
    long lookups_;
    std::vector<std::string> names_;
    std::size_t cursor_ = 0;          // the next name a round looks at
    std::vector<name_state> states_;  // by index in `names_`
    std::size_t missing_count_ = 0;   // names not registered yet
    // Index in `names_` by request id, sorted by id. `answered` marks a request already replied to.
    std::vector<std::pair<muster::request_id, std::size_t>> pending_;
    static constexpr std::size_t answered = ~std::size_t{0};
    std::vector<muster::reply_effect> early_replies_;
    std::chrono::steady_clock::time_point started_at_{};
    bool finished_ = false;
};

template <class Discovery>
int run(const options& o, Discovery discovery, muster::wire::shared_secret secret, tcp::endpoint listen) {
    using host_type = muster::runtime::host<Discovery, muster::hash_ring, muster::resume>;
    asio::io_context io;
    const auto strand = asio::make_strand(io);
    // Lines collect in memory and go out once per event-loop handler, in one write.
    const muster::runtime::line_log log(stderr, o.log_level, muster::runtime::log_buffering::per_flush);

    muster::runtime::host_config config;
    // NOTE: The default incarnation comes from the system clock, so a restart after the clock was
    // set back may reuse a lower one, which peers ignore as stale. Pass --incarnation then.
    const auto clock_incarnation = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now().time_since_epoch()).count();
    config.registry.self = {o.name, o.incarnation > 0 ? o.incarnation : static_cast<std::uint64_t>(clock_incarnation)};
    config.registry.heartbeat_interval = o.heartbeat;
    config.registry.failure_timeout = 5 * o.heartbeat;
    config.registry.seed = config.registry.self.incarnation;
    config.listen = listen;
    config.network.default_port = listen.port();

    counters workers(io, o.name, log);
    auto created = host_type::create(strand, config, std::move(secret), std::move(discovery), muster::hash_ring{},
                                  muster::resume{}, workers, log);
    if (!created) {
        std::fprintf(stderr, "muster-node: invalid configuration: %s\n", created.error().c_str());
        return 2;
    }
    auto& host = **created;

    std::optional<tcp::acceptor> admin;
    if (!o.admin.empty()) {
        const auto endpoint = parse_endpoint(o.admin);
        if (!endpoint || !endpoint->address().is_loopback()) {
            std::fprintf(stderr, "muster-node: --admin %s is not a loopback HOST:PORT\n", o.admin.c_str());
            return 2;
        }
        boost::system::error_code error;
        admin.emplace(strand);
        admin->open(endpoint->protocol(), error);
        if (!error) admin->set_option(tcp::acceptor::reuse_address(true), error);
        if (!error) admin->bind(*endpoint, error);
        if (!error) admin->listen(asio::socket_base::max_listen_connections, error);
        if (error) {
            std::fprintf(stderr, "muster-node: failed to listen on --admin %s: %s; pick a free port\n", o.admin.c_str(),
                         error.message().c_str());
            return 2;
        }
    }
    if (const auto error = host.start()) {
        std::fprintf(stderr, "muster-node: failed to listen on %s: %s; pick a free port or another address\n", o.listen.c_str(), error.message().c_str());
        return 2;
    }
    workers.write("node_started", {{"listen", o.listen}, {"incarnation", std::to_string(config.registry.self.incarnation)}});
    workers.flush_log();
    workers.start_ticking();

    // An accept can fail for a while (no file descriptor left, say), so a failure retries later
    // instead of leaving the admin port unanswered for good.
    asio::steady_timer admin_retry(strand);
    std::function<void()> accept_admin = [&] {
        admin->async_accept([&](const boost::system::error_code& error, tcp::socket socket) {
            if (error == asio::error::operation_aborted) return;
            if (error) {
                workers.write("admin_accept_failed", {{"reason", error.message()}});
                workers.flush_log();
                admin_retry.expires_after(100ms);
                admin_retry.async_wait([&](const boost::system::error_code& wait_error) {
                    if (!wait_error) accept_admin();
                });
                return;
            }
            auto text = std::make_shared<std::string>(dump(host, workers));
            auto peer = std::make_shared<tcp::socket>(std::move(socket));
            asio::async_write(*peer, asio::buffer(*text), [text, peer](const boost::system::error_code&, std::size_t) {
                boost::system::error_code ignored;
                peer->shutdown(tcp::socket::shutdown_both, ignored);
            });
            accept_admin();
        });
    };
    if (admin) accept_admin();

    registrar<host_type> registrations(io, host, workers, o.workers, static_cast<std::size_t>(o.batch_size),
                                       o.whereis_bench);
    registrations.schedule(1s);

    // After SIGTERM: wait for node_stopped, then for the queues to empty (goodbyes included).
    asio::steady_timer stop_poll(strand);
    std::chrono::steady_clock::time_point stop_deadline{};
    std::function<void()> poll_stop = [&] {
        const bool done = workers.stopped && host.flushed();
        if (done || std::chrono::steady_clock::now() >= stop_deadline) {
            if (!done) workers.write("stop_timed_out", {{"node_stopped", workers.stopped ? "yes" : "no"}});
            workers.write("exiting", {});
            host.close();
            io.stop();
            return;
        }
        stop_poll.expires_after(20ms);
        stop_poll.async_wait([&](const boost::system::error_code& error) {
            if (!error) poll_stop();
        });
    };
    asio::signal_set signals(strand, SIGTERM, SIGINT);
    signals.async_wait([&](const boost::system::error_code& error, int signal) {
        if (error) return;
        workers.write("leave_requested", {{"signal", std::to_string(signal)}});
        stop_deadline = std::chrono::steady_clock::now() + o.stop_timeout;
        host.leave();
        poll_stop();
    });

    io.run();
    return 0;
}

// Keeps freed memory in the process for reuse. With glibc's default thresholds, free memory at
// the top of the heap and large blocks went back to the kernel, and the next burst of messages
// faulted the pages in again one by one. In bench/runtime_bench.py these settings cut the page
// faults per registration by about a third. A node may keep up to 64 MiB of freed memory.
void keep_freed_memory() {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
#endif
}

}  // namespace

int main(int argc, char** argv) {
    keep_freed_memory();
    options o;
    if (const auto error = parse_options(argc, argv, o)) {
        if (*error == "--help") {
            std::fputs(usage, stdout);
            return 0;
        }
        std::fprintf(stderr, "muster-node: %s\n%s", error->c_str(), usage);
        return 2;
    }
    const auto listen = parse_endpoint(o.listen);
    if (!listen) {
        std::fprintf(stderr, "muster-node: --listen %s is not an IP address and port\n", o.listen.c_str());
        return 2;
    }
    // A cookie has at most 1024 bytes and one newline, so reading stops after 1026: a device such
    // as /dev/zero then gets the "too long" error instead of filling memory.
    std::ifstream file(o.cookie_file, std::ios::binary);
    std::string cookie(1026, '\0');
    if (file) file.read(cookie.data(), static_cast<std::streamsize>(cookie.size()));
    if (!file && !file.eof()) {
        std::fprintf(stderr, "muster-node: failed to read the cookie file %s; check that it is a readable file\n",
                     o.cookie_file.c_str());
        return 2;
    }
    cookie.resize(static_cast<std::size_t>(file.gcount()));
    if (!cookie.empty() && cookie.back() == '\n') cookie.pop_back();
    auto secret = muster::wire::shared_secret::make(cookie);
    if (!secret) {
        std::fprintf(stderr, "muster-node: invalid cookie in %s: %s\n", o.cookie_file.c_str(),
                     std::string(muster::wire::to_string(secret.error())).c_str());
        return 2;
    }

    if (!o.dns.empty()) {
        const auto base = o.name.substr(0, o.name.find('@'));
        return run(o, muster::dns_poll(o.dns, base), std::move(secret).value(), *listen);
    }
    return run(o, muster::static_list(o.peers), std::move(secret).value(), *listen);
}

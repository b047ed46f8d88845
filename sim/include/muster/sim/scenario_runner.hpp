#pragma once
/// Runs a parsed scenario file on a simulated cluster: boots the declared nodes (or the
/// Deployment), performs each timed step after every event up to its time, checks each
/// expectation, runs the final quiescence check and prints a report. The standing invariants of
/// `checker` are checked at every event, as in every simulated run.

#include <muster/sim/scenario_file.hpp>

#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace muster::sim {

/// Options of one scenario run, from the command line.
struct scenario_run_options {
    std::uint64_t seed = 1;
    bool deep_checks = false;
    std::string watch;  ///< a name whose timeline is printed to standard error
    /// Builds the discovery of each node of a `discovery dns` file from the DNS host, the node
    /// basename and the poll interval. Empty means `dns_poll`; tests plug in other models.
    std::function<sim_discovery(const std::string& host, const std::string& basename, duration interval)> dns_discovery;
};

/// Outcome of a scenario run.
struct scenario_result {
    std::size_t expectations_passed = 0;
    std::vector<std::string> failures;    ///< one line per failed expectation or check
    std::optional<std::string> invalid;   ///< a step that could not run (for example an unknown pod)
    std::optional<violation> broken;      ///< a standing invariant broken during the run
    std::uint64_t trace_hash = 0;
    duration reply_wait_max{};            ///< longest time from a register or unregister call to its reply
    /// Calls without a reply when the run ended (at the end time, or at a broken invariant),
    /// not counting calls to nodes that crashed or stopped since.
    std::size_t requests_unanswered = 0;

    /// Returns the exit status of `muster-sim run`: 0 when everything held, 1 when an expectation
    /// or invariant failed, 2 when a step named a node that does not exist.
    int exit_status() const {
        if (invalid) return 2;
        return failures.empty() && !broken ? 0 : 1;
    }
};

/// Executes one scenario. Construct, then call `run` once.
class scenario_runner {
public:
    using cluster_type = sim_cluster;

    scenario_runner(const scenario& s, const scenario_run_options& o, std::FILE* out)
        : s_(s), out_(out), dns_discovery_(o.dns_discovery),
          cluster_(make_config(s, o), placement_choice(s.placement), s.handoff) {}

    /// The simulated cluster, for checks of a test after `run`.
    const cluster_type& cluster() const { return cluster_; }

    /// Runs every step and check, and prints one line per step and expectation to `out`.
    scenario_result run() {
        cluster_.observe_effects([this](std::uint32_t slot, const effect& e) { observe(slot, e); });
        boot();
        for (const auto& step : s_.steps) {
            if (!step.at) continue;
            // Steps at 0s run before the nodes boot, so a node can boot into a partition or a
            // failing DNS. Later steps run after every event up to their time.
            const bool before_boot = *step.at == duration::zero();
            if (!before_boot) cluster_.run_until(time_point{} + *step.at);
            if (cluster_.failure() || result_.invalid || halted_) break;
            perform_step(step);
            // Same-time consequences, such as a node booted by this step, happen before the next step.
            if (!before_boot) cluster_.run_until(cluster_.now());
        }
        finish_run();
        cluster_.report_unseen_watch();
        result_.trace_hash = cluster_.trace_hash();
        return std::move(result_);
    }

private:
    struct request_record {
        std::string name;
        bool registration = true;
        bool print = false;  ///< print an ok reply too (single registrations, not register-many)
        time_point sent{};
        std::uint64_t incarnation = 0;  ///< of the node called, whose crash voids the call
    };

    struct observed_event {
        time_point at;
        observed_kind kind;
        std::string subject;   ///< the member for member events, else the node that acted
        std::uint32_t observer = 0;
    };

    static constexpr std::size_t observed_max = 1'000'000;

    static cluster_config make_config(const scenario& s, const scenario_run_options& o) {
        cluster_config cc;
        cc.seed = o.seed;
        cc.link = s.link;
        cc.node_defaults = s.timing;
        cc.deep_checks = o.deep_checks;
        cc.watch = o.watch;
        cc.check_placement = s.handoff.moves_on_topology_change();
        return cc;
    }

    void boot() {
        if (s_.replicas) {
            kubernetes_ = std::make_unique<deployment<cluster_type>>(cluster_, s_.deployment);
            kubernetes_->deploy();
            return;
        }
        if (s_.dns) {
            for (const auto& n : s_.declared()) listed_.push_back(address_of(n));
            cluster_.set_dns([this](const std::string& host, time_point, rng& r) { return answer(host, r); });
        }
        for (const auto& name : s_.nodes) {
            // The draw happens only with a spread, so a file without one boots every node at 0.
            const auto at = s_.boot_spread > duration::zero()
                                ? time_point{} + cluster_.random("boot").duration_between(duration::zero(), s_.boot_spread)
                                : time_point{};
            cluster_.add_node(name, discovery_factory(), at);
        }
    }

    std::function<sim_discovery()> discovery_factory() const {
        if (s_.dns) {
            const auto interval = s_.poll_interval.value_or(std::chrono::seconds(10));
            if (dns_discovery_)
                return [make = dns_discovery_, host = dns_host(), base = s_.dns_basename, interval] {
                    return make(host, base, interval);
                };
            return [host = dns_host(), base = s_.dns_basename, interval] { return sim_discovery(dns_poll(host, base, interval)); };
        }
        const auto interval = s_.poll_interval.value_or(std::chrono::seconds(5));
        return [peers = s_.declared(), interval] { return sim_discovery(static_list(peers, interval)); };
    }

    std::string dns_host() const { return s_.dns_basename + ".scenario.local"; }

    static std::string address_of(const std::string& node) { return node.substr(node.find('@') + 1); }

    // The DNS answer for `discovery dns` nodes: the listed addresses, all or a random subset, or
    // an error while DNS fails. An empty answer is an error (NXDOMAIN), as for a headless
    // service without ready endpoints.
    resolve_result answer(const std::string& host, rng& r) {
        resolve_result result{host, {}, std::nullopt};
        if (host != dns_host()) {
            result.error = "NXDOMAIN";
            return result;
        }
        if (dns_failing_) {
            result.error = "SERVFAIL";
            return result;
        }
        result.addresses = listed_;
        if (dns_partial_ && *dns_partial_ < result.addresses.size()) {
            auto& a = result.addresses;
            for (std::size_t i = 0; i < *dns_partial_; ++i) std::swap(a[i], a[r.uniform<std::size_t>(i, a.size() - 1)]);
            a.resize(*dns_partial_);
        }
        if (result.addresses.empty()) result.error = "NXDOMAIN";
        return result;
    }

    // ---- observation ------------------------------------------------------------------------

    void record(observed_kind kind, std::string subject, std::uint32_t observer) {
        if (observed_.size() == observed_max) {
            observed_overflow_ = true;
            return;
        }
        observed_.push_back({cluster_.now(), kind, std::move(subject), observer});
    }

    void observe(std::uint32_t slot, const effect& e) {
        const std::string& self = cluster_.nodes()[slot].name;
        if (const auto* j = std::get_if<member_joined>(&e)) record(observed_kind::member_joined, j->member.name, slot);
        else if (const auto* l = std::get_if<member_leaving>(&e)) record(observed_kind::member_leaving, l->member.name, slot);
        else if (const auto* g = std::get_if<member_left>(&e)) record(observed_kind::member_left, g->member.name, slot);
        else if (const auto* f = std::get_if<member_failed>(&e)) record(observed_kind::member_failed, f->member.name, slot);
        else if (std::holds_alternative<start_worker_effect>(e)) record(observed_kind::worker_started, self, slot);
        else if (std::holds_alternative<stop_worker_effect>(e)) record(observed_kind::worker_stopped, self, slot);
        else if (const auto* reply = std::get_if<reply_effect>(&e)) observe_reply(slot, *reply);
    }

    void observe_reply(std::uint32_t slot, const reply_effect& reply) {
        const auto it = requests_.find({slot, reply.id});
        if (it == requests_.end()) {
            // A node without members replies within the call itself, before the caller has the id.
            if (in_request_) early_replies_.push_back({slot, reply});
            return;
        }
        const auto request = std::move(it->second);
        requests_.erase(it);
        result_.reply_wait_max = std::max(result_.reply_wait_max, cluster_.now() - request.sent);
        const std::string& self = cluster_.nodes()[slot].name;
        if (!request.registration) {
            record(reply.error ? observed_kind::unregister_failed : observed_kind::unregister_ok, self, slot);
        } else {
            record(reply.error ? observed_kind::register_failed : observed_kind::register_ok, self, slot);
            // The read guarantee: once the reply is ok, this node's whereis returns the instance.
            if (!reply.error && !read_after_ack_failure_) {
                const auto where = cluster_.nodes()[slot].machine->whereis(request.name);
                if (!where || !runs_instance(*where, request.name))
                    read_after_ack_failure_ = "at t=" + now_text() + " the registration of " + request.name + " on " + self +
                                              " was acknowledged, but whereis on " + self + " returned " +
                                              (where ? where->name + " which runs no instance" : std::string("nothing"));
            }
        }
        // Failed replies are always printed, also for names of register-many.
        if (request.print || reply.error)
            line("t=" + now_text() + " " + (request.registration ? "register " : "unregister ") + request.name + " on " + self +
                 ": " + (reply.error ? std::string(to_string(*reply.error)) : "ok") +
                 (reply.owner && request.registration ? ", runs on " + reply.owner->name : std::string()));
    }

    bool runs_instance(const node_id& where, const std::string& name) const {
        const auto slot = cluster_.slot_of(where.name);
        if (!slot) return false;
        const auto& n = cluster_.nodes()[*slot];
        return n.machine && n.incarnation == where.incarnation && n.workers.contains(name);
    }

    // ---- steps ------------------------------------------------------------------------------

    std::string now_text() const { return format_duration(cluster_.now().time_since_epoch()); }

    void line(const std::string& text) { std::fprintf(out_, "%s\n", text.c_str()); }

    // Returns the slot of a node that has booted at least once.
    std::optional<std::uint32_t> find_slot(const scenario_step& step, const std::string& node) {
        const auto slot = cluster_.slot_of(node);
        if (!slot && s_.replicas) {
            result_.invalid = "line " + std::to_string(step.line) + ": no pod named " + node + " exists at t=" + now_text() +
                              " (pods are named app@10.0.0.1, app@10.0.0.2, ... in creation order)";
        }
        return slot;
    }

    // The node that serves a register or unregister step without 'on NODE': the first running one.
    std::optional<std::uint32_t> first_running() const {
        for (std::uint32_t s = 0; s < cluster_.nodes().size(); ++s)
            if (cluster_.nodes()[s].machine && cluster_.nodes()[s].status == node_status::running) return s;
        return std::nullopt;
    }

    void perform_step(const scenario_step& step) {
        if (const auto* e = std::get_if<expectation>(&step.what)) {
            check(step, *e);
            return;
        }
        line("t=" + now_text() + " line " + std::to_string(step.line) + ": " + step.text.substr(step.text.find(' ', 3) + 1));
        std::visit([&](const auto& a) { perform(step, a); }, step.what);
    }

    void perform(const scenario_step&, const expectation&) {}

    void perform(const scenario_step& step, const start_action& a) {
        const auto slot = cluster_.slot_of(a.node);
        if (slot && cluster_.nodes()[*slot].machine) {
            line("  ignored: " + a.node + " is already running");
            return;
        }
        auto factory = slot ? cluster_.nodes()[*slot].make_discovery : discovery_factory();
        if (!slot && s_.replicas) {
            find_slot(step, a.node);
            return;
        }
        const auto generation = a.generation.value_or(slot ? cluster_.nodes()[*slot].generation : 0);
        cluster_.add_node(a.node, std::move(factory), cluster_.now(), generation);
    }

    void perform(const scenario_step& step, const stop_action& a) {
        if (const auto slot = find_slot(step, a.node)) cluster_.terminate(*slot, a.grace);
    }

    void perform(const scenario_step& step, const crash_action& a) {
        if (const auto slot = find_slot(step, a.node)) cluster_.crash(*slot, a.reset);
    }

    void perform(const scenario_step& step, const restart_action& a) {
        const auto slot = find_slot(step, a.node);
        if (!slot) {
            if (!s_.replicas) cluster_.add_node(a.node, discovery_factory(), cluster_.now(), a.generation.value_or(0));
            return;
        }
        // A running node is killed first (its peers see the connections drop), then booted again.
        if (cluster_.nodes()[*slot].machine) cluster_.crash(*slot, true);
        const auto generation = a.generation.value_or(cluster_.nodes()[*slot].generation);
        cluster_.add_node(a.node, cluster_.nodes()[*slot].make_discovery, cluster_.now(), generation);
    }

    void perform(const scenario_step&, const partition_action& a) {
        cluster_.net().partition(a.groups);
        cluster_.note_network_fault();
    }

    void perform(const scenario_step&, const cut_action& a) {
        for (const auto& from : a.from)
            for (const auto& to : a.to) cluster_.net().cut(from, to);
        cluster_.note_network_fault();
    }

    void perform(const scenario_step& step, const increment_action& a) {
        const auto slot = find_slot(step, a.node);
        if (!slot || !cluster_.nodes()[*slot].machine) {
            line("  " + a.node + " is not running");
            return;
        }
        const std::uint32_t observer = *slot;
        const std::string node = a.node;
        cluster_.increment(*slot, a.name, a.amount, [this, observer, node] {
            record(observed_kind::increment_acked, node, observer);
        });
    }

    void perform(const scenario_step& step, const pause_action& a) {
        if (const auto slot = find_slot(step, a.node)) cluster_.pause(*slot);
    }

    void perform(const scenario_step& step, const resume_action& a) {
        if (const auto slot = find_slot(step, a.node)) cluster_.resume(*slot);
    }

    void perform(const scenario_step& step, const drift_action& a) {
        if (const auto slot = find_slot(step, a.node)) cluster_.set_clock_rate(*slot, a.rate);
    }

    void perform(const scenario_step&, const heal_action&) {
        cluster_.net().heal();
        cluster_.note_network_fault();
    }

    void perform(const scenario_step&, const link_action& a) {
        auto link = cluster_.net().config();
        switch (a.what) {
        case link_action::setting::latency:
            link.latency_min = a.latency_min;
            link.latency_max = a.latency_max;
            break;
        case link_action::setting::loss: link.loss = a.probability; break;
        case link_action::setting::duplicate: link.duplicate = a.probability; break;
        case link_action::setting::reorder: link.reorder = a.probability; break;
        }
        cluster_.net().set_config(link);
        // Loss and latency changes can make the failure detector fire, so they count as network
        // faults for the healthy-network invariant; duplication and reordering do not.
        if (a.what == link_action::setting::loss || a.what == link_action::setting::latency) cluster_.note_network_fault();
    }

    void perform(const scenario_step&, const dns_action& a) {
        switch (a.what) {
        case dns_action::mode::fail: dns_failing_ = true; break;
        case dns_action::mode::ok:
            dns_failing_ = false;
            dns_partial_.reset();
            break;
        case dns_action::mode::partial: dns_partial_ = a.count; break;
        case dns_action::mode::list:
            listed_.clear();
            for (const auto& n : a.nodes) listed_.push_back(address_of(n));
            break;
        case dns_action::mode::add:
            for (const auto& n : a.nodes)
                if (std::find(listed_.begin(), listed_.end(), address_of(n)) == listed_.end()) listed_.push_back(address_of(n));
            break;
        case dns_action::mode::remove:
            for (const auto& n : a.nodes) std::erase(listed_, address_of(n));
            break;
        }
    }

    std::optional<std::uint32_t> serving_node(const scenario_step& step, const std::optional<std::string>& node) {
        if (node) return find_slot(step, *node);
        const auto slot = first_running();
        if (!slot) line("  ignored: no node is running");
        return slot;
    }

    void track(std::uint32_t slot, const std::string& name, result<request_id> r, bool registration, bool print) {
        if (r) {
            requests_[{slot, *r}] = request_record{name, registration, print, cluster_.now(), cluster_.nodes()[slot].incarnation};
            for (const auto& [from, reply] : std::exchange(early_replies_, {}))
                if (from == slot && reply.id == *r) observe_reply(from, reply);
            return;
        }
        record(registration ? observed_kind::register_failed : observed_kind::unregister_failed, cluster_.nodes()[slot].name, slot);
        line("  " + std::string(registration ? "register " : "unregister ") + name + " on " + cluster_.nodes()[slot].name +
             " rejected at once: " + std::string(to_string(r.error())));
    }

    void perform(const scenario_step& step, const register_action& a) {
        const auto slot = serving_node(step, a.node);
        if (!slot) return;
        in_request_ = true;
        auto id = cluster_.register_name(*slot, a.name, worker_spec{"counter", a.restart});
        in_request_ = false;
        track(*slot, a.name, id, true, true);
    }

    void perform(const scenario_step& step, const unregister_action& a) {
        const auto slot = serving_node(step, a.node);
        if (!slot) return;
        in_request_ = true;
        auto id = cluster_.unregister_name(*slot, a.name);
        in_request_ = false;
        track(*slot, a.name, id, false, true);
    }

    void perform(const scenario_step& step, const register_many_action& a);

    void perform(const scenario_step& step, const whereis_action& a) {
        const auto slot = find_slot(step, a.node);
        if (!slot || !cluster_.nodes()[*slot].machine) {
            line("  " + a.node + " is not running");
            return;
        }
        const auto where = cluster_.nodes()[*slot].machine->whereis(a.name);
        line("  returns " + (where ? where->name + " incarnation " + std::to_string(where->incarnation) +
                                         (runs_instance(*where, a.name) ? " (runs an instance)" : " (runs no instance)")
                                   : std::string("nothing")));
    }

    void perform(const scenario_step&, const rollout_action&) { kubernetes_->start_rollout(); }

    void perform(const scenario_step&, const ignore_stop_action& a) { cluster_.ignore_stop_requests(a.name); }

    void perform(const scenario_step&, const exit_action& a) {
        const auto* t = cluster_.invariants().find(a.name);
        if (!t || t->live.empty()) {
            line("  ignored: " + a.name + " runs nowhere");
            return;
        }
        const auto slot = t->live.front();
        line("  exits on " + cluster_.nodes()[slot].name);
        cluster_.exit_worker(slot, a.name, a.reason);
    }

    // ---- expectations -----------------------------------------------------------------------

    void check(const scenario_step& step, const expectation& e) {
        const auto problem = std::visit([&](const auto& x) { return evaluate(step, x); }, e);
        if (result_.invalid) return;
        std::string where = "line " + std::to_string(step.line) + ": " + step.text;
        if (!step.at) where += " (checked at t=" + now_text() + ")";
        if (!problem) {
            ++result_.expectations_passed;
            line("ok   " + where);
            return;
        }
        result_.failures.push_back(where + ": " + *problem);
        line("FAIL " + where + ": " + *problem);
    }

    std::optional<std::string> running_node(const scenario_step& step, const std::string& node, std::uint32_t& slot) {
        const auto s = find_slot(step, node);
        if (!s) return "node " + node + " has never started";
        if (!cluster_.nodes()[*s].machine) return "node " + node + " is not running";
        slot = *s;
        return std::nullopt;
    }

    static std::string compared(std::uint64_t value, compare_op op, std::uint64_t expected) {
        return "got " + std::to_string(value) + ", expected " + std::string(to_string(op)) + " " + std::to_string(expected);
    }

    std::optional<std::string> evaluate(const scenario_step& step, const expect_whereis& e) {
        std::uint32_t slot = 0;
        if (auto problem = running_node(step, e.node, slot)) return problem;
        const auto where = cluster_.nodes()[slot].machine->whereis(e.name);
        const std::string got = where ? where->name + " incarnation " + std::to_string(where->incarnation) : "nothing";
        switch (e.wanted) {
        case expect_whereis::answer::instance:
            if (!where) return "whereis returned nothing";
            if (!runs_instance(*where, e.name)) return "whereis returned " + got + ", which runs no instance of " + e.name;
            return std::nullopt;
        case expect_whereis::answer::nothing:
            if (where) return "whereis returned " + got;
            return std::nullopt;
        case expect_whereis::answer::owner:
            if (!where || where->name != e.owner) return "whereis returned " + got;
            return std::nullopt;
        }
        return std::nullopt;
    }

    // A name ending in '*' stands for every name with that prefix the checker has seen, and
    // each of them must pass.
    std::optional<std::string> evaluate(const scenario_step&, const expect_name_count& e) {
        if (!e.name.ends_with('*')) return evaluate_one(e, e.name);
        const std::string_view prefix(e.name.data(), e.name.size() - 1);
        std::vector<std::string> names;
        for (const auto& [name, track] : cluster_.invariants().tracks())
            if (name.starts_with(prefix)) names.push_back(name);
        std::sort(names.begin(), names.end());
        if (names.empty()) return "no name starts with " + std::string(prefix);
        for (const auto& name : names)
            if (auto problem = evaluate_one(e, name)) return name + ": " + *problem + " (" + std::to_string(names.size()) + " names match)";
        return std::nullopt;
    }

    std::optional<std::string> evaluate_one(const expect_name_count& e, const std::string& name) {
        const auto* t = cluster_.invariants().find(name);
        std::uint64_t value = 0;
        switch (e.what) {
        case expect_name_count::field::instances: value = t ? t->live.size() : 0; break;
        case expect_name_count::field::moves: value = t ? t->moves : 0; break;
        case expect_name_count::field::starts: value = t ? t->starts : 0; break;
        case expect_name_count::field::counter:
            if (!t || t->live.size() != 1)
                return name + " has " + std::to_string(t ? t->live.size() : 0) + " instances; a counter needs exactly one";
            value = *cluster_.counter_of(t->live.front(), name);
            break;
        }
        if (compare(value, e.op, e.value)) return std::nullopt;
        return compared(value, e.op, e.value);
    }

    std::optional<std::string> evaluate(const scenario_step& step, const expect_runs_on& e) {
        const auto slot = find_slot(step, e.node);
        const auto* t = cluster_.invariants().find(e.name);
        if (slot && t && std::find(t->live.begin(), t->live.end(), *slot) != t->live.end()) return std::nullopt;
        std::string holders;
        if (t)
            for (const auto s : t->live) holders += (holders.empty() ? "" : ", ") + cluster_.nodes()[s].name;
        return e.name + " runs on " + (holders.empty() ? std::string("no node") : holders);
    }

    std::optional<std::string> evaluate(const scenario_step&, const expect_acknowledged& e) {
        const auto* t = cluster_.invariants().find(e.name);
        if (t && t->acknowledged) return std::nullopt;
        return "no registration of " + e.name + " was acknowledged";
    }

    std::optional<std::string> evaluate(const scenario_step&, const expect_events& e) {
        if (observed_overflow_) return "more than 1,000,000 events were observed, so the count is incomplete";
        std::optional<std::uint32_t> by;
        if (e.by) {
            by = cluster_.slot_of(*e.by);
            if (!by) return "node " + *e.by + " has never started";
        }
        std::uint64_t count = 0;
        for (const auto& o : observed_)
            if (std::find(e.kinds.begin(), e.kinds.end(), o.kind) != e.kinds.end() && (!e.node || o.subject == *e.node) && (!by || o.observer == *by) &&
                o.at >= time_point{} + e.since)
                ++count;
        if (compare(count, e.op, e.value)) return std::nullopt;
        return compared(count, e.op, e.value);
    }

    std::optional<std::string> evaluate(const scenario_step& step, const expect_node_count& e) {
        std::uint32_t slot = 0;
        if (auto problem = running_node(step, e.node, slot)) return problem;
        std::uint64_t value = 0;
        if (e.what == expect_node_count::field::workers) {
            value = cluster_.nodes()[slot].workers.size();
        } else {
            for (const auto& [name, p] : cluster_.nodes()[slot].machine->machine().members().peers())
                if (p.state != peer_state::connecting) ++value;
        }
        if (compare(value, e.op, e.value)) return std::nullopt;
        return compared(value, e.op, e.value);
    }

    std::optional<std::string> evaluate(const scenario_step& step, const expect_node_status& e) {
        static constexpr std::string_view names[] = {"booting", "running", "leaving", "stopped", "crashed"};
        const auto slot = find_slot(step, e.node);
        const auto status = slot ? cluster_.nodes()[*slot].status : node_status::stopped;
        if (status == e.status) return std::nullopt;
        return "node " + e.node + " is " + std::string(names[static_cast<int>(status)]);
    }

    std::optional<std::string> evaluate(const scenario_step&, const expect_no_violations&) {
        if (!cluster_.failure()) return std::nullopt;
        return cluster_.failure()->invariant + ": " + cluster_.failure()->detail;
    }

    std::optional<std::string> evaluate(const scenario_step& step, const expect_converged&) {
        if (const auto v = cluster_.check_converged()) {
            // check_converged records the failure in the cluster, which stops the run here.
            if (step.at) halted_ = true;
            return v->invariant + ": " + v->detail;
        }
        return std::nullopt;
    }

    std::optional<std::string> evaluate(const scenario_step&, const expect_read_your_writes&) {
        return read_after_ack_failure_;
    }

    std::optional<std::string> evaluate(const scenario_step&, const expect_rollout_finished&) {
        if (kubernetes_->rollout_done()) return std::nullopt;
        return kubernetes_->rollout_started() ? "the rollout is still running" : "no rollout was started";
    }

    // ---- end of the run ---------------------------------------------------------------------

    duration end_time() const {
        if (s_.end) return *s_.end;
        duration last{};
        for (const auto& step : s_.steps)
            if (step.at) last = std::max(last, *step.at);
        return last + std::chrono::seconds(60);
    }

    void finish_run() {
        bool final_check_failed = false;
        if (!cluster_.failure() && !result_.invalid && !halted_) {
            cluster_.run_until(time_point{} + end_time());
            if (!cluster_.failure()) {
                if (const auto v = cluster_.check_converged()) {
                    final_check_failed = true;
                    result_.failures.push_back("final check at t=" + now_text() + ": " + v->invariant + ": " + v->detail);
                    line("FAIL final check at t=" + now_text() + ": " + v->invariant + ": " + v->detail);
                    report_trace();
                } else {
                    line("ok   final check at t=" + now_text() + ": one instance per name, every replica agrees");
                }
            }
        }
        // A failed final check or `expect converged` is reported already; any other failure is
        // a standing invariant broken during the run.
        if (cluster_.failure() && !halted_ && !final_check_failed) report_violation();
        for (const auto& [key, request] : requests_) {
            const auto& n = cluster_.nodes()[key.first];
            if (n.machine && n.incarnation == request.incarnation) ++result_.requests_unanswered;
        }
        if (!cluster_.failure() && !result_.invalid) {
            for (const auto& step : s_.steps)
                if (!step.at) check(step, std::get<expectation>(step.what));
        }
        summarize();
    }

    void report_violation() {
        const auto& v = *cluster_.failure();
        result_.broken = v;
        line("FAIL invariant " + v.invariant + " broken at t=" + format_duration(v.at.time_since_epoch()) + ": " + v.detail);
        report_trace();
    }

    void report_trace() {
        line("last events:");
        for (const auto& t : cluster_.recent_trace()) line("  " + t);
    }

    void summarize() {
        std::size_t not_checked = 0;
        if (cluster_.failure() || result_.invalid) {
            for (const auto& step : s_.steps)
                if (std::holds_alternative<expectation>(step.what) && (!step.at || cluster_.now() < time_point{} + *step.at))
                    ++not_checked;
        }
        if (result_.invalid) {
            line("INVALID " + *result_.invalid);
            return;
        }
        char hash[32];
        std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(cluster_.trace_hash()));
        line(std::string("trace hash: ") + hash);
        std::string summary = std::to_string(result_.expectations_passed) + " expectations held, " +
                              std::to_string(result_.failures.size()) + " failed";
        if (not_checked) summary += ", " + std::to_string(not_checked) + " not checked because the run stopped";
        if (result_.broken) summary += "; invariant " + result_.broken->invariant + " broken";
        line("result: " + summary);
    }

    const scenario& s_;
    std::FILE* out_;
    std::function<sim_discovery(const std::string&, const std::string&, duration)> dns_discovery_;
    cluster_type cluster_;
    std::unique_ptr<deployment<cluster_type>> kubernetes_;
    std::vector<std::string> listed_;
    bool dns_failing_ = false;
    std::optional<std::uint32_t> dns_partial_;
    std::map<std::pair<std::uint32_t, request_id>, request_record> requests_;
    std::vector<observed_event> observed_;
    bool observed_overflow_ = false;
    std::optional<std::string> read_after_ack_failure_;
    bool halted_ = false;
    bool in_request_ = false;
    std::vector<std::pair<std::uint32_t, reply_effect>> early_replies_;
    scenario_result result_;
};

// Registers names as `scenarios.hpp` does for its runs: the same names, times and seeded node
// picks, so a random run exported as a file registers through the same nodes.
inline void scenario_runner::perform(const scenario_step& step, const register_many_action& a) {
    std::vector<std::uint32_t> slots;
    if (a.node) {
        const auto slot = find_slot(step, *a.node);
        if (!slot) return;
        slots.push_back(*slot);
    } else if (kubernetes_) {
        slots = kubernetes_->serving_slots();
    } else {
        for (const auto& n : s_.nodes)
            if (const auto slot = cluster_.slot_of(n)) slots.push_back(*slot);
    }
    if (slots.empty()) {
        line("  ignored: no node to register through");
        return;
    }

    std::vector<std::string> names;
    const std::uint64_t attempts_max = std::uint64_t{a.count} * 64 + 1024;
    for (std::uint64_t k = 0; names.size() < a.count && k < attempts_max; ++k) {
        char name[256];
        std::snprintf(name, sizeof name, "%s%06llu", a.prefix.c_str(), static_cast<unsigned long long>(k));
        if (a.owned_by) {
            auto& machine = cluster_.nodes()[slots.front()].machine;
            if (!machine) break;
            const auto owner = machine->machine().owner_of(name);
            if (!owner || owner->name != *a.owned_by) continue;
        }
        names.emplace_back(name);
    }
    if (!names.empty() && a.owned_by) line("  registering " + names.front() + " to " + names.back() + ", a name skipped where the owner differs");
    if (names.size() < a.count)
        line("  found only " + std::to_string(names.size()) + " of " + std::to_string(a.count) + " names owned by " +
             a.owned_by.value_or("?"));

    auto& r = cluster_.random("workload");
    const auto from = cluster_.now();
    const auto count = names.size();
    for (std::size_t i = 0; i < count; ++i) {
        const auto at = from + (count > 1 ? a.over * static_cast<std::int64_t>(i) / static_cast<std::int64_t>(count) : duration::zero());
        const auto pick = r.uniform<std::size_t>(0, slots.size() - 1);
        cluster_.schedule(at, [this, slots, pick, n = names[i]] {
            // Register through the chosen node if it still runs, otherwise through any that does.
            for (std::size_t k = 0; k < slots.size(); ++k) {
                const auto s = slots[(pick + k) % slots.size()];
                if (cluster_.nodes()[s].machine && cluster_.nodes()[s].status == node_status::running) {
                    in_request_ = true;
                    auto id = cluster_.register_name(s, n, worker_spec{"counter", restart_policy::permanent});
                    in_request_ = false;
                    track(s, n, id, true, false);
                    return;
                }
            }
        });
    }
}

/// Runs a parsed scenario with the given options and prints the report to `out`.
inline scenario_result run_scenario(const scenario& s, const scenario_run_options& o, std::FILE* out) {
    return scenario_runner(s, o, out).run();
}

/// A scenario file that could not be read, with a message naming the path.
struct file_error {
    std::string message;
};

/// Reads a scenario file of at most `scenario_bytes_max` bytes. Returns its text, or why it could
/// not be read.
inline expected<std::string, file_error> read_scenario_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return file_error{"cannot open " + path + ": check the path and its permissions"};
    std::string text;
    char buffer[65536];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        text.append(buffer, static_cast<std::size_t>(in.gcount()));
        if (text.size() > scenario_bytes_max)
            return file_error{path + " is larger than 1 MiB; split the scenario or use register-many for bulk registrations"};
    }
    if (in.bad()) return file_error{"cannot read " + path + ": expected a regular file"};
    return text;
}

}  // namespace muster::sim

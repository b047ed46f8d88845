// A simulated Kubernetes Deployment of four muster nodes rolls over to a new pod template while
// three named workers run. Each worker carries a counter that the `resume` policy hands from the
// old pod to the new one, so the counters keep growing across the rollout.

#include <muster/policy/handoff/resume.hpp>
#include <muster/policy/placement/hash_ring.hpp>
#include <muster/sim/cluster.hpp>
#include <muster/sim/kubernetes.hpp>

#include <chrono>
#include <cstdio>
#include <string>

using namespace std::chrono_literals;
using cluster_type = muster::sim::cluster<muster::hash_ring, muster::resume>;

int main() {
    muster::sim::cluster_config config;
    config.seed = 42;  // the same seed gives the same run, event for event
    cluster_type cluster(config, muster::hash_ring{}, muster::resume{});

    muster::sim::deployment_config deployment_settings;
    deployment_settings.replicas = 4;
    muster::sim::deployment<cluster_type> deployment(cluster, deployment_settings);
    deployment.deploy();

    // Pods boot and pass readiness within a few seconds, and then DNS polls form the cluster.
    cluster.run_until(cluster.now() + 20s);

    const std::string names[] = {"billing", "mailer", "reports"};
    const auto serving = deployment.serving_slots();
    const muster::worker_spec spec{"counter", muster::restart_policy::permanent};
    for (const auto& name : names) cluster.register_name(serving.front(), name, spec);
    cluster.run_until(cluster.now() + 10s);

    deployment.start_rollout();
    while (!deployment.rollout_done() && !cluster.failure() && cluster.now() < muster::time_point{} + 10min)
        cluster.run_until(cluster.now() + 1s);
    if (!deployment.rollout_done()) {
        std::printf("rollout failed: not finished after 10 minutes of simulated time\n");
        return 1;
    }

    // A quiet period lets the last handoffs finish and every replica converge.
    cluster.run_until(cluster.now() + 30s);

    const auto viewer = deployment.serving_slots().front();
    const auto& view = *cluster.nodes()[viewer].machine;
    for (const auto& name : names) {
        const auto owner = view.whereis(name);
        if (!owner) {
            std::printf("%-8s not registered\n", name.c_str());
            continue;
        }
        const auto counter = cluster.counter_of(*cluster.slot_of(owner->name), name);
        std::printf("%-8s runs on %s (incarnation %llu), counter %llu\n", name.c_str(), owner->name.c_str(),
                    static_cast<unsigned long long>(owner->incarnation),
                    static_cast<unsigned long long>(counter.value_or(0)));
    }

    const auto problem = cluster.failure() ? cluster.failure() : cluster.check_converged();
    if (problem) {
        std::printf("invariant %s broken: %s\n", problem->invariant.c_str(), problem->detail.c_str());
        return 1;
    }
    std::printf("converged: one instance per name, on its placement owner, in every replica\n");
    return 0;
}

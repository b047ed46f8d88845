#!/usr/bin/env bash
# Moves per name over a full simulated rolling deploy, for every placement model, with the
# default Kubernetes waves (25% surge, 25% unavailable) and one pod at a time. Prints one
# Markdown table row per run. Usage: bench/rollout_moves.sh NODES NAMES [SEEDS]
set -euo pipefail
nodes=${1:?usage: bench/rollout_moves.sh NODES NAMES [SEEDS]}
names=${2:?usage: bench/rollout_moves.sh NODES NAMES [SEEDS]}
seeds=${3:-1..3}
sim=${MUSTER_SIM:-./build/sim/muster-sim}
for waves in "25%/25%" "1/0"; do
  surge=${waves%/*}
  unavailable=${waves#*/}
  for placement in ring rendezvous bounded-load rollout-aware quorum; do
    json=$(mktemp)
    "$sim" rolling-deploy --nodes "$nodes" --names "$names" --placement "$placement" \
      --max-surge "$surge" --max-unavailable "$unavailable" --seeds "$seeds" --json "$json" >/dev/null || true
    # The mean of moves_mean over the seeds, the sum of moves onto old pods, the longest wall time.
    python3 - "$json" "$nodes" "$names" "$waves" "$placement" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))
mean = sum(r["moves_mean"] for r in runs) / len(runs)
old = sum(r["moves_into_old"] for r in runs)
held = all(r["invariants_held"] for r in runs)
wall = max(r["wall_s"] for r in runs)
print(f"| {sys.argv[2]} | {sys.argv[3]} | {sys.argv[4]} | {sys.argv[5]} | {mean:.3f} | {old} | {len(runs)} | {'all held' if held else 'BROKEN'} | {wall:.1f} s |")
PY
    rm -f "$json"
  done
done

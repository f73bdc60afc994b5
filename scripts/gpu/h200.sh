#!/usr/bin/env bash
# Runs on the GPU host from the repo root (with .carry/ from scripts/gpu/pack.sh): unpacks Node and the runner,
# runs scripts/gpu/gpu_half.py with the given arguments (results in $OUT/results or --out), and tars them.
# Usage: bash scripts/gpu/h200.sh PHASES [gpu_half.py args...]
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
OUTDIR="${OUT:-$ROOT/tmp/gpu-out}"
mkdir -p /tmp/vf && tar -C /tmp/vf -xJf .carry/node.tar.xz && tar -C /tmp/vf -xJf .carry/runner.tar.xz
export PATH=/tmp/vf/node/bin:$PATH PYTHONPATH="$ROOT/packages/gpu-harness/src" PYTHONUNBUFFERED=1
PHASES="$1"; shift
RES="/tmp/vf/results"; mkdir -p "$RES"
# The wall-clock limit keeps time for the tar below even when a phase overruns.
timeout -s INT "${TIME_LIMIT:-540}" python3 scripts/gpu/gpu_half.py --out "$RES" --phases "$PHASES" --node /tmp/vf/node/bin/node \
  --runner /tmp/vf/runner/dist/main.js --model-config packages/gpu-harness/src/gpu_harness/configs/qwen3-0.6b.json \
  "$@" 2>&1 | tee "$RES/gpu_half.log"
rc=${PIPESTATUS[0]}
# Raw server logs and workload files stay out (each run dir has iterations.csv on its own clock; workloads
# are rebuilt byte-identically from their flags): a 70 MB tar took longer to compress than the time left.
tar -C /tmp/vf --exclude='results/runs/*/server' --exclude='results/server' --exclude='results/workloads' \
  -cf - results | xz -T0 > "$OUTDIR/results.tar.xz"
ls -la "$OUTDIR"
exit $rc

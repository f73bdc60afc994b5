#!/usr/bin/env bash
# The third H200 call of the third session (the README's fidelity tables), run from the repo root with .carry/:
#   b1: one server at the default budget: the demo's three loads (data/h200-qwen3-0.6b/demo-experiment.json),
#       the Azure loads at 30 / 60 % of its capacity (74.4 req/s, measured in the call before) twice each, and
#       the ShareGPT family (sweep, then its 30 / 60 / 85 % loads): another prompt set (predictive check);
#   b2: a server with a 256-token budget (another server configuration, predictive check) at the Azure loads.
# Results: $OUT/results.tar.xz (b1/, b2/), raw server logs and workloads left out.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
OUTDIR="${OUT:-$ROOT/tmp/gpu-out}"
mkdir -p /tmp/vf/results && tar -C /tmp/vf -xJf .carry/node.tar.xz && tar -C /tmp/vf -xJf .carry/runner.tar.xz
export PATH=/tmp/vf/node/bin:$PATH PYTHONPATH="$ROOT/packages/gpu-harness/src" PYTHONUNBUFFERED=1
G=(python3 scripts/gpu/gpu_half.py --node /tmp/vf/node/bin/node --runner /tmp/vf/runner/dist/main.js
  --model-config packages/gpu-harness/src/gpu_harness/configs/qwen3-0.6b.json --phases serve)
AZ="azure=--azure .carry/data/AzureLLMInferenceTrace_conv.csv --arrival poisson --seed 1"
SG="sharegpt=--prompts .carry/data/sharegpt-500.jsonl --decode lognormal:128:0.6:16:1024 --arrival poisson --seed 1"
timeout -s INT 330 "${G[@]}" --out /tmp/vf/results/b1 --server-args "--max-model-len 4608" \
  --demo data/h200-qwen3-0.6b/demo-experiment.json \
  --family "$AZ" --family-rates azure=22.32,44.64 --repeats 2 \
  --family "$SG" --sweep-start 60 --sweep-max 900 --time-budget-s 300 2>&1 | tail -n 40
timeout -s INT 150 "${G[@]}" --out /tmp/vf/results/b2 --server-args "--max-model-len 4608 --max-num-batched-tokens 256" \
  --family "$AZ" --family-rates azure=22.32,44.64,63.24 --time-budget-s 125 2>&1 | tail -n 20
tar -C /tmp/vf --exclude='results/*/runs/*/server' --exclude='results/*/server' --exclude='results/*/workloads' \
  -cf - results | xz -T0 > "$OUTDIR/results.tar.xz"
ls -la "$OUTDIR"

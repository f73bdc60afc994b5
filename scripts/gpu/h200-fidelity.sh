#!/usr/bin/env bash
# The fourth session's two H200 calls (the README's fidelity tables), run from the repo root with .carry/ beside it
# (scripts/gpu/pack.sh; the device tool's `carry: [".carry"]`). Every family's capacity is its saturation
# throughput (gpu_half.py --capacity saturation) and its loads are 30 / 60 / 85 % of it.
#   call1: the profile (fused kernels timed), then server A (default budget): the demo workload (capacity, then the
#          demo experiment's loads, rewriting data/h200-qwen3-0.6b/demo-experiment.json) and Azure conv (capacity,
#          then its loads twice each).
#   call2 AZURE_RATES: server B with a 256-token budget (another configuration, predictive check): Azure conv
#          capacity and loads; server C (default budget, a second server start): Azure conv at call 1's rates
#          (AZURE_RATES = R30,R60,R85 from call 1's sweep.json, runs named rep2), then ShareGPT (another prompt
#          set, predictive check): capacity and loads twice each.
# Results: $OUT/results.tar.xz, raw server logs and workloads left out.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
OUTDIR="${OUT:-$ROOT/tmp/gpu-out}"
mkdir -p /tmp/vf/results && tar -C /tmp/vf -xJf .carry/node.tar.xz && tar -C /tmp/vf -xJf .carry/runner.tar.xz
export PATH=/tmp/vf/node/bin:$PATH PYTHONPATH="$ROOT/packages/gpu-harness/src" PYTHONUNBUFFERED=1
G=(python3 scripts/gpu/gpu_half.py --node /tmp/vf/node/bin/node --runner /tmp/vf/runner/dist/main.js
  --model-config packages/gpu-harness/src/gpu_harness/configs/qwen3-0.6b.json)
AZ="azure=--azure .carry/data/AzureLLMInferenceTrace_conv.csv --arrival poisson --seed 1"
SG="sharegpt=--prompts .carry/data/sharegpt-500.jsonl --decode lognormal:128:0.6:16:1024 --arrival poisson --seed 1"
DEMO="demo=--prompts packages/workload-spec/examples/prompts.jsonl --decode lognormal:128:0.6:16:512 --arrival poisson --seed 20261128"
case "${1:?usage: h200-fidelity.sh call1 | call2 R30,R60,R85}" in
  call1)
    timeout -s INT 150 "${G[@]}" --out /tmp/vf/results/p --phases host,profile \
      --profile-args "--time-budget-s 75 --max-seq-len 4608" --time-budget-s 140 2>&1 | tail -n 15
    timeout -s INT 330 "${G[@]}" --out /tmp/vf/results/a --phases serve --server-args "--max-model-len 4608" \
      --family "$DEMO" --demo-family demo --demo data/h200-qwen3-0.6b/demo-experiment.json \
      --family "$AZ" --repeats 2 --time-budget-s 315 2>&1 | grep -v '^\s*$' | tail -n 40
    cp data/h200-qwen3-0.6b/demo-experiment.json /tmp/vf/results/a/ ;;
  call2)
    timeout -s INT 170 "${G[@]}" --out /tmp/vf/results/b --phases serve \
      --server-args "--max-model-len 4608 --max-num-batched-tokens 256" --family "$AZ" --time-budget-s 160 \
      2>&1 | grep -v '^\s*$' | tail -n 20
    timeout -s INT 280 "${G[@]}" --out /tmp/vf/results/c --phases serve --server-args "--max-model-len 4608" \
      --family "$AZ" --family-rates "azure=${2:?AZURE_RATES}" --family-repeats azure=1 --rep-offset 2 \
      --family "$SG" --repeats 2 --time-budget-s 265 2>&1 | grep -v '^\s*$' | tail -n 30 ;;
  *) echo "h200-fidelity.sh: unknown call $1 (call1 | call2)" >&2; exit 2 ;;
esac
tar -C /tmp/vf --exclude='results/*/runs/*/server' --exclude='results/*/server' --exclude='results/*/workloads' \
  -cf - results | xz -T0 > "$OUTDIR/results.tar.xz"
ls -la "$OUTDIR"

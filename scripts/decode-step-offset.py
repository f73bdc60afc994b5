#!/usr/bin/env python3
"""Vidur's decode step from a profile's ops against the engine's whole graphed decode step, timed by the profiler.

  decode-step-offset.py OPS_PROFILE_DIR ENGINE_PROFILE_JSON [LAYERS]

OPS_PROFILE_DIR holds mlp.csv and attention.csv (compute/<device>/<org>/<model>); ENGINE_PROFILE_JSON is a
profile.json with `engine_decode` rows (the engine's decode-only step at (batch, kv) on uniform contexts). For each
row, Vidur's step as it assembles one (LAYERS x (the linear, norm and activation ops at the batch's tokens rounded up
to 8 + attn_decode at the nearest profiled kv)), with its GQA decode extra (x 1.1 on attention past one request) and
without, less the engine's step; per batch size the range over the kv anchors. Prints a markdown table.
"""

import csv
import json
import math
import sys


def main() -> None:
    ops_dir, engine_json = sys.argv[1], sys.argv[2]
    layers = int(sys.argv[3]) if len(sys.argv) > 3 else 28
    with open(f"{ops_dir}/mlp.csv", newline="") as f:
        mlp = {int(r["num_tokens"]): r for r in csv.DictReader(f)}
    attn: dict[tuple[int, int], float] = {}
    with open(f"{ops_dir}/attention.csv", newline="") as f:
        for r in csv.DictReader(f):
            if r["is_prefill"] == "False":
                key = (int(r["batch_size"]), int(r["kv_cache_size"]))
                attn[key] = float(r["time_stats.attn_decode.median"])
    with open(engine_json) as f:
        rows = json.load(f)["engine_decode"]["rows"]

    def linear(tokens: int) -> float:
        key = min(mlp, key=lambda k: abs(k - math.ceil(tokens / 8) * 8))
        return sum(
            float(v)
            for k, v in mlp[key].items()
            if k.endswith(".median") and ".emb." not in k
        )

    by_batch: dict[int, list[tuple[float, float]]] = {}
    for row in rows:
        b, kv = row["batch"], row["kv"]
        near = [k for k in attn if k[0] == b]
        if not near:
            continue
        a = attn[min(near, key=lambda k: abs(k[1] - kv))]
        extra = 1.1 if b > 1 else 1.0
        plain = layers * (linear(b) + a) - row["step_ms"]
        gqa = layers * (linear(b) + a * extra) - row["step_ms"]
        by_batch.setdefault(b, []).append((plain, gqa))
    print(
        "| batch | kv anchors | ops - engine step, no extra (ms) | with Vidur's 0.1 extra (ms) |"
    )
    print("|---|---|---|---|")
    for b in sorted(by_batch):
        v = by_batch[b]
        p, g = [x[0] for x in v], [x[1] for x in v]
        print(
            f"| {b} | {len(v)} | {min(p):.2f} .. {max(p):.2f} | {min(g):.2f} .. {max(g):.2f} |"
        )


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The engine's decode-only step on a grid of batch size x mean context, as served (twenty-sixth session).

A served decode-only step's wait on the device less Vidur's prediction of it is one function of the step's batch
size and mean context per request on every workload and machine recorded (within ~0.05 ms where two workloads
meet), and it keeps falling past the batches a fit load reaches (Azure conv 60 %: up to ~40 requests; Self-Instruct
at 85 %: up to 128, ~0.3 ms lower there). This times the served step itself on a grid, so a calibration can take
that shape from the engine instead of from one fit load: the LeanModelRunner a server builds (128 slots, 4,608
positions, 512 + 128 tokens a step, CUDA graphs), `forward` of b one-token rows whose contexts are uniform in
[C/2, 3C/2] (seeded; b = 1 uses C), each point timed with CUDA events around the call (the graph replay, sampling
inside it, the sampled ids' copy back). The points are visited in a shuffled order in --rounds rounds of --repeats
samples each (a lent H200's small steps are clock-bound and jump between two levels from one stretch to the next:
rounds spread each point over the whole run), and the median of all its samples is written with each round's median.

Writes decode_grid.csv (batch, mean_context, kv_tokens, step_ms median, p10, p90, samples) and decode_grid.json
(the same with the rounds and the setup) to --out.

  PYTHONPATH=packages/gpu-harness/src python3 scripts/gpu/decode_grid.py --out /tmp/dg   (CUDA only)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

from gpu_harness.bench import _ints as ints  # the bench's comma-separated list flag (no torch import)

BATCHES = "1,2,3,4,6,8,12,16,20,24,28,32,40,48,56,64,72,80,88,96,104,112,120,128"
CONTEXTS = "16,48,96,160,256,384,512,768,1024,1536,2048,3072"


def quantile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model-config", default="packages/gpu-harness/src/gpu_harness/configs/qwen3-0.6b.json")
    ap.add_argument("--max-model-len", type=int, default=4608, help="the server's --max-model-len")
    ap.add_argument("--budget", type=int, default=512, help="the server's token budget (--chunk-size)")
    ap.add_argument("--slots", type=int, default=128, help="the server's batch cap (--batch-size-cap)")
    ap.add_argument("--batches", type=ints, default=ints(BATCHES))
    ap.add_argument("--contexts", type=ints, default=ints(CONTEXTS))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=12, help="samples of a point per round")
    ap.add_argument("--warmup", type=int, default=3, help="untimed calls before a point's samples in each round")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()

    import torch
    from gpu_harness.engine.lean import LeanModelRunner
    from gpu_harness.model import build_model, load_hf_config

    if not torch.cuda.is_available():
        raise SystemExit("decode_grid.py: needs a CUDA device")
    dev = torch.device("cuda")
    config = load_hf_config(args.model_config)
    model = build_model(config, device=dev, dtype=torch.bfloat16, seed=args.seed)
    runner = LeanModelRunner(
        model,
        num_slots=args.slots,
        max_model_len=args.max_model_len,
        max_tokens=args.budget + args.slots,
        cuda_graphs=True,
    )
    rng = random.Random(args.seed)
    points: list[dict[str, Any]] = []
    for b in args.batches:
        if b > args.slots:
            continue
        for c in args.contexts:
            lens = [c] if b == 1 else [rng.randint(c // 2, c * 3 // 2) for _ in range(b)]
            lens = [max(1, min(n, args.max_model_len - 2)) for n in lens]
            items = [(i, n, [7 + i], True) for i, n in enumerate(lens)]
            points.append(
                {
                    "batch": b,
                    "mean_context": statistics.fmean(lens),
                    "kv_tokens": sum(n + 1 for n in lens),
                    "items": items,
                    "samples": [],
                    "rounds": [],
                }
            )
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for r in range(args.rounds):
            order = list(range(len(points)))
            rng.shuffle(order)
            for k in order:
                p = points[k]
                for _ in range(args.warmup):
                    runner.forward(p["items"])
                torch.cuda.synchronize()
                got = []
                for _ in range(args.repeats):
                    start.record()
                    runner.forward(p["items"])
                    stop.record()
                    stop.synchronize()
                    got.append(start.elapsed_time(stop))
                p["samples"].extend(got)
                p["rounds"].append(statistics.median(got))
            print(f"decode_grid: round {r + 1}/{args.rounds} done at {time.perf_counter() - t0:.0f} s", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "batch": p["batch"],
            "mean_context": round(p["mean_context"], 2),
            "kv_tokens": p["kv_tokens"],
            "step_ms": round(statistics.median(p["samples"]), 5),
            "p10_ms": round(quantile(p["samples"], 0.1), 5),
            "p90_ms": round(quantile(p["samples"], 0.9), 5),
            "samples": len(p["samples"]),
        }
        for p in points
    ]
    tmp = args.out / "decode_grid.csv.tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, args.out / "decode_grid.csv")
    meta = {
        "device": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "model_config": args.model_config,
        "runner": runner.describe() if hasattr(runner, "describe") else None,
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "seconds": round(time.perf_counter() - t0, 1),
        "points": [
            {**row, "round_medians_ms": [round(x, 5) for x in p["rounds"]]} for row, p in zip(rows, points, strict=True)
        ],
    }
    tmp = args.out / "decode_grid.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1) + "\n")
    os.replace(tmp, args.out / "decode_grid.json")
    print(f"decode_grid: {len(rows)} points in {meta['seconds']} s -> {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

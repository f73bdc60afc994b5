#!/usr/bin/env python3
"""Served decode steps against the same steps run alone: what the server adds to a decode step.

For each real run dir, every decode-only step (no prefill tokens) of the engine timeline (iterations.csv) is
grouped by batch size; per group the median of the step's CUDA-event time (`gpu_time`: the step's host input
work inside the forward, then the graph) and of its tokens of context per request (kv_tokens_in_use / batch
size) is set against the engine's own decode-only step at that batch size and context, run alone by the
profiler (`profile.json` `engine_decode`: the step's median at each kv anchor, linear between anchors). The
difference is what serving adds beyond the model's decode work at that shape: slots spread over the cache,
lengths spread around the mean, the HTTP thread's share of the interpreter, the machine. Most of it is the host's
input preparation, which the served event window holds and the profiler's back-to-back steps hide (+0.24..+0.48 ms a
step on the H200: scripts/gpu/host_ab.py, data/h200-qwen3-0.6b/engine/host_ab.md).

  python3 scripts/served-vs-bench.py PROFILE_JSON LABEL=RUN_DIR [LABEL=RUN_DIR ...] [--batches 8,16,24,32]

Prints a markdown table (ms) to stdout. Needs pandas.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def bench_step(rows: list[dict], batch: int, kv: float) -> float | None:
    """The profiler's decode-only step (ms) of `batch` rows at kv tokens each: linear between its anchors."""
    at = sorted((r["kv"], r["step_ms"]) for r in rows if r["batch"] == batch)
    if not at:
        return None
    return float(np.interp(kv, [k for k, _ in at], [s for _, s in at]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "profile", type=Path, help="a profile.json with an engine_decode record"
    )
    ap.add_argument("runs", nargs="+", metavar="LABEL=RUN_DIR")
    ap.add_argument(
        "--batches",
        default="4,8,12,16,20,24,28,32",
        help="batch sizes to show (default %(default)s)",
    )
    ap.add_argument(
        "--min-steps",
        type=int,
        default=20,
        help="fewest steps a cell needs (default %(default)s)",
    )
    args = ap.parse_args()
    try:
        rows = json.loads(args.profile.read_text())["engine_decode"]["rows"]
    except (OSError, json.JSONDecodeError, KeyError) as err:
        print(
            f"served-vs-bench: {args.profile}: expected a profile.json with engine_decode ({err})",
            file=sys.stderr,
        )
        return 2
    try:
        batches = [int(b) for b in args.batches.split(",")]
    except ValueError:
        print(
            f"served-vs-bench: --batches {args.batches!r}: expected integers separated by commas",
            file=sys.stderr,
        )
        return 2
    runs = [spec.partition("=") for spec in args.runs]
    for spec, (_label, sep, _dir) in zip(args.runs, runs, strict=True):
        if not sep:
            print(f"served-vs-bench: {spec!r}: expected LABEL=RUN_DIR", file=sys.stderr)
            return 2
    print("| run | " + " | ".join(f"{b} requests" for b in batches) + " |")
    print("|---|" + "---|" * len(batches))
    print(
        "| (cell: served step / alone at the same context / served minus alone, ms; context per request) |"
        + " |" * len(batches)
    )
    for label, _sep, run_dir in runs:
        path = Path(run_dir) / "iterations.csv"
        try:
            it = pd.read_csv(path)
        except OSError as err:
            print(f"served-vs-bench: {path}: {err}", file=sys.stderr)
            return 2
        dec = it[(it["num_prefill_tokens"] == 0) & it["gpu_time"].notna()]
        cells = []
        for b in batches:
            x = dec[dec["batch_size"] == b]
            if len(x) < args.min_steps:
                cells.append("-")
                continue
            served = float(x["gpu_time"].median()) * 1e3
            kv = float((x["kv_tokens_in_use"] / b).median())
            alone = bench_step(rows, b, kv)
            cells.append(
                "-"
                if alone is None
                else f"{served:.2f} / {alone:.2f} / +{served - alone:.2f}; {kv:.0f}"
            )
        print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

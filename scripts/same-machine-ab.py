#!/usr/bin/env python3
"""Two real runs of one workload on two server configurations on the same machine, step by step
(iterations.csv).

  same-machine-ab.py LABEL=RUN_A,RUN_B [...]

Per run pair: the client's TTFT and TPOT P50 (request_metrics.csv), the engine's steps, busy time and mean
batch
size, then per step kind (decode-only / mixed) and batch-size bin the median GPU time and median host time
(wall − GPU) of each run and B − A. Same machine and same request schedule, so what differs is the
configuration
(and run-to-run noise: compare with repeats on one server).
"""

import csv
import statistics
import sys
from collections import defaultdict

BINS = (1, 2, 4, 8, 16, 32, 64, 128)


def rows(path: str) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def bin_label(b: int) -> str:
    hi = next((h for h in BINS if b <= h), None)
    if hi is None:
        return f">{BINS[-1]}"
    lo = BINS[BINS.index(hi) - 1] + 1 if hi > 1 else 1
    return f"{lo}-{hi}"


def summary(run: str) -> tuple[dict, dict]:
    req = [r for r in rows(f"{run}/request_metrics.csv") if r["status"] == "ok"]
    steps = rows(f"{run}/iterations.csv")
    walls = [(float(s["end"]) - float(s["start"])) * 1e3 for s in steps]
    head = {
        "TTFT P50 ms": statistics.median(float(r["ttft"]) * 1e3 for r in req),
        "TPOT P50 ms": statistics.median(float(r["tpot"]) * 1e3 for r in req if r["tpot"]),
        "steps": len(steps),
        "busy s": sum(walls) / 1e3,
        "mean batch": statistics.fmean(int(s["batch_size"]) for s in steps),
    }
    cells = defaultdict(lambda: ([], []))
    for s, wall in zip(steps, walls, strict=True):
        if not s["gpu_time"] or int(s["batch_size"]) < 1:
            continue
        gpu = float(s["gpu_time"]) * 1e3
        key = ("mixed" if int(s["num_prefill_tokens"]) > 0 else "decode", bin_label(int(s["batch_size"])))
        cells[key][0].append(gpu)
        cells[key][1].append(wall - gpu)
    return head, cells


print("| pair | what | A | B | B − A |")
print("|---|---|---|---|---|")
for arg in sys.argv[1:]:
    label, dirs = arg.split("=", 1)
    run_a, run_b = dirs.split(",")
    (head_a, cells_a), (head_b, cells_b) = summary(run_a), summary(run_b)
    for k in head_a:
        a, b = head_a[k], head_b[k]
        fmt = "{:,.0f}" if k == "steps" else "{:.3f}" if "ms" in k else "{:.2f}"
        delta = f"{int(b - a):+,d}" if k == "steps" else f"{b - a:+.3f}"
        print(f"| {label} | {k} | {fmt.format(a)} | {fmt.format(b)} | {delta} ({(b - a) / a * 100:+.1f}%) |")
    order = {b: i for i, b in enumerate(bin_label(h) for h in BINS)}
    for key in sorted(set(cells_a) & set(cells_b), key=lambda k: (k[0], order.get(k[1], 99))):
        (ga, ha), (gb, hb) = cells_a[key], cells_b[key]
        if min(len(ga), len(gb)) < 20:  # a median of a handful of steps is noise
            continue
        mg_a, mg_b, mh_a, mh_b = (statistics.median(v) for v in (ga, gb, ha, hb))
        print(
            f"| {label} | {key[0]} {key[1]} (n {len(ga)} / {len(gb)}): GPU / host ms "
            f"| {mg_a:.3f} / {mh_a:.3f} | "
            f"{mg_b:.3f} / {mh_b:.3f} | {mg_b - mg_a:+.3f} / {mh_b - mh_a:+.3f} |"
        )

#!/usr/bin/env python3
"""Per-step attribution of a real run against Vidur's simulation of the same workload (reads iterations.csv).

  step-attribution.py LABEL=REAL_RUN_DIR,SIM_RUN_DIR [...]

For every real engine step with its phases (gpu-harness since the twelfth session): host = schedule + prepare +
process (the server's step loop on the host: choosing the batch, building the step's inputs and launching it, handing
out the tokens), and GPU bias = wait (the host waiting on the device for the sampled ids) - Vidur's predicted time for
that composition. For a step of an older run, with a recorded GPU time but no phases: host = wall - GPU time, GPU
bias = GPU time - predicted; that GPU time is the step's event window, which also holds the host's preparation of the
step's inputs (+0.24..+0.48 ms a step on the H200: scripts/gpu/host_ab.py), so there "host" leaves it out and "GPU
bias" holds it. The "split" column says which. Vidur's prediction is
looked up among the simulated steps of the same kind (decode-only or mixed), the same batch size and the same
64-token prefill bin (the median of their predicted GPU times); steps without such a twin are left out. Means per
batch-size bin, with the median KV cache in use (the context the step's attention reads).
"""

import csv
import statistics
import sys
from collections import defaultdict

BINS = (1, 2, 4, 8, 16, 32, 64, 128)


def rows(path: str) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def bin_of(b: int) -> str:
    lo = 0
    for hi in BINS:
        if b <= hi:
            return f"{lo + 1}-{hi}"
        lo = hi
    return f">{BINS[-1]}"


print("| run | kind | batch | steps | split | host ms | GPU bias ms | KV in use (median) |")
print("|---|---|---|---|---|---|---|---|")
for arg in sys.argv[1:]:
    label, dirs = arg.split("=", 1)
    real_dir, sim_dir = dirs.split(",")
    cells = defaultdict(list)
    for s in rows(f"{sim_dir}/iterations.csv"):
        p, b = int(s["num_prefill_tokens"]), int(s["batch_size"])
        cells[(p > 0, b, p // 64)].append(float(s["gpu_time"]) * 1e3)
    predicted = {k: statistics.median(v) for k, v in cells.items()}
    out = defaultdict(lambda: ([], [], []))
    split = "phases"
    for r in rows(f"{real_dir}/iterations.csv"):
        phased = bool(r.get("wait_time"))
        if not phased and not r["gpu_time"]:
            continue
        p, b = int(r["num_prefill_tokens"]), int(r["batch_size"])
        pred = predicted.get((p > 0, b, p // 64))
        if pred is None or b < 1:
            continue
        wall = (float(r["end"]) - float(r["start"])) * 1e3
        if phased:
            gpu = float(r["wait_time"]) * 1e3
            on_host = sum(float(r[k]) for k in ("schedule_time", "prepare_time", "process_time")) * 1e3
        else:
            split = "wall - GPU time"
            gpu = float(r["gpu_time"]) * 1e3
            on_host = wall - gpu
        host, bias, kv = out[(p > 0, min(BINS.index(next(h for h in BINS if b <= h)), len(BINS) - 1))]
        host.append(on_host)
        bias.append(gpu - pred)
        kv.append(float(r["kv_tokens_in_use"] or 0))
    for (mixed, i), (host, bias, kv) in sorted(out.items()):
        print(
            f"| {label} | {'mixed' if mixed else 'decode'} | {bin_of(BINS[i])} | {len(host)} | {split} | "
            f"{statistics.fmean(host):.3f} | {statistics.fmean(bias):+.3f} | {statistics.median(kv):,.0f} |"
        )

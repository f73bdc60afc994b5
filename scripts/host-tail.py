#!/usr/bin/env python3
"""A run's measured host phases against a calibration table's, by batch size (decode-only steps).

  host-tail.py LABEL=REAL_RUN_DIR,CPU_OVERHEADS_CSV [...]

CPU_OVERHEADS_CSV is the table the calibrated simulation of that run used (`runner calibrate`'s
cpu_overheads-host-<load>.csv: the fit's table with the run's host scale applied). Per bin of 16 requests: the real
steps' schedule + prepare + process (ms, means) and the table's at the bin's mean batch size (linear between the
table's rows, as Vidur interpolates), and the difference. Past the fit load's largest batch the table continues along
the fit's host growth per request; this shows how far that holds.
"""

import csv
import statistics
import sys
from collections import defaultdict

PHASES = (
    ("schedule_time", "schedule_median"),
    ("prepare_time", "prepare_inputs_e2e_median"),
    ("process_time", "process_model_outputs_median"),
)


def table_at(rows: dict[int, dict[str, str]], b: float, col: str) -> float:
    ks = sorted(rows)
    lo = max([k for k in ks if k <= b], default=ks[0])
    hi = min([k for k in ks if k >= b], default=ks[-1])
    if hi == lo:
        return float(rows[lo][col])
    f = (b - lo) / (hi - lo)
    return float(rows[lo][col]) * (1 - f) + float(rows[hi][col]) * f


print("| run | batch | steps | real host ms | table host ms | table - real |")
print("|---|---|---|---|---|---|")
for arg in sys.argv[1:]:
    label, paths = arg.split("=", 1)
    run, table_path = paths.split(",")
    with open(table_path, newline="") as f:
        table = {int(r["batch_size"]): r for r in csv.DictReader(f)}
    bins: dict[int, list[dict[str, str]]] = defaultdict(list)
    with open(f"{run}/iterations.csv", newline="") as f:
        for r in csv.DictReader(f):
            if r["num_prefill_tokens"] == "0" and r.get("wait_time"):
                bins[(int(r["batch_size"]) - 1) // 16 * 16 + 1].append(r)
    for lo in sorted(bins):
        steps = bins[lo]
        if len(steps) < 15:
            continue
        b = statistics.fmean(int(r["batch_size"]) for r in steps)
        real = statistics.fmean(sum(float(r[p]) for p, _ in PHASES) * 1e3 for r in steps)
        tab = sum(table_at(table, b, c) for _, c in PHASES)
        print(f"| {label} | {lo}-{lo + 15} | {len(steps)} | {real:.3f} | {tab:.3f} | {tab - real:+.3f} |")

#!/usr/bin/env python3
"""How much of a calibrated prediction's error is the real run's host speed? Per run, a host index: its decode-only
steps' host time (schedule + prepare + process, from iterations.csv's phases) at each batch size over the fit runs'
pooled median at that batch size, averaged with the steps as weights (batch sizes with 20 reference steps). Beside it,
the calibrated simulation's TBT P50 and TTFT P50 errors from tmp/comparisons/<experiment>-<load>-cal/comparison.json,
and their correlation with the index over every run and over the runs below 85 % load (whose queues do not saturate).

  host-index.py --fit RUN_DIR[,RUN_DIR...] EXPERIMENT_JSON [...]

Each experiment's loads give the real run (`realRunDir`, relative to the experiment file); loads without a calibrated
comparison or with fewer than 200 phased decode-only steps at reference batch sizes are left out.
"""

import argparse
import csv
import json
import statistics
from collections import defaultdict
from pathlib import Path

import numpy as np

MIN_REF_STEPS = 20
MIN_RUN_STEPS = 200


def host_by_batch(run_dir: Path) -> dict[int, list[float]]:
    """Host time (ms) of every phased decode-only step, by batch size."""
    out: dict[int, list[float]] = defaultdict(list)
    with open(run_dir / "iterations.csv", newline="") as f:
        for r in csv.DictReader(f):
            b = int(r["batch_size"])
            if r["num_prefill_tokens"] != "0" or b < 1 or not r.get("prepare_time"):
                continue
            out[b].append(
                sum(
                    float(r[c])
                    for c in ("schedule_time", "prepare_time", "process_time")
                )
                * 1e3
            )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--fit", required=True, help="the fit's real run dirs, comma-separated"
    )
    ap.add_argument("--comparisons", default="tmp/comparisons")
    ap.add_argument("experiments", nargs="+")
    a = ap.parse_args()
    pooled: dict[int, list[float]] = defaultdict(list)
    for d in a.fit.split(","):
        for b, v in host_by_batch(Path(d)).items():
            pooled[b] += v
    ref = {
        b: statistics.median(v) for b, v in pooled.items() if len(v) >= MIN_REF_STEPS
    }
    rows = []
    for path in a.experiments:
        exp = json.loads(Path(path).read_text())
        for load in exp["loads"]:
            cmp_path = (
                Path(a.comparisons)
                / f"{exp['name']}-{load['name']}-cal"
                / "comparison.json"
            )
            if not cmp_path.exists():
                continue
            steps = host_by_batch((Path(path).parent / load["realRunDir"]).resolve())
            ratios = [
                (statistics.median(v) / ref[b], len(v))
                for b, v in steps.items()
                if b in ref
            ]
            if sum(n for _, n in ratios) < MIN_RUN_STEPS:
                continue
            index = float(
                np.average([r for r, _ in ratios], weights=[n for _, n in ratios])
            )
            m = json.loads(cmp_path.read_text())["metrics"]
            err = {
                k: 100 * (m[k]["sim"]["p50"] / m[k]["real"]["p50"] - 1)
                for k in ("tbt", "ttft")
            }
            rows.append((exp["name"], load["name"], index, err["tbt"], err["ttft"]))
    print("| experiment | load | host index | TBT P50 error | TTFT P50 error |")
    print("|---|---|---|---|---|")
    for name, load, index, tbt, ttft in rows:
        print(f"| {name} | {load} | {index:.2f} | {tbt:+.1f} % | {ttft:+.1f} % |")
    x = np.array([r[2] for r in rows])
    for label, keep in (
        ("every run", np.ones(len(rows), bool)),
        ("below 85 % load", np.array([not r[1].endswith("85") for r in rows])),
    ):
        tbt = np.array([r[3] for r in rows])[keep]
        ttft = np.array([r[4] for r in rows])[keep]
        slope = np.polyfit(x[keep], ttft, 1)[0]
        print(
            f"{label} ({int(keep.sum())} runs): r(host index, TBT P50 error) {np.corrcoef(x[keep], tbt)[0, 1]:.2f}, "
            f"r(host index, TTFT P50 error) {np.corrcoef(x[keep], ttft)[0, 1]:.2f}; "
            f"TTFT P50 error {slope / 10:+.1f} points per +0.1 of the index"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

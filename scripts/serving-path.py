"""A run's serving path at a glance (root README, twenty-fifth session): for a real run, the median time from each
request's arrival to the engine's inbox (server_admissions.csv), from its arrival to its first token's step on the
engine's clock (server_token_timestamps.csv), and a token's delivery (client receive - engine emit) by the batch size
of the step that produced it; for a simulated run (its vidur/ folder), the same from the simulation: the admission each
request got through the front gate (bridge_admissions.csv) and its first token's step before delivery
(bridge_tokens.csv); the delivery delays a simulation adds are its calibration's table (calibration.json).

Usage: python3 scripts/serving-path.py LABEL=RUN_DIR...   (a markdown table on stdout; medians in ms)
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import sys
from bisect import bisect_left

BINS = [(1, 8), (9, 24), (25, 40), (41, 56), (57, 72), (73, 96), (97, 128)]


def rows(path: str) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def med(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1e3:.2f}" if xs else "-"


def real(run_dir: str) -> list[str]:
    arrived = {r["request_id"]: float(r["arrived_at"]) for r in rows(os.path.join(run_dir, "client_sends.csv"))}
    inbox = [float(r["inbox"]) - arrived[r["request_id"]] for r in rows(os.path.join(run_dir, "server_admissions.csv"))]
    engine = {
        (r["request_id"], r["token_index"]): float(r["t"])
        for r in rows(os.path.join(run_dir, "server_token_timestamps.csv"))
    }
    first = [t - arrived[rid] for (rid, k), t in engine.items() if k == "0" and rid in arrived]
    steps = sorted(rows(os.path.join(run_dir, "iterations.csv")), key=lambda r: float(r["end"]))
    ends = [float(r["end"]) for r in steps]
    sizes = [int(r["batch_size"]) for r in steps]
    by_bin: dict[int, list[float]] = {i: [] for i in range(len(BINS))}
    for r in rows(os.path.join(run_dir, "token_timestamps.csv")):
        emit = engine.get((r["request_id"], r["token_index"]))
        if emit is None:
            continue
        i = min(bisect_left(ends, emit - 1e-7), len(ends) - 1)
        b = sizes[i]
        for j, (lo, hi) in enumerate(BINS):
            if lo <= b <= hi:
                by_bin[j].append(float(r["t"]) - emit)
    return [med(inbox), med(first), *(med(by_bin[j]) for j in range(len(BINS)))]


def simulated(run_dir: str) -> list[str]:
    raw = os.path.join(run_dir, "vidur")
    arrivals = [float(r["Time"]) for r in rows(os.path.join(raw, "trace.csv"))]
    admission = [float(r["delay_s"]) for r in rows(os.path.join(raw, "bridge_admissions.csv"))]
    first = [
        float(r["t"]) - arrivals[int(r["request_id"])]
        for r in rows(os.path.join(raw, "bridge_tokens.csv"))
        if r["token_index"] == "0"
    ]
    return [med(admission), med(first), *("-" for _ in BINS)]


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    head = ["run", "arrival to inbox (sim: admission)", "arrival to first token's step"]
    head += [f"delivery, steps of {lo}-{hi}" for lo, hi in BINS]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for arg in sys.argv[1:]:
        label, _, run_dir = arg.partition("=")
        if not run_dir:
            print(f"serving-path.py: {arg}: expected LABEL=RUN_DIR", file=sys.stderr)
            return 2
        with open(os.path.join(run_dir, "run.json")) as f:
            kind = json.load(f)["kind"]
        cells = real(run_dir) if kind == "real" else simulated(run_dir)
        print("| " + " | ".join([label, *cells]) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

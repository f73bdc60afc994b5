#!/usr/bin/env python3
"""The serving path's admission delay by the batch size of the step a request arrived in, from real runs.

  admission-by-batch.py LABEL=RUN_DIR [...]

As vidur-bridge's deriveAdmissionDelay: a short request (prompt <= 256 tokens: one step prefills it) whose first
token came from step i was taken in at step i's start and not at step i-1's, so its admission delay lies in
(start[i-1] - arrived, start[i] - arrived]. Here the requests are grouped by the batch size of step i-1 (the step
running when the request was on its way in), and per group the delay the most intervals hold is found on a 50 us grid
up to 10 ms (the first best grid point); a group of fewer than 15 requests is left out. Printed per run: each group's
delay (ms) and the share of its requests whose interval holds it.
"""

import csv
import sys

import numpy as np

GROUPS = [(1, 16), (17, 32), (33, 48), (49, 64), (65, 96), (97, 128)]
MAX_PROMPT = 256
MIN_REQUESTS = 15
GRID = np.arange(0.0, 0.010, 0.00005)


def read_rows(path: str) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def by_batch(run: str) -> dict[tuple[int, int], tuple[float, float, int]]:
    first: dict[int, float] = {}
    for r in read_rows(f"{run}/server_token_timestamps.csv"):
        if r["token_index"] == "0":
            first[int(r["request_id"])] = float(r["t"])
    steps = sorted(read_rows(f"{run}/iterations.csv"), key=lambda r: float(r["start"]))
    starts = np.array([float(s["start"]) for s in steps])
    ends = np.array([float(s["end"]) for s in steps])
    sizes = [int(s["batch_size"]) for s in steps]
    held = {g: [np.zeros(len(GRID)), 0] for g in GROUPS}
    for r in read_rows(f"{run}/request_metrics.csv"):
        rid = int(r["request_id"])
        if (
            r["status"] != "ok"
            or int(r["num_prefill_tokens"]) > MAX_PROMPT
            or rid not in first
        ):
            continue
        i = int(np.searchsorted(ends, first[rid] - 1e-9))
        if i < 1 or i >= len(ends):
            continue
        arrived = float(r["arrived_at"])
        lo, hi = starts[i - 1] - arrived, starts[i] - arrived
        for g in GROUPS:
            if g[0] <= sizes[i - 1] <= g[1]:
                held[g][0] += (GRID > lo) & (GRID <= hi)
                held[g][1] += 1
    out = {}
    for g, (counts, n) in held.items():
        if n >= MIN_REQUESTS:
            k = int(np.argmax(counts))
            out[g] = (GRID[k], counts[k] / n, n)
    return out


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    head = " | ".join(f"{lo}-{hi}" for lo, hi in GROUPS)
    print(f"| run | {head} |")
    print("|---|" + "---|" * len(GROUPS))
    for spec in argv:
        label, run = spec.split("=", 1)
        got = by_batch(run)
        cells = [
            f"{got[g][0] * 1e3:.2f} ({100 * got[g][1]:.0f} % of {got[g][2]})"
            if g in got
            else ""
            for g in GROUPS
        ]
        print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""How a decode-only step's time grows with the KV it reads, at one batch size: real runs against Vidur's simulation.

  decode-kv-slope.py LABEL=real|sim,RUN_DIR[,RUN_DIR...] [...]

For each run group, the decode-only steps (iterations.csv, no prefill tokens) are grouped by their exact batch size,
each group's KV tokens in use and step time centered on the group's means (groups of fewer than 10 steps left out;
the 2 % of steps farthest from their group's mean time dropped), and one least-squares slope fitted through all
groups: the growth in us per 1,000 KV tokens at a fixed batch size, with its standard error. Real runs give it for
`wait_time` (the host waiting on the device: the GPU side) and for the wall time (end - start); simulated runs for
`gpu_time` (Vidur's predicted step). A batch-size bin wider than one size mixes the batch's own growth into the
slope; grouping by the exact size does not.
"""

import csv
import sys
from collections import defaultdict

import numpy as np

MIN_GROUP = 10


def within_batch_slope(
    rows: list[dict[str, str]], column: str
) -> tuple[float, float, int]:
    """(slope ms per 1k KV tokens, its standard error, steps) of `column` ("wall" = end - start) on KV in use."""
    groups: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for r in rows:
        b = int(r["batch_size"])
        if r["num_prefill_tokens"] != "0" or b < 1 or not r["kv_tokens_in_use"]:
            continue
        if column == "wall":
            y = (float(r["end"]) - float(r["start"])) * 1e3
        elif r.get(column):
            y = float(r[column]) * 1e3
        else:
            continue
        groups[b].append((int(r["kv_tokens_in_use"]) / 1e3, y))
    xs: list[float] = []
    ys: list[float] = []
    for pts in groups.values():
        if len(pts) < MIN_GROUP:
            continue
        a = np.array(pts)
        x = a[:, 0] - a[:, 0].mean()
        y = a[:, 1] - a[:, 1].mean()
        keep = np.abs(y) <= np.percentile(np.abs(y), 98)
        xs += list(x[keep])
        ys += list(y[keep])
    x, y = np.array(xs), np.array(ys)
    if len(x) < 3 or float(x @ x) == 0.0:
        raise SystemExit(
            f"decode-kv-slope: too few decode-only steps with KV spread for {column}"
        )
    s = float(x @ y / (x @ x))
    se = float(np.sqrt(np.sum((y - s * x) ** 2) / (len(x) - 1) / (x @ x)))
    return s, se, len(x)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    print(
        "| runs | side | step time | us per 1,000 KV tokens (± s.e.) | decode-only steps |"
    )
    print("|---|---|---|---|---|")
    for arg in argv:
        label, _, spec = arg.partition("=")
        kind, *dirs = spec.split(",")
        if kind not in ("real", "sim") or not dirs:
            print(
                f"decode-kv-slope: {arg}: expected LABEL=real|sim,RUN_DIR[,RUN_DIR...]",
                file=sys.stderr,
            )
            return 2
        rows: list[dict[str, str]] = []
        for d in dirs:
            with open(f"{d}/iterations.csv", newline="") as f:
                rows += list(csv.DictReader(f))
        for column in ("wait_time", "wall") if kind == "real" else ("gpu_time",):
            s, se, n = within_batch_slope(rows, column)
            print(
                f"| {label} | {kind} | {column} | {s * 1e3:.1f} (± {se * 1e3:.1f}) | {n} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Prints the README's fidelity tables from comparison.json files (reads only the comparator's numbers).

  fidelity-table.py LABEL=DIR [LABEL=DIR ...]
      P50/P90/P99 of TTFT and pooled TBT, real vs sim, signed relative error (sim - real) / real.
  fidelity-table.py --spread LABEL=DIR_A,DIR_B [...]
      run-to-run spread of two real runs of the same workload (their comparisons' real sides):
      |a - b| / mean(a, b) per percentile, and both runs' errors against the same simulation.
"""

import json
import sys
from pathlib import Path


def ms(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 1000:.1f}"


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:+.0f}%"


def load(path: str) -> dict:
    return json.loads((Path(path) / "comparison.json").read_text())["metrics"]


METRICS = (("ttft", "TTFT"), ("tbt", "TBT (pooled)"))
QS = ("p50", "p90", "p99")

args = sys.argv[1:]
if args and args[0] == "--spread":
    print("| load | metric | real run A P50 / P90 / P99 (ms) | real run B | spread P50 / P90 / P99 | error vs sim, A / B (P50; P90) |")
    print("|---|---|---|---|---|---|")
    for arg in args[1:]:
        label, paths = arg.split("=", 1)
        a_dir, b_dir = paths.split(",")
        a, b = load(a_dir), load(b_dir)
        for key, name in METRICS:
            ra, rb = a[key]["real"], b[key]["real"]
            spread = [abs(ra[q] - rb[q]) / ((ra[q] + rb[q]) / 2) for q in QS]
            ea, eb = a[key]["relErr"], b[key]["relErr"]
            print(
                f"| {label} | {name} | {' / '.join(ms(ra[q]) for q in QS)} | {' / '.join(ms(rb[q]) for q in QS)} | "
                f"{' / '.join(f'{s * 100:.0f}%' for s in spread)} | "
                f"{pct(ea['p50'])} / {pct(eb['p50'])}; {pct(ea['p90'])} / {pct(eb['p90'])} |"
            )
    sys.exit(0)

print("| run | metric | real P50 / P90 / P99 (ms) | sim P50 / P90 / P99 (ms) | error P50 / P90 / P99 |")
print("|---|---|---|---|---|")
for arg in args:
    label, path = arg.split("=", 1)
    m = load(path)
    for key, name in METRICS:
        r, s, e = m[key]["real"], m[key]["sim"], m[key]["relErr"]
        print(
            f"| {label} | {name} | {' / '.join(ms(r[q]) for q in QS)} | "
            f"{' / '.join(ms(s[q]) for q in QS)} | {' / '.join(pct(e[q]) for q in QS)} |"
        )

#!/usr/bin/env python3
"""Prints the README's fidelity table (P50/P90/P99 of TTFT and pooled TBT, real vs sim, signed relative error)
from comparison.json files: fidelity-table.py LABEL=DIR [LABEL=DIR ...]. Reads only the comparator's numbers."""

import json
import sys
from pathlib import Path


def ms(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 1000:.1f}"


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:+.0f}%"


print("| run | metric | real P50 / P90 / P99 (ms) | sim P50 / P90 / P99 (ms) | error P50 / P90 / P99 |")
print("|---|---|---|---|---|")
for arg in sys.argv[1:]:
    label, path = arg.split("=", 1)
    c = json.loads((Path(path) / "comparison.json").read_text())
    for key, name in (("ttft", "TTFT"), ("tbt", "TBT (pooled)")):
        m = c["metrics"][key]
        r, s, e = m["real"], m["sim"], m["relErr"]
        print(
            f"| {label} | {name} | {ms(r['p50'])} / {ms(r['p90'])} / {ms(r['p99'])} | "
            f"{ms(s['p50'])} / {ms(s['p90'])} / {ms(s['p99'])} | {pct(e['p50'])} / {pct(e['p90'])} / {pct(e['p99'])} |"
        )

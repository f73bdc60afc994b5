#!/usr/bin/env python3
"""Prints the README's fidelity tables from comparison.json files (reads only the comparator's numbers).

  fidelity-table.py LABEL=DIR [LABEL=DIR ...]
      P50/P90/P99 of TTFT and pooled TBT, real vs sim, signed relative error (sim - real) / real.
  fidelity-table.py --spread LABEL=DIR_A,DIR_B [...]
      run-to-run spread of two real runs of the same workload (their comparisons' real sides):
      |a - b| / mean(a, b) per percentile, and both runs' errors against the same simulation.
  fidelity-table.py --band LABEL=DIR_A,DIR_B[,DIR_C ...] [...]
      the simulation (DIR_A's sim side; the others simulate the same workload) against every real repeat: its
      error against each run, the real runs' spread (max - min) / mean, and a verdict per percentile:
      "5%" when within 5 % of run A, "band" when inside [min, max] of the real runs widened by 5 %, else "off".
  fidelity-table.py --throughput LABEL=DIR[,DIR_CAL] [...]
      sustained throughput (requests/s, output tokens/s), real vs simulated (and vs the calibrated simulation).
  fidelity-table.py --throughput-by NAME,NAME[,...] LABEL=DIR,DIR[,...] [...]
      the same requests/s, one named simulation column per dir (one real run: the first dir's real side).
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

if args and args[0] == "--throughput":
    print("| workload / server | real req/s | sim req/s (error) | calibrated sim req/s (error) | real output tok/s | sim output tok/s (error) |")
    print("|---|---|---|---|---|---|")
    for arg in args[1:]:
        label, paths = arg.split("=", 1)
        ts = [json.loads((Path(d) / "comparison.json").read_text())["throughput"] for d in paths.split(",")]
        t = ts[0]
        cal = f"{ts[1]['sim']['requestsPerS']:.2f} ({pct(ts[1]['relErr']['requestsPerS'])})" if len(ts) > 1 else "n/a"
        print(
            f"| {label} | {t['real']['requestsPerS']:.2f} | {t['sim']['requestsPerS']:.2f} ({pct(t['relErr']['requestsPerS'])}) | {cal} | "
            f"{t['real']['outputTokensPerS']:.0f} | {t['sim']['outputTokensPerS']:.0f} ({pct(t['relErr']['outputTokensPerS'])}) |"
        )
    sys.exit(0)

if args and args[0] == "--throughput-by":
    names = args[1].split(",")
    print(f"| workload / server | real req/s | {' | '.join(f'{n} req/s (error)' for n in names)} |")
    print(f"|---|---|{'---|' * len(names)}")
    for arg in args[2:]:
        label, paths = arg.split("=", 1)
        ts = [json.loads((Path(d) / "comparison.json").read_text())["throughput"] for d in paths.split(",")]
        if len(ts) != len(names):
            sys.exit(f"fidelity-table.py --throughput-by: {label} has {len(ts)} dirs, expected {len(names)} ({args[1]})")
        cells = " | ".join(f"{t['sim']['requestsPerS']:.2f} ({pct(t['relErr']['requestsPerS'])})" for t in ts)
        print(f"| {label} | {ts[0]['real']['requestsPerS']:.2f} | {cells} |")
    sys.exit(0)

if args and args[0] == "--band":
    print("| load | metric | sim P50 / P90 (ms) | real runs P50 / P90 (ms) | error vs each run, P50; P90 | real spread P50 / P90 | verdict P50 / P90 |")
    print("|---|---|---|---|---|---|---|")
    tally: dict = {}
    for arg in args[1:]:
        label, paths = arg.split("=", 1)
        ms_ = [load(d) for d in paths.split(",")]
        for key, name in METRICS:
            sim = ms_[0][key]["sim"]
            reals = [m[key]["real"] for m in ms_]
            errs = {q: [(sim[q] - r[q]) / r[q] for r in reals] for q in ("p50", "p90")}
            spread = {q: (max(r[q] for r in reals) - min(r[q] for r in reals)) / (sum(r[q] for r in reals) / len(reals)) for q in ("p50", "p90")}
            verdict = {}
            for q in ("p50", "p90"):
                lo, hi = min(r[q] for r in reals), max(r[q] for r in reals)
                verdict[q] = "5%" if abs(errs[q][0]) <= 0.05 else "band" if lo * 0.95 <= sim[q] <= hi * 1.05 else "off"
                tally[verdict[q]] = tally.get(verdict[q], 0) + 1
            print(
                f"| {label} | {name} | {ms(sim['p50'])} / {ms(sim['p90'])} | "
                f"{', '.join(ms(r['p50']) for r in reals)} / {', '.join(ms(r['p90']) for r in reals)} | "
                f"{', '.join(pct(e) for e in errs['p50'])}; {', '.join(pct(e) for e in errs['p90'])} | "
                f"{spread['p50'] * 100:.0f}% / {spread['p90'] * 100:.0f}% | {verdict['p50']} / {verdict['p90']} |"
            )
    print(f"\nverdicts: {', '.join(f'{k} {v}' for k, v in sorted(tally.items()))}")
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

#!/usr/bin/env python3
"""Does a CPU of this machine run at one speed? A fixed unit of pure-Python work timed back to back for a while, in
one process per listed CPU (each pinned to its CPU) plus one unpinned, with no server running.

  cpu_regimes.py [--seconds 60] [--cpus 0,5,10,15] [--window-s 0.5] --out DIR

Each worker records every unit's duration; per window (--window-s) the median unit time is kept. Printed per worker:
the windows' median unit time (us), their spread (min / P10 / P50 / P90 / max), the share of windows more than 25 %
slower than the worker's median, and the longest run of such windows; then the correlation of the windows' medians
between workers (do the CPUs slow down together?). DIR/cpu_regimes.json holds every window and the first window's
start (unix seconds), so a run recorded meanwhile can be laid beside it. The reference server's
step phases moved between ~0.7 and ~1.2 ms in blocks of seconds at one batch size (fourteenth session); this tells
whether the machine does that without it. Stdlib only.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import time
from pathlib import Path

UNIT_LOOPS = 20_000  # ~1 ms of interpreter work on a current x86 core


def unit() -> int:
    acc = 0
    for i in range(UNIT_LOOPS):
        acc = (acc + i * i) % 1_000_003
    return acc


def worker(
    cpu: int | None, seconds: float, window_s: float, start_at: float, q: mp.Queue
) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    while time.time() < start_at:
        time.sleep(0.001)
    t_end = start_at + seconds
    windows: list[list[float]] = []
    per: list[float] = []
    w_end = start_at + window_s
    while True:
        t0 = time.time()
        if t0 >= t_end:
            break
        unit()
        dt = time.time() - t0
        if t0 >= w_end:
            windows.append(per)
            per = []
            w_end += window_s
        per.append(dt * 1e6)
    if per:
        windows.append(per)
    q.put((cpu, [statistics.median(w) for w in windows if w]))


def summarize(medians: list[float]) -> dict[str, float]:
    s = sorted(medians)
    m = statistics.median(s)
    slow = [x > 1.25 * m for x in medians]
    run = best = 0
    for x in slow:
        run = run + 1 if x else 0
        best = max(best, run)

    def q(p: float) -> float:
        return s[min(len(s) - 1, int(p * (len(s) - 1)))]

    return {
        "windows": len(s),
        "min_us": s[0],
        "p10_us": q(0.1),
        "p50_us": m,
        "p90_us": q(0.9),
        "max_us": s[-1],
        "slow_share": sum(slow) / len(slow),
        "longest_slow_run": best,
    }


def corr(a: list[float], b: list[float]) -> float:
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    ma, mb = statistics.fmean(a), statistics.fmean(b)
    va = sum((x - ma) ** 2 for x in a)
    vb = sum((y - mb) ** 2 for y in b)
    if va == 0 or vb == 0:
        return float("nan")
    return (
        sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True)) / (va * vb) ** 0.5
    )


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument(
        "--cpus",
        default="0,5,10,15",
        help="CPUs to pin one worker each to (an unpinned one is added)",
    )
    ap.add_argument("--window-s", type=float, default=0.5)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    allowed = sorted(os.sched_getaffinity(0))
    cpus: list[int | None] = []
    for c in a.cpus.split(","):
        if int(c) not in allowed:
            raise SystemExit(
                f"--cpus: CPU {c} is not one this process may run on ({allowed})"
            )
        cpus.append(int(c))
    cpus.append(None)
    q: mp.Queue = mp.Queue()
    start_at = time.time() + 1.0
    procs = [
        mp.Process(target=worker, args=(c, a.seconds, a.window_s, start_at, q))
        for c in cpus
    ]
    for p in procs:
        p.start()
    results = dict(q.get() for _ in procs)
    for p in procs:
        p.join()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    label = {c: ("unpinned" if c is None else f"cpu {c}") for c in cpus}
    summary = {label[c]: summarize(results[c]) for c in cpus}
    print(
        f"{len(allowed)} CPUs allowed; {a.seconds:.0f} s, {a.window_s} s windows, unit = {UNIT_LOOPS} loop turns"
    )
    print(
        "| worker | windows | min / P10 / P50 / P90 / max us | windows > 1.25x P50 | longest such run |"
    )
    print("|---|---|---|---|---|")
    for c in cpus:
        s = summary[label[c]]
        print(
            f"| {label[c]} | {s['windows']} | {s['min_us']:.0f} / {s['p10_us']:.0f} / {s['p50_us']:.0f} / "
            f"{s['p90_us']:.0f} / {s['max_us']:.0f} | {100 * s['slow_share']:.0f} % | {s['longest_slow_run']} |"
        )
    pinned = [c for c in cpus if c is not None]
    pairs = {
        f"{label[x]} ~ {label[y]}": corr(results[x], results[y])
        for i, x in enumerate(pinned)
        for y in pinned[i + 1 :]
    }
    print(
        "window-median correlation between pinned workers: "
        + ", ".join(f"{k} {v:.2f}" for k, v in pairs.items())
    )
    doc = {
        "cpus_allowed": allowed,
        "start_at_unix_s": start_at,
        "seconds": a.seconds,
        "window_s": a.window_s,
        "unit_loops": UNIT_LOOPS,
        "summary": summary,
        "correlation": pairs,
        "window_medians_us": {label[c]: results[c] for c in cpus},
    }
    tmp = out / "cpu_regimes.json.tmp"
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, out / "cpu_regimes.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

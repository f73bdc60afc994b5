"""Where each run's CPU time went, from scripts/gpu/host_cpu.py's samples (calls 67-68): over the run's schedule span
(run.json's clock.zero_unix_s plus bench_health.json's schedule_span_s), the share of one CPU that the engine
process's busiest thread (its step loop), the whole engine process, the HTTP front's busiest thread (its event loop),
the whole front process and the bench client's main thread used, the engine's CPU's busy share (the step loop's CPU,
server_run.json's engine_cpus) and the machine's steal (the hypervisor's, summed over every CPU).

Also each run's tokens and engine steps a second, the front's CPU time a token, and the least-squares split of the
front's CPU share into a time a token and a time a step over the runs given.

Usage: python3 scripts/host-cpu.py --samples SAMPLES.csv [--samples ...] LABEL=RUN_DIR...   (markdown on stdout)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections import defaultdict


def load(path: str) -> tuple[dict, dict]:
    """cpu[id] -> [(t, busy, steal)], thread[(pid, tid)] -> (name, [(t, busy)])."""
    cpus: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    threads: dict[tuple[int, int], tuple[str, list[tuple[float, float]]]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            t = float(row["wall_s"])
            if row["kind"] == "cpu":
                cpus[row["id"]].append((t, float(row["busy_s"]), float(row["steal_s"])))
            elif row["kind"] == "thread":
                pid, tid = (int(x) for x in row["id"].split("/"))
                threads.setdefault((pid, tid), (row["name"], []))[1].append((t, float(row["busy_s"])))
    return cpus, threads


def delta(series: list, lo: float, hi: float, col: int = 1) -> tuple[float, float] | None:
    """The counter's growth over the samples inside [lo, hi] and the time between the first and last of them (a
    process started or ended inside the window counts from its first sample to its last)."""
    inside = [s for s in series if lo <= s[0] <= hi]
    if len(inside) < 2:
        return None
    return inside[-1][col] - inside[0][col], inside[-1][0] - inside[0][0]


def share(x: tuple[float, float] | None) -> str:
    """CPU seconds over wall seconds, or "-" without samples."""
    return "-" if x is None or x[1] <= 0 else f"{x[0] / x[1]:.2f}"


def run_window(run_dir: str) -> tuple[float, float]:
    with open(os.path.join(run_dir, "run.json")) as f:
        zero = json.load(f)["clock"]["zero_unix_s"]
    with open(os.path.join(run_dir, "bench_health.json")) as f:
        span = json.load(f)["schedule_span_s"]
    return zero, zero + span


def served(run_dir: str, span: float) -> tuple[float, float]:
    """Tokens and engine steps a second over the run's schedule span (server_token_timestamps.csv: a step's tokens
    share their time)."""
    times = []
    with open(os.path.join(run_dir, "server_token_timestamps.csv"), newline="") as f:
        for row in csv.DictReader(f):
            t = float(row["t"])
            if 0 <= t <= span:
                times.append(t)
    return len(times) / span, len(set(times)) / span


def fit_front(rows: list[tuple[float, float, float]]) -> tuple[float, float] | None:
    """Least squares of the front's CPU share on (tokens/s, steps/s), no intercept: (seconds a token, a step)."""
    sxx = sum(t * t for t, _, _ in rows)
    sxy = sum(t * s for t, s, _ in rows)
    syy = sum(s * s for _, s, _ in rows)
    sxz = sum(t * z for t, _, z in rows)
    syz = sum(s * z for _, s, z in rows)
    det = sxx * syy - sxy * sxy
    if len(rows) < 2 or abs(det) < 1e-12 * max(sxx * syy, 1e-300):
        return None
    return (sxz * syy - syz * sxy) / det, (syz * sxx - sxz * sxy) / det


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", action="append", required=True, help="a host_cpu.py CSV (repeatable: one per call)")
    ap.add_argument("runs", nargs="+", metavar="LABEL=RUN_DIR")
    a = ap.parse_args()
    loaded = [load(p) for p in a.samples]
    print(
        "| run | span (s) | engine loop thread | engine process | front loop thread | front process | client main thread"
        " | engine CPU busy | steal (CPUs) | tokens/s | steps/s | front CPU us a token |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    fit_rows = []
    for arg in a.runs:
        label, _, run_dir = arg.partition("=")
        if not run_dir:
            print(f"host-cpu.py: {arg}: expected LABEL=RUN_DIR", file=sys.stderr)
            return 2
        lo, hi = run_window(run_dir)
        wall = hi - lo
        with open(os.path.join(run_dir, "server_run.json")) as f:
            server = json.load(f)
        engine_pid = server["engine_pid"]
        engine_cpu = str(server["engine_cpus"][0])
        # The samples file whose CPUs cover the run's window (one machine's call).
        covering = [(c, t) for c, t in loaded if any(delta(series, lo, hi) is not None for series in c.values())]
        if not covering:
            print(f"host-cpu.py: {run_dir}: no samples file covers its window ({lo:.0f}-{hi:.0f} s)", file=sys.stderr)
            return 2
        cpus, threads = covering[0]
        by_proc: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for (pid, _tid), (name, series) in threads.items():
            d = delta(series, lo, hi)
            if d is None:
                continue
            kind = "engine" if pid == engine_pid else "client" if name.startswith("node/") else "front"
            if kind == "client" and not name.endswith("/MainThread") and not name.startswith("node/node"):
                by_proc["client-other"].append(d)
                continue
            by_proc[kind].append(d)
        steals = [d for d in (delta(s, lo, hi, 2) for s in cpus.values()) if d is not None]
        steal = (sum(d for d, _ in steals), max(t for _, t in steals)) if steals else None
        busy = delta(cpus[engine_cpu], lo, hi) if engine_cpu in cpus else None
        top = {k: max(v, default=None) for k, v in by_proc.items()}
        whole = {k: (sum(d for d, _ in v), max(t for _, t in v)) for k, v in by_proc.items() if v}
        tokens, steps = served(run_dir, wall)
        front = whole.get("front")
        per_token = "-"
        if front is not None and front[1] > 0 and tokens > 0:
            fit_rows.append((tokens, steps, front[0] / front[1]))
            per_token = f"{front[0] / front[1] / tokens * 1e6:.1f}"
        print(
            f"| {label} | {wall:.2f} | {share(top.get('engine'))} | {share(whole.get('engine'))}"
            f" | {share(top.get('front'))} | {share(whole.get('front'))} | {share(top.get('client'))}"
            f" | {share(busy)} | {share(steal)} | {tokens:.0f} | {steps:.0f} | {per_token} |"
        )
    fit = fit_front(fit_rows)
    if fit is not None:
        print(
            f"\nThe front's CPU share over these {len(fit_rows)} runs, least squares on tokens and steps a second:"
            f" {fit[0] * 1e6:.1f} us a token + {fit[1] * 1e6:.1f} us a step."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

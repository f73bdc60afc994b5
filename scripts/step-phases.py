#!/usr/bin/env python3
"""Where a served engine step's wall time goes, from a real run's iterations.csv phase columns (gpu-harness since
the twelfth session): schedule, prepare (the host building the step's inputs and launching it), wait (the host
blocked on the device until the sampled ids arrive) and process (handing out the tokens), plus the idle gap to the
next step. One row per run and step kind (decode-only, mixed), means in ms and each phase's share of the wall time;
with --bins, the same per batch-size bin (1, 2, 3-4, 5-8, ...) of each run. With --stalls, instead: each run's
steps with a phase over 20 ms (19 of the 50 runs recorded before the thirteenth session had one of 0.2-0.33 s, a
full collection of Python's GC, which the server now avoids by freezing the GC before READY). With --spread, instead:
the distribution of each run's input preparation on decode-only steps of 9-32 requests (10th / 50th / 90th percentile):
it has two modes ~1.8x apart, the lent CPUs' two speeds, and a run's mix of them sets its mean (fifteenth session);
beside it the in-band host probe (iterations.csv's host_probe_time, servers since then) and its correlation with it.
With --seconds, instead: how the two speeds lie in time. Each such step's preparation over the fast level at its batch
size (the 10th percentile of the steps at that size in every given run of the same server start, the runs' shared
grandparent directory: servers differ in level), the median of that ratio over each second of the
run clock (seconds with 5 steps or more), a second slow where it is over 1.35 (between the modes, ~1.0 and ~1.8): the
share of slow seconds, the longest slow stretch and the switches between the two; beside it the preparation's median
on steps whose batch is unchanged from the previous decode-only step (same size, every row one token on) and on the
first decode-only step after a mixed one, to tell the CPU's speed from the batch's churn.

Usage: python3 scripts/step-phases.py [--bins | --stalls | --spread | --seconds] LABEL=RUN_DIR [LABEL=RUN_DIR ...]
"""

from __future__ import annotations

import csv
import itertools
import statistics
import sys
from pathlib import Path

PHASES = ("schedule_time", "prepare_time", "wait_time", "process_time")


def fail(msg: str) -> None:
    print(f"step-phases.py: {msg}", file=sys.stderr)
    sys.exit(2)


def read_steps(run_dir: Path) -> list[dict[str, float]]:
    path = run_dir / "iterations.csv"
    if not path.is_file():
        fail(f"{path}: missing (a real run dir with the engine timeline is expected)")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in PHASES if c not in (reader.fieldnames or [])]
        if missing:
            fail(
                f"{path}:1: no phase columns {', '.join(missing)} (recorded by gpu-harness since the twelfth session)"
            )
        steps = []
        for line, row in enumerate(reader, start=2):
            try:
                step = {k: float(row[k]) for k in ("start", "end", *PHASES)}
                step["prefill"] = float(row["num_prefill_tokens"])
                step["batch"] = float(row["batch_size"])
                step["kv"] = float(row["kv_tokens_in_use"])
                # The in-band host-speed probe (gpu-harness since the fifteenth session; absent or empty before).
                probe = row.get("host_probe_time") or ""
                step["probe"] = float(probe) if probe else float("nan")
            except ValueError:
                fail(
                    f"{path}:{line}: a phase, start, end or token cell is empty or not a number"
                )
            steps.append(step)
    return steps


def bin_of(batch: float) -> str:
    hi = 1
    while hi < batch:
        hi *= 2
    return str(hi) if hi <= 2 else f"{hi // 2 + 1}-{hi}"


def row(label: str, kind: str, steps: list[dict[str, float]], gaps: list[float]) -> str:
    n = len(steps)
    wall = sum(s["end"] - s["start"] for s in steps) / n * 1e3
    means = [sum(s[p] for s in steps) / n * 1e3 for p in PHASES]
    cells = " | ".join(f"{m:.3f} ({m / wall * 100:.0f} %)" for m in means)
    gap = sum(gaps) / len(gaps) * 1e3 if gaps else float("nan")
    return f"| {label} | {kind} | {n} | {wall:.3f} | {cells} | {gap:.3f} |"


STALL_S = 0.02


def run_arg(arg: str) -> tuple[str, Path]:
    label, _, d = arg.partition("=")
    if not d:
        fail(f"{arg!r}: expected LABEL=RUN_DIR")
    return label, Path(d)


def stalls(runs: list[str]) -> int:
    print(
        "| run | steps | steps with a phase over 20 ms | longest phase ms (which, at s on the run clock) |"
    )
    print("|---|---|---|---|")
    for arg in runs:
        label, d = run_arg(arg)
        steps = read_steps(d)
        worst = max(steps, key=lambda s: max(s[p] for p in PHASES))
        phase = max(PHASES, key=lambda p: worst[p])
        n = sum(1 for s in steps if max(s[p] for p in PHASES) > STALL_S)
        where = f"{phase.removesuffix('_time')}, {worst['start']:.2f}"
        print(f"| {label} | {len(steps)} | {n} | {worst[phase] * 1e3:.1f} ({where}) |")
    return 0


SPREAD_BATCH = (9, 32)


def quantile(v: list[float], p: float) -> float:
    """The value at rank int(p * (n - 1)) of the sorted values (no interpolation)."""
    s = sorted(v)
    return s[int(p * (len(s) - 1))]


def quantiles(v: list[float], fmt: str) -> str:
    return " / ".join(format(quantile(v, p), fmt) for p in (0.1, 0.5, 0.9))


def spread(runs: list[str]) -> int:
    lo, hi = SPREAD_BATCH
    print(
        f"| run | decode-only steps of {lo}-{hi} requests | prepare ms p10 / p50 / p90 | mean | "
        "host probe us p10 / p50 / p90 | r(prepare, probe) |"
    )
    print("|---|---|---|---|---|---|")
    for arg in runs:
        label, d = run_arg(arg)
        steps = [
            s for s in read_steps(d) if s["prefill"] == 0 and lo <= s["batch"] <= hi
        ]
        if len(steps) < 20:
            print(f"| {label} | {len(steps)} | too few steps | | | |")
            continue
        prep = [s["prepare_time"] * 1e3 for s in steps]
        probes = [s["probe"] * 1e6 for s in steps if s["probe"] == s["probe"]]
        probe_cells = "- | -"
        if len(probes) == len(steps):
            probe_cells = f"{quantiles(probes, '.1f')} | {statistics.correlation(prep, probes):.2f}"
        print(
            f"| {label} | {len(steps)} | {quantiles(prep, '.3f')} | {sum(prep) / len(prep):.3f} | "
            f"{probe_cells} |"
        )
    return 0


SLOW_RATIO = 1.35
MIN_STEPS_PER_SECOND = 5


def seconds(runs: list[str]) -> int:
    lo, hi = SPREAD_BATCH
    per_run: list[tuple[str, Path, list[dict[str, float]], list[dict[str, float]]]] = []
    by_batch: dict[tuple[Path, float], list[float]] = {}
    for arg in runs:
        label, d = run_arg(arg)
        server = d.resolve().parent.parent
        steps = read_steps(d)
        sel = [s for s in steps if s["prefill"] == 0 and lo <= s["batch"] <= hi]
        for s in sel:
            by_batch.setdefault((server, s["batch"]), []).append(s["prepare_time"])
        per_run.append((label, server, steps, sel))
    fast = {k: quantile(v, 0.1) for k, v in by_batch.items()}
    print(
        f"| run | seconds with {MIN_STEPS_PER_SECOND}+ decode-only steps of {lo}-{hi} requests | slow seconds "
        "(median prepare > 1.35x the fast level) | longest slow stretch s | switches | prepare p50 ms, unchanged "
        "batch / first after a mixed step |"
    )
    print("|---|---|---|---|---|---|")
    for label, server, steps, sel in per_run:
        per_sec: dict[int, list[float]] = {}
        for s in sel:
            per_sec.setdefault(int(s["start"]), []).append(
                s["prepare_time"] / fast[server, s["batch"]]
            )
        secs = sorted(k for k, v in per_sec.items() if len(v) >= MIN_STEPS_PER_SECOND)
        if not secs:
            print(f"| {label} | 0 | too few steps | | | |")
            continue
        slow = [statistics.median(per_sec[k]) > SLOW_RATIO for k in secs]
        # Consecutive slow seconds: a gap in the clock ends a stretch.
        longest = cur = 0
        prev_k = None
        for k, is_slow in zip(secs, slow, strict=True):
            cur = 0 if not is_slow else cur + 1 if cur and k == prev_k + 1 else 1
            longest, prev_k = max(longest, cur), k
        switches = sum(1 for a, b in itertools.pairwise(slow) if a != b)
        unchanged, after_mixed = [], []
        for a, b in itertools.pairwise(steps):
            if b["prefill"] or not lo <= b["batch"] <= hi:
                continue
            if a["prefill"]:
                after_mixed.append(b["prepare_time"] * 1e3)
            elif a["batch"] == b["batch"] and b["kv"] - a["kv"] == b["batch"]:
                unchanged.append(b["prepare_time"] * 1e3)
        med = [
            f"{statistics.median(v):.3f}" if v else "-"
            for v in (unchanged, after_mixed)
        ]
        print(
            f"| {label} | {len(secs)} | {sum(slow) / len(secs) * 100:.0f} % | {longest} | {switches} | "
            f"{med[0]} / {med[1]} |"
        )
    return 0


def main(argv: list[str]) -> int:
    bins = "--bins" in argv
    runs = [a for a in argv if a not in ("--bins", "--stalls", "--spread", "--seconds")]
    if not runs:
        fail(
            "usage: step-phases.py [--bins | --stalls | --spread | --seconds] LABEL=RUN_DIR [LABEL=RUN_DIR ...]"
        )
    if "--stalls" in argv:
        return stalls(runs)
    if "--spread" in argv:
        return spread(runs)
    if "--seconds" in argv:
        return seconds(runs)
    print(
        "| run | steps | n | wall ms | schedule ms | prepare ms | wait ms | process ms | idle gap to next ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for arg in runs:
        label, d = run_arg(arg)
        steps = read_steps(d)
        gap_after = [b["start"] - a["end"] for a, b in itertools.pairwise(steps)] + [
            None
        ]
        groups: dict[tuple[str, str], list[int]] = {}
        for i, s in enumerate(steps):
            kind = "mixed" if s["prefill"] > 0 else "decode-only"
            groups.setdefault(("", kind), []).append(i)
            if bins:
                groups.setdefault((bin_of(s["batch"]), kind), []).append(i)
        order = sorted(
            groups,
            key=lambda k: (k[0] != "", k[1], int(k[0].split("-")[-1]) if k[0] else 0),
        )
        for key in order:
            idx = groups[key]
            # Gaps above 50 ms are the engine idle between requests, not a step's hand-over.
            gaps = [
                g for g in (gap_after[i] for i in idx) if g is not None and g < 0.05
            ]
            name = f"{key[1]}, batch {key[0]}" if key[0] else key[1]
            print(row(label, name, [steps[i] for i in idx], gaps))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

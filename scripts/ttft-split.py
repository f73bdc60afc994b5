#!/usr/bin/env python3
"""Where a calibrated simulation's TTFT gap lies: before the first token's step, in it, or in its delivery
(seventeenth session).

For each LABEL=REAL_DIR,SIM_DIR (a real run with the engine's timeline, and the calibrated simulation of it under
tmp/vidur_runs/), each request's engine-side TTFT is split at the step that produced its first token: the wait from
its arrival to that step's start (on the simulated side plus the calibration's admission delay, run.json
config.delivery_delay.admissionS, which the simulation adds to every token) and that step's duration; beside them
the first token's delivery (client receive - engine emit) against the calibration's delivery table at the batch
size of the real step that produced it (plus its first-token extra). Also the requests and tokens per second the
run sent through the server's front. P50s in ms.

Usage: python3 scripts/ttft-split.py LABEL=REAL_DIR,SIM_DIR [LABEL=REAL_DIR,SIM_DIR ...]
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np


def fail(msg: str) -> None:
    print(f"ttft-split.py: {msg}", file=sys.stderr)
    sys.exit(2)


def read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        fail(f"{path}: no such file")
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def token_times(path: Path) -> dict[tuple[str, int], float]:
    return {
        (r["request_id"], int(r["token_index"])): float(r["t"]) for r in read_csv(path)
    }


def first_delivery(run: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """The first tokens' engine emit times and client receive - emit, and all tokens per second through the front."""
    engine = token_times(run / "server_token_timestamps.csv")
    client = token_times(run / "token_timestamps.csv")
    keys = [k for k in engine if k in client]
    if not keys:
        fail(f"{run}: no token on both the engine's and the client's side")
    emit = np.array([engine[k] for k in keys])
    rate = len(keys) / (emit.max() - emit.min())
    firsts_ = [k for k in keys if k[1] == 0]
    return (
        np.array([engine[k] for k in firsts_]),
        np.array([client[k] - engine[k] for k in firsts_]),
        rate,
    )


def steps(path: Path) -> tuple[np.ndarray, np.ndarray]:
    rows = read_csv(path)
    start = np.array([float(r["start"]) for r in rows])
    end = np.array([float(r["end"]) for r in rows])
    order = np.argsort(end)
    return start[order], end[order]


def split_ttft(
    arrivals: dict[str, float], first: dict[str, float], it: Path
) -> tuple[float, float, float]:
    """P50 of TTFT, of the wait from arrival to the first token's step start, and of that step's duration (ms)."""
    start, end = steps(it)
    wait, dur, ttft = [], [], []
    for rid, t in first.items():
        i = int(np.searchsorted(end, t - 1e-7))
        if i >= len(end) or rid not in arrivals:
            continue
        wait.append(start[i] - arrivals[rid])
        dur.append(end[i] - start[i])
        ttft.append(t - arrivals[rid])
    return tuple(float(np.median(x)) * 1e3 for x in (ttft, wait, dur))  # type: ignore[return-value]


def firsts(path: Path) -> dict[str, float]:
    return {
        r["request_id"]: float(r["t"])
        for r in read_csv(path)
        if r["token_index"] == "0"
    }


def arrivals_of(path: Path) -> dict[str, float]:
    return {r["request_id"]: float(r["arrived_at"]) for r in read_csv(path)}


def main(argv: list[str]) -> None:
    if not argv:
        fail("usage: ttft-split.py LABEL=REAL_DIR,SIM_DIR [...]")
    print(
        "| run | requests/s, tokens/s | TTFT P50 real / sim (engine side) | arrival to the first token's step start: "
        "real / sim + admission | that step: real / sim | first-token delivery: real / calibration's table |"
    )
    print("|---|---|---|---|---|---|")
    for spec in argv:
        label, _, dirs = spec.partition("=")
        real_dir, _, sim_dir = dirs.partition(",")
        if not sim_dir:
            fail(f"{spec}: expected LABEL=REAL_DIR,SIM_DIR")
        real, sim = Path(real_dir), Path(sim_dir)
        config = (
            json.loads((sim / "run.json").read_text())
            .get("config", {})
            .get("delivery_delay")
        )
        if not config:
            fail(
                f"{sim}/run.json: no config.delivery_delay (expected a calibrated simulation)"
            )
        admission = config.get("admissionS", 0.0) * 1e3
        arrivals = arrivals_of(real / "request_metrics.csv")
        r_ttft, r_wait, r_step = split_ttft(
            arrivals,
            firsts(real / "server_token_timestamps.csv"),
            real / "iterations.csv",
        )
        s_ttft, s_wait, s_step = split_ttft(
            arrivals_of(sim / "request_metrics.csv"),
            firsts(sim / "vidur" / "bridge_tokens.csv"),
            sim / "iterations.csv",
        )
        emit, delay, rate = first_delivery(real)
        rows = sorted(read_csv(real / "iterations.csv"), key=lambda r: float(r["end"]))
        end = np.array([float(r["end"]) for r in rows])
        sizes = np.array([int(r["batch_size"]) for r in rows])
        idx = np.clip(np.searchsorted(end, emit - 1e-7), 0, len(end) - 1)
        table = np.interp(
            sizes[idx], config["batchSizes"], config["delaysS"]
        ) + config.get("firstTokenExtraS", 0.0)
        span = max(arrivals.values()) - min(arrivals.values())
        print(
            f"| {label} | {len(arrivals) / span:.0f}, {rate:.0f} | {r_ttft:.2f} / {s_ttft + admission:.2f} "
            f"| {r_wait:.2f} / {s_wait + admission:.2f} | {r_step:.2f} / {s_step:.2f} "
            f"| {np.median(delay) * 1e3:.2f} / {np.median(table) * 1e3:.2f} |"
        )


if __name__ == "__main__":
    main(sys.argv[1:])

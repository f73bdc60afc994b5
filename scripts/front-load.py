#!/usr/bin/env python3
"""How busy the server's front is at each real run, under the front a calibration recorded.

  front-load.py NAME=CALIBRATION.json[,NAME=CALIBRATION.json...] LABEL=RUN_DIR [...]

Per run (server_token_timestamps.csv, token_timestamps.csv, request_metrics.csv): the engine's tokens a second and
steps a second (a step's tokens share one emit time), the spread of a step's tokens at the client (the least-squares
slope of last receive - first receive on tokens - 1, us a token: what the front pays per token), the real delivery
delay's P50 / P90 (client receive - engine emit, ms), and for each calibration's front (delivery_delay frontSPerToken,
frontSPerStep) its busy share (tokens x per-token + steps x per-step, over the run's span) and its mean backlog at the
run's arrivals (ms): what that calibration adds to a request's admission delay there, less the fit's mean.
"""

import csv
import json
import sys
from collections import defaultdict

import numpy as np


def read_rows(path: str) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def token_times(path: str) -> dict[tuple[int, int], float]:
    return {
        (int(r["request_id"]), int(r["token_index"])): float(r["t"])
        for r in read_rows(path)
    }


def worker_done(emit: np.ndarray, per_token: float, per_step: float) -> np.ndarray:
    """Finish times of one worker serving the sorted emit times in order (vidur-bridge's frontWorkerDone)."""
    done = np.empty_like(emit)
    last = -np.inf
    previous = np.nan
    for i, t in enumerate(emit):
        last = max(t, last) + per_token + (0.0 if t == previous else per_step)
        previous = t
        done[i] = last
    return done


def main(argv: list[str]) -> int:
    if len(argv) < 2 or "=" not in argv[0]:
        print(__doc__, file=sys.stderr)
        return 2
    fronts = []
    for item in argv[0].split(","):
        name, path = item.split("=", 1)
        with open(path) as f:
            d = json.load(f)["delivery_delay"]
        if d is None or "frontSPerToken" not in d:
            print(
                f"front-load.py: {path}: its delivery_delay has no frontSPerToken (calibrate with --admission-backlog)",
                file=sys.stderr,
            )
            return 2
        fronts.append((name, d["frontSPerToken"], d.get("frontSPerStep", 0.0)))
    cols = "".join(f" {n} busy | {n} backlog |" for n, _, _ in fronts)
    print(
        f"| run | tokens/s | steps/s | step spread (us/token) | delivery P50 / P90 (ms) |{cols}"
    )
    print("|---|---|---|---|---|" + "---|---|" * len(fronts))
    for spec in argv[1:]:
        label, run = spec.split("=", 1)
        engine = token_times(f"{run}/server_token_timestamps.csv")
        client = token_times(f"{run}/token_timestamps.csv")
        arrivals = np.array(
            [float(r["arrived_at"]) for r in read_rows(f"{run}/request_metrics.csv")]
        )
        emit = np.sort(np.fromiter(engine.values(), float))
        span = emit[-1] - emit[0]
        steps = len(np.unique(emit))
        by_step: dict[float, list[float]] = defaultdict(list)
        delays = []
        for key, t in engine.items():
            if key in client:
                by_step[t].append(client[key])
                delays.append(client[key] - t)
        xs = [len(v) - 1 for v in by_step.values() if len(v) >= 2]
        ys = [max(v) - min(v) for v in by_step.values() if len(v) >= 2]
        slope = np.polyfit(xs, ys, 1)[0] if len(xs) >= 2 else float("nan")
        line = (
            f"| {label} | {len(emit) / span:.0f} | {steps / span:.0f} | {slope * 1e6:.1f} | "
            f"{np.quantile(delays, 0.5) * 1e3:.2f} / {np.quantile(delays, 0.9) * 1e3:.2f} |"
        )
        for _, per_token, per_step in fronts:
            done = worker_done(emit, per_token, per_step)
            idx = np.searchsorted(emit, arrivals, side="right")
            backlog = np.where(
                idx == 0, 0.0, np.maximum(0.0, done[np.maximum(idx - 1, 0)] - arrivals)
            )
            busy = (len(emit) * per_token + steps * per_step) / span
            line += f" {100 * busy:.0f} % | {backlog.mean() * 1e3:.2f} |"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

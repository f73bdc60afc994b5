#!/usr/bin/env python3
"""A load-dependent admission delay, tried on recorded runs (seventeenth session; not in the calibration yet).

The calibration adds one admission delay, fitted on the fit load, to every simulated request. Here the server's
front is modelled as one worker that serves every token on its way to a client, S seconds a token, in the engine's
emit order; a request arriving while the worker is busy waits for its backlog. S (and a fixed latency) are fitted on
--fit RUN_DIR's delivery delays (client receive - engine emit of every token: a grid matching their P50 and P90).
The admission delay becomes BASE + the backlog at the request's arrival, BASE being the calibration's admission
delay minus the mean backlog at the fit run's arrivals (so that the fit load keeps its mean), the backlog computed
from the simulation's own token times. Each LABEL=REAL_DIR,SIM_DIR (a real run, and its calibrated simulation under
tmp/vidur_runs/): TTFT P50 and P90 error of the simulation as it is and with that admission delay instead. A TTFT
shift only: the request's later tokens move with it, the schedule does not.

Usage: python3 scripts/admission-backlog.py --fit RUN_DIR LABEL=REAL_DIR,SIM_DIR [LABEL=REAL_DIR,SIM_DIR ...]
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np


def fail(msg: str) -> None:
    print(f"admission-backlog.py: {msg}", file=sys.stderr)
    sys.exit(2)


def read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        fail(f"{path}: no such file")
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def worker_done(emit: np.ndarray, per_token_s: float) -> np.ndarray:
    """When one worker, serving tokens in (sorted) emit order at per_token_s each, is done with each."""
    done = np.empty_like(emit)
    last = -np.inf
    for i, t in enumerate(emit):
        last = max(t, last) + per_token_s
        done[i] = last
    return done


def backlog(emit: np.ndarray, per_token_s: float, at: np.ndarray) -> np.ndarray:
    """The worker's remaining work at each time in `at` (s)."""
    done = worker_done(emit, per_token_s)
    idx = np.searchsorted(emit, at, side="right") - 1
    return np.where(idx >= 0, np.maximum(0.0, done[np.maximum(idx, 0)] - at), 0.0)


def fit_per_token(run: Path) -> tuple[float, float]:
    engine = {
        (r["request_id"], r["token_index"]): float(r["t"])
        for r in read_csv(run / "server_token_timestamps.csv")
    }
    client = {
        (r["request_id"], r["token_index"]): float(r["t"])
        for r in read_csv(run / "token_timestamps.csv")
    }
    keys = [k for k in engine if k in client]
    if not keys:
        fail(f"{run}: no token on both the engine's and the client's side")
    emit = np.array([engine[k] for k in keys])
    delay = np.array([client[k] for k in keys]) - emit
    order = np.argsort(emit, kind="stable")
    emit, delay = emit[order], delay[order]
    p50, p90 = np.percentile(delay, [50, 90])
    best = (np.inf, 0.0, 0.0)
    for s in np.arange(10e-6, 70e-6, 2.5e-6):
        queued = worker_done(emit, s) - emit
        for lat in np.arange(0.2e-3, 1.6e-3, 0.02e-3):
            m50, m90 = np.percentile(queued + lat, [50, 90])
            err = abs(m50 - p50) / p50 + abs(m90 - p90) / p90
            if err < best[0]:
                best = (err, s, lat)
    return best[1], best[2]


def ttft_error(sim: np.ndarray, real: np.ndarray) -> str:
    return "; ".join(
        f"{(np.percentile(sim, q) / np.percentile(real, q) - 1) * 100:+.0f}%"
        for q in (50, 90)
    )


def emits(path: Path) -> np.ndarray:
    return np.sort(np.array([float(r["t"]) for r in read_csv(path)]))


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[0] != "--fit":
        fail("usage: admission-backlog.py --fit RUN_DIR LABEL=REAL_DIR,SIM_DIR [...]")
    fit = Path(argv[1])
    s, lat = fit_per_token(fit)
    fit_arrivals = np.array(
        [float(r["arrived_at"]) for r in read_csv(fit / "request_metrics.csv")]
    )
    fit_backlog = float(
        backlog(emits(fit / "server_token_timestamps.csv"), s, fit_arrivals).mean()
    )
    print(
        f"The front as one worker, fitted on {fit}: {s * 1e6:.1f} us a token (+{lat * 1e3:.2f} ms fixed); "
        f"mean backlog at the fit run's arrivals {fit_backlog * 1e3:.2f} ms.\n"
    )
    print(
        "| run | mean backlog at arrival (ms, simulated) | TTFT P50; P90 error: as calibrated | with the backlog |"
    )
    print("|---|---|---|---|")
    for spec in argv[2:]:
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
        admission = config.get("admissionS", 0.0)
        base = admission - fit_backlog
        real_ttft = np.array(
            [
                float(r["ttft"])
                for r in read_csv(real / "request_metrics.csv")
                if r["status"] == "ok"
            ]
        )
        rows = [r for r in read_csv(sim / "request_metrics.csv") if r["ttft"]]
        ttft = np.array([float(r["ttft"]) for r in rows])
        waited = backlog(
            emits(sim / "vidur" / "bridge_tokens.csv"),
            s,
            np.array([float(r["arrived_at"]) for r in rows]),
        )
        shifted = ttft - admission + base + waited

        print(
            f"| {label} | {waited.mean() * 1e3:.2f} | {ttft_error(ttft, real_ttft)} | {ttft_error(shifted, real_ttft)} |"
        )


if __name__ == "__main__":
    main(sys.argv[1:])

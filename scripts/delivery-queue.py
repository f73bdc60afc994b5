#!/usr/bin/env python3
"""Is the server's HTTP side a queue? Replays a real run's engine token times (server_token_timestamps.csv) through
one first-come-first-served worker that spends C microseconds on each token (the HTTP thread serializing and writing
its SSE event), and prints the delivery delay (client receive - engine emit) three ways, P50 / P90 / P99 in ms:
measured (token_timestamps.csv against the engine's), the queue's (BASE + the wait behind earlier tokens of the same
step and any backlog of earlier steps + C), and the queue's without backlog (what a delay by the step's batch size
alone gives: BASE + C x (the step's tokens + 1) / 2).

Usage: python3 scripts/delivery-queue.py C_US BASE_MS LABEL=RUN_DIR [LABEL=RUN_DIR ...]
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path


def fail(msg: str) -> None:
    print(f"delivery-queue.py: {msg}", file=sys.stderr)
    sys.exit(2)


def read_times(path: Path) -> dict[tuple[str, int], float]:
    if not path.is_file():
        fail(
            f"{path}: missing (a real run dir recorded with --engine-timeline is expected)"
        )
    out = {}
    with path.open(newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            try:
                out[(row["request_id"], int(row["token_index"]))] = float(row["t"])
            except (KeyError, ValueError):
                fail(
                    f"{path}:{line}: expected request_id, an integer token_index and a number t"
                )
    return out


def quantiles(xs: list[float]) -> str:
    s = sorted(xs)
    return " / ".join(
        f"{s[min(len(s) - 1, int(p * len(s)))] * 1e3:.2f}" for p in (0.5, 0.9, 0.99)
    )


def main(argv: list[str]) -> None:
    if len(argv) < 3:
        fail("usage: delivery-queue.py C_US BASE_MS LABEL=RUN_DIR [...]")
    try:
        c, base = float(argv[0]) * 1e-6, float(argv[1]) * 1e-3
    except ValueError:
        fail(f"C_US {argv[0]!r} and BASE_MS {argv[1]!r}: expected numbers")
    print(
        f"| run | tokens | measured ms | queue at {argv[0]} us/token ms | no backlog ms |"
    )
    print("|---|---|---|---|---|")
    for arg in argv[2:]:
        label, _, d = arg.partition("=")
        if not d:
            fail(f"{arg!r}: expected LABEL=RUN_DIR")
        engine = read_times(Path(d) / "server_token_timestamps.csv")
        client = read_times(Path(d) / "token_timestamps.csv")
        steps: dict[float, list[tuple[str, int]]] = defaultdict(list)
        for key, t in engine.items():
            if key in client:
                steps[t].append(key)
        measured, queued, linear = [], [], []
        free = float("-inf")
        for t in sorted(steps):
            keys = sorted(steps[t])
            start = max(t, free)
            for j, key in enumerate(keys, start=1):
                measured.append(client[key] - t)
                queued.append(start - t + c * j + base)
                linear.append(base + c * (len(keys) + 1) / 2)
            free = start + c * len(keys)
        print(
            f"| {label} | {len(measured)} | {quantiles(measured)} | {quantiles(queued)} | {quantiles(linear)} |"
        )


if __name__ == "__main__":
    main(sys.argv[1:])

#!/usr/bin/env python3
"""Engine -> client delivery latency of recorded real runs: delivery-latency.py RUN_DIR [RUN_DIR ...].

For each run dir with both clocks (token_timestamps.csv: client receive times; server_token_timestamps.csv: the
engine's token times moved onto the run clock by `runner bench --engine-timeline`), prints the median and P90 of
(client time - engine time) for first tokens and for all tokens, and the median engine-side TTFT (engine first
token - request sent) beside the client TTFT. Vidur models the engine side only; the difference is the HTTP/SSE
path.

delivery-latency.py --queue C_US BASE_MS LABEL=RUN_DIR [...]: is the HTTP side a queue? Replays each run's engine
token times through one first-come-first-served worker that spends C_US microseconds on each token (the HTTP thread
serializing and writing its SSE event) and prints the delivery delay P50 / P90 / P99 in ms three ways: measured, the
queue's (BASE_MS + the wait behind earlier tokens of the same step and any backlog of earlier steps + C_US), and the
queue's without backlog (what a delay by the step's batch size alone gives: BASE_MS + C_US x (the step's tokens +
1) / 2). Stdlib only."""

import csv
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def fail(msg: str) -> None:
    sys.exit(f"delivery-latency.py: {msg}")


def times(path: Path) -> dict[tuple[str, int], float]:
    if not path.is_file():
        fail(
            f"{path}: missing (a real run dir recorded with --engine-timeline is expected)"
        )
    out = {}
    with path.open(newline="") as f:
        for line, r in enumerate(csv.DictReader(f), start=2):
            try:
                out[(r["request_id"], int(r["token_index"]))] = float(r["t"])
            except (KeyError, ValueError):
                fail(
                    f"{path}:{line}: expected request_id, an integer token_index and a number t"
                )
    return out


def both_clocks(
    d: Path,
) -> tuple[
    dict[tuple[str, int], float], dict[tuple[str, int], float], list[tuple[str, int]]
]:
    client, engine = (
        times(d / "token_timestamps.csv"),
        times(d / "server_token_timestamps.csv"),
    )
    both = [k for k in client if k in engine]
    if not both:
        fail(
            f"{d}: no token present on both clocks (was the run made with --engine-timeline?)"
        )
    return client, engine, both


def q(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(p * (len(s) - 1) + 0.5))]


def latency(dirs: list[str]) -> None:
    print(
        "| run | first token: median / P90 delay (ms) | all tokens: median / P90 (ms) | TTFT engine-side / client median (ms) |"
    )
    print("|---|---|---|---|")
    for arg in dirs:
        d = Path(arg)
        client, engine, both = both_clocks(d)
        first = [client[k] - engine[k] for k in both if k[1] == 0]
        every = [client[k] - engine[k] for k in both]
        with (d / "request_metrics.csv").open(newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["status"] == "ok"]
        eng_ttft = [
            engine[(r["request_id"], 0)] - float(r["sent_at"])
            for r in rows
            if (r["request_id"], 0) in engine
        ]
        cli_ttft = [float(r["ttft"]) for r in rows]
        print(
            f"| {d.name} | {statistics.median(first) * 1e3:.2f} / {q(first, 0.9) * 1e3:.2f} | "
            f"{statistics.median(every) * 1e3:.2f} / {q(every, 0.9) * 1e3:.2f} | "
            f"{statistics.median(eng_ttft) * 1e3:.2f} / {statistics.median(cli_ttft) * 1e3:.2f} |"
        )


def queue(args: list[str]) -> None:
    if len(args) < 3:
        fail("usage: delivery-latency.py --queue C_US BASE_MS LABEL=RUN_DIR [...]")
    try:
        c, base = float(args[0]) * 1e-6, float(args[1]) * 1e-3
    except ValueError:
        fail(f"--queue C_US {args[0]!r} and BASE_MS {args[1]!r}: expected numbers")
    ms = lambda xs: " / ".join(f"{q(xs, p) * 1e3:.2f}" for p in (0.5, 0.9, 0.99))
    print(
        f"| run | tokens | measured ms | queue at {args[0]} us/token ms | no backlog ms |"
    )
    print("|---|---|---|---|---|")
    for arg in args[2:]:
        label, _, d = arg.partition("=")
        if not d:
            fail(f"{arg!r}: expected LABEL=RUN_DIR")
        client, engine, both = both_clocks(Path(d))
        steps: dict[float, list[tuple[str, int]]] = defaultdict(list)
        for key in both:
            steps[engine[key]].append(key)
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
            f"| {label} | {len(measured)} | {ms(measured)} | {ms(queued)} | {ms(linear)} |"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--queue"]:
        queue(sys.argv[2:])
    else:
        latency(sys.argv[1:])

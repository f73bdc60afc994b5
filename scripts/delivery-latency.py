#!/usr/bin/env python3
"""Engine -> client delivery latency of recorded real runs: delivery-latency.py RUN_DIR [RUN_DIR ...].

For each run dir with both clocks (token_timestamps.csv: client receive times; server_token_timestamps.csv: the
engine's token times moved onto the run clock by `runner bench --engine-timeline`), prints the median and P90 of
(client time - engine time) for first tokens and for all tokens, and the median engine-side TTFT (engine first
token - request sent) beside the client TTFT. Vidur models the engine side only; the difference is the HTTP/SSE
path. Stdlib only."""

import csv
import statistics
import sys
from pathlib import Path


def times(path: Path) -> dict[tuple[str, int], float]:
    with path.open(newline="") as f:
        return {(r["request_id"], int(r["token_index"])): float(r["t"]) for r in csv.DictReader(f)}


def q(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(p * (len(s) - 1) + 0.5))]


print("| run | first token: median / P90 delay (ms) | all tokens: median / P90 (ms) | TTFT engine-side / client median (ms) |")
print("|---|---|---|---|")
for arg in sys.argv[1:]:
    d = Path(arg)
    client, engine = times(d / "token_timestamps.csv"), times(d / "server_token_timestamps.csv")
    both = [k for k in client if k in engine]
    if not both:
        sys.exit(f"{d}: no token present on both clocks (was the run made with --engine-timeline?)")
    first = [client[k] - engine[k] for k in both if k[1] == 0]
    every = [client[k] - engine[k] for k in both]
    with (d / "request_metrics.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["status"] == "ok"]
    eng_ttft = [engine[(r["request_id"], 0)] - float(r["sent_at"]) for r in rows if (r["request_id"], 0) in engine]
    cli_ttft = [float(r["ttft"]) for r in rows]
    print(
        f"| {d.name} | {statistics.median(first) * 1e3:.2f} / {q(first, 0.9) * 1e3:.2f} | "
        f"{statistics.median(every) * 1e3:.2f} / {q(every, 0.9) * 1e3:.2f} | "
        f"{statistics.median(eng_ttft) * 1e3:.2f} / {statistics.median(cli_ttft) * 1e3:.2f} |"
    )

#!/usr/bin/env python3
"""The order a server admitted a burst in, against the workload's order (saturation runs: every request sent at once).

  admission-order.py [--first N] LABEL=REAL_RUN_DIR [...]

The admission order is the engine's first-token order (server_token_timestamps.csv, else the client's
token_timestamps.csv; ties by request id), as `runner`'s `admissionOrder: "real"` reads it. Per run: the rank
correlation of request id and admission rank (1 = the workload's order), how many of the first N admitted (default 64)
are among the workload's first N, and the mean prompt and output lengths of the first N either way against the whole
workload's: a simulation in the workload's order serves those first.
"""

import csv
import os
import sys

import numpy as np


def first_tokens(run: str) -> dict[int, float]:
    path = os.path.join(run, "server_token_timestamps.csv")
    if not os.path.exists(path):
        path = os.path.join(run, "token_timestamps.csv")
    out: dict[int, float] = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if r["token_index"] == "0":
                out[int(r["request_id"])] = float(r["t"])
    return out


def ranks(xs: np.ndarray) -> np.ndarray:
    r = np.empty(len(xs))
    r[np.argsort(xs, kind="stable")] = np.arange(len(xs))
    return r


args = sys.argv[1:]
n_first = 64
if args[:1] == ["--first"]:
    n_first, args = int(args[1]), args[2:]
print(
    f"| run | requests | id vs admission rank | of the first {n_first} admitted, from requests 0-{n_first - 1} "
    f"| first {n_first}: prompt / output, workload order | admission order | all requests |"
)
print("|---|---|---|---|---|---|---|")
for arg in args:
    label, run = arg.split("=", 1)
    with open(os.path.join(run, "request_metrics.csv"), newline="") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: int(r["request_id"]))
    ids = np.array([int(r["request_id"]) for r in rows])
    prompt = np.array([int(r["num_prefill_tokens"]) for r in rows])
    output = np.array([int(r["num_decode_tokens"]) for r in rows])
    ft = first_tokens(run)
    at = np.array([ft.get(i, np.inf) for i in ids])
    order = np.lexsort((ids, at))
    rho = np.corrcoef(ranks(ids.astype(float)), ranks(at))[0, 1]
    first = order[:n_first]
    both = int(np.sum(ids[first] < n_first))
    print(
        f"| {label} | {len(ids)} | {rho:.2f} | {both} "
        f"| {prompt[:n_first].mean():.0f} / {output[:n_first].mean():.0f} "
        f"| {prompt[first].mean():.0f} / {output[first].mean():.0f} | {prompt.mean():.0f} / {output.mean():.0f} |"
    )

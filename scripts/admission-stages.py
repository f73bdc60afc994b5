#!/usr/bin/env python3
"""Where a request waits before its first step, from real runs that carry server_admissions.csv.

  admission-stages.py LABEL=RUN_DIR [...]

gpu-harness serve (since the twenty-third session) records, per request, when it reached the engine's inbox and when
the engine thread took it in (between steps); `runner bench --engine-timeline` puts both on the run clock. With the
client's send time (request_metrics.csv sent_at) that splits the admission into the front (sent -> inbox: the HTTP
process parsing the request and handing it to the engine process) and the engine (inbox -> drained: waiting for
the step in progress to end). Per run and per batch size of the step in progress when the request reached the inbox:
the requests, the medians of both stages (ms), the median time from the inbox to the next step's start (what the
engine stage is when no step is missed) and the share of requests that missed that next step.
"""

import csv
import sys

import numpy as np

GROUPS = [(1, 48), (49, 96), (97, 128)]


def read_rows(path: str) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    print(
        "| run | batch in progress | requests | front: sent -> inbox (ms) | engine: inbox -> taken in (ms) "
        "| inbox -> next step start (ms) | missed the next step |"
    )
    print("|---|---|---|---|---|---|---|")
    for spec in argv:
        label, run = spec.split("=", 1)
        sent = {
            int(r["request_id"]): float(r["sent_at"])
            for r in read_rows(f"{run}/request_metrics.csv")
        }
        admissions = read_rows(f"{run}/server_admissions.csv")
        steps = sorted(
            read_rows(f"{run}/iterations.csv"), key=lambda r: float(r["start"])
        )
        starts = np.array([float(s["start"]) for s in steps])
        sizes = np.array([int(s["batch_size"]) for s in steps])
        ids = [int(a["request_id"]) for a in admissions]
        inbox = np.array([float(a["inbox"]) for a in admissions])
        drained = np.array([float(a["drained"]) for a in admissions])
        front = inbox - np.array([sent[i] for i in ids])
        k = np.searchsorted(starts, inbox, side="left")
        next_start = np.where(
            k < len(starts), starts[np.minimum(k, len(starts) - 1)], np.nan
        )
        missed = drained > next_start + 1e-4
        batch = sizes[np.maximum(np.searchsorted(starts, inbox, side="right") - 1, 0)]
        for lo, hi in GROUPS:
            m = (batch >= lo) & (batch <= hi)
            if m.sum() < 15:
                continue
            print(
                f"| {label} | {lo}-{hi} | {m.sum()} | {np.median(front[m]) * 1e3:.2f} "
                f"| {np.median((drained - inbox)[m]) * 1e3:.2f} | {np.nanmedian((next_start - inbox)[m]) * 1e3:.2f} "
                f"| {100 * missed[m].mean():.0f} % |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

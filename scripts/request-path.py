#!/usr/bin/env python3
"""Where a request spends the time from its send to the engine's intake, by where in an engine step it was sent.

  request-path.py LABEL=RUN_DIR [...]

Needs runs recorded since the twenty-fourth session: client_sends.csv (the client's send and the time undici wrote
the request to its socket) and server_admissions.csv with the HTTP front's stamps (its handler's start and its
hand-over to the engine process), both on the run clock (`runner bench --engine-timeline`). The stages, each a
median in ms: write (send -> socket write, the client), recv (socket write -> the front's handler starting: the
front's event loop busy with other work, e.g. writing the step's tokens), parse (handler -> hand-over), pipe
(hand-over -> the engine's inbox, another process) and engine (inbox -> the engine thread taking it in at a step
boundary). Per run, all requests, then by the send's phase in the engine step in progress (fifths of the step).
"""

import csv
import sys

import numpy as np

STAGES = ("write", "recv", "parse", "pipe", "engine")


def read_rows(path: str) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def stages(run: str) -> tuple[dict[str, np.ndarray], np.ndarray, float]:
    ok = {r["request_id"] for r in read_rows(f"{run}/request_metrics.csv") if r["status"] == "ok"}
    sends = {r["request_id"]: r for r in read_rows(f"{run}/client_sends.csv")}
    admissions = [
        a
        for a in read_rows(f"{run}/server_admissions.csv")
        if a["request_id"] in ok and a.get("received") and sends.get(a["request_id"], {}).get("written_at")
    ]
    if not admissions:
        sys.exit(f"{run}: no request carries both the client's write and the front's stamps")
    col = lambda rows, key: np.array([float(r[key]) for r in rows])
    matched = [sends[a["request_id"]] for a in admissions]
    sent, written = col(matched, "sent_at"), col(matched, "written_at")
    received, submitted = col(admissions, "received"), col(admissions, "submitted")
    inbox, drained = col(admissions, "inbox"), col(admissions, "drained")
    steps = sorted(read_rows(f"{run}/iterations.csv"), key=lambda s: float(s["start"]))
    starts = np.array([float(s["start"]) for s in steps])
    ends = np.array([float(s["end"]) for s in steps])
    k = np.clip(np.searchsorted(starts, sent, side="right") - 1, 0, len(starts) - 1)
    phase = np.where(sent < ends[k], (sent - starts[k]) / np.maximum(ends[k] - starts[k], 1e-9), np.nan)
    by = dict(zip(STAGES, (written - sent, received - written, submitted - received, inbox - submitted, drained - inbox)))
    return by, phase, float(np.median(ends - starts))


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    print("| run | sent in the step | requests | " + " | ".join(f"{s} (ms)" for s in STAGES) + " |")
    print("|---|---|---|" + "---|" * len(STAGES))
    for spec in argv:
        label, run = spec.split("=", 1)
        by, phase, step = stages(run)
        groups = [("all", np.ones(len(phase), bool))]
        groups += [(f"{lo / 5:.1f}-{(lo + 1) / 5:.1f}", (phase >= lo / 5) & (phase < (lo + 1) / 5)) for lo in range(5)]
        for name, sel in groups:
            if sel.sum() < 5:
                continue
            cells = " | ".join(f"{np.median(by[s][sel]) * 1e3:.2f}" for s in STAGES)
            print(f"| {label} (step {step * 1e3:.1f} ms) | {name} | {sel.sum()} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

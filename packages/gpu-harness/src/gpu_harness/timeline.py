"""Engine-side timeline: one monotonic clock since server start, per-token times and the per-step log.

Owns the clock (`time.perf_counter` relative to start, anchored to the wall clock once), the in-memory logs,
their CSV rendering (metrics-io columns) and the atomic write of `iterations.csv`, `server_tokens.csv`,
`server_admissions.csv` and `server_run.json`. Thread-safe: the engine thread records, the HTTP thread
reads/flushes/resets. It does not decide what a step or a token is (the engines do).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import HarnessError

ITERATION_COLUMNS = (
    "step",
    "start",
    "end",
    "gpu_time",
    "num_prefill_tokens",
    "num_decode_tokens",
    "batch_size",
    "kv_tokens_in_use",
    "schedule_time",
    "prepare_time",
    "wait_time",
    "process_time",
    "host_probe_time",
)
TOKEN_COLUMNS = ("request_id", "token_index", "t")
# Per request: when the engine side got it (its driver's inbox), when the engine thread took it in, and when
# the HTTP front's handler started and handed it to the engine (empty where the front did not stamp it).
ADMISSION_COLUMNS = ("request_id", "inbox", "drained", "received", "submitted")


@dataclass(frozen=True)
class StepPhases:
    """Where one step's wall time went on the engine thread (seconds; they add up to end - start).

    schedule: the scheduler choosing the batch; prepare: the host building the step's inputs and launching it
    (the device is idle until the launch); wait: the host blocked on the device until the sampled ids arrive;
    process: appending the tokens, handing them to the requests and finishing the batch.
    """

    schedule: float
    prepare: float
    wait: float
    process: float


@dataclass(frozen=True)
class Iteration:
    """One engine step; times in seconds on the timeline clock, gpu_time None where not measured (CPU),
    phases None where the engine does not split its step."""

    step: int
    start: float
    end: float
    gpu_time: float | None
    num_prefill_tokens: int
    num_decode_tokens: int
    batch_size: int
    kv_tokens_in_use: int | None
    phases: StepPhases | None = None
    # A fixed piece of the step's host work timed in-band (lean varlen path: turning the step's fixed-size
    # list of int64 inputs into a tensor): the CPU's speed at that step, whatever the batch. None elsewhere.
    host_probe: float | None = None


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:.6f}"


def atomic_write_text(path: Path, text: str) -> None:
    """Write text to a temp file in the same directory, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise HarnessError("HARNESS_WRITE", f"{path}: cannot write ({err})") from err


class Timeline:
    """The server's clock and logs. `now()` is seconds since construction (server start)."""

    def __init__(self) -> None:
        self._t0 = time.perf_counter()
        self.wall_anchor = time.time()
        self._lock = threading.Lock()
        self._tokens: list[tuple[str, int, float]] = []
        self._iterations: list[Iteration] = []
        self._admissions: list[tuple[str, float, float, float | None, float | None]] = []
        self._next_step = 0
        self.resets = 0

    def now(self) -> float:
        """Seconds since server start on the monotonic clock."""
        return time.perf_counter() - self._t0

    def from_perf_counter(self, t: float) -> float:
        """Convert a raw `time.perf_counter()` reading to this timeline's clock."""
        return t - self._t0

    def record_token(self, request_id: str, token_index: int, t: float) -> None:
        with self._lock:
            self._tokens.append((request_id, token_index, t))

    def record_admission(
        self,
        request_id: str,
        inbox: float,
        drained: float,
        front_times: tuple[float, float] | None = None,
    ) -> None:
        """A request reached the engine's inbox at `inbox` and the engine thread took it in at `drained`;
        `front_times` (raw perf_counter readings) are when the HTTP handler started and submitted it."""
        received = submitted = None
        if front_times is not None:
            received, submitted = (self.from_perf_counter(t) for t in front_times)
        with self._lock:
            self._admissions.append((request_id, inbox, drained, received, submitted))

    def record_iteration(
        self,
        *,
        start: float,
        end: float,
        gpu_time: float | None,
        num_prefill_tokens: int,
        num_decode_tokens: int,
        batch_size: int,
        kv_tokens_in_use: int | None,
        phases: StepPhases | None = None,
        host_probe: float | None = None,
    ) -> int:
        """Append a step; returns its step number (0-based since the last reset)."""
        with self._lock:
            step = self._next_step
            self._next_step += 1
            self._iterations.append(
                Iteration(
                    step,
                    start,
                    end,
                    gpu_time,
                    num_prefill_tokens,
                    num_decode_tokens,
                    batch_size,
                    kv_tokens_in_use,
                    phases,
                    host_probe,
                )
            )
            return step

    def iterations(self) -> list[Iteration]:
        with self._lock:
            return list(self._iterations)

    def tokens(self) -> list[tuple[str, int, float]]:
        with self._lock:
            return list(self._tokens)

    def admissions(self) -> list[tuple[str, float, float, float | None, float | None]]:
        with self._lock:
            return list(self._admissions)

    def reset(self) -> None:
        """Drop the logs (between runs); the clock and its anchor stay."""
        with self._lock:
            self._tokens.clear()
            self._iterations.clear()
            self._admissions.clear()
            self._next_step = 0
            self.resets += 1

    def iterations_csv(self) -> str:
        buf = io.StringIO()
        buf.write(",".join(ITERATION_COLUMNS) + "\n")
        for it in self.iterations():
            kv = "" if it.kv_tokens_in_use is None else str(it.kv_tokens_in_use)
            ph = it.phases
            phases = (
                ",,,"
                if ph is None
                else f"{_fmt(ph.schedule)},{_fmt(ph.prepare)},{_fmt(ph.wait)},{_fmt(ph.process)}"
            )
            buf.write(
                f"{it.step},{_fmt(it.start)},{_fmt(it.end)},{_fmt(it.gpu_time)},{it.num_prefill_tokens},"
                f"{it.num_decode_tokens},{it.batch_size},{kv},{phases},{_fmt(it.host_probe)}\n"
            )
        return buf.getvalue()

    def tokens_csv(self) -> str:
        buf = io.StringIO()
        buf.write(",".join(TOKEN_COLUMNS) + "\n")
        for rid, idx, t in self.tokens():
            buf.write(f"{rid},{idx},{_fmt(t)}\n")
        return buf.getvalue()

    def admissions_csv(self) -> str:
        buf = io.StringIO()
        buf.write(",".join(ADMISSION_COLUMNS) + "\n")
        for rid, inbox, drained, received, submitted in self.admissions():
            buf.write(f"{rid},{_fmt(inbox)},{_fmt(drained)},{_fmt(received)},{_fmt(submitted)}\n")
        return buf.getvalue()

    def manifest(self, run_info: dict[str, Any]) -> dict[str, Any]:
        """server_run.json's content: run_info plus the clock, its wall anchor, now and the reset count."""
        info = dict(run_info)
        info.update(
            {
                "clock": "time.perf_counter seconds since server start",
                "wall_anchor_unix_s": self.wall_anchor,
                "wall_anchor_iso": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.wall_anchor))
                + f".{int((self.wall_anchor % 1) * 1e6):06d}Z",
                "written_at_s": self.now(),
                "log_resets": self.resets,
            }
        )
        return info

    def write(self, log_dir: str | os.PathLike[str], run_info: dict[str, Any]) -> list[Path]:
        """Write the four files atomically into `log_dir`; returns their paths."""
        d = Path(log_dir)
        info = self.manifest(run_info)
        paths = [
            d / "iterations.csv",
            d / "server_tokens.csv",
            d / "server_run.json",
            d / "server_admissions.csv",
        ]
        atomic_write_text(paths[0], self.iterations_csv())
        atomic_write_text(paths[1], self.tokens_csv())
        atomic_write_text(paths[2], json.dumps(info, indent=2, sort_keys=True) + "\n")
        atomic_write_text(paths[3], self.admissions_csv())
        return paths

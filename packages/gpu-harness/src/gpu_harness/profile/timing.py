"""Timing of one operator: warm-up, repeats, buffer rotation, reduced to Vidur's five statistics in ms.

On CUDA each sample is bracketed by CUDA events, and the whole batch of samples is queued behind a GPU sleep
kernel long enough to cover the host's launch time, so the GPU runs the samples back to back and the events
measure kernel time without launch gaps, as Vidur's own profiler (summed kernel durations) does.
Between samples (outside the events) a buffer twice the L2 size is overwritten, so every sample starts
with a cold L2, as each layer's operands are in the server (the other layers' weights evict them). On CPU
each sample is a perf_counter interval (CPU kernels are synchronous). Does not decide what to time.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

# Assumed SM clock for converting the sleep length to cycles; a slower real clock only sleeps longer.
_ASSUMED_CLOCK_HZ = 2.0e9
_MAX_SLEEP_S = 0.05


@dataclass(frozen=True)
class TimeStats:
    """min/max/mean/median/std of the samples, in milliseconds (std is the population std, ddof 0)."""

    min: float
    max: float
    mean: float
    median: float
    std: float

    @staticmethod
    def from_samples_ms(samples: Sequence[float]) -> TimeStats:
        """Reduce samples (ms) to the five statistics."""
        if not samples:
            raise ValueError("no samples")
        mean = statistics.fmean(samples)
        var = statistics.fmean([(s - mean) ** 2 for s in samples])
        return TimeStats(min(samples), max(samples), mean, statistics.median(samples), math.sqrt(var))

    @staticmethod
    def zero() -> TimeStats:
        """All-zero stats, for ops a row does not run (Vidur's FLASHINFER files write 0.0 there)."""
        return TimeStats(0.0, 0.0, 0.0, 0.0, 0.0)


class OpTimer:
    """Times zero-argument callables on one device; `calls` are rotated so consecutive samples touch
    different buffers (and, for per-layer ops, different layers' weights)."""

    def __init__(self, device: torch.device, warmup: int, repeats: int) -> None:
        if warmup < 0 or repeats < 1:
            raise ValueError(f"warmup must be >= 0 and repeats >= 1, got {warmup}, {repeats}")
        self.device = device
        self.warmup = warmup
        self.repeats = repeats
        self._cuda = device.type == "cuda"
        self._sleep = getattr(torch.cuda, "_sleep", None) if self._cuda else None
        self._scrub: torch.Tensor | None = None
        if self._cuda:
            l2_bytes = int(getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 0) or 64 << 20)
            self._scrub = torch.empty(2 * l2_bytes // 4, dtype=torch.int32, device=device)

    @property
    def method(self) -> str:
        """How samples are taken, for the manifest."""
        if self._cuda:
            return "cuda_event+l2_scrub" + ("+gpu_sleep_prequeue" if self._sleep is not None else "")
        return "perf_counter"

    def measure(self, calls: Sequence[Callable[[], object]]) -> TimeStats:
        """Warm up, then take `repeats` samples rotating over `calls`; returns stats in ms."""
        if not calls:
            raise ValueError("no calls to time")
        n = len(calls)
        if self._cuda:
            return self._measure_cuda(calls, n)
        for i in range(self.warmup):
            calls[i % n]()
        samples: list[float] = []
        for i in range(self.repeats):
            t0 = time.perf_counter()
            calls[(self.warmup + i) % n]()
            samples.append((time.perf_counter() - t0) * 1e3)
        return TimeStats.from_samples_ms(samples)

    def _measure_cuda(self, calls: Sequence[Callable[[], object]], n: int) -> TimeStats:
        torch.cuda.synchronize(self.device)
        # Host issue time per call: the fastest warm-up call (the first call of a new shape can pay one-off
        # costs such as kernel selection, which must not inflate the sleep below).
        issue_s = float("inf")
        for i in range(max(self.warmup, 1)):
            t0 = time.perf_counter()
            calls[i % n]()
            issue_s = min(issue_s, time.perf_counter() - t0)
        torch.cuda.synchronize(self.device)
        starts = [torch.cuda.Event(enable_timing=True) for _ in range(self.repeats)]
        ends = [torch.cuda.Event(enable_timing=True) for _ in range(self.repeats)]
        if self._sleep is not None:
            # Long enough for the host to queue every sample before the GPU reaches the first one.
            sleep_s = min(_MAX_SLEEP_S, (issue_s + 2e-5) * self.repeats * 1.5 + 2e-4)
            self._sleep(int(sleep_s * _ASSUMED_CLOCK_HZ))
        for i in range(self.repeats):
            if self._scrub is not None:
                self._scrub.zero_()
            starts[i].record()
            calls[(self.warmup + i) % n]()
            ends[i].record()
        ends[-1].synchronize()
        return TimeStats.from_samples_ms([s.elapsed_time(e) for s, e in zip(starts, ends, strict=True)])

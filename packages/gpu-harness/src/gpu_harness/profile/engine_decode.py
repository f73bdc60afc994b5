"""attn_decode as the engine's decode step grows with context (`decode_call="engine"`).

The split-KV decode kernel timed on its own (cold L2, samples back to back) grows with its keys faster than
the engine's whole decode step does: on the H200 (Qwen3-0.6B) the step grows 0.023-0.031 ms per 1,000 context
tokens at 8-24 requests where the kernel x 28 layers grows 0.031-0.039, and the two agree at 64
(data/h200-qwen3-0.6b/engine/decode_ab.md); padding the call to the engine's entries or spreading the lengths
changes nothing. Vidur sums op times, so a profile of the kernel alone makes long-context decode steps too
dear against short ones, and no per-batch-size correction fitted on one workload carries to another.

With `decode_call="engine"` the profiler therefore also times the engine's decode-only step
(`LeanModelRunner.forward` of b one-token rows over kv cached tokens each: CUDA graphs, the served kernels) at
a few kv per batch size (the kv axis's coarse-to-fine anchors), beside the kernel at the same points, and
moves every attn_decode row of that batch size by the difference of their growths, per layer, interpolated
linearly in kv between anchors:

    attn_decode(b, kv) = kernel(b, kv) + delta_b(kv)
    delta_b(kv_j) = (step(b, kv_j) - step(b, kv_0)) / layers - (kernel(b, kv_j) - kernel(b, kv_0))

The step's growth is measured in pairs: samples of kv_0 and kv_j alternate, and the growth is the median of
the pairs' differences. A small-batch step (~1.3 ms of ~300 short kernels) is clock-bound, and on some
machines its time jumps between ~1.3 and ~1.9 ms from one measurement to the next (H200, call 23); the two
steps of a pair share the clock, so their difference does not jump with it.

Only attention reads the context in a decode-only step (every other op sees one token per row), so the step's
growth with kv is attention's. The kernel keeps the level at kv_0 (delta 0 there) and the fine structure
between anchors; the step sets the slope.

A moved row's median never goes below the cheapest kernel median measured for its batch size (the sweep's
rows and the anchors'): the step sets a slope, and no slope makes attention cheaper than the kernel ever ran.
Applied to data/h200-qwen3-0.6b/profiles-engine (made before the floor) it would hold 1 row of 3,608, by
0.00007 ms; on a CPU, where a decode step's growth with a few dozen keys is within its noise, a negative
measured growth could otherwise push a row to 0 ms (a CI run of test_profile_run did). The manifest counts
the rows the floor held (`floored_rows`).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from .grid import coarse_to_fine_depth
from .timing import OpTimer, TimeStats

# Anchors: kv values of coarse-to-fine depth <= this on the grid's kv axis (both ends and 7 midpoints).
ANCHOR_LEVEL = 3
# The token id every timed decode row carries (values do not change the timing).
_TOKEN = 7
# Pairs per anchor: this many times the timer's repeats (the difference of two noisy steps needs more samples
# than one op's median).
PAIRS_PER_REPEAT = 3


def anchor_kvs(kvs: Sequence[int], level: int = ANCHOR_LEVEL) -> list[int]:
    """The kv values of the grid's kv axis at coarse-to-fine depth <= level, ascending (both ends always)."""
    depth = coarse_to_fine_depth(kvs)
    return sorted(k for k, d in depth.items() if d <= level)


def decode_items(batch: int, kv: int) -> list[tuple[int, int, list[int], bool]]:
    """The engine's step items for `batch` decode rows (slots 0..batch-1) over kv cached tokens each: every
    row's new token sits at position kv and attends over kv + 1 keys, as the profiler's decode point."""
    return [(slot, kv, [_TOKEN], True) for slot in range(batch)]


def growth_deltas(
    step_growth_ms: dict[int, float], kernel_ms: dict[int, float], layers: int
) -> dict[int, float]:
    """delta(kv) at each anchor: the step's growth from the smallest anchor (step_growth_ms, 0 there) per
    layer, less the kernel's growth from the same anchor."""
    if not step_growth_ms or step_growth_ms.keys() != kernel_ms.keys():
        raise ValueError("step and kernel times must cover the same, non-empty set of kv anchors")
    if layers < 1:
        raise ValueError(f"layers must be >= 1, got {layers}")
    k0 = min(step_growth_ms)
    if step_growth_ms[k0] != 0.0:
        raise ValueError(
            f"the step's growth at the smallest anchor ({k0}) must be 0, got {step_growth_ms[k0]}"
        )
    return {
        kv: step_growth_ms[kv] / layers - (kernel_ms[kv] - kernel_ms[k0]) for kv in sorted(step_growth_ms)
    }


def interpolate(deltas: dict[int, float], kv: int) -> float:
    """delta at kv: linear between the anchors around it, the end anchor's value past either end."""
    if not deltas:
        raise ValueError("no anchors")
    xs = sorted(deltas)
    return float(np.interp(kv, xs, [deltas[x] for x in xs]))


def shift_stats(stats: TimeStats, delta: float, floor: float = 0.0) -> TimeStats:
    """The five statistics moved by delta ms (a location shift: std unchanged). The median and the mean stay
    at or above `floor` (>= 0), the max at or above the median, the min at or above 0 and at or below the
    median, so min <= median <= max holds after any shift."""
    if floor < 0.0:
        raise ValueError(f"floor must be >= 0, got {floor}")
    median = max(floor, stats.median + delta)
    return replace(
        stats,
        min=min(median, max(0.0, stats.min + delta)),
        max=max(median, stats.max + delta),
        mean=max(floor, stats.mean + delta),
        median=median,
    )


@dataclass(frozen=True)
class AnchorRow:
    """One anchor measurement (ms): the engine's step (median), its growth from the smallest anchor (median of
    paired differences), the kernel (median) and the resulting delta."""

    batch: int
    kv: int
    step_ms: float
    step_growth_ms: float
    kernel_ms: float
    delta_ms: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "kv": self.kv,
            "step_ms": round(self.step_ms, 6),
            "step_growth_ms": round(self.step_growth_ms, 6),
            "kernel_ms": round(self.kernel_ms, 6),
            "delta_ms": round(self.delta_ms, 6),
        }


class EngineDecodeTimer:
    """The serving engine's model runner over the profiled model, timing its decode-only steps."""

    def __init__(
        self,
        model: torch.nn.Module,
        timer: OpTimer,
        *,
        num_slots: int,
        max_seq_len: int,
        attention: str,
        decode_attn: str,
        fused_kernels: str,
    ) -> None:
        from ..engine.lean import LeanModelRunner

        self.timer = timer
        self.runner = LeanModelRunner(
            model,
            num_slots=num_slots,
            max_model_len=max_seq_len,
            cuda_graphs=True,
            attention=attention,
            decode_attn=decode_attn,
            fused_kernels=fused_kernels,
        )

    def describe(self) -> dict[str, Any]:
        r = self.runner
        return {
            "runner": "gpu_harness.engine.lean.LeanModelRunner",
            "attention": r.attention,
            "decode_attention": r.decode_attn,
            "cuda_graphs": r.use_graphs,
            "slots": r.num_slots,
        }

    def paired_growth(self, batch: int, anchors: Sequence[int]) -> dict[int, tuple[float, float]]:
        """(step median, growth from the smallest anchor) in ms at each anchor, for `batch` rows. Per anchor
        kv_j the timer alternates steps at kv_0 and kv_j (PAIRS_PER_REPEAT x `repeats` pairs after `warmup`
        unmeasured ones); the
        growth is the median of the pairs' differences (0 at kv_0 itself)."""
        ordered = sorted(anchors)
        k0 = ordered[0]
        base = decode_items(batch, k0)
        out: dict[int, tuple[float, float]] = {}
        base_samples: list[float] = []
        for kv in ordered[1:] or ordered:  # kv_0 against itself only where it is the one anchor
            pairs = self._pairs(base, decode_items(batch, kv))
            base_samples += [a for a, _b in pairs]
            out[kv] = (statistics.median(b for _a, b in pairs), statistics.median(b - a for a, b in pairs))
        out[k0] = (statistics.median(base_samples), 0.0)
        return {kv: out[kv] for kv in ordered}

    def _pairs(self, first: list[Any], second: list[Any]) -> list[tuple[float, float]]:
        """PAIRS_PER_REPEAT x `repeats` (first, second) step times in ms, a pair's two steps back to back."""
        runner, timer = self.runner, self.timer
        pairs = PAIRS_PER_REPEAT * timer.repeats
        cuda = runner.device.type == "cuda"
        with torch.inference_mode():
            for _ in range(timer.warmup):
                runner.forward(first)
                runner.forward(second)
            if not cuda:
                out = []
                for _ in range(pairs):
                    t0 = time.perf_counter()
                    runner.forward(first)
                    t1 = time.perf_counter()
                    runner.forward(second)
                    out.append(((t1 - t0) * 1e3, (time.perf_counter() - t1) * 1e3))
                return out
            torch.cuda.synchronize(runner.device)
            ev = [[torch.cuda.Event(enable_timing=True) for _ in range(3)] for _ in range(pairs)]
            for e in ev:
                e[0].record()
                runner.forward(first)
                e[1].record()
                runner.forward(second)
                e[2].record()
            ev[-1][2].synchronize()
            return [(e[0].elapsed_time(e[1]), e[1].elapsed_time(e[2])) for e in ev]

    def close(self) -> None:
        """Free the runner's KV cache and graphs."""
        del self.runner
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

"""CPU overhead per batch, added on top of Vidur 0.0.26's predicted GPU time (0.0.26 dropped its own model).

Signed: a negative value (from `runner calibrate`, where the per-op profile over-predicts the engine's steps)
lowers a step's time, never below MIN_STEP_SHARE of the prediction.

Input: the older Vidur schema `cpu_overheads.csv` (times in ms): `model_name`, `tensor_parallel_degree`,
`batch_size` and any of `schedule_median`, `sampler_e2e_median`, `prepare_inputs_e2e_median`,
`process_model_outputs_median`, `ray_comm_time_mean`. Their sum is interpolated linearly in batch size
(clamped at the profiled ends) instead of the old random forest: few rows, monotone, deterministic.

Extension (ours, not in any Vidur schema): an optional column `prefill_extra_median` (ms) is interpolated the
same way but added only to batches that carry prefill tokens (`batch.num_prefill_tokens > 0`). An eager engine's
mixed steps cost far more host/launch time than decode-only steps of the same request count; one batch-size
curve cannot express that. Files without the column behave exactly as before.

Extension (ours): an optional column `model_time_bias_median` (ms) is one more summed term. `runner calibrate`
writes it when the real run records its step phases: `schedule_median`, `prepare_inputs_e2e_median` and
`process_model_outputs_median` then hold the engine's measured host phases, and `model_time_bias_median` the
device-side remainder (the host's wait on the device beyond Vidur's predicted model time, signed), so the columns
still add up to the per-batch overhead of a table that lumps it into `schedule_median`.

Extension (ours): optional columns `jitter_qNN` (ms; NN = a quantile level in percent, e.g. jitter_q02 ...
jitter_q98) hold quantiles of the real engine's step-time deviation from the row's overhead. Each level is
interpolated in batch size like the overhead; every simulated step then adds one draw from that quantile function
(inverse-CDF sampling of a seeded uniform, linear between levels, clamped at the outer levels). Vidur predicts one
time per batch composition while the real engine's steps vary by +-10-15 %; without it the simulated TBT
distribution is too narrow. Seeded (JITTER_SEED), so a simulation stays deterministic.

Extension (ours): an optional column `prefix_ms_per_mpair` (ms per million pairs), interpolated in batch size like
the overhead, is multiplied by the batch's prefill-prefix work, the sum over its prefill chunks of (chunk tokens x
tokens of that prompt already in KV) / 1e6, and added to every batch. The engine's chunk steps grow with the prefix
faster than Vidur predicts them from the per-op profile; without it long prompts' TTFT comes out short.

Extension (ours): an optional column `decode_kv_ms_per_ktoken` (ms per 1,000 KV tokens; one value, repeated on every
row) is multiplied by a decode-only batch's KV, the sum of its requests' `num_kv_tokens` in whole blocks, / 1e3,
and added to it. The per-op profile makes Vidur's decode step grow faster with the KV it reads than the engine's;
the calibration fits the difference and takes its decode-only corrections at zero KV.

Extension (ours): optional columns `step_tokens_le_N` (ms; N = a class's upper bound in tokens per step) hold the
step-size term: a batch carrying prefill tokens, of t prefill + decode tokens in all, adds the value of the first
class with N >= t (the last class past the last bound). One prefill extra per batch size averages the fit load's
mixed steps; the engine's mixed steps depart from Vidur's prediction by their size (its attention call's query
blocks follow the step's padded token count), so a fit on one token budget misjudged another.

Extension (ours): a decode grid (`load_decode_grid`, a CSV of the engine's measured decode-only step: `batch`,
`kv_tokens`, `step_ms`; scripts/gpu/decode_grid.py) replaces Vidur's predicted time of every decode-only batch by
the grid's step at its batch size and mean KV per request (`decode_grid_ms`), the overhead still added on top. A
served decode step's device wait less Vidur's prediction of it varies 0.6-1.2 ms across batch size and context,
the same on every workload and machine, while less the grid's step it stays within ~0.1 ms: the per-op sum misses
the whole graphed step's shape, and no per-batch-size correction fitted on one workload's batches carries it.
"""

from __future__ import annotations

import os
import re
from typing import Any

from .protocol import SidecarError

PREFILL_EXTRA = "prefill_extra_median"
PREFIX = "prefix_ms_per_mpair"
DECODE_KV = "decode_kv_ms_per_ktoken"
STEP_CLASS = re.compile(r"^step_tokens_le_(\d+)$")
TERMS = (
    "schedule_median",
    "sampler_e2e_median",
    "prepare_inputs_e2e_median",
    "process_model_outputs_median",
    "ray_comm_time_mean",
    "model_time_bias_median",
)


JITTER_PREFIX = "jitter_q"
JITTER_SEED = 20261128


OverheadTable = tuple[
    list[float],
    list[float],
    list[float] | None,
    tuple[list[float], list[list[float]]] | None,
    list[float] | None,
    tuple[list[int], list[float]] | None,
    float | None,
]


def load_overhead_table(path: str, model_name: str, tp: int) -> OverheadTable:
    """Returns (batch sizes, overhead ms, prefill-only extra ms or None, jitter (levels, per-level ms by batch size)
    or None, prefix ms per million pairs by batch size or None, chunk-size classes (upper bounds ascending, ms
    each) or None, the decode KV term in ms per 1,000 KV tokens or None) sorted by batch size; raises VIDUR_PROFILE_*
    errors."""
    import pandas as pd

    if not os.path.isfile(path):
        raise SidecarError("VIDUR_PROFILE_MISSING", f"CPU overhead file {path} does not exist")
    df = pd.read_csv(path)
    missing = [c for c in ("model_name", "tensor_parallel_degree", "batch_size") if c not in df.columns]
    terms = [c for c in TERMS if c in df.columns]
    has_extra = PREFILL_EXTRA in df.columns
    if missing or not (terms or has_extra):
        raise SidecarError(
            "VIDUR_PROFILE_INVALID",
            f"{path}: needs columns model_name, tensor_parallel_degree, batch_size"
            f" and at least one of {', '.join((*TERMS, PREFILL_EXTRA))}",
        )
    rows = df[(df["model_name"] == model_name) & (df["tensor_parallel_degree"] == tp)]
    if len(rows) == 0:
        have = ", ".join(sorted({f"{m}/tp{t}" for m, t in zip(df["model_name"], df["tensor_parallel_degree"], strict=True)})[:5])
        raise SidecarError(
            "VIDUR_PROFILE_NO_ROWS", f"{path}: no rows with model_name={model_name}, tensor_parallel_degree={tp}; it has {have}"
        )
    total = rows[terms].fillna(0).sum(axis=1) if terms else rows["batch_size"] * 0.0
    grouped = total.groupby(rows["batch_size"]).median().sort_index()

    def by_batch(col: str) -> list[float]:
        return [float(v) for v in rows[col].fillna(0).groupby(rows["batch_size"]).median().sort_index().values]

    extra = by_batch(PREFILL_EXTRA) if has_extra else None
    prefix = by_batch(PREFIX) if PREFIX in df.columns else None
    jitter = None
    jcols = sorted((c for c in df.columns if c.startswith(JITTER_PREFIX)), key=lambda c: float(c[len(JITTER_PREFIX) :]))
    if jcols:
        try:
            levels = [float(c[len(JITTER_PREFIX) :]) / 100 for c in jcols]
        except ValueError as e:
            raise SidecarError("VIDUR_PROFILE_INVALID", f"{path}: jitter column names must be jitter_qNN (NN = percent): {jcols}") from e
        jitter = (levels, [by_batch(c) for c in jcols])
    classes = None
    ccols = sorted((c for c in df.columns if STEP_CLASS.match(c)), key=lambda c: int(STEP_CLASS.match(c).group(1)))
    if ccols:
        # One value per class (the calibration repeats it on every row): the median over the model's rows.
        classes = ([int(STEP_CLASS.match(c).group(1)) for c in ccols], [float(rows[c].fillna(0).median()) for c in ccols])
    # One value (the calibration repeats it on every row): the median over the model's rows.
    decode_kv = float(rows[DECODE_KV].fillna(0).median()) if DECODE_KV in df.columns else None
    return [float(b) for b in grouped.index], [float(v) for v in grouped.values], extra, jitter, prefix, classes, decode_kv


DecodeGrid = tuple[list[int], list[tuple[list[float], list[float]]]]


def load_decode_grid(path: str) -> DecodeGrid:
    """Returns (batch sizes ascending, per batch size (mean KV per request ascending, step ms)); raises
    VIDUR_PROFILE_* errors naming the file and row."""
    import csv

    if not os.path.isfile(path):
        raise SidecarError("VIDUR_PROFILE_MISSING", f"decode grid {path} does not exist")
    by_batch: dict[int, dict[float, float]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ("batch", "kv_tokens", "step_ms") if c not in (reader.fieldnames or [])]
        if missing:
            raise SidecarError("VIDUR_PROFILE_INVALID", f"{path}: needs columns batch, kv_tokens, step_ms (missing {', '.join(missing)})")
        for line, row in enumerate(reader, start=2):
            try:
                b, kv, ms = int(row["batch"]), float(row["kv_tokens"]), float(row["step_ms"])
            except (TypeError, ValueError) as e:
                msg = f"{path}:{line}: expected an integer batch and numbers kv_tokens, step_ms ({e})"
                raise SidecarError("VIDUR_PROFILE_INVALID", msg) from e
            if b < 1 or not kv >= b or not ms > 0:
                raise SidecarError("VIDUR_PROFILE_INVALID", f"{path}:{line}: expected batch >= 1, kv_tokens >= batch and step_ms > 0")
            by_batch.setdefault(b, {})[kv / b] = ms
    if not by_batch:
        raise SidecarError("VIDUR_PROFILE_INVALID", f"{path}: no rows")
    batches = sorted(by_batch)
    return batches, [(sorted(by_batch[b]), [by_batch[b][k] for k in sorted(by_batch[b])]) for b in batches]


def decode_grid_ms(grid: DecodeGrid, batch_size: int, kv_tokens: float) -> float:
    """The grid's decode step (ms) at `batch_size` requests holding `kv_tokens` in all: linear in the mean KV per
    request within each measured batch size and linear between the two sizes around it; clamped at every edge."""
    import numpy as np

    batches, rows = grid

    def at(i: int) -> float:
        xs, ys = rows[i]
        return float(np.interp(kv_tokens / batch_size, xs, ys))

    if batch_size <= batches[0]:
        return at(0)
    if batch_size >= batches[-1]:
        return at(len(batches) - 1)
    j = next(i for i, b in enumerate(batches) if b >= batch_size)
    if batches[j] == batch_size:
        return at(j)
    lo, hi = batches[j - 1], batches[j]
    return at(j - 1) + (at(j) - at(j - 1)) * (batch_size - lo) / (hi - lo)


# A negative correction (the per-op profile over-predicts the engine's step) never takes a step below this share
# of its predicted time.
MIN_STEP_SHARE = 0.1


def prefill_prefix_work(batch: Any) -> float:
    """Sum over the batch's prefill chunks of (chunk tokens x the prompt's tokens already in KV) / 1e6: Vidur's
    `num_kv_tokens` of an item is its tokens after the chunk, so the prefix is that less the chunk. A chunk is an
    item of more than one token or of a request whose prefill is not complete (a decode is one token after it)."""
    pairs = 0
    for request, q, kv in zip(batch.requests, batch.num_q_tokens, batch.num_kv_tokens, strict=True):
        if int(q) > 1 or not request.is_prefill_complete:
            pairs += int(q) * (int(kv) - int(q))
    return pairs / 1e6


def decode_kv_ktokens(batch: Any, block_size: int) -> float:
    """A decode-only batch's KV in thousands of tokens: the sum of its requests' `num_kv_tokens`, each rounded up to
    whole blocks of `block_size`, as the simulation's `kv_tokens_in_use` (the blocks in use) counts them."""
    return sum(-(-int(kv) // block_size) * block_size for kv in batch.num_kv_tokens) / 1e3


def step_class_ms(classes: tuple[list[int], list[float]], step_tokens: int) -> float:
    """The step-size term of a batch carrying prefill, of `step_tokens` (prefill + decode) tokens: the value of the
    first class whose upper bound holds it, the last class's past the last bound."""
    bounds, values = classes
    for bound, value in zip(bounds, values, strict=True):
        if step_tokens <= bound:
            return value
    return values[-1]


class _WithCpuOverhead:
    """Stands in for Vidur's native ExecutionTime with total_time moved by the per-step correction (seconds):
    raised by host overhead, lowered (down to MIN_STEP_SHARE of the prediction) where the profile over-predicts."""

    def __init__(self, inner: Any, overhead_s: float) -> None:
        self._inner = inner
        self.total_time = max(inner.total_time + overhead_s, MIN_STEP_SHARE * inner.total_time)
        self.cpu_overhead_time = self.total_time - inner.total_time

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def install(
    batch_sizes: list[float],
    overhead_ms: list[float],
    prefill_extra_ms: list[float] | None = None,
    jitter: tuple[list[float], list[list[float]]] | None = None,
    prefix_ms_per_mpair: list[float] | None = None,
    step_classes: tuple[list[int], list[float]] | None = None,
    decode_kv_ms_per_ktoken: float | None = None,
    block_size: int = 16,
    decode_grid: DecodeGrid | None = None,
) -> None:
    """Wraps get_execution_time so every batch stage costs its predicted GPU time plus the interpolated overhead
    (plus the prefill-only extra and the chunk-size class's value when the batch carries prefill tokens, plus the
    prefix term times the batch's prefill-prefix work, plus the decode KV term times a decode-only batch's KV, plus a
    seeded jitter draw, when given). With a decode grid, a decode-only batch's predicted time is the grid's step
    instead of Vidur's (the difference is carried in the overhead, so the recorder's GPU part stays Vidur's)."""
    import numpy as np
    from vidur.execution_time_predictor.base_execution_time_predictor import BaseExecutionTimePredictor

    original = BaseExecutionTimePredictor.get_execution_time
    xs = np.asarray(batch_sizes)
    ys = np.asarray(overhead_ms)
    extra = np.asarray(prefill_extra_ms) if prefill_extra_ms is not None else None
    prefix = np.asarray(prefix_ms_per_mpair) if prefix_ms_per_mpair is not None else None
    rng = np.random.default_rng(JITTER_SEED)
    levels = np.asarray(jitter[0]) if jitter is not None else None
    per_level = [np.asarray(v) for v in jitter[1]] if jitter is not None else None

    def get_execution_time(self: Any, batch: Any, pipeline_stage: int) -> Any:
        inner = original(self, batch, pipeline_stage)
        overhead_ms = float(np.interp(len(batch.requests), xs, ys))
        prefill_tokens = int(getattr(batch, "num_prefill_tokens", 0))
        if extra is not None and prefill_tokens > 0:
            overhead_ms += float(np.interp(len(batch.requests), xs, extra))
        if step_classes is not None and prefill_tokens > 0:
            overhead_ms += step_class_ms(step_classes, prefill_tokens + int(getattr(batch, "num_decode_tokens", 0)))
        if prefix is not None:
            overhead_ms += float(np.interp(len(batch.requests), xs, prefix)) * prefill_prefix_work(batch)
        if decode_kv_ms_per_ktoken is not None and prefill_tokens == 0:
            overhead_ms += decode_kv_ms_per_ktoken * decode_kv_ktokens(batch, block_size)
        if decode_grid is not None and prefill_tokens == 0:
            kv = sum(int(k) for k in batch.num_kv_tokens)
            overhead_ms += decode_grid_ms(decode_grid, len(batch.requests), kv) - inner.total_time * 1e3
        if per_level is not None:
            qs = [float(np.interp(len(batch.requests), xs, v)) for v in per_level]
            overhead_ms += float(np.interp(rng.random(), levels, qs))
        wrapped = _WithCpuOverhead(inner, overhead_ms * 1e-3)
        # The recorder subtracts it again to report the GPU part of the iteration.
        batch._vb_cpu_overhead_s = wrapped.cpu_overhead_time
        return wrapped

    BaseExecutionTimePredictor.get_execution_time = get_execution_time  # type: ignore[method-assign]


class _Scaled:
    """Stands in for an ExecutionTime (Vidur's own or _WithCpuOverhead) with total_time multiplied by `scale`."""

    def __init__(self, inner: Any, scale: float) -> None:
        self._inner = inner
        self.total_time = inner.total_time * scale

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def install_scale(scale: float) -> None:
    """Wraps get_execution_time (after `install`, when both are used) so every batch stage costs `scale` times its
    time, correction included: a measured ratio between the profiled engine and a server configuration or machine
    that the per-op profile does not see (the experiment's `simulate.stepTimeScale`). The recorded CPU part scales
    with it, so the GPU part the recorder reports is the scaled prediction."""
    from vidur.execution_time_predictor.base_execution_time_predictor import BaseExecutionTimePredictor

    original = BaseExecutionTimePredictor.get_execution_time

    def get_execution_time(self: Any, batch: Any, pipeline_stage: int) -> Any:
        inner = original(self, batch, pipeline_stage)
        if hasattr(batch, "_vb_cpu_overhead_s"):
            batch._vb_cpu_overhead_s *= scale
        return _Scaled(inner, scale)

    BaseExecutionTimePredictor.get_execution_time = get_execution_time  # type: ignore[method-assign]

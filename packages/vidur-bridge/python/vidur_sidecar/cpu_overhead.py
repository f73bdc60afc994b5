"""CPU overhead per batch, added on top of Vidur 0.0.26's predicted GPU time (0.0.26 dropped its own model).

Input: the older Vidur schema `cpu_overheads.csv` (times in ms): `model_name`, `tensor_parallel_degree`,
`batch_size` and any of `schedule_median`, `sampler_e2e_median`, `prepare_inputs_e2e_median`,
`process_model_outputs_median`, `ray_comm_time_mean`. Their sum is interpolated linearly in batch size
(clamped at the profiled ends) instead of the old random forest: few rows, monotone, deterministic.
"""

from __future__ import annotations

import os
from typing import Any

from .protocol import SidecarError

TERMS = ("schedule_median", "sampler_e2e_median", "prepare_inputs_e2e_median", "process_model_outputs_median", "ray_comm_time_mean")


def load_overhead_table(path: str, model_name: str, tp: int) -> tuple[list[float], list[float]]:
    """Returns (batch sizes, overhead ms) sorted by batch size; raises VIDUR_PROFILE_* errors."""
    import pandas as pd

    if not os.path.isfile(path):
        raise SidecarError("VIDUR_PROFILE_MISSING", f"CPU overhead file {path} does not exist")
    df = pd.read_csv(path)
    missing = [c for c in ("model_name", "tensor_parallel_degree", "batch_size") if c not in df.columns]
    terms = [c for c in TERMS if c in df.columns]
    if missing or not terms:
        raise SidecarError(
            "VIDUR_PROFILE_INVALID",
            f"{path}: needs columns model_name, tensor_parallel_degree, batch_size and at least one of {', '.join(TERMS)}",
        )
    rows = df[(df["model_name"] == model_name) & (df["tensor_parallel_degree"] == tp)]
    if len(rows) == 0:
        have = ", ".join(sorted({f"{m}/tp{t}" for m, t in zip(df["model_name"], df["tensor_parallel_degree"], strict=True)})[:5])
        raise SidecarError(
            "VIDUR_PROFILE_NO_ROWS", f"{path}: no rows with model_name={model_name}, tensor_parallel_degree={tp}; it has {have}"
        )
    total = rows[terms].fillna(0).sum(axis=1)
    grouped = total.groupby(rows["batch_size"]).median().sort_index()
    return [float(b) for b in grouped.index], [float(v) for v in grouped.values]


class _WithCpuOverhead:
    """Stands in for Vidur's native ExecutionTime with total_time raised by the CPU overhead (seconds)."""

    def __init__(self, inner: Any, overhead_s: float) -> None:
        self._inner = inner
        self.total_time = inner.total_time + overhead_s
        self.cpu_overhead_time = overhead_s

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def install(batch_sizes: list[float], overhead_ms: list[float]) -> None:
    """Wraps get_execution_time so every batch stage costs its predicted GPU time plus the interpolated overhead."""
    import numpy as np
    from vidur.execution_time_predictor.base_execution_time_predictor import BaseExecutionTimePredictor

    original = BaseExecutionTimePredictor.get_execution_time
    xs = np.asarray(batch_sizes)
    ys = np.asarray(overhead_ms)

    def get_execution_time(self: Any, batch: Any, pipeline_stage: int) -> Any:
        inner = original(self, batch, pipeline_stage)
        overhead_s = float(np.interp(len(batch.requests), xs, ys)) * 1e-3
        # The recorder subtracts it again to report the GPU part of the iteration.
        batch._vb_cpu_overhead_s = overhead_s
        return _WithCpuOverhead(inner, overhead_s)

    BaseExecutionTimePredictor.get_execution_time = get_execution_time  # type: ignore[method-assign]

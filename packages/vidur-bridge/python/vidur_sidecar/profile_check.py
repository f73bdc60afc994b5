"""Checks, before Vidur trains anything, that the profile CSVs hold rows for this model and cover the workload.

Vidur itself fails late and vaguely ("Training data ... is empty", a KeyError mid-run); these checks name the
filter values and the ranges instead.
"""

from __future__ import annotations

import os
from typing import Any

from .hf_model import HfDims
from .protocol import SidecarError

_MLP_NEEDED = [
    "n_head",
    "n_kv_head",
    "n_embd",
    "n_expanded_embd",
    "vocab_size",
    "use_gated_mlp",
    "num_tokens",
    "num_tensor_parallel_workers",
] + [
    f"time_stats.{op}.median"
    for op in (
        "attn_pre_proj",
        "attn_post_proj",
        "mlp_up_proj",
        "mlp_down_proj",
        "mlp_act",
        "attn_rope",
    )
]
_ATTN_NEEDED = [
    "n_embd",
    "n_q_head",
    "n_kv_head",
    "block_size",
    "num_tensor_parallel_workers",
    "batch_size",
    "prefill_chunk_size",
    "kv_cache_size",
    "time_stats.attn_prefill.median",
    "time_stats.attn_decode.median",
]


def _read(path: str, needed: list[str]):
    import pandas as pd

    if not os.path.isfile(path):
        raise SidecarError(
            "VIDUR_PROFILE_MISSING", f"profile file {path} does not exist; run `gpu-harness profile` or fix the profiling root"
        )
    try:
        df = pd.read_csv(path)
    except Exception as e:  # pandas raises several parser error types
        raise SidecarError("VIDUR_PROFILE_INVALID", f"{path}: cannot parse as CSV: {e}") from e
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise SidecarError("VIDUR_PROFILE_INVALID", f"{path}: missing column(s) {', '.join(missing)} (Vidur's profile schema)")
    return df


def _present(df: Any, cols: list[str]) -> str:
    uniq = df[cols].drop_duplicates().head(5)
    return "; ".join(", ".join(f"{c}={row[c]}" for c in cols) for _, row in uniq.iterrows()) or "(no rows)"


def check_profile(
    mlp_path: str, attention_path: str, dims: HfDims, tp: int, block_size: int, needs: dict[str, int], allow_extrapolation: bool
) -> dict[str, Any]:
    """Returns the profile's coverage; raises VIDUR_PROFILE_NO_ROWS / VIDUR_WORKLOAD_OUTSIDE_PROFILE."""
    mlp = _read(mlp_path, _MLP_NEEDED)
    mlp_filter = {
        "n_head": dims.num_q_heads,
        "n_kv_head": dims.num_kv_heads,
        "n_embd": dims.embedding_dim,
        "n_expanded_embd": dims.mlp_hidden_dim,
        "use_gated_mlp": dims.use_gated_mlp,
        "vocab_size": dims.vocab_size,
        "num_tensor_parallel_workers": tp,
    }
    m = mlp
    for col, value in mlp_filter.items():
        m = m[m[col] == value]
    if len(m) < 2:
        wanted = ", ".join(f"{k}={v}" for k, v in mlp_filter.items())
        raise SidecarError(
            "VIDUR_PROFILE_NO_ROWS",
            f"{mlp_path}: {len(m)} row(s) match the model (need >= 2): {wanted}. The file has: {_present(mlp, list(mlp_filter))}",
        )
    attn = _read(attention_path, _ATTN_NEEDED)
    attn_filter = {
        "n_embd": dims.embedding_dim,
        "n_q_head": dims.num_q_heads,
        "n_kv_head": dims.num_kv_heads,
        "block_size": block_size,
        "num_tensor_parallel_workers": tp,
    }
    a = attn
    for col, value in attn_filter.items():
        a = a[a[col] == value]
    prefill = a[a["prefill_chunk_size"] > 0]
    decode = a[a["prefill_chunk_size"] == 0]
    if len(prefill) < 2 or len(decode) < 2:
        wanted = ", ".join(f"{k}={v}" for k, v in attn_filter.items())
        raise SidecarError(
            "VIDUR_PROFILE_NO_ROWS",
            f"{attention_path}: {len(prefill)} prefill and {len(decode)} decode row(s) match (need >= 2 each): {wanted}. "
            f"The file has: {_present(attn, list(attn_filter))}",
        )
    coverage = {
        "mlp_max_num_tokens": int(m["num_tokens"].max()),
        "prefill_max_tokens": int((prefill["kv_cache_size"] + prefill["prefill_chunk_size"]).max()),
        "prefill_max_chunk": int(prefill["prefill_chunk_size"].max()),
        "decode_max_kv": int(decode["kv_cache_size"].max()),
        "decode_max_batch_size": int(decode["batch_size"].max()),
        "mlp_rows": len(m),
        "attention_rows": len(a),
    }
    problems = []
    cov = coverage
    if needs["max_batch_tokens"] > cov["mlp_max_num_tokens"]:
        problems.append(f"a batch may hold {needs['max_batch_tokens']} tokens but mlp.csv stops at num_tokens={cov['mlp_max_num_tokens']}")
    if needs["max_prefill_chunk"] > cov["prefill_max_chunk"]:
        problems.append(
            f"a prefill chunk may be {needs['max_prefill_chunk']} tokens "
            f"but attention.csv stops at prefill_chunk_size={cov['prefill_max_chunk']}"
        )
    if needs["max_request_tokens"] > max(coverage["prefill_max_tokens"], coverage["decode_max_kv"]):
        problems.append(
            f"a request reaches {needs['max_request_tokens']} tokens but attention.csv covers kv+chunk <= {coverage['prefill_max_tokens']} "
            f"and decode kv <= {coverage['decode_max_kv']}"
        )
    if needs["max_decode_batch"] > coverage["decode_max_batch_size"]:
        problems.append(
            f"the batch cap is {needs['max_decode_batch']} but attention.csv decode rows stop at batch_size={cov['decode_max_batch_size']}"
        )
    if problems and not allow_extrapolation:
        raise SidecarError(
            "VIDUR_WORKLOAD_OUTSIDE_PROFILE",
            "the workload leaves the profiled grid (the random forest would return edge values): "
            + "; ".join(problems)
            + ". Profile a larger grid, lower the scheduler limits, or allow extrapolation.",
        )
    coverage["extrapolating"] = bool(problems)
    return coverage

"""Vidur's profiling CSV schemas (vidur-reference.md §1.1, §2.1) and the atomic writers for them.

Column names and order are Vidur's exactly: the five `time_stats.<op>.*` columns per op first (pandas'
json_normalize order in Vidur's profilers), then the input columns. Booleans are written as Python's
`True`/`False`, as Vidur's files carry them. Owns no measuring.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import ProfileError
from .timing import TimeStats

STAT_NAMES = ("min", "max", "mean", "median", "std")

MLP_OPS = (
    "emb",
    "input_layernorm",
    "attn_pre_proj",
    "attn_rope",
    "attn_post_proj",
    "post_attention_layernorm",
    "mlp_up_proj",
    "mlp_act",
    "mlp_down_proj",
    "add",
)
MLP_INPUT_COLUMNS = (
    "n_head",
    "n_kv_head",
    "n_embd",
    "n_expanded_embd",
    "vocab_size",
    "use_gated_mlp",
    "num_tokens",
    "num_tensor_parallel_workers",
)

# The newer (FLASHINFER-era) attention.csv op order; ops a row does not run are 0.0, not NaN.
ATTENTION_OPS = (
    "attn_input_reshape",
    "attn_kv_cache_save",
    "attn_prefill",
    "attn_decode",
    "attn_output_reshape",
)
ATTENTION_INPUT_COLUMNS = (
    "n_embd",
    "n_q_head",
    "n_kv_head",
    "block_size",
    "num_tensor_parallel_workers",
    "max_model_len",
    "batch_size",
    "prefill_chunk_size",
    "kv_cache_size",
    "is_prefill",
    "attention_backend",
)


def time_columns(ops: Sequence[str]) -> list[str]:
    """`time_stats.<op>.<stat>` for every op and stat, in order."""
    return [f"time_stats.{op}.{s}" for op in ops for s in STAT_NAMES]


MLP_COLUMNS = (*time_columns(MLP_OPS), *MLP_INPUT_COLUMNS)
ATTENTION_COLUMNS = (*time_columns(ATTENTION_OPS), *ATTENTION_INPUT_COLUMNS)


def stats_cells(ops: Sequence[str], stats: Mapping[str, TimeStats]) -> dict[str, float]:
    """Flatten per-op stats into `time_stats.<op>.<stat>` cells (ms); every op must be present."""
    cells: dict[str, float] = {}
    for op in ops:
        st = stats[op]
        for name in STAT_NAMES:
            cells[f"time_stats.{op}.{name}"] = float(getattr(st, name))
    return cells


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return repr(round(value, 6)) if value == value else ""
    return str(value)


def render_csv(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    """CSV text with exactly `columns`; a row missing a column is a programming error (KeyError)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_format(row[c]) for c in columns])
    return buf.getvalue()


def write_atomic(path: Path, text: str) -> None:
    """Write text to a temp file beside `path`, fsync, then rename over it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; these are shared data files
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    except OSError as err:
        raise ProfileError("PROFILE_WRITE", f"cannot write {path}: {err}") from err


def write_json_atomic(path: Path, value: Any) -> None:
    """Pretty JSON (2-space indent, trailing newline), written atomically."""
    write_atomic(path, json.dumps(value, indent=2, sort_keys=False) + "\n")

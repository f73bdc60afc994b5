"""Sanity tables of a written profile, as markdown: per-op median time vs num_tokens, and the sum of the
profiled ops for one decode step (what Vidur will predict as model time, CPU overhead excluded).

Run `python -m gpu_harness.profile.summary DIR` (DIR holds mlp.csv, attention.csv, profile.json); the
library function `summarize` returns the text and prints nothing.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

# The ops Vidur adds per layer (vidur-reference.md §4.4); emb is never used.
LAYER_OPS = (
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
TOKEN_ROWS = (1, 8, 32, 128, 512, 1024, 2048, 4096)


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join(f"{c:.4f}" if isinstance(c, float) else str(c) for c in r) + " |" for r in rows
    ]
    return "\n".join(lines)


def _nearest(rows: dict[int, dict[str, str]], n: int) -> dict[str, str]:
    """The row Vidur's lookup would use: num_tokens rounded up to a multiple of 8 (1, 2, 4 exact)."""
    key = n if n in rows else 8 * ((n + 7) // 8)
    return rows[min(rows, key=lambda t: (abs(t - key), t))]


def summarize(
    profile_dir: Path,
    decode_points: tuple[tuple[int, int], ...] = (
        (1, 1024),
        (32, 1024),
        (128, 1024),
        (1, 4095),
        (32, 4095),
        (128, 4095),
    ),
) -> str:
    """Markdown tables (times in ms) for the profile in `profile_dir`."""
    manifest = json.loads((profile_dir / "profile.json").read_text())
    mlp = {int(r["num_tokens"]): r for r in _read(profile_dir / "mlp.csv")}
    att = _read(profile_dir / "attention.csv")
    layers = int(manifest["dims"]["num_layers"])
    out = [
        f"Profile {manifest['model_name']} on {manifest['device_name']} ({manifest['dtype']}), "
        f"{manifest['duration_s']:.0f} s, {len(mlp)} mlp rows, {len(att)} attention rows.",
        "",
        "Per-op median (ms) vs num_tokens:",
        "",
    ]
    ops = ("emb", *LAYER_OPS)
    out.append(
        _table(
            ["num_tokens", *ops],
            [[t, *(float(mlp[t][f"time_stats.{o}.median"]) for o in ops)] for t in TOKEN_ROWS if t in mlp],
        )
    )
    dec = {(int(r["batch_size"]), int(r["kv_cache_size"])): r for r in att if r["prefill_chunk_size"] == "0"}
    rows: list[list[object]] = []
    for b, k in decode_points:
        if (b, k) not in dec:
            continue
        lin = sum(float(_nearest(mlp, b)[f"time_stats.{o}.median"]) for o in LAYER_OPS)
        ad = float(dec[(b, k)]["time_stats.attn_decode.median"])
        sv = float(dec[(b, k)]["time_stats.attn_kv_cache_save.median"])
        rows.append([b, k, lin, ad, sv, layers * (lin + ad + sv)])
    out += [
        "",
        f"One decode step = {layers} x (linear/norm/rope/add ops + attn_decode + kv save), ms "
        "(Vidur's model time; no embedding, LM head, sampling or host overhead):",
        "",
    ]
    out.append(_table(["batch", "kv", "ops/layer", "attn_decode", "kv_save", "step"], rows))
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m gpu_harness.profile.summary PROFILE_DIR", file=sys.stderr)
        sys.exit(2)
    print(summarize(Path(sys.argv[1])))

"""The committed H200 profile of Qwen3-0.6B (data/h200-qwen3-0.6b/profiles/...) has Vidur's schema, the
Vidur model columns of the bundled Qwen3-0.6B config, and covers the default prediction grid
(vidur-reference.md §4.2)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from gpu_harness.profile.schema import ATTENTION_COLUMNS, MLP_COLUMNS

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / "data/h200-qwen3-0.6b/profiles/compute/h200/Qwen/Qwen3-0.6B"
CONFIG = Path(__file__).resolve().parents[1] / "src/gpu_harness/configs/qwen3-0.6b.json"


def test_committed_h200_profile_matches_config_and_grid() -> None:
    cfg = json.loads(CONFIG.read_text())
    mlp = pd.read_csv(DATA / "mlp.csv")
    att = pd.read_csv(DATA / "attention.csv")
    assert list(mlp.columns) == list(MLP_COLUMNS) and list(att.columns) == list(ATTENTION_COLUMNS)
    assert set(mlp["n_head"]) == {cfg["num_attention_heads"]} and set(mlp["n_kv_head"]) == {
        cfg["num_key_value_heads"]
    }
    assert set(mlp["n_embd"]) == {cfg["hidden_size"]} and set(mlp["n_expanded_embd"]) == {
        cfg["intermediate_size"]
    }
    assert set(mlp["vocab_size"]) == {cfg["vocab_size"]} and mlp["use_gated_mlp"].all()
    assert set(att["n_embd"]) == {1024} and set(att["n_q_head"]) == {16} and set(att["n_kv_head"]) == {8}
    assert set(att["block_size"]) == {16} and set(att["num_tensor_parallel_workers"]) == {1}
    # Coverage of Vidur's default prediction grid (profiled with --max-seq-len 4608, so a little beyond):
    # tokens 1..4096, decode batch 1..128 x kv up to 4096,
    # prefill chunks up to 4096 and kv up to 4096.
    assert mlp["num_tokens"].min() == 1 and mlp["num_tokens"].max() == 4096
    dec = att[att["prefill_chunk_size"] == 0]
    pre = att[att["prefill_chunk_size"] > 0]
    assert dec["batch_size"].min() == 1 and dec["batch_size"].max() == 128
    assert dec["kv_cache_size"].max() >= 4095 and pre["prefill_chunk_size"].max() >= 4096
    assert pre["kv_cache_size"].max() >= 4032 and pre["prefill_chunk_size"].min() <= 16
    manifest = json.loads((DATA / "profile.json").read_text())
    # The server's fused elementwise kernels fold the residual add into add+RMSNorm and the K/V cache write
    # into q/k norm + RoPE: a profile of that path times those two ops as exactly 0, every other op above 0.
    fused = "fused_kernels" in manifest["engine"]["mlp_ops"]
    assert fused, "the committed profile should time the kernels the server runs (the fused path)"
    zero = {"time_stats.add.median"}
    time_cols = [c for c in mlp.columns if c.endswith(".median")]
    assert (mlp[[c for c in time_cols if c not in zero]] > 0).all().all()
    assert (mlp[list(zero)] == 0).all().all()
    assert (att["time_stats.attn_kv_cache_save.median"] == 0).all()
    assert manifest["engine"]["attention"]["functions"]["attn_kv_cache_save"].startswith("0 ")
    assert (pre["time_stats.attn_prefill.median"] > 0).all() and (
        dec["time_stats.attn_decode.median"] > 0
    ).all()
    assert manifest["host"]["gpu"]["name"] == "NVIDIA H200" and manifest["dtype"] == "bfloat16"
    # Measured under a time budget (coarse-to-fine); the manifest says per axis whether it trimmed points, and
    # every axis spans its whole range either way (checked above).
    assert set(manifest["grid"]["trimmed_by_budget"]) == {"mlp", "prefill", "decode"}
    assert manifest["engine"]["name"] == "lean"


ENGINE = REPO / "data/h200-qwen3-0.6b/profiles-engine/compute/h200/Qwen/Qwen3-0.6B"


def test_committed_engine_profile_records_every_decode_anchor_it_moved_rows_by() -> None:
    manifest = json.loads((ENGINE / "profile.json").read_text())
    att = pd.read_csv(ENGINE / "attention.csv")
    assert list(att.columns) == list(ATTENTION_COLUMNS)
    assert manifest["engine"]["attention"]["decode_call"].startswith("engine:")
    assert manifest["engine"]["attention"]["prefill_call"].startswith("engine:")
    record = manifest["engine_decode"]
    dec = att[att["prefill_chunk_size"] == 0].set_index(["batch_size", "kv_cache_size"])
    batches = sorted(set(dec.index.get_level_values(0)))
    anchors = record["anchors_kv"]
    assert anchors[0] == 32 and anchors[-1] == 4607 and len(anchors) == 9 and record["layers"] == 28
    assert [(r["batch"], r["kv"]) for r in record["rows"]] == [(b, k) for b in batches for k in anchors]
    by_batch: dict[int, dict[int, dict[str, float]]] = {}
    for r in record["rows"]:
        by_batch.setdefault(r["batch"], {})[r["kv"]] = r
    ratios = []
    for rows in by_batch.values():
        k0 = rows[32]
        assert k0["step_growth_ms"] == 0.0 and k0["delta_ms"] == 0.0
        for r in rows.values():
            want = r["step_growth_ms"] / 28 - (r["kernel_ms"] - k0["kernel_ms"])
            assert abs(r["delta_ms"] - want) < 2e-6
            # The row at an anchor, less its delta, is the grid's own kernel time: the anchor's kernel
            # measurement within run-to-run noise.
            ratios.append(
                (dec.loc[(r["batch"], r["kv"]), "time_stats.attn_decode.median"] - r["delta_ms"])
                / r["kernel_ms"]
            )
    ratios.sort()
    assert 0.98 < ratios[len(ratios) // 2] < 1.02 and ratios[0] > 0.9 and ratios[-1] < 1.1
    assert (dec["time_stats.attn_decode.median"] > 0).all()
    # The engine's decode step grows slower with context than 28 lone kernels from 12 requests on: the
    # plateau of the delta past 1,600 tokens is -5..-8 us per layer.
    plateau = [r["delta_ms"] for b, rows in by_batch.items() if b >= 12 for k, r in rows.items() if k >= 1600]
    assert all(-0.008 < d < -0.005 for d in plateau)

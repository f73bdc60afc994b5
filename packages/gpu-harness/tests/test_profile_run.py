"""End-to-end profiler runs on CPU with tiny configs: Vidur's exact CSV schema, grid coverage, the model
columns, the manifest, the feature derivations Vidur's predictor makes, budget trimming, flag errors and
the real CLI in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from gpu_harness.profile import ProfileError, ProfileOptions, run_profile
from gpu_harness.profile.grid import decode_points, prefill_points
from gpu_harness.profile.runner import QUICK_NUM_TOKENS, _Budget, _sweep
from gpu_harness.profile.timing import TimeStats

# Written out here, independently of the code under test, from vidur-reference.md §1.1 and §2.1.
MLP_OPS = [
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
]
STATS = ["min", "max", "mean", "median", "std"]
EXPECTED_MLP_COLUMNS = [f"time_stats.{op}.{s}" for op in MLP_OPS for s in STATS] + [
    "n_head",
    "n_kv_head",
    "n_embd",
    "n_expanded_embd",
    "vocab_size",
    "use_gated_mlp",
    "num_tokens",
    "num_tensor_parallel_workers",
]
ATTN_OPS = ["attn_input_reshape", "attn_kv_cache_save", "attn_prefill", "attn_decode", "attn_output_reshape"]
EXPECTED_ATTENTION_COLUMNS = [f"time_stats.{op}.{s}" for op in ATTN_OPS for s in STATS] + [
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
]

# Qwen3-like: head_dim (16) * heads (4) = 64 != hidden_size (48), as in Qwen3-0.6B (128 * 16 != 1024).
TINY_CONFIG = {
    "architectures": ["Qwen3ForCausalLM"],
    "model_type": "qwen3",
    "attention_bias": False,
    "head_dim": 16,
    "hidden_act": "silu",
    "hidden_size": 48,
    "intermediate_size": 96,
    "max_position_embeddings": 512,
    "num_attention_heads": 4,
    "num_hidden_layers": 3,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-6,
    "rope_theta": 1000000,
    "tie_word_embeddings": True,
    "vocab_size": 300,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "_name_or_path": "acme/qwen3-micro",
}
MAX_SEQ = 128
MAX_BATCH = 4


@pytest.fixture(scope="module")
def profile_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("prof")
    cfg = root / "config.json"
    cfg.write_text(json.dumps(TINY_CONFIG))
    result = run_profile(
        ProfileOptions(
            model_config=cfg,
            device_name="cpu-test",
            out=root / "out",
            device="cpu",
            dtype="float32",
            quick=True,
            max_seq_len=MAX_SEQ,
            max_batch_size=MAX_BATCH,
            block_size=32,
            repeats=3,
            warmup=1,
            command="pytest",
        )
    )
    assert result.out_dir == root / "out" / "compute" / "cpu-test" / "acme" / "qwen3-micro"
    assert result.trimmed == {"mlp": False, "prefill": False, "decode": False}
    return result.out_dir


def test_files_written_atomically(profile_dir: Path) -> None:
    assert sorted(p.name for p in profile_dir.iterdir()) == ["attention.csv", "mlp.csv", "profile.json"]


def test_mlp_csv_schema_rows_and_model_columns(profile_dir: Path) -> None:
    header = (profile_dir / "mlp.csv").read_text().splitlines()[0].split(",")
    assert header == EXPECTED_MLP_COLUMNS
    df = pd.read_csv(profile_dir / "mlp.csv")
    assert sorted(df["num_tokens"]) == list(QUICK_NUM_TOKENS)
    for col in EXPECTED_MLP_COLUMNS[:50]:
        assert df[col].dtype == np.float64, col
    assert df["use_gated_mlp"].dtype == np.bool_
    for col in (
        "n_head",
        "n_kv_head",
        "n_embd",
        "n_expanded_embd",
        "vocab_size",
        "num_tokens",
        "num_tensor_parallel_workers",
    ):
        assert df[col].dtype == np.int64, col
    # The filter columns Vidur compares with its model config: n_embd is hidden_size, not heads * head_dim.
    assert set(df["n_head"]) == {4} and set(df["n_kv_head"]) == {2} and set(df["n_embd"]) == {48}
    assert set(df["n_expanded_embd"]) == {96} and set(df["vocab_size"]) == {300}
    assert df["use_gated_mlp"].all() and set(df["num_tensor_parallel_workers"]) == {1}
    for op in MLP_OPS:
        med = df[f"time_stats.{op}.median"]
        assert (med > 0).all(), op
        assert (df[f"time_stats.{op}.min"] <= med).all() and (med <= df[f"time_stats.{op}.max"]).all(), op
        assert (df[f"time_stats.{op}.std"] >= 0).all(), op


def test_attention_csv_schema_and_grid(profile_dir: Path) -> None:
    header = (profile_dir / "attention.csv").read_text().splitlines()[0].split(",")
    assert header == EXPECTED_ATTENTION_COLUMNS
    df = pd.read_csv(profile_dir / "attention.csv")
    for col in EXPECTED_ATTENTION_COLUMNS[:25]:
        assert df[col].dtype == np.float64, col
    assert df["is_prefill"].dtype == np.bool_
    assert pd.api.types.is_string_dtype(df["attention_backend"])
    pre = df[df["prefill_chunk_size"] > 0]
    dec = df[df["prefill_chunk_size"] == 0]
    assert {
        (int(c), int(k)) for c, k in zip(pre["prefill_chunk_size"], pre["kv_cache_size"], strict=True)
    } == {(p.chunk, p.kv) for p in prefill_points(MAX_SEQ, quick=True)}
    assert {(int(b), int(k)) for b, k in zip(dec["batch_size"], dec["kv_cache_size"], strict=True)} == {
        (p.batch, p.kv) for p in decode_points(MAX_SEQ, MAX_BATCH, quick=True)
    }
    assert pre["is_prefill"].all() and not dec["is_prefill"].any() and (pre["batch_size"] == 1).all()
    assert (pre["time_stats.attn_prefill.median"] > 0).all() and (
        pre["time_stats.attn_decode.median"] == 0
    ).all()
    assert (dec["time_stats.attn_decode.median"] > 0).all() and (
        dec["time_stats.attn_prefill.median"] == 0
    ).all()
    assert (df["time_stats.attn_kv_cache_save.median"] > 0).all()
    assert set(df["n_embd"]) == {48} and set(df["n_q_head"]) == {4} and set(df["n_kv_head"]) == {2}
    assert set(df["block_size"]) == {32} and set(df["max_model_len"]) == {MAX_SEQ}


def test_vidur_predictor_derivations_train(profile_dir: Path) -> None:
    """Replays §1.5 / §2.4: load, drop duplicates, filter on the model config, derive features, fit."""
    from sklearn.ensemble import RandomForestRegressor

    model = {
        "num_q_heads": 4,
        "num_kv_heads": 2,
        "embedding_dim": 48,
        "mlp_hidden_dim": 96,
        "use_gated_mlp": True,
        "vocab_size": 300,
    }
    mlp = pd.read_csv(profile_dir / "mlp.csv").drop_duplicates()
    mlp = mlp[
        (mlp["n_head"] == model["num_q_heads"])
        & (mlp["n_kv_head"] == model["num_kv_heads"])
        & (mlp["n_embd"] == model["embedding_dim"])
        & (mlp["n_expanded_embd"] == model["mlp_hidden_dim"])
        & (mlp["use_gated_mlp"] == model["use_gated_mlp"])
        & (mlp["vocab_size"] == model["vocab_size"])
        & (mlp["num_tensor_parallel_workers"] == 1)
    ]
    assert len(mlp) == len(QUICK_NUM_TOKENS)
    grid = np.arange(1, max(QUICK_NUM_TOKENS) + 1).reshape(-1, 1)
    for op in (
        "attn_pre_proj",
        "attn_post_proj",
        "mlp_up_proj",
        "mlp_down_proj",
        "mlp_act",
        "attn_rope",
        "post_attention_layernorm",
        "add",
        "input_layernorm",
    ):
        y = mlp[f"time_stats.{op}.median"].fillna(0)
        rf = RandomForestRegressor(n_estimators=5, random_state=0).fit(mlp[["num_tokens"]].to_numpy(), y)
        assert (rf.predict(grid) > 0).all(), op

    att = pd.read_csv(profile_dir / "attention.csv").drop_duplicates()
    att = att[
        (att["n_embd"] == 48)
        & (att["n_q_head"] == 4)
        & (att["n_kv_head"] == 2)
        & (att["block_size"] == 32)
        & (att["num_tensor_parallel_workers"] == 1)
    ]
    att["num_tokens"] = att[["prefill_chunk_size", "batch_size"]].max(axis=1)
    att["is_decode"] = att["prefill_chunk_size"] == 0
    att["prefill_chunk_size_squared"] = att["prefill_chunk_size"] ** 2
    pre, dec = att[~att["is_decode"]], att[att["is_decode"]]
    assert len(pre) >= 2 and len(dec) >= 2
    assert (
        pre["time_stats.attn_prefill.median"].notna().all()
        and dec["time_stats.attn_decode.median"].notna().all()
    )
    for frame, feats, target in (
        (pre, ["kv_cache_size", "prefill_chunk_size_squared"], "attn_prefill"),
        (dec, ["batch_size", "kv_cache_size"], "attn_decode"),
        (att, ["num_tokens"], "attn_kv_cache_save"),
    ):
        rf = RandomForestRegressor(n_estimators=5, random_state=0).fit(
            frame[feats].to_numpy(), frame[f"time_stats.{target}.median"]
        )
        assert (rf.predict(frame[feats].to_numpy()) > 0).all(), target


def test_manifest(profile_dir: Path) -> None:
    m = json.loads((profile_dir / "profile.json").read_text())
    assert m["schema_version"] == 1 and m["kind"] == "profile" and m["model_name"] == "acme/qwen3-micro"
    assert m["dims"]["head_dim"] == 16 and m["dims"]["n_embd"] == 48 and m["dims"]["num_layers"] == 3
    assert m["dtype"] == "float32" and m["device"] == "cpu" and m["weights"] == "random"
    assert m["tool_versions"]["torch"] == torch.__version__ and "transformers" in m["tool_versions"]
    assert m["method"]["timer"] == "perf_counter" and m["method"]["repeats"] == 3
    assert m["grid"]["num_tokens"] and m["grid"]["block_size"] == 32 and m["command"] == "pytest"
    assert m["engine"]["attention"]["module"] == "gpu_harness.engine.attention"
    assert m["duration_s"] > 0
    # The decode rows time the batched kernel: Vidur's own batching extra would count it twice.
    assert m["vidur_predictor"] == {"attention_decode_batching_overhead_fraction": 0.0}
    phases = {"mlp", "prefill", "decode", "decode_engine"}
    assert set(m["phase_s"]) == phases and all(v > 0 for v in m["phase_s"].values())
    # decode_call engine (the default): every measured batch size timed at every kv anchor of the grid.
    assert m["engine"]["attention"]["decode_call"].startswith("engine:")
    batches = sorted({b for b, _k in m["grid"]["decode_batch_kv"]})
    anchors = m["engine_decode"]["anchors_kv"]
    assert anchors == sorted({k for _b, k in m["grid"]["decode_batch_kv"]})  # quick grid: 3 kv, all anchors
    assert [(r["batch"], r["kv"]) for r in m["engine_decode"]["rows"]] == [
        (b, k) for b in batches for k in anchors
    ]
    assert m["engine_decode"]["layers"] == 3 and m["engine_decode"]["runner"]["attention"] == "sdpa"
    # How many rows the floor held (engine_decode.py); the exact floor is test_profile_engine_decode's.
    assert 0 <= m["engine_decode"]["floored_rows"] <= len(m["grid"]["decode_batch_kv"])
    assert m["engine"]["rope"] == "gpu_harness.engine.fused.FusedBlock.qk_norm_rope"
    assert m["engine"]["mlp_ops"].startswith("gpu_harness.engine.fused.FusedBlock")
    assert m["engine"]["attention"]["backend"] == "sdpa"  # no CUDA here


def test_budget_trims_fine_points_but_keeps_the_range() -> None:
    values = list(range(8, 4097, 8))
    from gpu_harness.profile.grid import order_coarse_to_fine_1d

    budget = _Budget(0.05)
    messages: list[str] = []

    def measure(point: int) -> dict[str, TimeStats]:
        time.sleep(0.004)
        return {}

    done, trimmed = _sweep("mlp", order_coarse_to_fine_1d(values), 3, budget, measure, messages.append)
    got = sorted(p for p, _ in done)
    assert trimmed and 9 <= len(got) < len(values)
    assert got[0] == 8 and got[-1] == 4096 and 2048 in got  # ends and midpoint always measured
    assert any("time budget reached" in m for m in messages)


def _opts(tmp_path: Path, **kw: object) -> ProfileOptions:
    cfg = tmp_path / "config.json"
    if not cfg.exists():
        cfg.write_text(json.dumps(TINY_CONFIG))
    base: dict[str, object] = {
        "model_config": cfg,
        "device_name": "cpu-test",
        "out": tmp_path / "out",
        "device": "cpu",
        "quick": True,
    }
    base.update(kw)
    return ProfileOptions(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "code", "fragment"),
    [
        ({"num_tensor_parallel_workers": 2}, "PROFILE_UNSUPPORTED", "--num-tensor-parallel-workers 2"),
        ({"model_name": "a/b/c"}, "PROFILE_BAD_FLAG", "--model-name"),
        ({"device_name": "../x"}, "PROFILE_BAD_FLAG", "--device-name"),
        ({"max_seq_len": 1}, "PROFILE_BAD_FLAG", "--max-seq-len 1"),
        ({"repeats": 0}, "PROFILE_BAD_FLAG", "--repeats 0"),
        ({"fused_kernels": "cuda"}, "PROFILE_BAD_FLAG", "--fused-kernels 'cuda'"),
        ({"decode_call": "graph"}, "PROFILE_BAD_FLAG", "--decode-call 'graph'"),
        ({"time_budget_s": 0.0}, "PROFILE_BAD_FLAG", "--time-budget-s"),
        (
            {"model_config": Path("/nonexistent/config.json")},
            "PROFILE_BAD_CONFIG",
            "/nonexistent/config.json",
        ),
    ],
)
def test_bad_options_raise_coded_errors(
    tmp_path: Path, overrides: dict[str, object], code: str, fragment: str
) -> None:
    with pytest.raises(ProfileError) as info:
        run_profile(_opts(tmp_path, **overrides))
    assert info.value.code == code
    assert fragment in str(info.value)
    assert not (tmp_path / "out").exists()


def test_bad_config_json_names_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "broken.json"
    cfg.write_text('{"model_type": "qwen3",\n "hidden_size": }')
    with pytest.raises(ProfileError) as info:
        run_profile(_opts(tmp_path, model_config=cfg))
    assert info.value.code == "PROFILE_BAD_CONFIG" and "broken.json:2" in str(info.value)


def test_cuda_without_gpu_is_a_device_error(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.fail("this CPU test expects a host without CUDA")
    with pytest.raises(ProfileError) as info:
        run_profile(_opts(tmp_path, device="cuda"))
    assert info.value.code == "PROFILE_DEVICE"


def test_cli_subprocess(tmp_path: Path) -> None:
    out = tmp_path / "root"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gpu_harness.profile",
            "--model-config",
            "qwen3-tiny",
            "--model-name",
            "Qwen/tiny",
            "--device-name",
            "cpu-test",
            "--device",
            "cpu",
            "--dtype",
            "float32",
            "--out",
            str(out),
            "--quick",
            "--max-seq-len",
            "64",
            "--max-batch-size",
            "2",
            "--max-tokens",
            "16",
            "--repeats",
            "2",
            "--warmup",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    target = out / "compute" / "cpu-test" / "Qwen" / "tiny"
    assert proc.stdout.strip() == str(target)
    assert "[profile] wrote" in proc.stderr
    mlp = pd.read_csv(target / "mlp.csv")
    assert sorted(mlp["num_tokens"]) == [1, 2, 4, 8, 16]
    bundled = json.loads(
        (Path(__file__).resolve().parents[1] / "src/gpu_harness/configs/qwen3-tiny.json").read_text()
    )
    assert set(mlp["n_embd"]) == {bundled["hidden_size"]} and set(mlp["vocab_size"]) == {
        bundled["vocab_size"]
    }
    manifest = json.loads((target / "profile.json").read_text())
    assert manifest["command"].startswith("python -m gpu_harness.profile --model-config qwen3-tiny")
    assert manifest["grid"]["max_seq_len"] == 64


def test_summary_step_is_the_sum_of_the_profiled_ops(profile_dir: Path) -> None:
    from gpu_harness.profile.summary import LAYER_OPS, summarize

    text = summarize(profile_dir, decode_points=((2, 48),))
    mlp = pd.read_csv(profile_dir / "mlp.csv").set_index("num_tokens")
    att = pd.read_csv(profile_dir / "attention.csv")
    row = att[
        (att["batch_size"] == 2) & (att["kv_cache_size"] == 48) & (att["prefill_chunk_size"] == 0)
    ].iloc[0]
    per_layer = sum(mlp.loc[2, f"time_stats.{op}.median"] for op in LAYER_OPS)
    step = 3 * (
        per_layer + row["time_stats.attn_decode.median"] + row["time_stats.attn_kv_cache_save.median"]
    )
    last = [line for line in text.splitlines() if line.startswith("| 2 | 48 |")]
    assert len(last) == 1
    assert float(last[0].split("|")[-2]) == pytest.approx(step, abs=1e-4)
    assert "| num_tokens | emb |" in text


def test_profile_times_the_triton_elementwise_kernels_when_the_engine_runs_them(tmp_path: Path) -> None:
    # fused_kernels=triton (Triton's CPU interpreter here; `auto` on a GPU): the norms are add_rms_norm,
    # attn_rope includes the K/V write (so attn_kv_cache_save is 0) and the residual add is folded in (0).
    import csv

    torch.set_num_threads(1)
    result = run_profile(
        _opts(
            tmp_path,
            dtype="float32",
            fused_kernels="triton",
            max_tokens=64,
            max_seq_len=MAX_SEQ,
            max_batch_size=MAX_BATCH,
            repeats=2,
            warmup=1,
        )
    )
    mlp = list(csv.DictReader((result.out_dir / "mlp.csv").open()))
    attn = list(csv.DictReader((result.out_dir / "attention.csv").open()))
    assert mlp and all(float(r["time_stats.add.median"]) == 0.0 for r in mlp)
    assert all(float(r["time_stats.input_layernorm.median"]) > 0 for r in mlp)
    assert all(float(r["time_stats.attn_rope.median"]) > 0 for r in mlp)
    assert attn and all(float(r["time_stats.attn_kv_cache_save.median"]) == 0.0 for r in attn)
    manifest = json.loads((result.out_dir / "profile.json").read_text())
    assert "elementwise: fused_kernels" in json.dumps(manifest)

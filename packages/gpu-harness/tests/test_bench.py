"""bench-engine on CPU with tiny sizes: every section measured, a failing point recorded, budget honoured."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch

from gpu_harness.bench import add_arguments, render_markdown, run_bench
from gpu_harness.cli import main

torch.set_num_threads(1)


def _args(tmp: Path, *extra: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(
        [
            "--model-config",
            "qwen3-tiny",
            "--device",
            "cpu",
            "--batches",
            "1,3",
            "--contexts",
            "16",
            "--prefill-chunks",
            "8,16",
            "--repeats",
            "2",
            "--warmup-iters",
            "1",
            "--saturation-requests",
            "3",
            "--saturation-prompt",
            "6",
            "--saturation-max-tokens",
            "4",
            "--chunk-size",
            "8",
            "--out",
            str(tmp),
            *extra,
        ]
    )


@pytest.mark.parametrize("attention", ["sdpa", "varlen-reference"])
def test_bench_measures_every_section_and_survives_a_failing_point(tmp_path: Path, attention: str) -> None:
    args = _args(tmp_path, "--attention", attention, "--mixed-decodes", "2,4,8")
    args.batches = [1, 0, 3]  # batch 0 has no rows to decode: that point must fail alone
    result = run_bench(args)
    rows = {r["batch"]: r for r in result["decode"]}
    assert "needs at least one row" in rows[0]["error"]
    for b in (1, 3):
        r = rows[b]
        assert r["lean_wall_s"] > 0 and r["hf_step_s"] > 0 and r["hf_mode"] == "eager"
        assert (
            r["bandwidth_floor_s"] > 0
            and abs(r["lean_over_floor"] - r["lean_wall_s"] / r["bandwidth_floor_s"]) < 1e-9
        )
        assert r["lean_gpu_s"] is None  # no CUDA events on CPU
    assert 8 <= rows[3]["mean_context"] <= 24  # mixed lengths around the mean
    assert [r["chunk_tokens"] for r in result["prefill"]] == [8, 16]
    assert all(r["compute_floor_s"] > 0 and r["lean_wall_s"] > 0 for r in result["prefill"])
    assert result["lean"]["decode"]["attention_backend"] == attention
    mixed = result["mixed"]
    assert [(r["decodes"], r["chunk_tokens"]) for r in mixed] == [(2, 6), (4, 4), (8, 0)]
    assert all(r["lean_wall_s"] > 0 and r["floor_s"] > 0 for r in mixed[:2])
    assert "no prefill tokens" in mixed[2]["error"]  # a decode count that fills the budget fails alone
    sat = result["saturation"]
    assert sat["output_tokens"] == 3 * 4 and sat["finished"] == 3 and sat["output_tokens_per_s"] > 0
    md = render_markdown(result)
    assert "## Decode step" in md and "| 3 | 16 |" in md and "output tokens/s" in md
    assert "## Mixed step" in md and f"decode {attention}" in md


def test_bench_cli_writes_files_and_respects_time_budget(tmp_path: Path) -> None:
    rc = main(
        [
            "bench-engine",
            "--model-config",
            "qwen3-tiny",
            "--device",
            "cpu",
            "--time-budget-s",
            "0",
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 0
    data = json.loads((tmp_path / "bench_engine.json").read_text())
    assert all(r.get("skipped") == "time budget" for r in data["decode"] + data["prefill"])
    assert data["saturation"]["skipped"] == "time budget"
    assert (tmp_path / "bench_engine.md").read_text().startswith("# bench-engine")


def test_serve_help_documents_every_flag_with_units(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for flag in (
        "--model-config",
        "--weights",
        "--seed",
        "--device",
        "--dtype",
        "--engine",
        "--max-num-batched-tokens",
        "--max-batch-size",
        "--block-size",
        "--num-blocks",
        "--kv-memory-fraction",
        "--attn-impl",
        "--host",
        "--port",
        "--log-dir",
        "--cuda-graphs",
        "--no-cuda-graphs",
        "--warmup",
        "--max-model-len",
    ):
        assert flag in text
    assert "in tokens" in text and "0 = pick a free one" in text


def test_serve_rejects_bad_flags_with_a_coded_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--model-config", "/nonexistent/config.json", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "HARNESS_BAD_CONFIG" in err and "/nonexistent/config.json" in err


def test_profile_subcommand_is_wired_lazily(capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    sys.modules.pop("gpu_harness.profile.cli", None)
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    assert "gpu_harness.profile.cli" not in sys.modules  # serve never imports the profiler
    with pytest.raises(SystemExit) as info:
        main(["profile", "--help"])
    assert info.value.code == 0 and "--model-config" in capsys.readouterr().out
    assert "gpu_harness.profile.cli" in sys.modules


def test_check_engine_reports_equal_greedy_tokens_per_backend(tmp_path: Path) -> None:
    out = tmp_path / "check.json"
    rc = main(
        [
            "check-engine",
            "--model-config",
            "qwen3-tiny",
            "--device",
            "cpu",
            "--attention",
            "sdpa,varlen-reference,varlen-reference:flash",
            "--prompt-lengths",
            "3,40",
            "--max-tokens",
            "6",
            "--chunk-size",
            "16",
            "--out",
            str(out),
        ]
    )
    report = json.loads(out.read_text())
    assert rc == 0 and report["ok"] and report["tie_tolerance"] == 0.0
    for name, decode in (
        ("sdpa", "n/a"),
        ("varlen-reference", "split-kv"),
        ("varlen-reference:flash", "flash"),
    ):
        b = report["backends"][name]
        assert b["resolved"] == name.split(":")[0] and b["decode_attention"] == decode
        assert b["prompts_equal"] == 2 and b["mixed_iterations"] > 0
        assert all(p["first_difference"] is None for p in b["prompts"])


def test_check_engine_rejects_bad_prompt_lengths(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-engine", "--device", "cpu", "--prompt-lengths", "3,x"]) == 2
    assert "--prompt-lengths '3,x'" in capsys.readouterr().err

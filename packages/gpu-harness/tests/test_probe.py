"""The machine probe: which compositions a runner times, that two H200 configurations share them, and that a
probe taken before serving leaves the engine's output unchanged (CPU, tiny Qwen3)."""

from __future__ import annotations

import pytest
import torch
from test_lean_engine import PROMPTS, serve_all

from gpu_harness.engine.lean import LeanEngine
from gpu_harness.engine.probe import compositions, run_probe
from gpu_harness.model import build_model
from gpu_harness.timeline import Timeline

torch.set_num_threads(1)


def keys(**kw: int) -> list[str]:
    return [desc["key"] for desc, _ in compositions(**kw)]


def test_the_default_and_the_32_cap_256_budget_servers_share_every_composition_but_64_decodes() -> None:
    default = keys(num_slots=128, budget=512, max_model_len=4608, max_tokens=640)
    small = keys(num_slots=32, budget=256, max_model_len=4608, max_tokens=288)
    shared = [k for k in default if k in small]
    assert shared == small and [k for k in default if k not in small] == ["decode d=64 kv=1024"]
    assert small == [
        *(f"decode d={d} kv=1024" for d in (1, 4, 8, 16, 32)),
        *(f"mixed d={d} kv=1024 chunk=224 context={c}" for c in (0, 1024) for d in (0, 4, 16)),
    ]


def test_compositions_that_do_not_fit_the_runner_are_left_out() -> None:
    # Tiny server: 4 slots, budget 8, 64-token context -> KV 16, chunk 7; mixed steps need a slot for the
    # chunk and chunk + decodes within the budget (7 + 4 > 8).
    comps = compositions(num_slots=4, budget=8, max_model_len=64, max_tokens=12)
    assert [d["key"] for d, _ in comps] == [
        "decode d=1 kv=16",
        "decode d=4 kv=16",
        "mixed d=0 kv=16 chunk=7 context=0",
        "mixed d=0 kv=16 chunk=7 context=16",
    ]
    desc, items = comps[-1]
    assert items == [(0, 16, [11] * 7, True)] and desc["chunk"] == 7
    assert all(len({slot for slot, *_ in its}) == len(its) for _, its in comps)  # one item per slot
    assert compositions(num_slots=4, budget=1, max_model_len=4, max_tokens=4) == []


@pytest.mark.parametrize("attention", ["sdpa", "varlen-reference"])
def test_a_probe_before_serving_times_each_composition_and_leaves_tokens_unchanged(attention: str) -> None:
    model = build_model("qwen3-tiny", device="cpu", dtype="float32", seed=3)

    def engine() -> LeanEngine:
        return LeanEngine(
            model,
            timeline=Timeline(),
            chunk_size=8,
            batch_size_cap=4,
            block_size=4,
            max_model_len=64,
            attention=attention,
        )

    plain, _ = serve_all(engine(), PROMPTS, 6)
    probed = engine()
    record = probed.probe(5)
    assert record is not None
    got = [(p["key"], p["n"]) for p in record["points"]]
    comps = compositions(num_slots=4, budget=8, max_model_len=64, max_tokens=12)
    assert got == [(d["key"], 5) for d, _ in comps]
    assert all(0 < p["p10_ms"] <= p["p50_ms"] <= p["p90_ms"] for p in record["points"])
    assert record["repeats"] == 5 and record["seconds"] > 0
    after, _ = serve_all(probed, PROMPTS, 6)
    assert after == plain
    with pytest.raises(ValueError, match="repeats"):
        run_probe(probed.runner, budget=8, repeats=0)

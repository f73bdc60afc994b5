"""attn_decode from the engine's decode-step growth (profile/engine_decode.py): the anchors, the growth
difference, the interpolation, the row shift, the step items the engine runs, and the rows the profiler moves
(a real runner and a real kernel sweep on CPU with the tiny config)."""

from __future__ import annotations

import pytest
import torch

from gpu_harness.engine import lean
from gpu_harness.profile.attention import AttentionProfiler
from gpu_harness.profile.engine_decode import (
    PAIRS_PER_REPEAT,
    EngineDecodeTimer,
    anchor_kvs,
    decode_items,
    growth_deltas,
    interpolate,
    shift_stats,
)
from gpu_harness.profile.grid import DecodePoint, decode_points
from gpu_harness.profile.model_dims import decoder_layers, dims_from_config
from gpu_harness.profile.runner import ProfileOptions, _engine_decode
from gpu_harness.profile.timing import OpTimer, TimeStats


def test_anchors_are_the_kv_axis_ends_and_its_coarse_midpoints() -> None:
    kvs = sorted({p.kv for p in decode_points(4608, 128)})
    anchors = anchor_kvs(kvs)
    assert anchors[0] == kvs[0] == 32 and anchors[-1] == kvs[-1] == 4607
    assert len(anchors) == 9 and anchors == sorted(set(anchors)) and set(anchors) <= set(kvs)
    # The midpoint of the whole axis (depth 1) and of each half (depth 2) are in.
    assert kvs[(len(kvs) - 1) // 2] in anchors
    assert anchor_kvs([16, 48, 96]) == [16, 48, 96]
    assert anchor_kvs(kvs, level=0) == [32, 4607]


def test_growth_deltas_are_the_step_growth_per_layer_less_the_kernel_growth() -> None:
    growth = {32: 0.0, 1000: 0.56, 4000: 1.4}
    kernel = {32: 0.02, 1000: 0.04, 4000: 0.09}
    d = growth_deltas(growth, kernel, layers=28)
    assert d[32] == 0.0
    assert d[1000] == pytest.approx(0.56 / 28 - 0.02)  # 0.0: the step grows as 28 kernels do
    assert d[4000] == pytest.approx(1.4 / 28 - 0.07)  # -0.02: the step grows slower
    with pytest.raises(ValueError, match="same, non-empty set"):
        growth_deltas({32: 0.0}, {48: 1.0}, layers=2)
    with pytest.raises(ValueError, match="layers must be >= 1"):
        growth_deltas(growth, kernel, layers=0)
    with pytest.raises(ValueError, match=r"smallest anchor \(32\) must be 0"):
        growth_deltas({**growth, 32: 0.1}, kernel, layers=28)


def test_interpolation_is_exact_at_anchors_linear_between_and_flat_past_the_ends() -> None:
    d = {32: 0.0, 1032: -0.01, 2032: -0.03}
    assert interpolate(d, 32) == 0.0 and interpolate(d, 1032) == -0.01 and interpolate(d, 2032) == -0.03
    assert interpolate(d, 532) == pytest.approx(-0.005)
    assert interpolate(d, 1532) == pytest.approx(-0.02)
    assert interpolate(d, 8) == 0.0 and interpolate(d, 4000) == -0.03
    with pytest.raises(ValueError, match="no anchors"):
        interpolate({}, 5)


def test_shift_moves_the_location_keeps_the_spread_and_never_goes_below_zero() -> None:
    s = TimeStats(min=0.05, max=0.09, mean=0.07, median=0.06, std=0.01)
    up = shift_stats(s, 0.02)
    assert (up.min, up.max, up.mean, up.median, up.std) == pytest.approx((0.07, 0.11, 0.09, 0.08, 0.01))
    down = shift_stats(s, -0.08)
    assert (down.min, down.max, down.mean, down.median) == (0.0, pytest.approx(0.01), 0.0, 0.0)
    assert down.std == 0.01
    # With a floor the median and mean stop there; min <= median <= max still holds.
    held = shift_stats(s, -0.08, floor=0.03)
    assert (held.min, held.max, held.mean, held.median) == (0.0, 0.03, 0.03, 0.03)
    assert shift_stats(s, 0.02, floor=0.03) == up  # a floor below the moved values changes nothing
    with pytest.raises(ValueError, match="floor must be >= 0"):
        shift_stats(s, 0.0, floor=-0.1)


def test_decode_items_are_the_engines_decode_rows(tiny: tuple[torch.nn.Module, object]) -> None:
    model, _cfg = tiny
    items = decode_items(3, 10)
    # LeanEngine._run's decode row with 10 computed tokens: (slot, len(tokens) - 1, [last], True).
    assert items == [(0, 10, [7], True), (1, 10, [7], True), (2, 10, [7], True)]
    runner = lean.LeanModelRunner(model, num_slots=4, max_model_len=32, cuda_graphs=False)
    with torch.inference_mode():
        out = runner.forward(items)
    assert out.shape == (3,)  # one decode-only step, one next token per row


def test_paired_growth_alternates_the_smallest_anchor_and_each_other(
    tiny: tuple[torch.nn.Module, object],
) -> None:
    model, _cfg = tiny
    timer = OpTimer(torch.device("cpu"), 1, 3)
    engine = EngineDecodeTimer(
        model, timer, num_slots=2, max_seq_len=64, attention="auto", decode_attn="auto", fused_kernels="auto"
    )
    calls: list[tuple[int, int]] = []
    forward = engine.runner.forward

    def spy(items: list[tuple[int, int, list[int], bool]]) -> torch.Tensor:
        calls.append((len(items), items[0][1]))  # (rows, kv) of each step the runner really runs
        return forward(items)

    engine.runner.forward = spy  # type: ignore[method-assign]
    out = engine.paired_growth(2, [40, 8, 63])
    assert list(out) == [8, 40, 63] and out[8][1] == 0.0 and all(s > 0 for s, _g in out.values())
    # Per anchor past kv_0: (1 warm-up + 3 x 3 measured) pairs of (kv_0, kv_j) steps of 2 rows, ascending.
    assert PAIRS_PER_REPEAT == 3
    assert calls == [step for kv in (40, 63) for _ in range(10) for step in ((2, 8), (2, kv))]
    calls.clear()
    assert list(engine.paired_growth(1, [8])) == [8] and calls == [(1, 8)] * 20  # one anchor: against itself
    engine.close()


def test_engine_decode_moves_each_row_by_its_interpolated_delta(tiny: tuple[torch.nn.Module, object]) -> None:
    model, cfg = tiny
    dims = dims_from_config(cfg, model, "qwen3-tiny")  # type: ignore[arg-type]
    layers = decoder_layers(model, "qwen3-tiny")
    timer = OpTimer(torch.device("cpu"), 1, 3)
    attn = AttentionProfiler(
        model, layers, dims, timer, block_size=16, max_batch_size=3, max_seq_len=64, seed=0
    )
    # Anchors 8, 40, 63 (the kv axis's ends and midpoint at level 1 of 5 values); 20 and 50 between them.
    kvs = [8, 20, 40, 50, 63]
    done = [((b, k), attn.profile_decode(DecodePoint(b, k))) for b in (1, 3) for k in kvs]
    opts = ProfileOptions(model_config=None, device_name="cpu-test", out=None, max_seq_len=64)  # type: ignore[arg-type]
    moved, record = _engine_decode(model, attn, timer, opts, dims, done, kvs, None)
    anchors = record["anchors_kv"]
    assert anchors == anchor_kvs(kvs) and {8, 63} <= set(anchors)
    assert record["layers"] == dims.num_layers and record["runner"]["slots"] == 3
    deltas: dict[int, dict[int, float]] = {}
    for r in record["rows"]:
        deltas.setdefault(r["batch"], {})[r["kv"]] = r["delta_ms"]
    for b, d in deltas.items():
        rows = {r["kv"]: r for r in record["rows"] if r["batch"] == b}
        k0 = min(rows)
        assert rows[k0]["step_growth_ms"] == 0.0 and d[k0] == 0.0
        for r in rows.values():  # each delta is its own row's growth difference
            want = r["step_growth_ms"] / dims.num_layers - (r["kernel_ms"] - rows[k0]["kernel_ms"])
            assert r["delta_ms"] == pytest.approx(want, abs=2e-6)
            assert r["step_ms"] > 0
    assert [p for p, _ in moved] == [p for p, _ in done]
    floors = {b: min(r["kernel_ms"] for r in record["rows"] if r["batch"] == b) for b in deltas}
    for (b, _k), before in done:
        floors[b] = min(floors[b], before["attn_decode"].median)
    surely, maybe = 0, 0  # rows below the floor by more than the record's rounding, and within it
    for ((b, k), before), (_p, after) in zip(done, moved, strict=True):
        shift = interpolate(deltas[b], k)
        surely += before["attn_decode"].median + shift < floors[b] - 1e-6
        maybe += before["attn_decode"].median + shift < floors[b] + 1e-6
        # Moved by its delta, never below the cheapest kernel median measured for the batch size.
        assert after["attn_decode"].median == pytest.approx(
            max(floors[b], before["attn_decode"].median + shift), abs=2e-6
        )
        assert after["attn_decode"].std == before["attn_decode"].std
        assert after["attn_kv_cache_save"] == before["attn_kv_cache_save"]  # only attn_decode moves
    assert surely <= record["floored_rows"] <= maybe

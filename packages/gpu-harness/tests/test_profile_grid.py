"""Grid construction and coarse-to-fine ordering of the profiler (pure Python, no torch work)."""

from __future__ import annotations

import pytest

from gpu_harness.profile.grid import (
    coarse_to_fine_depth,
    decode_batch_sizes,
    decode_points,
    order_coarse_to_fine_1d,
    order_coarse_to_fine_2d,
    prefill_points,
    vidur_chunk_sizes,
    vidur_num_tokens,
    vidur_seq_lens,
)


def test_num_tokens_matches_vidur_sweep() -> None:
    grid = vidur_num_tokens(4096)
    # vidur-reference.md §1.4: 261 rows for max 4096 of which 259 distinct.
    assert len(grid) == 259
    assert grid[:4] == [1, 2, 4, 8]
    assert grid[-1] == 4096
    assert grid == sorted(set(grid))
    # Every count the predictor looks up (batch tokens rounded up to a multiple of 8) is within range.
    assert all(v % 8 == 0 for v in grid[3:])
    assert 1040 in grid and 1032 not in grid  # step 16 above 1024


def test_num_tokens_includes_an_odd_maximum() -> None:
    assert vidur_num_tokens(1000)[-1] == 1000
    assert vidur_num_tokens(3)[-1] == 3


def test_prefill_points_cover_vidur_grid() -> None:
    max_seq = 4096
    vidur: set[tuple[int, int]] = set()
    for c in vidur_chunk_sizes(max_seq):
        vidur |= {(c, k) for k in range(0, (max_seq // c) * c, c) if c + k <= max_seq}
    vidur |= {(c, 0) for c in vidur_seq_lens(max_seq) if c > 0}
    mine = {(p.chunk, p.kv) for p in prefill_points(max_seq)}
    assert vidur <= mine
    assert all(p.chunk + p.kv <= max_seq and p.chunk > 0 for p in prefill_points(max_seq))
    assert (max_seq, 0) in mine and (8, 0) in mine


def test_decode_points_span_batch_and_kv() -> None:
    pts = decode_points(4096, 128)
    batches = sorted({p.batch for p in pts})
    kvs = sorted({p.kv for p in pts})
    assert batches == decode_batch_sizes(128)
    assert batches[:32] == list(range(1, 33)) and batches[-1] == 128
    assert kvs[0] == 32 and kvs[-1] == 4095
    assert len(pts) == len(batches) * len(kvs)
    assert decode_batch_sizes(20) == list(range(1, 21))


def test_quick_grids_respect_limits() -> None:
    assert all(p.chunk + p.kv <= 64 for p in prefill_points(64, quick=True))
    assert all(p.kv < 40 and p.batch <= 2 for p in decode_points(40, 2, quick=True))


def test_coarse_to_fine_depths() -> None:
    depth = coarse_to_fine_depth([1, 2, 3, 4, 5, 6, 7, 8, 9])
    assert depth[1] == 0 and depth[9] == 0 and depth[5] == 1
    assert depth[3] == 2 and depth[7] == 2
    assert {depth[v] for v in (2, 4, 6, 8)} == {3}


def test_every_level_prefix_spans_the_whole_range() -> None:
    values = vidur_num_tokens(4096)
    ordered = order_coarse_to_fine_1d(values)
    assert sorted(v for _, v in ordered) == values
    levels = [lvl for lvl, _ in ordered]
    assert levels == sorted(levels)
    for cut in (1, 2, 3, 4):
        prefix = [v for lvl, v in ordered if lvl <= cut]
        assert min(prefix) == 1 and max(prefix) == 4096
        # No gap larger than the whole span over 2**(cut-1) (+1 grid step of slack).
        gaps = [b - a for a, b in zip(sorted(prefix), sorted(prefix)[1:], strict=False)]
        assert max(gaps) <= 4096 / 2 ** (cut - 1) + 64


@pytest.mark.parametrize("max_seq", [4096, 512])
def test_2d_prefix_covers_both_axes(max_seq: int) -> None:
    pts = [(p.batch, p.kv) for p in decode_points(max_seq, 128)]
    ordered = order_coarse_to_fine_2d(pts)
    assert len(ordered) == len(set(pts))
    prefix = [pt for lvl, pt in ordered if lvl <= 2]
    assert {b for b, _ in prefix} >= {1, 128}
    assert {k for _, k in prefix} >= {32, max_seq - 1}
    assert len(prefix) == 25  # 5 batch values x 5 kv values
    pre = [(p.chunk, p.kv) for p in prefill_points(max_seq)]
    pre_prefix = [pt for lvl, pt in order_coarse_to_fine_2d(pre) if lvl <= 2]
    assert {c for c, _ in pre_prefix} >= {8, max_seq}
    assert max(k for _, k in pre_prefix) >= max_seq // 2

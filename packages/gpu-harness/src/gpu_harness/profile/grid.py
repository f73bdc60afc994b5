"""Profiling grids: which num_tokens / (chunk, kv) / (batch, kv) points are measured, and in which order.

Vidur's random-forest predictor asks for every point of its prediction grid (vidur-reference.md §4.2) and
does not extrapolate, so the grids here span the whole prediction range from their first points on. Points
are ordered coarse-to-fine: the ends of every axis first, then midpoints, so that a run cut short by the
time budget still covers the full range, only more sparsely. Pure functions; no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


def vidur_num_tokens(max_tokens: int) -> list[int]:
    """Vidur's mlp num_tokens sweep (§1.4), distinct, ascending, cut at max_tokens (inclusive)."""
    values = {1, 2, 4}
    spans = [
        (8, 1024, 8),
        (1024, 2048, 16),
        (2048, 4096, 32),
        (4096, 8192, 64),
        (8192, 16384, 128),
        (16384, 32768, 256),
        (32768, 65536, 512),
        (65536, 131072, 1024),
    ]
    for start, stop, step in spans:
        values.update(range(start, stop, step))
    values.add(131072)
    out = sorted(v for v in values if v <= max_tokens)
    if max_tokens not in out:
        # The predictor asks for every count up to max_tokens: the top end must be measured.
        out.append(max_tokens)
    return out


def vidur_seq_lens(max_seq_len: int) -> list[int]:
    """Vidur's sequence-length space (§2.3): 0..1024/32, 1024..4096/64, then /256; < max."""
    values: set[int] = set(range(0, 1024, 32)) | set(range(1024, 4096, 64)) | set(range(4096, 65536, 256))
    return sorted(v for v in values if v < max_seq_len)


def vidur_chunk_sizes(max_seq_len: int) -> list[int]:
    """Vidur's chunked-prefill chunk sizes (§2.3), <= max_seq_len."""
    values: set[int] = set(range(64, 128, 16)) | set(range(128, 1024, 32)) | set(range(1024, 4096, 64))
    values |= set(range(4096, 16384, 128)) | set(range(16384, 65536, 256))
    return sorted(v for v in values if v <= max_seq_len)


def decode_batch_sizes(max_batch_size: int) -> list[int]:
    """Decode batch sizes: every size up to 32 (where time per request changes fastest), then step 8."""
    values = set(range(1, min(32, max_batch_size) + 1)) | set(range(40, max_batch_size + 1, 8))
    values.add(max_batch_size)
    return sorted(values)


@dataclass(frozen=True)
class PrefillPoint:
    """One prefill row: a chunk of `chunk` new tokens attending over `kv` cached tokens (batch 1)."""

    chunk: int
    kv: int


@dataclass(frozen=True)
class DecodePoint:
    """One decode row: `batch` sequences, one new token each, over `kv` cached tokens each."""

    batch: int
    kv: int


def prefill_points(max_seq_len: int, quick: bool = False) -> list[PrefillPoint]:
    """Prefill rows: Vidur's chunked prefills (kv = multiples of chunk, chunk+kv <= max_seq_len) plus full
    prefills (kv = 0) over the sequence-length space, plus small chunks (8..48) that sarathi leftovers hit."""
    if quick:
        chunks = [c for c in (16, 32, 64) if c <= max_seq_len]
        kvs = [0, 32, 64]
        return sorted(
            {PrefillPoint(c, k) for c in chunks for k in kvs if c + k <= max_seq_len},
            key=lambda p: (p.chunk, p.kv),
        )
    points: set[PrefillPoint] = set()
    for c in [8, 16, 32, 48, *vidur_chunk_sizes(max_seq_len)]:
        if c > max_seq_len:
            continue
        for k in range(0, max_seq_len - c + 1, c):
            points.add(PrefillPoint(c, k))
    for c in vidur_seq_lens(max_seq_len):
        if c > 0:
            points.add(PrefillPoint(c, 0))
    points.add(PrefillPoint(max_seq_len, 0))
    return sorted(points, key=lambda p: (p.chunk, p.kv))


def decode_points(max_seq_len: int, max_batch_size: int, quick: bool = False) -> list[DecodePoint]:
    """Decode rows: batch sizes x kv in the sequence-length space (kv > 0) plus kv = max_seq_len - 1."""
    if quick:
        return [
            DecodePoint(b, k)
            for b in (1, 2, 4)
            if b <= max_batch_size
            for k in (16, 48, 96)
            if k < max_seq_len
        ]
    kvs = [k for k in vidur_seq_lens(max_seq_len) if k > 0] + [max_seq_len - 1]
    return [DecodePoint(b, k) for b in decode_batch_sizes(max_batch_size) for k in sorted(set(kvs))]


def coarse_to_fine_depth(values: Sequence[int]) -> dict[int, int]:
    """Depth of each value in a coarse-to-fine refinement of the sorted axis: both ends are depth 0, the
    midpoint of the whole span depth 1, the midpoints of the two halves depth 2, and so on."""
    ordered = sorted(set(values))
    depth: dict[int, int] = {}
    if not ordered:
        return depth
    depth[ordered[0]] = 0
    depth[ordered[-1]] = 0
    spans = [(0, len(ordered) - 1)]
    level = 1
    while spans:
        next_spans: list[tuple[int, int]] = []
        for lo, hi in spans:
            if hi - lo < 2:
                continue
            mid = (lo + hi) // 2
            depth.setdefault(ordered[mid], level)
            next_spans += [(lo, mid), (mid, hi)]
        spans = next_spans
        level += 1
    return depth


def order_coarse_to_fine_1d(values: Sequence[int]) -> list[tuple[int, int]]:
    """(level, value) pairs in measuring order; each level prefix is a full-range grid."""
    depth = coarse_to_fine_depth(values)
    return sorted(((depth[v], v) for v in set(values)), key=lambda t: (t[0], t[1]))


def order_coarse_to_fine_2d(points: Sequence[tuple[int, int]]) -> list[tuple[int, tuple[int, int]]]:
    """(level, point) pairs for a 2-D grid (a, b).

    A point's level is the larger of a's depth on the a axis and b's depth among the b values that exist
    for that a (prefill grids are not rectangular). The points of levels <= L therefore span the whole
    range of both axes, more sparsely for smaller L."""
    da = coarse_to_fine_depth([a for a, _ in points])
    by_a: dict[int, list[int]] = {}
    for a, b in set(points):
        by_a.setdefault(a, []).append(b)
    db = {a: coarse_to_fine_depth(bs) for a, bs in by_a.items()}
    keyed = [(max(da[a], db[a][b]), (a, b)) for a, b in set(points)]
    return sorted(keyed, key=lambda t: (t[0], da[t[1][0]] + db[t[1][0]][t[1][1]], t[1]))

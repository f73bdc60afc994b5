"""engine/attention.py against a plain reference (explicit K/V repeat, per-request softmax attention)."""

from __future__ import annotations

import math

import pytest
import torch

from gpu_harness.engine.attention import (
    decode_attention,
    decode_attention_rows,
    prefill_attention,
    save_kv,
    varlen_attention_cpu,
    varlen_tensors,
)

torch.manual_seed(0)
SLOTS, KV_HEADS, Q_HEADS, POS, D = 4, 2, 4, 40, 8


def reference(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
    """q [T, Hq, D], k/v [L, Hkv, D], visible [T, L] bool -> [T, Hq, D]."""
    rep = Q_HEADS // KV_HEADS
    k = k.repeat_interleave(rep, dim=1)
    v = v.repeat_interleave(rep, dim=1)
    scores = torch.einsum("thd,lhd->thl", q, k) / math.sqrt(D)
    scores = scores.masked_fill(~visible[:, None, :], float("-inf"))
    return torch.einsum("thl,lhd->thd", scores.softmax(-1), v)


def caches() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(SLOTS, POS, KV_HEADS, D), torch.randn(SLOTS, POS, KV_HEADS, D)


def test_save_kv_writes_each_token_at_its_slot_and_position() -> None:
    kc, vc = torch.zeros(SLOTS, POS, KV_HEADS, D), torch.zeros(SLOTS, POS, KV_HEADS, D)
    k, v = torch.randn(3, KV_HEADS, D), torch.randn(3, KV_HEADS, D)
    save_kv(kc, vc, k, v, torch.tensor([2, 0, 2]), torch.tensor([5, 0, 6]))
    assert torch.equal(kc[2, 5], k[0]) and torch.equal(kc[0, 0], k[1]) and torch.equal(vc[2, 6], v[2])
    assert int((kc != 0).any(-1).sum()) == 3 * KV_HEADS


def test_prefill_chunk_attends_causally_to_prefix_and_itself() -> None:
    kc, vc = caches()
    for start, t in ((0, 7), (9, 5)):
        q = torch.randn(t, Q_HEADS, D)
        out = prefill_attention(q, kc, vc, 1, start)
        rows = torch.arange(t)[:, None] + start
        visible = torch.arange(start + t)[None, :] <= rows
        ref = reference(q, kc[1, : start + t], vc[1, : start + t], visible)
        torch.testing.assert_close(out, ref)


def test_decode_attention_masks_each_row_to_its_length() -> None:
    kc, vc = caches()
    q = torch.randn(SLOTS, Q_HEADS, D)
    lens = torch.tensor([1, 17, 32, 5])
    out = decode_attention(q, kc, vc, lens, 32)
    for s in range(SLOTS):
        n = int(lens[s])
        ref = reference(q[s : s + 1], kc[s, :n], vc[s, :n], torch.ones(1, n, dtype=torch.bool))
        torch.testing.assert_close(out[s : s + 1], ref)
    rows = decode_attention_rows(q[[3, 1]], kc, vc, torch.tensor([3, 1]), torch.tensor([5, 17]), 4, 17)
    torch.testing.assert_close(rows, torch.stack([out[3], out[1]]))


def t32(xs: list[int]) -> torch.Tensor:
    return torch.tensor(xs, dtype=torch.int32)


def test_varlen_cpu_kernel_is_each_sequence_causal_over_its_slot() -> None:
    kc, vc = caches()
    # a decode of slot 0 over 9 keys, a first chunk of 6 in slot 1, a later chunk of 4 in slot 3 (keys 0..29)
    seqs = [(0, 1, 0, 9), (1, 6, 1, 6), (7, 4, 3, 30)]
    q = torch.randn(13, Q_HEADS, D)
    cu_q, cu_k, used = varlen_tensors(seqs, 4, POS, 11)  # rows 11, 12 belong to no sequence
    out = varlen_attention_cpu(q, kc, vc, t32(cu_q), t32(cu_k), t32(used), 6, POS)
    for off, rows, slot, kv in seqs:
        visible = torch.arange(kv)[None, :] <= (torch.arange(rows)[:, None] + kv - rows)
        torch.testing.assert_close(
            out[off : off + rows], reference(q[off : off + rows], kc[slot, :kv], vc[slot, :kv], visible)
        )
    assert bool(out[11:].isnan().all())  # rows no sequence covers: undefined, as in the CUDA kernel
    with pytest.raises(ValueError, match="exceed max_q 4"):
        varlen_attention_cpu(q, kc, vc, t32(cu_q), t32(cu_k), t32(used), 4, POS)


def test_varlen_tensors_pack_offsets_and_pad_to_a_static_shape() -> None:
    seqs = [(0, 1, 0, 9), (1, 6, 1, 6), (7, 4, 3, 30)]
    cu_q, cu_k, used = varlen_tensors(seqs, 6, POS, 16)
    assert cu_q == [0, 1, 7, 11, 16, 16, 16]  # padding rows 11..15 form one key-less sequence
    assert cu_k == [0, POS, 3 * POS, 3 * POS, 3 * POS, 3 * POS, 3 * POS]  # padding: the last slot
    assert used == [9, 6, 30, 0, 0, 0]
    # Any slot order (chunks first, then decodes, each by slot); rows must be packed one after another.
    assert varlen_tensors([(0, 2, 2, 3), (2, 1, 1, 3)], 3, POS, 3)[1] == [2 * POS, POS, POS, POS]
    with pytest.raises(ValueError, match="packed one after another"):
        varlen_tensors([(0, 1, 2, 3), (2, 1, 1, 3)], 4, POS, 4)
    with pytest.raises(ValueError, match="num_seqs >= 4"):
        varlen_tensors(seqs, 3, POS, 16)
    # Decode-only steps: one sequence per row, padding rows too (the kernel packs query heads there).
    decodes = [(0, 1, 0, 9), (1, 1, 2, 4)]
    cu_q, cu_k, used = varlen_tensors(decodes, 4, POS, 4, one_row_each=True)
    assert (
        cu_q == [0, 1, 2, 3, 4] and used == [9, 4, 0, 0] and cu_k == [0, 2 * POS, 2 * POS, 2 * POS, 2 * POS]
    )
    with pytest.raises(ValueError, match="num_seqs == 4"):
        varlen_tensors(decodes, 5, POS, 4, one_row_each=True)

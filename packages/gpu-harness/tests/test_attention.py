"""engine/attention.py against a plain reference (explicit K/V repeat, per-request softmax attention)."""

from __future__ import annotations

import math

import torch

from gpu_harness.engine.attention import decode_attention, decode_attention_rows, prefill_attention, save_kv

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
    return torch.randn(SLOTS, KV_HEADS, POS, D), torch.randn(SLOTS, KV_HEADS, POS, D)


def test_save_kv_writes_each_token_at_its_slot_and_position() -> None:
    kc, vc = torch.zeros(SLOTS, KV_HEADS, POS, D), torch.zeros(SLOTS, KV_HEADS, POS, D)
    k, v = torch.randn(3, KV_HEADS, D), torch.randn(3, KV_HEADS, D)
    save_kv(kc, vc, k, v, torch.tensor([2, 0, 2]), torch.tensor([5, 0, 6]))
    assert (
        torch.equal(kc[2, :, 5], k[0]) and torch.equal(kc[0, :, 0], k[1]) and torch.equal(vc[2, :, 6], v[2])
    )
    assert int((kc != 0).any(-1).sum()) == 3 * KV_HEADS


def test_prefill_chunk_attends_causally_to_prefix_and_itself() -> None:
    kc, vc = caches()
    for start, t in ((0, 7), (9, 5)):
        q = torch.randn(t, Q_HEADS, D)
        out = prefill_attention(q, kc, vc, 1, start)
        rows = torch.arange(t)[:, None] + start
        visible = torch.arange(start + t)[None, :] <= rows
        ref = reference(
            q, kc[1, :, : start + t].transpose(0, 1), vc[1, :, : start + t].transpose(0, 1), visible
        )
        torch.testing.assert_close(out, ref)


def test_decode_attention_masks_each_row_to_its_length() -> None:
    kc, vc = caches()
    q = torch.randn(SLOTS, Q_HEADS, D)
    lens = torch.tensor([1, 17, 32, 5])
    out = decode_attention(q, kc, vc, lens, 32)
    for s in range(SLOTS):
        n = int(lens[s])
        ref = reference(
            q[s : s + 1],
            kc[s, :, :n].transpose(0, 1),
            vc[s, :, :n].transpose(0, 1),
            torch.ones(1, n, dtype=torch.bool),
        )
        torch.testing.assert_close(out[s : s + 1], ref)
    rows = decode_attention_rows(q[[3, 1]], kc, vc, torch.tensor([3, 1]), torch.tensor([5, 17]), 4, 17)
    torch.testing.assert_close(rows, torch.stack([out[3], out[1]]))

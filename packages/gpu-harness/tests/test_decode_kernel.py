"""engine/decode_kernel.py: the split-KV Triton kernel (run by Triton's CPU interpreter, see conftest.py)
against its plain-PyTorch twin and an explicit softmax reference."""

from __future__ import annotations

import math

import pytest
import torch

from gpu_harness.engine.decode_kernel import (
    decode_attention_split,
    decode_attention_split_reference,
    decode_kernel_self_test,
    select_decode_attention,
)

torch.manual_seed(0)
CPU = torch.device("cpu")


def t32(xs: list[int]) -> torch.Tensor:
    return torch.tensor(xs, dtype=torch.int32)


def explicit(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """One row: q [Hq, D] over k/v [n, Hkv, D], query head h on KV head h // group."""
    group = q.shape[0] // k.shape[1]
    k = k.repeat_interleave(group, dim=1)
    v = v.repeat_interleave(group, dim=1)
    w = (torch.einsum("hd,nhd->hn", q, k) / math.sqrt(q.shape[1])).softmax(-1)
    return torch.einsum("hn,nhd->hd", w, v)


@pytest.mark.parametrize(("kv_heads", "group", "head_dim"), [(2, 2, 16), (1, 4, 32), (3, 1, 16)])
def test_kernel_equals_explicit_attention_across_splits(kv_heads: int, group: int, head_dim: int) -> None:
    positions = 150
    kc = torch.randn(4, positions, kv_heads, head_dim)
    vc = torch.randn(4, positions, kv_heads, head_dim)
    q = torch.randn(7, kv_heads * group, head_dim)
    # Lengths on, just past and well across split (32 keys) and block (16 keys) boundaries.
    rows, slots, lens = t32([0, 2, 3, 5, 6]), t32([3, 0, 1, 2, 0]), t32([32, 33, 1, 150, 100])
    out = torch.full_like(q, 5.0)
    decode_attention_split(q, kc, vc, rows, slots, lens, out, split=32, block_n=16)
    for r, s, n in zip(rows.tolist(), slots.tolist(), lens.tolist(), strict=True):
        torch.testing.assert_close(out[r], explicit(q[r], kc[s, :n], vc[s, :n]), rtol=1e-4, atol=1e-5)
    assert bool((out[[1, 4]] == 5.0).all())  # rows no entry names are left as they were


def test_key_less_entries_write_zeros_and_padding_writes_nothing() -> None:
    kc, vc = torch.randn(2, 40, 2, 16), torch.randn(2, 40, 2, 16)
    q = torch.randn(3, 4, 16)
    for kernel in (decode_attention_split, decode_attention_split_reference):
        out = torch.full_like(q, 5.0)
        kernel(q, kc, vc, t32([0, -1, 2]), t32([1, 0, 0]), t32([0, 9, 3]), out, split=16, block_n=16)
        assert bool((out[0] == 0).all()) and bool((out[1] == 5.0).all())
        torch.testing.assert_close(out[2], explicit(q[2], kc[0, :3], vc[0, :3]), rtol=1e-4, atol=1e-5)


def test_twin_equals_kernel_on_the_engine_layout() -> None:
    kc, vc = torch.randn(5, 300, 2, 16), torch.randn(5, 300, 2, 16)
    q = torch.randn(12, 4, 16)[:, :, :]  # a view with the engine's row stride is fine too
    rows, slots, lens = t32(list(range(6))), t32([4, 3, 2, 1, 0, 4]), t32([300, 1, 257, 256, 255, 17])
    a = decode_attention_split(q, kc, vc, rows, slots, lens, torch.zeros_like(q))
    b = decode_attention_split_reference(q, kc, vc, rows, slots, lens, torch.zeros_like(q))
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_self_test_passes_and_selection_rules() -> None:
    assert decode_kernel_self_test(CPU, torch.float32, 2, 2, 16) is None
    assert decode_kernel_self_test(CPU, torch.float32, 2, 2, 24) == "head_dim 24 is not a power of two >= 16"
    assert select_decode_attention("auto", "sdpa", CPU, torch.float32, 2, 2, 16)[0] == "n/a"
    assert select_decode_attention("flash", "varlen-reference", CPU, torch.float32, 2, 2, 16)[0] == "flash"
    assert select_decode_attention("auto", "varlen-reference", CPU, torch.float32, 2, 2, 16)[0] == "split-kv"
    mode, why = select_decode_attention("auto", "flash-varlen", CPU, torch.float32, 2, 2, 24)
    assert mode == "flash" and "not a power of two" in why
    with pytest.raises(RuntimeError, match="split-kv is not usable"):
        select_decode_attention("split-kv", "flash-varlen", CPU, torch.float32, 2, 2, 24)
    with pytest.raises(ValueError, match="auto, split-kv, flash"):
        select_decode_attention("paged", "flash-varlen", CPU, torch.float32, 2, 2, 16)

"""A CPU stand-in for `engine.attention.flash_varlen_attention`, written from the kernel's contract (not
from the engine's code): sequence i = query rows cu_q[i]..cu_q[i+1]-1 over flat cache rows
cu_k[i]..cu_k[i]+used[i]-1, causal aligned to the end; rows no sequence covers are left as NaN (the real
kernel leaves them undefined), so a caller that reads them fails loudly. The kernel cannot run on CPU; this
lets the CPU tests drive the engine's flash-varlen data path (buffers, buckets, split calls, row
picks) end to end."""

from __future__ import annotations

import math

import torch


def emulated_flash_varlen(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    cu_q: torch.Tensor,
    cu_k: torch.Tensor,
    seqused_k: torch.Tensor,
    max_q: int,
    max_k: int,
) -> torch.Tensor:
    kv_heads, head_dim = k_cache.shape[-2], k_cache.shape[-1]
    flat_k = k_cache.reshape(-1, kv_heads, head_dim)
    flat_v = v_cache.reshape(-1, kv_heads, head_dim)
    group = q.shape[1] // kv_heads
    out = torch.full_like(q, float("nan"))
    for i in range(seqused_k.shape[0]):
        a, b = int(cu_q[i]), int(cu_q[i + 1])
        n, start = int(seqused_k[i]), int(cu_k[i])
        if b <= a:
            continue
        assert b - a <= max_q and n <= max_k
        if n == 0:
            out[a:b] = 0
            continue
        k = flat_k[start : start + n].repeat_interleave(group, dim=1)
        v = flat_v[start : start + n].repeat_interleave(group, dim=1)
        scores = torch.einsum("thd,lhd->thl", q[a:b], k) / math.sqrt(head_dim)
        rows = torch.arange(b - a)[:, None] + (n - (b - a))
        scores = scores.masked_fill((torch.arange(n)[None, :] > rows)[:, None, :], float("-inf"))
        out[a:b] = torch.einsum("thl,lhd->thd", scores.softmax(-1), v)
    return out

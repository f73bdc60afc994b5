"""The attention kernels the lean engine runs, as plain functions (the profiler imports and times these).

KV cache layout (one pair of tensors per layer): `k_cache`, `v_cache` of shape
`[num_slots, num_kv_heads, max_positions, head_dim]`; a request owns one slot (row) and its token at
position p lives at `[slot, :, p]`. Queries keep all `num_q_heads`; grouped-query attention is done by SDPA
itself (`enable_gqa=True`), never by copying K/V (`repeat_kv`). This module owns no state and no scheduling.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def save_kv(
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    slots: torch.Tensor,
    positions: torch.Tensor,
) -> None:
    """Write new keys/values into the cache in place.

    k, v: `[N, num_kv_heads, head_dim]` (N new tokens); slots, positions: `[N]` int64 on the cache's device.
    Token i goes to `cache[slots[i], :, positions[i]]`. No host sync (safe inside a CUDA graph).
    """
    k_cache[slots, :, positions] = k
    v_cache[slots, :, positions] = v


def prefill_attention(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    slot: int,
    start: int,
) -> torch.Tensor:
    """Causal attention of one prefill chunk against its request's cached prefix plus itself.

    q: `[T, num_q_heads, head_dim]`, the chunk's tokens at positions `start .. start+T-1` of request `slot`,
    whose K/V (including the chunk's own, see `save_kv`) are already in the cache. Returns `[T, num_q_heads,
    head_dim]`. The first chunk (start == 0) uses SDPA's built-in causal mode (no mask tensor); later chunks
    pass a boolean mask aligned to the end (query i sees keys 0 .. start+i).
    """
    t, num_q_heads, head_dim = q.shape
    num_kv_heads = k_cache.shape[1]
    group = num_q_heads // num_kv_heads
    kv_len = start + t
    k = k_cache[slot, :, :kv_len].unsqueeze(0)
    v = v_cache[slot, :, :kv_len].unsqueeze(0)
    if start == 0:
        qh = q.transpose(0, 1).unsqueeze(0)
        out = F.scaled_dot_product_attention(qh, k, v, is_causal=True, enable_gqa=True)
        return out.squeeze(0).transpose(0, 1)
    # With a mask, SDPA's GQA support falls back to the math kernel, which expands K/V to every query head.
    # Instead the `group` query heads sharing a KV head become extra query rows of that KV head (row
    # r*t + i is query head kv*group + r at token i), so the memory-efficient kernel runs on the cache as is.
    qg = q.view(t, num_kv_heads, group, head_dim).permute(1, 2, 0, 3)
    qg = qg.reshape(1, num_kv_heads, group * t, head_dim)
    rows = torch.arange(t, device=q.device).repeat(group).unsqueeze(1)
    cols = torch.arange(kv_len, device=q.device).unsqueeze(0)
    mask = cols <= rows + start
    out = F.scaled_dot_product_attention(qg, k, v, attn_mask=mask)
    return out.view(num_kv_heads, group, t, head_dim).permute(2, 0, 1, 3).reshape(t, num_q_heads, head_dim)


def decode_attention(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    kv_lens: torch.Tensor,
    kv_bucket: int,
) -> torch.Tensor:
    """Batched one-token attention for slots `0 .. S-1` (slot-major: row i of q belongs to slot i).

    q: `[S, num_q_heads, head_dim]`; kv_lens: `[S]` int64, keys visible to each row (its new token included,
    >= 1 for every row, also for idle rows, so that no row is fully masked); kv_bucket: static width of the
    key window read (>= max(kv_lens), <= max_positions), so that one CUDA graph serves many mixed lengths.
    Reads `cache[:S, :, :kv_bucket]` in place (a strided view: no gather copy) with a padding mask.
    Returns `[S, num_q_heads, head_dim]`.
    """
    s, num_q_heads, head_dim = q.shape
    num_kv_heads = k_cache.shape[1]
    k = k_cache[:s, :, :kv_bucket]
    v = v_cache[:s, :, :kv_bucket]
    cols = torch.arange(kv_bucket, device=q.device).unsqueeze(0)
    mask = (cols < kv_lens.unsqueeze(1)).view(s, 1, 1, kv_bucket)
    # Query heads sharing a KV head are that head's query rows (HF maps q head h to kv head h // group), so
    # no K/V expansion happens: SDPA's enable_gqa with a mask would fall back to the math kernel, which
    # copies K/V once per query head.
    qg = q.view(s, num_kv_heads, num_q_heads // num_kv_heads, head_dim)
    out = F.scaled_dot_product_attention(qg, k, v, attn_mask=mask)
    return out.reshape(s, num_q_heads, head_dim)


def decode_attention_rows(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    slots: torch.Tensor,
    kv_lens: torch.Tensor,
    num_slots: int,
    kv_bucket: int,
) -> torch.Tensor:
    """Decode attention for rows in token order (row i belongs to `slots[i]`, sees `kv_lens[i]` keys).

    Used by mixed prefill+decode steps: scatters the rows into slot-major order, calls `decode_attention`
    over slots `0 .. num_slots-1` (host int > max(slots)), and gathers the rows back. q: `[B, num_q_heads,
    head_dim]`; slots, kv_lens: `[B]` int64; kv_bucket: host int >= max(kv_lens). Returns `[B, num_q_heads,
    head_dim]`. Sizes come from the host so that the call never syncs with the device.
    """
    q_full = q.new_zeros((num_slots, q.shape[1], q.shape[2]))
    q_full[slots] = q
    lens_full = torch.ones(num_slots, dtype=torch.int64, device=q.device)
    lens_full[slots] = kv_lens
    return decode_attention(q_full, k_cache, v_cache, lens_full, kv_bucket)[slots]

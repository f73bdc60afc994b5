"""The attention kernels the lean engine runs, as plain functions (the profiler imports and times these).

KV cache layout (one pair of tensors per layer): `k_cache`, `v_cache` of shape
`[num_slots, max_positions, num_kv_heads, head_dim]`; a request owns one slot (row) and its token at
position p lives at `[slot, p]`. Flattened to `[num_slots * max_positions, num_kv_heads, head_dim]` this is
the packed key layout of FlashAttention's variable-length kernel, with sequence i starting at
`slot_i * max_positions`; SDPA reads the same memory through a transposed view. Queries keep all
`num_q_heads`; grouped-query attention is done by the kernels themselves, never by copying K/V (`repeat_kv`).

Two families:
- `save_kv`, `prefill_attention`, `decode_attention`, `decode_attention_rows`: SDPA per request (prefill) or
  over slot-major rows with a padding mask (decode); the `sdpa` backend.
- `flash_varlen_attention`: every sequence of a step (decode rows and prefill chunks alike) in ONE kernel
  call over the slot cache, with per-sequence query offsets (`cu_q`), key offsets (`cu_k`) and key counts
  (`seqused_k`) read from device tensors, so a whole step is CUDA-graph capturable; the `flash-varlen`
  backend. `varlen_attention_cpu` implements the same tensor contract in plain PyTorch, one SDPA call per
  sequence (any device, not graph-capturable): the `varlen-reference` backend's kernel, which runs the whole
  flash-varlen data path on CPU, and the oracle `flash_varlen_self_test` checks the CUDA kernel against.
This module owns no state and no scheduling.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

# (query row offset, query rows, slot, keys visible to the last query row) of one sequence of a step.
VarlenSeq = tuple[int, int, int, int]
# A varlen attention kernel: (q, k_cache, v_cache, cu_q, cu_k, seqused_k, max_q, max_k) -> out.
VarlenKernel = Callable[
    [torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int, int],
    torch.Tensor,
]


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
    Token i goes to `cache[slots[i], positions[i]]`. No host sync (safe inside a CUDA graph).
    """
    k_cache[slots, positions] = k
    v_cache[slots, positions] = v


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
    num_kv_heads = k_cache.shape[2]
    group = num_q_heads // num_kv_heads
    kv_len = start + t
    k = k_cache[slot, :kv_len].transpose(0, 1).unsqueeze(0)
    v = v_cache[slot, :kv_len].transpose(0, 1).unsqueeze(0)
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
    Reads `cache[:S, :kv_bucket]` in place (a strided view: no gather copy) with a padding mask.
    Returns `[S, num_q_heads, head_dim]`.
    """
    s, num_q_heads, head_dim = q.shape
    num_kv_heads = k_cache.shape[2]
    k = k_cache[:s, :kv_bucket].transpose(1, 2)
    v = v_cache[:s, :kv_bucket].transpose(1, 2)
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


def varlen_attention_cpu(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    cu_q: torch.Tensor,
    cu_k: torch.Tensor,
    seqused_k: torch.Tensor,
    max_q: int,
    max_k: int,
) -> torch.Tensor:
    """`flash_varlen_attention`'s contract in plain PyTorch: one SDPA call per sequence (GQA by SDPA).

    Same arguments and result; it reads the offsets on the host, so it runs on any device but cannot be
    captured in a CUDA graph. A sequence with no keys gives zeros; rows no sequence covers are NaN (the CUDA
    kernel leaves them undefined), so a caller that reads them fails loudly.
    """
    kv_heads, head_dim = k_cache.shape[-2], k_cache.shape[-1]
    flat_k = k_cache.reshape(-1, kv_heads, head_dim)
    flat_v = v_cache.reshape(-1, kv_heads, head_dim)
    out = torch.full_like(q, float("nan"))
    starts_q, starts_k, used = cu_q.tolist(), cu_k.tolist(), seqused_k.tolist()
    for i, n in enumerate(used):
        a, b = starts_q[i], starts_q[i + 1]
        if b <= a:
            continue
        if b - a > max_q or n > max_k:
            raise ValueError(f"sequence {i}: {b - a} rows / {n} keys exceed max_q {max_q} / max_k {max_k}")
        if n == 0:
            out[a:b] = 0
            continue
        k = flat_k[starts_k[i] : starts_k[i] + n].transpose(0, 1).unsqueeze(0)
        v = flat_v[starts_k[i] : starts_k[i] + n].transpose(0, 1).unsqueeze(0)
        rows = torch.arange(b - a, device=q.device).unsqueeze(1) + (n - (b - a))
        mask = torch.arange(n, device=q.device).unsqueeze(0) <= rows  # causal, aligned to the end
        qh = q[a:b].transpose(0, 1).unsqueeze(0)
        o = F.scaled_dot_product_attention(qh, k, v, attn_mask=mask, enable_gqa=True)
        out[a:b] = o.squeeze(0).transpose(0, 1)
    return out


def flash_varlen_support() -> str | None:
    """None when torch's FlashAttention variable-length op with `seqused_k` is usable here, else why not."""
    if not torch.cuda.is_available():
        return "no CUDA device"
    op = getattr(torch.ops.aten, "_flash_attention_forward", None)
    if op is None:
        return "torch has no aten._flash_attention_forward"
    names = {a.name for a in op.default._schema.arguments}
    if "seqused_k" not in names:
        return "aten._flash_attention_forward has no seqused_k argument in this torch"
    return None


def flash_varlen_attention(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    cu_q: torch.Tensor,
    cu_k: torch.Tensor,
    seqused_k: torch.Tensor,
    max_q: int,
    max_k: int,
) -> torch.Tensor:
    """All sequences of a step in one FlashAttention-2 varlen call over the slot cache (CUDA only).

    q: `[T, num_q_heads, head_dim]`, rows of sequence i at `cu_q[i] .. cu_q[i+1]-1` (int32, `[S+1]`);
    its keys start at flat cache row `cu_k[i]` (= slot * max_positions, int32 `[S+1]`, non-decreasing) and
    number `seqused_k[i]` (int32 `[S]`); causal, aligned to the end (the last query row sees every key).
    max_q / max_k: host upper bounds of rows / keys per sequence (static per CUDA graph). A sequence with
    0 rows costs nothing; one with 0 keys gives zeros. Returns `[T, num_q_heads, head_dim]`.
    """
    kv_heads, head_dim = k_cache.shape[-2], k_cache.shape[-1]
    out = torch.ops.aten._flash_attention_forward(
        q,
        k_cache.view(-1, kv_heads, head_dim),
        v_cache.view(-1, kv_heads, head_dim),
        cu_q,
        cu_k,
        max_q,
        max_k,
        0.0,
        True,
        False,
        seqused_k=seqused_k,
    )
    return out[0]


def varlen_tensors(
    seqs: list[VarlenSeq], num_seqs: int, max_positions: int, total_rows: int, *, one_row_each: bool = False
) -> tuple[list[int], list[int], list[int]]:
    """Host lists (cu_q `[num_seqs+1]`, cu_k `[num_seqs+1]`, seqused_k `[num_seqs]`) for `seqs`, padded.

    seqs must be contiguous in q (each starts where the previous ends, from row 0), in any slot order (the
    kernel reads each sequence's key offset and count on their own). Padding rows `end .. total_rows-1` get
    no keys (their output is zeros): by default one more sequence takes them all and the rest are empty;
    with `one_row_each` (decode-only steps, where the kernel packs the query heads of one-row sequences and
    needs rows == sequences) each padding row is a sequence and num_seqs must equal total_rows. Padding
    points at the last real slot.
    """
    need = total_rows if one_row_each else len(seqs) + 1
    if (num_seqs != need) if one_row_each else (num_seqs < need):
        raise ValueError(
            f"{len(seqs)} sequences over {total_rows} rows need num_seqs "
            f"{'==' if one_row_each else '>='} {need}, got {num_seqs}"
        )
    cu_q = [0]
    cu_k: list[int] = []
    used: list[int] = []
    last_slot = 0
    for off, rows, slot, kv_len in seqs:
        if off != cu_q[-1]:
            raise ValueError("varlen sequences must be packed one after another from row 0")
        if one_row_each and rows != 1:
            raise ValueError("one_row_each: every sequence must have exactly one query row")
        cu_q.append(off + rows)
        cu_k.append(slot * max_positions)
        used.append(kv_len)
        last_slot = slot
    pad_k = last_slot * max_positions
    while len(used) < num_seqs:
        cu_q.append(min(cu_q[-1] + 1, total_rows) if one_row_each else total_rows)
        cu_k.append(pad_k)
        used.append(0)
    cu_k.append(pad_k)
    return cu_q, cu_k, used


def flash_varlen_self_test(
    device: torch.device, dtype: torch.dtype, num_kv_heads: int, group: int, head_dim: int
) -> str | None:
    """Run the CUDA kernel as the engine calls it, against `varlen_attention_cpu` on the same tensors; None
    when they agree, else what went wrong (the engine then falls back). Cases, as the engine's two graph
    families call it: a mixed step (chunks first, then one-row decodes, one of them key-less as in the
    split-KV layout, slots out of order, 3 padding rows; max_q = 64) and a decode-only step (one row per
    sequence, 2 padding rows; max_q = 1)."""
    reason = flash_varlen_support()
    if reason is not None:
        return reason
    try:
        gen = torch.Generator(device=device).manual_seed(7)
        positions = 300
        shape = (6, positions, num_kv_heads, head_dim)
        kc = torch.randn(shape, generator=gen, device=device, dtype=dtype)
        vc = torch.randn(shape, generator=gen, device=device, dtype=dtype)
        mixed = [(40, 2, 40), (64, 5, 290), (1, 0, 17), (1, 4, 0), (1, 1, 256), (1, 3, 1)]
        decodes = [(1, 0, 17), (1, 1, 256), (1, 3, 1), (1, 5, 299)]
        as32 = lambda xs: torch.tensor(xs, dtype=torch.int32, device=device)  # noqa: E731
        for spec, pad, max_q in ((mixed, 3, 64), (decodes, 2, 1)):
            seqs: list[VarlenSeq] = []
            off = 0
            for rows, slot, kv in spec:
                seqs.append((off, rows, slot, kv))
                off += rows
            total = off + pad
            q = torch.randn(total, num_kv_heads * group, head_dim, generator=gen, device=device, dtype=dtype)
            each = max_q == 1
            n_seqs = total if each else len(seqs) + 1
            tensors = [as32(x) for x in varlen_tensors(seqs, n_seqs, positions, total, one_row_each=each)]
            ref = varlen_attention_cpu(q, kc, vc, *tensors, max_q, positions)
            got = flash_varlen_attention(q, kc, vc, *tensors, max_q, positions)
            err = float((got[:off].float() - ref[:off].float()).abs().max())
            if not err < 2e-2:
                return f"flash varlen (max_q {max_q}) differs from the SDPA reference by {err:.3g}"
    except Exception as err:  # the kernel may be missing for this GPU or dtype
        return f"{type(err).__name__}: {str(err)[:200]}"
    return None


def select_backend(
    requested: str, device: torch.device, dtype: torch.dtype, num_kv_heads: int, group: int, head_dim: int
) -> tuple[str, str]:
    """Resolve an attention request (auto | flash-varlen | sdpa | varlen-reference) to (backend, why).

    `auto` takes flash-varlen when the device is CUDA and `flash_varlen_self_test` passes, else sdpa; an
    explicit flash-varlen that cannot run raises RuntimeError. The engine and the profiler both call this,
    so a profile times the kernels the server runs on the same host.
    """
    if requested in ("sdpa", "varlen-reference"):
        return requested, "requested"
    if requested not in ("auto", "flash-varlen"):
        raise ValueError(f"unknown attention backend {requested!r}")
    problem = (
        flash_varlen_self_test(device, dtype, num_kv_heads, group, head_dim)
        if device.type == "cuda"
        else "not a CUDA device"
    )
    if problem is None:
        return "flash-varlen", "self-test against per-sequence SDPA passed"
    if requested == "flash-varlen":
        raise RuntimeError(f"attention=flash-varlen is not usable here: {problem}")
    return "sdpa", f"flash-varlen unavailable: {problem}"

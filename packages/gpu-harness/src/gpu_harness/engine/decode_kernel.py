"""Split-KV decode attention over the slot KV cache: a Triton kernel and its plain-PyTorch twin.

Why a kernel of our own: FlashAttention-2's forward kernel computes 128 query rows per tile. A decode row has
one query (or `group` queries when the kernel packs the query heads of a KV head), so at 64 sequences x
4,096 keys it spends ~60x the useful tensor-core work and runs compute-bound at about twice the
memory-bandwidth floor; in a mixed step every decode row pays a whole tile too. This kernel gives each
(decode row, KV head, key split) one program that loads the `group` query heads sharing the KV head as the
rows of a 16-row tile, streams its split's keys and values once (online softmax in float32), and writes a
partial result and its log-sum-exp; a second kernel merges the splits per (row, query head). It reads the
cache in place (`[slots, positions, kv_heads, head_dim]`, one layer) and every size it needs from device
tensors, so one CUDA graph serves any mix of context lengths.

Contract (`decode_attention_split` and `decode_attention_split_reference` alike): for each entry e with
`lens[e] > 0`, `out[rows[e]]` = softmax(q[rows[e]] . K^T / sqrt(head_dim)) V over keys `0 .. lens[e]-1` of
slot `slots[e]`, every query head against KV head `head // group` (HF's grouped-query mapping); an entry
with `lens[e] == 0` and `rows[e] >= 0` writes zeros; `rows[e] < 0` (padding) writes nothing. Other rows of
`out` are left as they are, so a mixed step runs the chunk call first and this one into the same output.

The twin runs the same contract with one SDPA call per entry (any device, not graph-capturable): the CPU
path of the `varlen-reference` backend and the oracle of `decode_kernel_self_test`. Triton is optional: on a
host without it the engine keeps FlashAttention for decode rows. Owns no state and no scheduling.
"""

from __future__ import annotations

import math
import os

import torch
import torch.nn.functional as F

try:  # optional: the GPU host's image has it; on CPU the tests run it in Triton's interpreter
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - exercised only where triton is absent
    triton = None
    tl = None

# Keys per split and per inner block, and warps per program: from the H200 sweep (bench-engine --decode-sweep;
# 256/128/4 was fastest at 64 x 4,096 and 128 x 2,048 keys).
DEFAULT_SPLIT = 256
DEFAULT_BLOCK_N = 128
DEFAULT_WARPS = 4


def interpreting() -> bool:
    """True when Triton runs kernels in its CPU interpreter (TRITON_INTERPRET=1, set before import)."""
    return os.environ.get("TRITON_INTERPRET", "") == "1"


def triton_support(device: torch.device, head_dim: int, min_head_dim: int) -> str | None:
    """None when Triton kernels can run on `device` for a power-of-two head size >= min_head_dim (the
    kernels index a head with `tl.arange`), else why not."""
    if triton is None:
        return "triton is not installed"
    if device.type != "cuda" and not interpreting():
        return "not a CUDA device (and not TRITON_INTERPRET=1)"
    if head_dim < min_head_dim or head_dim & (head_dim - 1):
        return f"head_dim {head_dim} is not a power of two >= {min_head_dim}"
    return None


def decode_kernel_support(device: torch.device, head_dim: int) -> str | None:
    """None when the split-KV kernel can run here (its tiles need head_dim >= 16 for `tl.dot`)."""
    return triton_support(device, head_dim, 16)


if triton is not None:

    @triton.jit
    def _split_kernel(
        q_ptr,
        k_ptr,
        v_ptr,
        rows_ptr,
        slots_ptr,
        lens_ptr,
        part_o_ptr,
        part_lse_ptr,
        stride_qt,
        stride_qh,
        stride_ks,
        stride_kp,
        stride_kh,
        scale,
        num_splits,
        NUM_Q_HEADS: tl.constexpr,
        GROUP: tl.constexpr,
        BLOCK_G: tl.constexpr,
        HEAD_DIM: tl.constexpr,
        BLOCK_N: tl.constexpr,
        SPLIT: tl.constexpr,
    ):
        e = tl.program_id(0)
        h = tl.program_id(1)
        s = tl.program_id(2)
        n_keys = tl.load(lens_ptr + e)
        start = s * SPLIT
        if start < n_keys:
            row = tl.load(rows_ptr + e).to(tl.int64)
            slot = tl.load(slots_ptr + e).to(tl.int64)
            g = tl.arange(0, BLOCK_G)
            d = tl.arange(0, HEAD_DIM)
            g_ok = g < GROUP
            heads = h * GROUP + g
            q = tl.load(
                q_ptr + row * stride_qt + heads[:, None] * stride_qh + d[None, :],
                mask=g_ok[:, None],
                other=0.0,
            )
            end = tl.minimum(start + SPLIT, n_keys)
            base = slot * stride_ks + h * stride_kh
            m_i = tl.full([BLOCK_G], float("-inf"), tl.float32)
            l_i = tl.zeros([BLOCK_G], tl.float32)
            acc = tl.zeros([BLOCK_G, HEAD_DIM], tl.float32)
            # A static trip count (SPLIT // BLOCK_N) with a runtime guard: blocks past `end` do nothing.
            for j in range(SPLIT // BLOCK_N):
                n0 = start + j * BLOCK_N
                if n0 < end:
                    offs = n0 + tl.arange(0, BLOCK_N)
                    n_ok = offs < end
                    kv_off = base + offs[:, None].to(tl.int64) * stride_kp + d[None, :]
                    k = tl.load(k_ptr + kv_off, mask=n_ok[:, None], other=0.0)
                    qk = tl.dot(q, tl.trans(k)).to(tl.float32) * scale
                    qk = tl.where(n_ok[None, :], qk, float("-inf"))
                    m_new = tl.maximum(m_i, tl.max(qk, 1))
                    p = tl.exp(qk - m_new[:, None])
                    alpha = tl.exp(m_i - m_new)
                    l_i = l_i * alpha + tl.sum(p, 1)
                    v = tl.load(v_ptr + kv_off, mask=n_ok[:, None], other=0.0)
                    acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v).to(tl.float32)
                    m_i = m_new
            part = (e * NUM_Q_HEADS + heads) * num_splits + s
            tl.store(
                part_o_ptr + part[:, None] * HEAD_DIM + d[None, :], acc / l_i[:, None], mask=g_ok[:, None]
            )
            tl.store(part_lse_ptr + part, m_i + tl.log(l_i), mask=g_ok)

    @triton.jit
    def _merge_kernel(
        part_o_ptr,
        part_lse_ptr,
        rows_ptr,
        lens_ptr,
        out_ptr,
        stride_ot,
        stride_oh,
        num_splits,
        NUM_Q_HEADS: tl.constexpr,
        HEAD_DIM: tl.constexpr,
        SPLIT: tl.constexpr,
        BLOCK_S: tl.constexpr,
    ):
        e = tl.program_id(0)
        hq = tl.program_id(1)
        row = tl.load(rows_ptr + e)
        if row >= 0:
            n_keys = tl.load(lens_ptr + e)
            used = (n_keys + SPLIT - 1) // SPLIT
            s = tl.arange(0, BLOCK_S)
            d = tl.arange(0, HEAD_DIM)
            s_ok = s < used
            part = (e * NUM_Q_HEADS + hq) * num_splits + s
            lse = tl.load(part_lse_ptr + part, mask=s_ok, other=float("-inf"))
            m = tl.where(used > 0, tl.max(lse, 0), 0.0)  # no split: every lse is -inf, every weight 0
            w = tl.where(s_ok, tl.exp(lse - m), 0.0)
            o = tl.load(part_o_ptr + part[:, None] * HEAD_DIM + d[None, :], mask=s_ok[:, None], other=0.0)
            den = tl.sum(w, 0)
            res = tl.sum(w[:, None] * o, 0) / tl.where(den > 0, den, 1.0)
            dst = out_ptr + row.to(tl.int64) * stride_ot + hq * stride_oh + d
            tl.store(dst, res.to(out_ptr.dtype.element_ty))


def decode_attention_split(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    rows: torch.Tensor,
    slots: torch.Tensor,
    lens: torch.Tensor,
    out: torch.Tensor,
    *,
    split: int = DEFAULT_SPLIT,
    block_n: int = DEFAULT_BLOCK_N,
    num_warps: int = DEFAULT_WARPS,
) -> torch.Tensor:
    """The Triton kernels (contract in the module docstring). q, out: `[T, num_q_heads, head_dim]` (last
    dim contiguous); k_cache, v_cache: one layer `[slots, positions, kv_heads, head_dim]`, contiguous;
    rows, slots, lens: int32 `[E]`. `split` keys per program (the grid has ceil(positions / split) splits;
    those past an entry's length exit at once). Returns `out`."""
    if triton is None:
        raise RuntimeError("decode_attention_split needs triton")
    entries = rows.shape[0]
    num_q_heads, head_dim = q.shape[1], q.shape[2]
    num_kv_heads = k_cache.shape[2]
    group = num_q_heads // num_kv_heads
    num_splits = -(-k_cache.shape[1] // split)
    if q.stride(2) != 1 or out.stride(2) != 1 or not k_cache.is_contiguous() or not v_cache.is_contiguous():
        raise ValueError("decode_attention_split: q/out need a contiguous last dim, the cache contiguity")
    part_o = torch.empty((entries, num_q_heads, num_splits, head_dim), dtype=torch.float32, device=q.device)
    part_lse = torch.empty((entries, num_q_heads, num_splits), dtype=torch.float32, device=q.device)
    _split_kernel[(entries, num_kv_heads, num_splits)](
        q,
        k_cache,
        v_cache,
        rows,
        slots,
        lens,
        part_o,
        part_lse,
        q.stride(0),
        q.stride(1),
        k_cache.stride(0),
        k_cache.stride(1),
        k_cache.stride(2),
        1.0 / math.sqrt(head_dim),
        num_splits,
        NUM_Q_HEADS=num_q_heads,
        GROUP=group,
        BLOCK_G=max(16, triton.next_power_of_2(group)),
        HEAD_DIM=head_dim,
        BLOCK_N=block_n,
        SPLIT=split,
        num_warps=num_warps,
    )
    _merge_kernel[(entries, num_q_heads)](
        part_o,
        part_lse,
        rows,
        lens,
        out,
        out.stride(0),
        out.stride(1),
        num_splits,
        NUM_Q_HEADS=num_q_heads,
        HEAD_DIM=head_dim,
        SPLIT=split,
        BLOCK_S=triton.next_power_of_2(num_splits),
        num_warps=4,
    )
    return out


def decode_attention_split_reference(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    rows: torch.Tensor,
    slots: torch.Tensor,
    lens: torch.Tensor,
    out: torch.Tensor,
    **_tuning: int,
) -> torch.Tensor:
    """`decode_attention_split`'s contract in plain PyTorch (one SDPA call per entry; reads the indices on
    the host). Tuning keywords are accepted and ignored, so callers can swap the two."""
    for row, slot, n in zip(rows.tolist(), slots.tolist(), lens.tolist(), strict=True):
        if row < 0:
            continue
        if n == 0:
            out[row] = 0
            continue
        k = k_cache[slot, :n].transpose(0, 1).unsqueeze(0)
        v = v_cache[slot, :n].transpose(0, 1).unsqueeze(0)
        qh = q[row].unsqueeze(0).unsqueeze(2)  # [1, heads, 1, head_dim]
        o = F.scaled_dot_product_attention(qh, k, v, enable_gqa=True)
        out[row] = o[0, :, 0].to(out.dtype)
    return out


def decode_kernel_self_test(
    device: torch.device,
    dtype: torch.dtype,
    num_kv_heads: int,
    group: int,
    head_dim: int,
    *,
    split: int = DEFAULT_SPLIT,
    block_n: int = DEFAULT_BLOCK_N,
    num_warps: int = DEFAULT_WARPS,
) -> str | None:
    """Run the Triton kernels at the engine's tuning against the twin on the same tensors; None when they
    agree (largest error under 1 % of the largest output), else what went wrong (the engine then keeps
    FlashAttention for decode rows). Covers keys across several splits, a length of 1, a key-less entry,
    padding entries and rows left untouched."""
    reason = decode_kernel_support(device, head_dim)
    if reason is not None:
        return reason
    try:
        gen = torch.Generator(device=device).manual_seed(11)
        positions = 2 * split + block_n + 3
        shape = (5, positions, num_kv_heads, head_dim)
        kc = torch.randn(shape, generator=gen, device=device, dtype=dtype)
        vc = torch.randn(shape, generator=gen, device=device, dtype=dtype)
        q = torch.randn(9, num_kv_heads * group, head_dim, generator=gen, device=device, dtype=dtype)
        as32 = lambda xs: torch.tensor(xs, dtype=torch.int32, device=device)  # noqa: E731
        lens = [positions, 1, split, 0, 0, split + block_n + 1]
        rows, slots = as32([1, 3, 4, 6, -1, 8]), as32([0, 2, 1, 4, 0, 3])
        fill = torch.full_like(q, 7.0)
        want = decode_attention_split_reference(q, kc, vc, rows, slots, as32(lens), fill.clone())
        got = decode_attention_split(
            q,
            kc,
            vc,
            rows,
            slots,
            as32(lens),
            fill.clone(),
            split=split,
            block_n=block_n,
            num_warps=num_warps,
        )
        err = float((got.float() - want.float()).abs().max())
        top = float(want.float().abs().max())
        if not err <= 0.01 * top:
            return f"split-KV decode differs from the SDPA reference by {err:.3g} (outputs <= {top:.3g})"
    except Exception as err:  # a compile or launch failure on this GPU / dtype
        return f"{type(err).__name__}: {str(err)[:200]}"
    return None


DECODE_ATTENTION = ("auto", "split-kv", "flash")


def select_decode_attention(
    requested: str,
    attention: str,
    device: torch.device,
    dtype: torch.dtype,
    num_kv_heads: int,
    group: int,
    head_dim: int,
) -> tuple[str, str]:
    """Resolve how a varlen engine attends decode rows (auto | split-kv | flash) to (mode, why).

    Under `flash-varlen`, `auto` takes split-kv when `decode_kernel_self_test` passes, else flash; an
    explicit split-kv that cannot run raises RuntimeError. Under `varlen-reference` split-kv runs the twin
    (`auto` too, so the CPU tests walk the default GPU path). The sdpa backend has no varlen decode rows.
    """
    if requested not in DECODE_ATTENTION:
        raise ValueError(f"decode attention must be one of {', '.join(DECODE_ATTENTION)}, got {requested!r}")
    if attention == "sdpa":
        return "n/a", "sdpa backend: masked slot-major decode"
    if requested == "flash":
        return "flash", "requested"
    if attention == "varlen-reference":
        return "split-kv", "plain-PyTorch twin (varlen-reference)"
    problem = decode_kernel_self_test(device, dtype, num_kv_heads, group, head_dim)
    if problem is None:
        return "split-kv", "Triton kernel; self-test against per-row SDPA passed"
    if requested == "split-kv":
        raise RuntimeError(f"decode attention split-kv is not usable here: {problem}")
    return "flash", f"split-kv unavailable: {problem}"

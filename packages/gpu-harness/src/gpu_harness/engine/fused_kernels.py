"""Triton kernels for a decoder layer's elementwise work, with HF's rounding points (CUDA; Triton optional).

A 2,048-token prefill chunk spent ~6 of its 12 ms in ~20 small elementwise kernels per layer (RMSNorm,
weight multiplies, RoPE's roll / two multiplies / add, SiLU, gate * up, residual adds, the K/V index_put).
Three kernels do the same work in one pass each:
- `add_rms_norm`: h = residual + x (rounded to the activation dtype, as HF's `residual + hidden`), then
  RMSNorm of h with weight (float32 inside, rounded, then `weight * normed` rounded: HF's order);
  x may be None (the first layer's input norm);
- `qk_norm_rope_save`: per row of the fused qkv output, Qwen3's per-head q/k RMSNorm (when the model has
  it), RoPE in the rotate-half convention (`x * cos + rotate_half(x) * sin`, each product rounded, then the
  sum), q written contiguous and k, v written straight into the slot KV cache at (slot, position);
- `silu_mul`: silu(gate) rounded, times up, rounded (HF's `act_fn(gate) * up`).
Every intermediate is rounded to the activation dtype where HF's modules round it, so results equal the
HF path up to float32 reduction order (rare last-bit flips). The CPU tests run these kernels in Triton's
interpreter (float32) against `fused.FusedBlock`'s PyTorch path. Owns no state.
"""

from __future__ import annotations

from typing import Any

import torch

from .decode_kernel import triton_support

try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - exercised only where triton is absent
    triton = None
    tl = None


def fused_kernels_support(device: torch.device, head_dim: int) -> str | None:
    """None when the kernels can run on `device`, else why not."""
    return triton_support(device, head_dim, 2)


if triton is not None:

    @triton.jit
    def _add_rms_norm_kernel(
        res_ptr, x_ptr, w_ptr, h_ptr, out_ptr, n, eps, HAS_X: tl.constexpr, BLOCK: tl.constexpr
    ):
        row = tl.program_id(0).to(tl.int64)
        cols = tl.arange(0, BLOCK)
        ok = cols < n
        h = tl.load(res_ptr + row * n + cols, mask=ok, other=0.0)
        if HAS_X:
            x = tl.load(x_ptr + row * n + cols, mask=ok, other=0.0)
            h = (h.to(tl.float32) + x.to(tl.float32)).to(h_ptr.dtype.element_ty)
            tl.store(h_ptr + row * n + cols, h, mask=ok)
        hf = h.to(tl.float32)
        r = tl.rsqrt(tl.sum(hf * hf, 0) / n + eps)
        normed = (hf * r).to(out_ptr.dtype.element_ty).to(tl.float32)
        w = tl.load(w_ptr + cols, mask=ok, other=0.0).to(tl.float32)
        tl.store(out_ptr + row * n + cols, (w * normed).to(out_ptr.dtype.element_ty), mask=ok)

    @triton.jit
    def _silu_mul_kernel(gu_ptr, out_ptr, inter, BLOCK: tl.constexpr):
        row = tl.program_id(0).to(tl.int64)
        blk = tl.program_id(1)
        cols = blk * BLOCK + tl.arange(0, BLOCK)
        ok = cols < inter
        g = tl.load(gu_ptr + row * 2 * inter + cols, mask=ok, other=0.0).to(tl.float32)
        u = tl.load(gu_ptr + row * 2 * inter + inter + cols, mask=ok, other=0.0).to(tl.float32)
        s = (g / (1.0 + tl.exp(-g))).to(out_ptr.dtype.element_ty).to(tl.float32)
        tl.store(out_ptr + row * inter + cols, (s * u).to(out_ptr.dtype.element_ty), mask=ok)

    @triton.jit
    def _qk_rope_save_kernel(
        qkv_ptr,
        norm_w_ptr,
        cos_ptr,
        sin_ptr,
        pos_ptr,
        slot_ptr,
        q_ptr,
        k_cache_ptr,
        v_cache_ptr,
        stride_cs,
        stride_cp,
        eps,
        NQ: tl.constexpr,
        NKV: tl.constexpr,
        HD: tl.constexpr,
        BLOCK_H: tl.constexpr,
        HAS_NORM: tl.constexpr,
    ):
        row = tl.program_id(0).to(tl.int64)
        heads = tl.arange(0, BLOCK_H)
        d = tl.arange(0, HD)
        rot = (d + HD // 2) % HD
        h_ok = heads < NQ + NKV
        width = (NQ + 2 * NKV) * HD
        base = qkv_ptr + row * width + heads[:, None] * HD
        x = tl.load(base + d[None, :], mask=h_ok[:, None], other=0.0)
        xr = tl.load(base + rot[None, :], mask=h_ok[:, None], other=0.0)
        dt = x.dtype
        if HAS_NORM:
            xf = x.to(tl.float32)
            r = tl.rsqrt(tl.sum(xf * xf, 1) / HD + eps)
            wb = norm_w_ptr + heads[:, None] * HD
            w = tl.load(wb + d[None, :], mask=h_ok[:, None], other=0.0).to(tl.float32)
            wr = tl.load(wb + rot[None, :], mask=h_ok[:, None], other=0.0).to(tl.float32)
            x = (w * (xf * r[:, None]).to(dt).to(tl.float32)).to(dt)
            xr = (wr * (xr.to(tl.float32) * r[:, None]).to(dt).to(tl.float32)).to(dt)
        pos = tl.load(pos_ptr + row)
        c = tl.load(cos_ptr + pos * HD + d).to(tl.float32)
        s = tl.load(sin_ptr + pos * HD + d).to(tl.float32)
        a = (x.to(tl.float32) * c[None, :]).to(dt).to(tl.float32)
        b = (xr.to(tl.float32) * s[None, :]).to(dt).to(tl.float32)
        y = (a + b).to(dt)
        is_q = heads < NQ
        tl.store(q_ptr + row * NQ * HD + heads[:, None] * HD + d[None, :], y, mask=is_q[:, None])
        slot = tl.load(slot_ptr + row).to(tl.int64)
        cache_row = slot * stride_cs + pos.to(tl.int64) * stride_cp
        is_k = h_ok & (heads >= NQ)
        kv_head = heads - NQ
        tl.store(k_cache_ptr + cache_row + kv_head[:, None] * HD + d[None, :], y, mask=is_k[:, None])
        v_heads = tl.arange(0, BLOCK_H)
        v_ok = v_heads < NKV
        v_src = qkv_ptr + row * width + (NQ + NKV) * HD + v_heads[:, None] * HD + d[None, :]
        v = tl.load(v_src, mask=v_ok[:, None])
        tl.store(v_cache_ptr + cache_row + v_heads[:, None] * HD + d[None, :], v, mask=v_ok[:, None])


def add_rms_norm(
    residual: torch.Tensor, x: torch.Tensor | None, weight: torch.Tensor, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(h, weight * rms_norm(h)) with h = residual + x (or residual when x is None); [T, n] contiguous."""
    t, n = residual.shape
    h = torch.empty_like(residual) if x is not None else residual
    out = torch.empty_like(residual)
    _add_rms_norm_kernel[(t,)](
        residual,
        x if x is not None else residual,
        weight,
        h,
        out,
        n,
        eps,
        HAS_X=x is not None,
        BLOCK=triton.next_power_of_2(n),
        num_warps=4,
    )
    return h, out


def silu_mul(gate_up: torch.Tensor) -> torch.Tensor:
    """silu(gate) * up for gate_up = [gate | up] of shape [T, 2 * inter] (contiguous)."""
    t, two = gate_up.shape
    inter = two // 2
    out = gate_up.new_empty((t, inter))
    block = min(1024, triton.next_power_of_2(inter))
    _silu_mul_kernel[(t, triton.cdiv(inter, block))](gate_up, out, inter, BLOCK=block, num_warps=4)
    return out


def qk_norm_rope_save(
    qkv: torch.Tensor,
    norm_weight: torch.Tensor | None,
    eps: float,
    cos: torch.Tensor,
    sin_signed: torch.Tensor,
    positions: torch.Tensor,
    slots: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    num_q_heads: int,
    num_kv_heads: int,
) -> torch.Tensor:
    """q [T, nq, hd] (contiguous) normed and rotated; k normed, rotated and v written into the cache.

    qkv: [T, (nq + 2 nkv) * hd] contiguous; norm_weight: [nq + nkv, hd] per-head weights (None: no q/k norm);
    cos, sin_signed: the full position tables [positions, hd]; positions, slots: [T] int64; k_cache,
    v_cache: one layer [slots, positions, nkv, hd], contiguous."""
    t = qkv.shape[0]
    hd = cos.shape[-1]
    q = qkv.new_empty((t, num_q_heads, hd))
    _qk_rope_save_kernel[(t,)](
        qkv,
        norm_weight if norm_weight is not None else qkv,
        cos,
        sin_signed,
        positions,
        slots,
        q,
        k_cache,
        v_cache,
        k_cache.stride(0),
        k_cache.stride(1),
        eps,
        NQ=num_q_heads,
        NKV=num_kv_heads,
        HD=hd,
        BLOCK_H=triton.next_power_of_2(num_q_heads + num_kv_heads),
        HAS_NORM=norm_weight is not None,
        num_warps=4,
    )
    return q


def fused_kernels_self_test(block: object, cos: torch.Tensor, sin_signed: torch.Tensor) -> str | None:
    """Run the three kernels on random activations against `block`'s PyTorch path (a fused.FusedBlock);
    None when every output is within 2 % of the largest value (bf16 rounding flips are single ulps), else
    what differs."""
    from .fused import rms_norm

    try:
        b: Any = block
        dev, dt = b.qkv_w.device, b.qkv_w.dtype
        gen = torch.Generator(device=dev).manual_seed(5)
        t, hidden = 7, b.qkv_w.shape[1]
        rnd = lambda *shape: torch.randn(*shape, generator=gen, device=dev, dtype=dt)  # noqa: E731
        res, x = rnd(t, hidden), rnd(t, hidden)
        checks = []
        h, out = add_rms_norm(res, x, b.in_w, b.in_eps)
        checks += [("add", h, res + x), ("rms_norm", out, rms_norm(res + x, b.in_w, b.in_eps))]
        gu = rnd(t, 2 * b.inter)
        checks.append(("silu_mul", silu_mul(gu), b.act(gu)))
        qkv = rnd(t, (b.nq + 2 * b.nkv) * b.hd)
        pos = torch.arange(3, 3 + t, device=dev)
        slots = torch.tensor([0, 1] * 3 + [1], device=dev)
        kc = torch.zeros(2, 3 + t, b.nkv, b.hd, device=dev, dtype=dt)
        vc = torch.zeros_like(kc)
        q = qk_norm_rope_save(
            qkv, b.qk_norm_w, b.qk_norm_eps or 0.0, cos, sin_signed, pos, slots, kc, vc, b.nq, b.nkv
        )
        rq, rk, rv = b.qk_norm_rope(qkv, cos[pos].unsqueeze(1), sin_signed[pos].unsqueeze(1))
        checks += [("q", q, rq), ("k", kc[slots, pos], rk), ("v", vc[slots, pos], rv)]
        for name, got, want in checks:
            err = float((got.float() - want.float()).abs().max())
            if not err <= 0.02 * float(want.float().abs().max()) + 1e-6:
                return f"fused kernel {name} differs from the PyTorch path by {err:.3g}"
    except Exception as err:  # a compile or launch failure
        return f"{type(err).__name__}: {str(err)[:200]}"
    return None


def select_fused_kernels(
    requested: str,
    block: Any,
    device: torch.device,
    head_dim: int,
    cos: torch.Tensor,
    sin_signed: torch.Tensor,
) -> tuple[bool, str]:
    """Whether a layer of `block`s (fused.FusedBlock, or None: HF modules) runs these kernels, and why.

    requested: auto (CUDA, where Triton is there and `fused_kernels_self_test` passes) | triton (forced: CPU
    runs them in the interpreter; raises RuntimeError when unusable) | torch. The engine and the profiler
    both call this, so a profile times the elementwise kernels the server runs."""
    if requested not in ("auto", "triton", "torch"):
        raise ValueError(f"fused_kernels must be auto, triton or torch, got {requested!r}")
    if block is None or requested == "torch" or (requested == "auto" and device.type != "cuda"):
        return False, "fused PyTorch ops"
    problem = fused_kernels_support(device, head_dim) or fused_kernels_self_test(block, cos, sin_signed)
    if problem is None:
        return True, "fused_kernels (add+rms_norm, q/k norm+rope+KV write, silu*up)"
    if requested == "triton":
        raise RuntimeError(f"fused_kernels=triton is not usable here: {problem}")
    return False, f"fused PyTorch ops (Triton kernels unavailable: {problem})"

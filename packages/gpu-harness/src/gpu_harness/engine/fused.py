"""One decoder layer's compute with fewer, larger kernels, on the HF layer's own weights.

A decode step of a 0.6B model is launch-bound: HF's modules issue ~60 kernels per layer (an RMSNorm alone is
eight: cast, pow, mean, add, rsqrt, mul, cast, mul). `FusedBlock` computes the same layer in ~20:
- RMSNorm = `torch.rms_norm` without weight (one kernel, float32 inside, rounded once to the activation dtype,
  as HF's `hidden.to(input_dtype)`) then `weight * x` in the activation dtype, exactly HF's order;
- q, k, v projections = one GEMM over the concatenated weights; gate and up = one GEMM;
- Qwen3's per-head q/k RMSNorm = one rms_norm over the q and k heads together (they are the leading columns
  of the qkv output) and one multiply by the per-head weights laid side by side;
- RoPE on q and k together: `x * cos + roll(x, half) * sin_signed`, where `sin_signed` = [-sin | sin] per
  half (gathered once per step), which equals HF's `x * cos + rotate_half(x) * sin` term for term.
Weights are concatenated copies (the HF modules stay usable). Layers whose norms or MLP are not the
Llama/Qwen shape (weight-times-normalized RMSNorm with `variance_epsilon`, gate/up/down with `act_fn`) are
refused with ValueError, so the caller can fall back to the HF modules. Owns no cache and no scheduling.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F


def norm_params(module: Any, what: str) -> tuple[torch.Tensor, float]:
    weight = getattr(module, "weight", None)
    eps = getattr(module, "variance_epsilon", None)
    name = type(module).__name__
    # Gemma-style norms scale by (1 + weight): not this formula.
    if weight is None or eps is None or not name.endswith("RMSNorm") or "Gemma" in name:
        raise ValueError(f"{what}: {name} is not a weight * x / rms(x) RMSNorm")
    return weight, float(eps)


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """HF Llama/Qwen RMSNorm over the last dim: normalize in float32, round, then scale by the weight."""
    return weight * torch.rms_norm(x, (x.shape[-1],), None, eps)


def rope(x: torch.Tensor, cos: torch.Tensor, sin_signed: torch.Tensor) -> torch.Tensor:
    """Rotary embedding in HF's rotate-half convention; cos / sin_signed broadcast over x's head axis."""
    return x * cos + torch.roll(x, x.shape[-1] // 2, dims=-1) * sin_signed


def signed_sin(sin: torch.Tensor) -> torch.Tensor:
    """[-sin_first_half | sin_second_half]: roll(x) * this = rotate_half(x) * sin."""
    half = sin.shape[-1] // 2
    return torch.cat((-sin[..., :half], sin[..., half:]), dim=-1)


class FusedBlock:
    """The fused computation of one HF decoder layer (Llama/Qwen2/Qwen3 shape)."""

    def __init__(self, layer: Any, num_q_heads: int, num_kv_heads: int, head_dim: int) -> None:
        attn, mlp = layer.self_attn, layer.mlp
        self.nq, self.nkv, self.hd = num_q_heads, num_kv_heads, head_dim
        self.in_w, self.in_eps = norm_params(layer.input_layernorm, "input_layernorm")
        self.post_w, self.post_eps = norm_params(layer.post_attention_layernorm, "post_attention_layernorm")
        if not all(hasattr(mlp, n) for n in ("gate_proj", "up_proj", "down_proj", "act_fn")):
            raise ValueError(f"mlp: {type(mlp).__name__} is not a gate/up/down MLP")
        projs = (attn.q_proj, attn.k_proj, attn.v_proj)
        with torch.no_grad():
            self.qkv_w = torch.cat([p.weight for p in projs], 0).contiguous()
            biases = [p.bias for p in projs]
            self.qkv_b = (
                None
                if all(b is None for b in biases)
                else torch.cat(
                    [
                        b if b is not None else p.weight.new_zeros(p.weight.shape[0])
                        for b, p in zip(biases, projs, strict=True)
                    ]
                )
            )
            self.gate_up_w = torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight], 0).contiguous()
            self.qk_norm_eps: float | None = None
            self.qk_norm_w: torch.Tensor | None = None
            q_norm, k_norm = getattr(attn, "q_norm", None), getattr(attn, "k_norm", None)
            if q_norm is not None and k_norm is not None:
                qw, q_eps = norm_params(q_norm, "q_norm")
                kw, k_eps = norm_params(k_norm, "k_norm")
                if q_eps != k_eps:
                    raise ValueError("q_norm and k_norm epsilons differ")
                self.qk_norm_eps = q_eps
                self.qk_norm_w = torch.cat([qw.expand(self.nq, -1), kw.expand(self.nkv, -1)], 0).contiguous()
        self.o_proj = attn.o_proj
        self.down_proj = mlp.down_proj
        self.act_fn = mlp.act_fn
        self.inter = mlp.gate_proj.weight.shape[0]

    def input_norm(self, h: torch.Tensor) -> torch.Tensor:
        return rms_norm(h, self.in_w, self.in_eps)

    def post_norm(self, h: torch.Tensor) -> torch.Tensor:
        return rms_norm(h, self.post_w, self.post_eps)

    def qkv(self, x: torch.Tensor) -> torch.Tensor:
        """[T, (nq + 2 nkv) * head_dim]: q, k, v side by side."""
        return F.linear(x, self.qkv_w, self.qkv_b)

    def qk_norm_rope(
        self, qkv: torch.Tensor, cos: torch.Tensor, sin_signed: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q [T, nq, hd] and k [T, nkv, hd], normed (when the model has q/k norms) and rotated; v."""
        t = qkv.shape[0]
        heads = self.nq + self.nkv
        qk = qkv[:, : heads * self.hd].view(t, heads, self.hd)
        if self.qk_norm_w is not None:
            assert self.qk_norm_eps is not None
            qk = rms_norm(qk, self.qk_norm_w, self.qk_norm_eps)
        qk = rope(qk, cos, sin_signed)
        v = qkv[:, heads * self.hd :].view(t, self.nkv, self.hd)
        return qk[:, : self.nq], qk[:, self.nq :], v

    def gate_up(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.gate_up_w)

    def act(self, gate_up: torch.Tensor) -> torch.Tensor:
        return self.act_fn(gate_up[:, : self.inter]) * gate_up[:, self.inter :]

    def mlp(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.act(self.gate_up(x)))

"""Per-operator timing of one decoder block's non-attention ops, on the model's own modules (mlp.csv).

Each Vidur op is the exact module call the server's forward pass makes (vidur-reference.md §1.2):
- emb: model.model.embed_tokens(ids)
- input_layernorm / post_attention_layernorm: the block's RMSNorm modules
- attn_pre_proj: q_proj, k_proj and v_proj (three GEMMs; the HF modules are not fused)
- attn_rope: Qwen3's q_norm and k_norm (per-head RMSNorm) folded in, then rotary embedding of q and k with
  the model's own cos/sin (computed once per step by the server, so outside the timer)
- attn_post_proj: o_proj;  mlp_up_proj: gate_proj and up_proj;  mlp_act: act_fn(gate) * up
- mlp_down_proj: down_proj;  add: one residual add (Vidur counts one per block)
Samples rotate over the model's layers (each with its own weights) and over fresh input buffers, so caches
never hold the previous sample's operands. Does not time attention itself (see attention.py).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import torch

from .model_dims import ModelDims
from .timing import OpTimer, TimeStats

Call = Callable[[], object]


def rope_function(layer: torch.nn.Module) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """The model family's own `apply_rotary_pos_emb` (from the module that defines its attention class)."""
    module = sys.modules[type(layer.self_attn).__module__]
    fn = getattr(module, "apply_rotary_pos_emb", None)
    if fn is None:
        raise RuntimeError(f"{module.__name__} has no apply_rotary_pos_emb")
    return fn


def qk_norm_rope(layer: torch.nn.Module, q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                 dims: ModelDims, apply_rope: Callable[..., tuple[torch.Tensor, torch.Tensor]]) -> Any:
    """q [1,T,n_head*hd], k [1,T,n_kv*hd] -> normed, rotated q and k as [1,heads,T,hd] (the HF layout)."""
    t = q.shape[1]
    attn = layer.self_attn
    qh = q.view(1, t, dims.n_head, dims.head_dim)
    kh = k.view(1, t, dims.n_kv_head, dims.head_dim)
    q_norm = getattr(attn, "q_norm", None)
    k_norm = getattr(attn, "k_norm", None)
    if q_norm is not None:
        qh = q_norm(qh)
    if k_norm is not None:
        kh = k_norm(kh)
    return apply_rope(qh.transpose(1, 2), kh.transpose(1, 2), cos, sin)


class MlpProfiler:
    """Builds per-op callables for one num_tokens value and times them."""

    def __init__(self, model: torch.nn.Module, layers: list[torch.nn.Module], dims: ModelDims,
                 timer: OpTimer, num_slots: int, seed: int) -> None:
        self.model = model
        self.layers = layers
        self.dims = dims
        self.timer = timer
        self.num_slots = max(1, num_slots)
        self.param = next(model.parameters())
        self.gen = torch.Generator(device="cpu").manual_seed(seed)
        self.apply_rope = rope_function(layers[0])
        self.rotary = getattr(model.model, "rotary_emb", None)

    def _randn(self, *shape: int) -> torch.Tensor:
        t = torch.randn(*shape, generator=self.gen, dtype=torch.float32)
        return t.to(device=self.param.device, dtype=self.param.dtype)

    def profile(self, num_tokens: int) -> dict[str, TimeStats]:
        """Stats (ms) of every Vidur mlp.csv op at `num_tokens` tokens in the flat batch."""
        d = self.dims
        t = num_tokens
        q_width = d.n_head * d.head_dim
        kv_width = d.n_kv_head * d.head_dim
        n = self.num_slots
        layers = [self.layers[i % len(self.layers)] for i in range(n)]
        xs = [self._randn(1, t, d.n_embd) for _ in range(n)]
        ys = [self._randn(1, t, d.n_embd) for _ in range(n)]
        qs = [self._randn(1, t, q_width) for _ in range(n)]
        ks = [self._randn(1, t, kv_width) for _ in range(n)]
        gates = [self._randn(1, t, d.n_expanded_embd) for _ in range(n)]
        ups = [self._randn(1, t, d.n_expanded_embd) for _ in range(n)]
        ids = [torch.randint(0, d.vocab_size, (1, t), generator=self.gen).to(self.param.device) for _ in range(n)]
        positions = torch.arange(t, device=self.param.device).unsqueeze(0)
        if self.rotary is None:
            raise RuntimeError("model.model.rotary_emb is missing: cannot compute RoPE cos/sin")
        with torch.inference_mode():
            cos, sin = self.rotary(xs[0], positions)

        def each(make: Callable[[int], Call]) -> list[Call]:
            return [make(i) for i in range(n)]

        embed = self.model.model.embed_tokens
        ops: dict[str, list[Call]] = {
            "emb": each(lambda i: lambda: embed(ids[i])),
            "input_layernorm": each(lambda i: lambda: layers[i].input_layernorm(xs[i])),
            "attn_pre_proj": each(lambda i: lambda: (layers[i].self_attn.q_proj(xs[i]),
                                                      layers[i].self_attn.k_proj(xs[i]),
                                                      layers[i].self_attn.v_proj(xs[i]))),
            "attn_rope": each(lambda i: lambda: qk_norm_rope(layers[i], qs[i], ks[i], cos, sin, d, self.apply_rope)),
            "attn_post_proj": each(lambda i: lambda: layers[i].self_attn.o_proj(qs[i])),
            "post_attention_layernorm": each(lambda i: lambda: layers[i].post_attention_layernorm(xs[i])),
            "mlp_up_proj": each(lambda i: (lambda: (layers[i].mlp.gate_proj(xs[i]), layers[i].mlp.up_proj(xs[i])))
                                if d.use_gated_mlp else (lambda: layers[i].mlp.up_proj(xs[i]))),
            "mlp_act": each(lambda i: (lambda: layers[i].mlp.act_fn(gates[i]) * ups[i])
                            if d.use_gated_mlp else (lambda: layers[i].mlp.act_fn(ups[i]))),
            "mlp_down_proj": each(lambda i: lambda: layers[i].mlp.down_proj(gates[i])),
            "add": each(lambda i: lambda: xs[i] + ys[i]),
        }
        with torch.inference_mode():
            return {op: self.timer.measure(calls) for op, calls in ops.items()}

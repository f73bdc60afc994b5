"""Per-operator timing of one decoder block's non-attention ops, on the model's own modules (mlp.csv).

Each Vidur op is the call the lean engine's forward pass makes on flat [T, d] tokens (vidur-reference.md
§1.2), through `engine.fused.FusedBlock` when the layers have the Llama/Qwen shape (as the engine does), else
through the HF modules:
- emb: model.model.embed_tokens(ids)
- input_layernorm / post_attention_layernorm: the block's RMSNorm (fused: rms_norm + weight multiply)
- attn_pre_proj: q, k and v projections (fused: one GEMM over the concatenated weights)
- attn_rope: Qwen3's q_norm and k_norm (per-head RMSNorm) folded in, the cos/sin gather for the tokens'
  positions, then the engine's RoPE on q and k (the cos/sin tables are built once per server run, so
  outside the timer)
- attn_post_proj: o_proj;  mlp_up_proj: gate and up projections (fused: one GEMM);  mlp_act:
  act_fn(gate) * up
- mlp_down_proj: down_proj;  add: one residual add (Vidur counts one per block)
Where the engine runs the Triton elementwise kernels (engine.fused_kernels, chosen by the same
`select_fused_kernels`), those are timed instead: both norms = `add_rms_norm` (residual add + RMSNorm in one
kernel), attn_rope = `qk_norm_rope_save` (q/k norm, RoPE and the K/V cache write; attention.csv's
attn_kv_cache_save is then 0), mlp_act = `silu_mul`, add = 0 (fused into the norms).
Samples rotate over the model's layers (each with its own weights) and over fresh input buffers, so caches
never hold the previous sample's operands. Does not time attention itself (see attention.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .model_dims import ModelDims
from .timing import OpTimer, TimeStats

Call = Callable[[], object]


def engine_blocks(layers: list[torch.nn.Module], dims: ModelDims) -> list[Any] | None:
    """The engine's fused blocks for these layers (as `LeanModelRunner` builds them), or None when the
    engine would fall back to the HF modules."""
    try:
        from ..engine.fused import FusedBlock
    except ImportError:
        return None
    try:
        return [FusedBlock(layer, dims.n_head, dims.n_kv_head, dims.head_dim) for layer in layers]
    except ValueError:
        return None


def fused_qk_norm_rope(
    block: Any, qkv: torch.Tensor, positions: torch.Tensor, cos_table: torch.Tensor, sin_signed: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The fused engine's attn_rope: the cos / signed-sin row gather for the positions (the engine builds
    both tables once per server run), then q/k norm and RoPE on the qkv GEMM's output."""
    q, k, _ = block.qk_norm_rope(qkv, cos_table[positions].unsqueeze(1), sin_signed[positions].unsqueeze(1))
    return q, k


def engine_rope() -> tuple[Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor], str]:
    """The lean engine's own RoPE (`LeanModelRunner._rope`, which uses no instance state), or the model
    family's HF `apply_rotary_pos_emb` semantics when the engine is absent.

    Returns (fn(x, cos, sin), name)."""
    try:
        from ..engine.lean import LeanModelRunner
    except ImportError:
        LeanModelRunner = None  # noqa: N806
    fn = getattr(LeanModelRunner, "_rope", None)
    if fn is not None:
        return (lambda x, cos, sin: fn(None, x, cos, sin)), "gpu_harness.engine.lean.LeanModelRunner._rope"

    def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        half = x.shape[-1] // 2
        return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin

    return rotate, "rotate_half (HF apply_rotary_pos_emb semantics)"


def qk_norm_rope(
    layer: torch.nn.Module,
    q: torch.Tensor,
    k: torch.Tensor,
    positions: torch.Tensor,
    cos_table: torch.Tensor,
    sin_table: torch.Tensor,
    dims: ModelDims,
    rope: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor]:
    """What the lean engine does per layer between the projections and attention: q/k RMSNorm on the
    [T, heads, head_dim] views, the cos/sin gather for the tokens' positions, RoPE on q and k."""
    t = q.shape[0]
    attn = layer.self_attn
    qh = q.view(t, dims.n_head, dims.head_dim)
    kh = k.view(t, dims.n_kv_head, dims.head_dim)
    q_norm = getattr(attn, "q_norm", None)
    k_norm = getattr(attn, "k_norm", None)
    if q_norm is not None:
        qh = q_norm(qh)
    if k_norm is not None:
        kh = k_norm(kh)
    cos = cos_table[positions].unsqueeze(1)
    sin = sin_table[positions].unsqueeze(1)
    return rope(qh, cos, sin), rope(kh, cos, sin)


class MlpProfiler:
    """Builds per-op callables for one num_tokens value and times them."""

    def __init__(
        self,
        model: torch.nn.Module,
        layers: list[torch.nn.Module],
        dims: ModelDims,
        timer: OpTimer,
        num_slots: int,
        seed: int,
        fused_kernels: str = "auto",
    ) -> None:
        self.model = model
        self.layers = layers
        self.dims = dims
        self.timer = timer
        self.num_slots = max(1, num_slots)
        self.param = next(model.parameters())
        # Inputs are drawn on the device itself: drawing GBs on the host would dominate the profile's time.
        self.gen = torch.Generator(device=self.param.device).manual_seed(seed)
        self.rope, self.rope_impl = engine_rope()
        self.blocks = engine_blocks(layers, dims)
        if self.blocks is not None:
            self.rope_impl = "gpu_harness.engine.fused.FusedBlock.qk_norm_rope"
        self.rotary = getattr(model.model, "rotary_emb", None)
        self._tables: tuple[int, torch.Tensor, torch.Tensor] | None = None
        self.fused_triton, self.fused_triton_note = False, "fused PyTorch ops"
        if self.blocks is not None:
            from ..engine.fused import signed_sin
            from ..engine.fused_kernels import select_fused_kernels

            cos, sin = self._cos_sin(64)
            self.fused_triton, self.fused_triton_note = select_fused_kernels(
                fused_kernels,
                self.blocks[0],
                self.param.device,
                dims.head_dim,
                cos,
                signed_sin(sin).contiguous(),
            )

    def _cos_sin(self, num_positions: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The model's rotary cos/sin tables [positions, head_dim], built once per step by the engine."""
        if self._tables is None or self._tables[0] < num_positions:
            if self.rotary is None:
                raise RuntimeError("model.model.rotary_emb is missing: cannot compute RoPE cos/sin")
            pos = torch.arange(num_positions, device=self.param.device).unsqueeze(0)
            probe = torch.empty((), dtype=self.param.dtype, device=self.param.device)
            with torch.inference_mode():
                cos, sin = self.rotary(probe, pos)
            self._tables = (num_positions, cos[0].contiguous(), sin[0].contiguous())
        return self._tables[1], self._tables[2]

    def _randn(self, *shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=self.gen, device=self.param.device, dtype=self.param.dtype)

    def _triton_ops(
        self,
        t: int,
        blocks: list[Any],
        qkvs: list[torch.Tensor],
        gate_ups: list[torch.Tensor],
        xs: list[torch.Tensor],
        ys: list[torch.Tensor],
        positions: torch.Tensor,
        cos: torch.Tensor,
        sin_signed: torch.Tensor,
    ) -> dict[str, list[Call]]:
        """The engine's Triton elementwise kernels per Vidur op (see the module docstring)."""
        from ..engine import fused_kernels as fk

        d = self.dims
        n = len(blocks)
        slots = torch.zeros(t, dtype=torch.int64, device=self.param.device)
        kc = torch.zeros(1, t, d.n_kv_head, d.head_dim, dtype=self.param.dtype, device=self.param.device)
        vc = torch.zeros_like(kc)

        def rope(i: int) -> Call:
            b = blocks[i]
            return lambda: fk.qk_norm_rope_save(
                qkvs[i],
                b.qk_norm_w,
                b.qk_norm_eps or 0.0,
                cos,
                sin_signed,
                positions,
                slots,
                kc,
                vc,
                d.n_head,
                d.n_kv_head,
            )

        return {
            "input_layernorm": [
                (lambda i=i: fk.add_rms_norm(xs[i], ys[i], blocks[i].in_w, blocks[i].in_eps))
                for i in range(n)
            ],
            "post_attention_layernorm": [
                (lambda i=i: fk.add_rms_norm(xs[i], ys[i], blocks[i].post_w, blocks[i].post_eps))
                for i in range(n)
            ],
            "attn_rope": [rope(i) for i in range(n)],
            "mlp_act": [(lambda i=i: fk.silu_mul(gate_ups[i])) for i in range(n)],
        }

    def profile(self, num_tokens: int) -> dict[str, TimeStats]:
        """Stats (ms) of every Vidur mlp.csv op at `num_tokens` tokens in the flat batch."""
        d = self.dims
        t = num_tokens
        q_width = d.n_head * d.head_dim
        kv_width = d.n_kv_head * d.head_dim
        n = self.num_slots
        layers = [self.layers[i % len(self.layers)] for i in range(n)]
        xs = [self._randn(t, d.n_embd) for _ in range(n)]
        ys = [self._randn(t, d.n_embd) for _ in range(n)]
        qs = [self._randn(t, q_width) for _ in range(n)]
        ks = [self._randn(t, kv_width) for _ in range(n)]
        gates = [self._randn(t, d.n_expanded_embd) for _ in range(n)]
        ups = [self._randn(t, d.n_expanded_embd) for _ in range(n)]
        ids = [
            torch.randint(0, d.vocab_size, (t,), generator=self.gen, device=self.param.device)
            for _ in range(n)
        ]
        positions = torch.arange(t, device=self.param.device)
        cos, sin = self._cos_sin(t)

        def each(make: Callable[[int], Call]) -> list[Call]:
            return [make(i) for i in range(n)]

        embed = self.model.model.embed_tokens
        if self.blocks is not None:
            from ..engine.fused import signed_sin

            blocks = [self.blocks[i % len(self.blocks)] for i in range(n)]
            sin_signed = signed_sin(sin)
            qkvs = [self._randn(t, q_width + 2 * kv_width) for _ in range(n)]
            gate_ups = [self._randn(t, 2 * d.n_expanded_embd) for _ in range(n)]
            fused_ops: dict[str, list[Call]] = {
                "emb": each(lambda i: lambda: embed(ids[i])),
                "input_layernorm": each(lambda i: lambda: blocks[i].input_norm(xs[i])),
                "attn_pre_proj": each(lambda i: lambda: blocks[i].qkv(xs[i])),
                "attn_rope": each(
                    lambda i: lambda: fused_qk_norm_rope(blocks[i], qkvs[i], positions, cos, sin_signed)
                ),
                "attn_post_proj": each(lambda i: lambda: layers[i].self_attn.o_proj(qs[i])),
                "post_attention_layernorm": each(lambda i: lambda: blocks[i].post_norm(xs[i])),
                "mlp_up_proj": each(lambda i: lambda: blocks[i].gate_up(xs[i])),
                "mlp_act": each(lambda i: lambda: blocks[i].act(gate_ups[i])),
                "mlp_down_proj": each(lambda i: lambda: layers[i].mlp.down_proj(gates[i])),
                "add": each(lambda i: lambda: xs[i] + ys[i]),
            }
            if self.fused_triton:
                fused_ops.update(
                    self._triton_ops(t, blocks, qkvs, gate_ups, xs, ys, positions, cos, sin_signed)
                )
                del fused_ops["add"]  # folded into add_rms_norm: 0 below
            with torch.inference_mode():
                out = {op: self.timer.measure(calls) for op, calls in fused_ops.items()}
            if self.fused_triton:
                out["add"] = TimeStats.zero()
            return out
        ops: dict[str, list[Call]] = {
            "emb": each(lambda i: lambda: embed(ids[i])),
            "input_layernorm": each(lambda i: lambda: layers[i].input_layernorm(xs[i])),
            "attn_pre_proj": each(
                lambda i: (
                    lambda: (
                        layers[i].self_attn.q_proj(xs[i]),
                        layers[i].self_attn.k_proj(xs[i]),
                        layers[i].self_attn.v_proj(xs[i]),
                    )
                )
            ),
            "attn_rope": each(
                lambda i: lambda: qk_norm_rope(layers[i], qs[i], ks[i], positions, cos, sin, d, self.rope)
            ),
            "attn_post_proj": each(lambda i: lambda: layers[i].self_attn.o_proj(qs[i])),
            "post_attention_layernorm": each(lambda i: lambda: layers[i].post_attention_layernorm(xs[i])),
            "mlp_up_proj": each(
                lambda i: (
                    (lambda: (layers[i].mlp.gate_proj(xs[i]), layers[i].mlp.up_proj(xs[i])))
                    if d.use_gated_mlp
                    else (lambda: layers[i].mlp.up_proj(xs[i]))
                )
            ),
            "mlp_act": each(
                lambda i: (
                    (lambda: layers[i].mlp.act_fn(gates[i]) * ups[i])
                    if d.use_gated_mlp
                    else (lambda: layers[i].mlp.act_fn(ups[i]))
                )
            ),
            "mlp_down_proj": each(lambda i: lambda: layers[i].mlp.down_proj(gates[i])),
            "add": each(lambda i: lambda: xs[i] + ys[i]),
        }
        with torch.inference_mode():
            return {op: self.timer.measure(calls) for op, calls in ops.items()}

"""engine/fused.py computes what the HF modules compute (float32 on CPU, tiny Qwen3 config)."""

from __future__ import annotations

import pytest
import torch

from gpu_harness.engine.fused import FusedBlock, rms_norm, rope, signed_sin
from gpu_harness.engine.lean import LeanModelRunner
from gpu_harness.model import build_model


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.set_num_threads(1)
    return build_model("qwen3-tiny", device="cpu", dtype="float32", seed=3)


def test_fused_block_matches_the_hf_layer_modules(model: torch.nn.Module) -> None:
    cfg = model.config
    layer = model.model.layers[1]
    b = FusedBlock(layer, cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, cfg.hidden_size, generator=g)
    with torch.inference_mode():
        torch.testing.assert_close(b.input_norm(x), layer.input_layernorm(x))
        torch.testing.assert_close(b.post_norm(x), layer.post_attention_layernorm(x))
        torch.testing.assert_close(b.mlp(x), layer.mlp(x))
        attn = layer.self_attn
        qkv = b.qkv(x)
        pos = torch.tensor([0, 1, 7, 30, 63]).unsqueeze(0)
        cos, sin = model.model.rotary_emb(x, pos)
        cos, sin = cos[0].unsqueeze(1), sin[0].unsqueeze(1)
        q, k, v = b.qk_norm_rope(qkv, cos, signed_sin(sin))
        q_ref = attn.q_norm(attn.q_proj(x).view(5, -1, cfg.head_dim))
        k_ref = attn.k_norm(attn.k_proj(x).view(5, -1, cfg.head_dim))

        def rotate(t: torch.Tensor) -> torch.Tensor:  # HF rotate_half convention
            h = t.shape[-1] // 2
            return t * cos + torch.cat((-t[..., h:], t[..., :h]), -1) * sin

        torch.testing.assert_close(q, rotate(q_ref))
        torch.testing.assert_close(k, rotate(k_ref))
        torch.testing.assert_close(v, attn.v_proj(x).view(5, -1, cfg.head_dim))


def test_rms_norm_and_rope_helpers() -> None:
    x = torch.tensor([[3.0, 4.0]])
    torch.testing.assert_close(
        rms_norm(x, torch.tensor([1.0, 2.0]), 0.0), torch.tensor([[3.0, 8.0]]) / 12.5**0.5
    )
    # roll(x) * [-sin | sin] == rotate_half(x) * sin
    t = torch.tensor([1.0, 2.0, 3.0, 4.0])
    cos, sin = torch.full((4,), 0.5), torch.tensor([0.1, 0.2, 0.1, 0.2])
    expect = t * cos + torch.tensor([-3.0, -4.0, 1.0, 2.0]) * sin
    torch.testing.assert_close(rope(t, cos, signed_sin(sin)), expect)


def test_fused_and_module_paths_give_the_same_tokens(model: torch.nn.Module) -> None:
    outs = []
    for fused in (True, False):
        r = LeanModelRunner(model, num_slots=2, max_model_len=64, cuda_graphs=False, fused=fused)
        assert (r.blocks is not None) == fused
        first = r.forward([(0, 0, list(range(40, 57)), True), (1, 0, [9, 8, 7], True)])
        second = r.forward([(0, 17, [int(first[0])], True), (1, 3, [int(first[1])], True)])
        outs.append(first.tolist() + second.tolist())
    assert outs[0] == outs[1]


def test_unknown_norm_shapes_fall_back_to_hf_modules(model: torch.nn.Module) -> None:
    class GemmaRMSNorm(torch.nn.Module):  # a (1 + weight) norm: not the fused formula
        weight = torch.ones(4)
        variance_epsilon = 1e-6

    layer = model.model.layers[0]
    saved = layer.input_layernorm
    try:
        layer.input_layernorm = GemmaRMSNorm()
        r = LeanModelRunner(model, num_slots=1, max_model_len=16, cuda_graphs=False)
        assert r.blocks is None and "GemmaRMSNorm" in r.describe()["layer_compute"]
    finally:
        layer.input_layernorm = saved


def test_triton_elementwise_kernels_match_the_pytorch_path() -> None:
    # The three kernels (Triton's CPU interpreter, float32) against FusedBlock's PyTorch ops (q, k and v
    # as written into the cache, the residual sum, the norm, silu * up): the engine's start-up self-test.
    from gpu_harness.engine import fused_kernels
    from gpu_harness.engine.fused import FusedBlock, signed_sin
    from gpu_harness.model import build_model

    model = build_model("qwen3-tiny", device="cpu", dtype="float32", seed=4)
    cfg = model.config
    block = FusedBlock(model.model.layers[1], cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim)
    pos = torch.arange(32).unsqueeze(0)
    cos, sin = model.model.rotary_emb(torch.empty(()), pos)
    cos, sin_signed = cos[0].contiguous(), signed_sin(sin[0]).contiguous()
    assert fused_kernels.fused_kernels_self_test(block, cos, sin_signed) is None

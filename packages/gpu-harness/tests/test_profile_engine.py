"""The profiler times what the lean engine computes: its RoPE path, its cos/sin tables, its decode key
window; and the timer's statistics and buffer rotation."""

from __future__ import annotations

import statistics

import pytest
import torch

from gpu_harness.engine import lean
from gpu_harness.engine.attention import varlen_attention_cpu
from gpu_harness.engine.fused import signed_sin
from gpu_harness.profile.attention import AttentionProfiler, chunk_call_tensors
from gpu_harness.profile.mlp import MlpProfiler, engine_rope, fused_qk_norm_rope, qk_norm_rope
from gpu_harness.profile.model_dims import decoder_layers, dims_from_config
from gpu_harness.profile.timing import OpTimer, TimeStats


def test_attn_rope_op_equals_the_engine_qkv_path(tiny: tuple[torch.nn.Module, object]) -> None:
    model, cfg = tiny
    runner = lean.LeanModelRunner(model, num_slots=1, max_model_len=64, cuda_graphs=False)
    layers = decoder_layers(model, "qwen3-tiny")
    dims = dims_from_config(cfg, model, "qwen3-tiny")  # type: ignore[arg-type]
    prof = MlpProfiler(model, layers, dims, OpTimer(torch.device("cpu"), 0, 1), 1, seed=0)
    assert prof.blocks is not None and runner.blocks is not None  # both take the fused path
    assert prof.rope_impl == "gpu_harness.engine.fused.FusedBlock.qk_norm_rope"
    cos, sin = prof._cos_sin(65)
    assert torch.equal(cos, runner.cos) and torch.equal(sin, runner.sin)
    x = torch.randn(7, dims.n_embd, generator=torch.Generator().manual_seed(1))
    positions = torch.tensor([0, 3, 4, 5, 9, 20, 63])
    with torch.inference_mode():
        block = runner.blocks[1]
        q_ref, k_ref, _ = block.qk_norm_rope(block.qkv(x), *runner._rope_rows(positions))
        q, k = fused_qk_norm_rope(prof.blocks[1], prof.blocks[1].qkv(x), positions, cos, signed_sin(sin))
        # The HF-module path (engines and profiles of models the fused block refuses) agrees too.
        q_hf, k_hf = qk_norm_rope(
            layers[1],
            layers[1].self_attn.q_proj(x),
            layers[1].self_attn.k_proj(x),
            positions,
            cos,
            sin,
            dims,
            engine_rope()[0],
        )
    torch.testing.assert_close(q, q_ref)
    torch.testing.assert_close(k, k_ref)
    torch.testing.assert_close(q_hf, q_ref)
    torch.testing.assert_close(k_hf, k_ref)


def attention_profiler(tiny: tuple[torch.nn.Module, object], **kw: object) -> AttentionProfiler:
    """An AttentionProfiler of the tiny model on CPU (one sample per op, 16-token blocks, seed 0)."""
    model, cfg = tiny
    dims = dims_from_config(cfg, model, "qwen3-tiny")  # type: ignore[arg-type]
    layers = decoder_layers(model, "qwen3-tiny")
    return AttentionProfiler(
        model,
        layers,
        dims,
        OpTimer(torch.device("cpu"), 0, 1),
        block_size=16,
        seed=0,
        **kw,  # type: ignore[arg-type]
    )


def test_decode_key_window_is_the_engine_bucket(tiny: tuple[torch.nn.Module, object]) -> None:
    prof = attention_profiler(tiny, max_batch_size=2, max_seq_len=4096)
    dims = dims_from_config(tiny[1], tiny[0], "qwen3-tiny")  # type: ignore[arg-type]
    assert prof.max_positions == 4097
    assert prof.k_cache.shape == (2, 4097, dims.n_kv_head, dims.head_dim)
    assert prof.attention == "sdpa" and "not a CUDA device" in prof.attention_note
    buckets = lean.kv_len_buckets(4097)
    for kv_len in (1, 100, 129, 1024, 1025, 4000, 4097):
        assert prof.bucket(kv_len, 4097) == lean._bucket(kv_len, buckets)


@pytest.mark.parametrize(
    ("slots", "decode_attn"), [(8, "auto"), (2, "auto"), (1, "auto"), (8, "flash"), (128, "flash")]
)
def test_prefill_call_has_the_engines_sequences(
    tiny: tuple[torch.nn.Module, object], slots: int, decode_attn: str
) -> None:
    """The profiler times a chunk among as many varlen sequences as the engine's call of a step with that one
    chunk (and 2 decodes) has: the thread blocks of empty sequences change where the chunk's ones run."""
    model, cfg = tiny
    runner = lean.LeanModelRunner(
        model,
        num_slots=slots,
        max_model_len=256,
        cuda_graphs=False,
        attention="varlen-reference",
        decode_attn=decode_attn,
        max_tokens=128 + slots,
    )
    for chunk in (5, 60, 100):
        decodes = min(2, slots - 1)
        tokens, _, chunk_seqs, entries = runner.step_key(chunk + decodes, False, 1, decodes)
        engine_seqs = runner._varlen_shape(tokens, False, chunk_seqs, entries)[0]
        assert lean.varlen_sequences_one_chunk(chunk, slots, runner.decode_split) == engine_seqs
    prof = attention_profiler(tiny, max_batch_size=128, max_seq_len=256)
    prof.decode_attn = "split-kv"  # as on a GPU whose split-KV kernel passes its self-test
    assert prof.prefill_sequences(510) == 3
    single = attention_profiler(tiny, max_batch_size=128, max_seq_len=256, prefill_call="single")
    assert single.prefill_sequences(510) == 1
    with pytest.raises(ValueError, match="prefill_call must be engine or single"):
        attention_profiler(tiny, max_batch_size=1, max_seq_len=64, prefill_call="other")


def test_chunk_call_tensors_put_the_chunk_first_and_the_rest_empty() -> None:
    assert chunk_call_tensors(510, 4094, 3) == ([0, 510, 510, 510], [0, 0, 0, 0], [4094, 0, 0])
    assert chunk_call_tensors(7, 7, 1) == ([0, 7], [0, 0], [7])
    with pytest.raises(ValueError, match="sequences must be >= 1"):
        chunk_call_tensors(7, 7, 0)
    # The reference kernel reads the chunk's keys and gives the empty sequences nothing: the chunk's output
    # equals a one-sequence call's.
    g = torch.Generator().manual_seed(0)
    q = torch.randn(7, 4, 8, generator=g)
    kc, vc = torch.randn(1, 16, 2, 8, generator=g), torch.randn(1, 16, 2, 8, generator=g)
    outs = []
    for seqs in (1, 3):
        cu_q, cu_k, used = (torch.tensor(v, dtype=torch.int32) for v in chunk_call_tensors(7, 12, seqs))
        outs.append(varlen_attention_cpu(q, kc, vc, cu_q, cu_k, used, 7, 16))
    torch.testing.assert_close(outs[0], outs[1])


def test_time_stats_reduction() -> None:
    samples = [3.0, 1.0, 2.0, 10.0]
    st = TimeStats.from_samples_ms(samples)
    assert (st.min, st.max, st.median) == (1.0, 10.0, 2.5)
    assert st.mean == pytest.approx(4.0)
    assert st.std == pytest.approx(statistics.pstdev(samples))
    with pytest.raises(ValueError):
        TimeStats.from_samples_ms([])


def test_timer_rotates_buffers_after_warmup() -> None:
    order: list[int] = []
    calls = [lambda i=i: order.append(i) for i in range(3)]
    st = OpTimer(torch.device("cpu"), warmup=2, repeats=5).measure(calls)
    assert order == [0, 1, 2, 0, 1, 2, 0]
    assert st.min >= 0 and st.min <= st.median <= st.max
    with pytest.raises(ValueError):
        OpTimer(torch.device("cpu"), warmup=0, repeats=0)

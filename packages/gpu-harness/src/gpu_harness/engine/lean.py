"""The `lean` engine: the HF model's own modules and weights, driven by our KV cache, attention and scheduler.

Per layer it calls the HF modules for norms, projections, q/k RMSNorm and MLP, applies RoPE itself from the
model's rotary table, writes K/V into a slot cache it owns and calls attention kernels directly
(attention.py).
All tokens of an iteration (decode rows and prefill chunks) go through the linear layers in one pass.

Attention backends (`attention=`):
- `flash-varlen` (CUDA, chosen by `auto` when torch's FlashAttention varlen op passes a self-test): the
  prefill chunks of an iteration in one varlen kernel call per layer over the slot cache, and its decode
  rows either in a split-KV Triton kernel (`decode_attn` `split-kv`, decode_kernel.py: `auto` when Triton is
  there and its self-test passes) or in the same varlen call (`flash`). Either way the WHOLE iteration,
  mixed or not, is one CUDA graph per padded token count (and chunk-count bucket); host work per step is
  filling a few index buffers.
- `sdpa` (any device; `auto` elsewhere): decode-only iterations run one fused step over slot-major rows
  (row i = cache slot i), captured on CUDA once per (slot bucket, KV-length bucket); mixed iterations run
  eagerly (one SDPA call per prefill chunk).
- `varlen-reference`: the flash-varlen data path with the kernels' plain-PyTorch twins
  (`varlen_attention_cpu`, `decode_attention_split_reference`), eager: what the CPU tests run.
Scheduling is scheduler.SarathiScheduler. It does not own HTTP, threads or logs (driver.py, serve/,
timeline.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch

from ..timeline import StepPhases, Timeline
from .attention import (
    VarlenSeq,
    decode_attention,
    decode_attention_rows,
    flash_varlen_attention,
    prefill_attention,
    save_kv,
    select_backend,
    varlen_attention_cpu,
    varlen_tensors,
)
from .base import Engine, EngineRequest
from .decode_kernel import (
    DEFAULT_BLOCK_N,
    DEFAULT_SPLIT,
    DEFAULT_WARPS,
    decode_attention_split,
    decode_attention_split_reference,
    select_decode_attention,
)
from .fused import FusedBlock, norm_params, rms_norm, signed_sin
from .fused_kernels import add_rms_norm, qk_norm_rope_save, select_fused_kernels, silu_mul
from .scheduler import SarathiScheduler, ScheduledBatch, Sequence

SLOT_BUCKETS = (1, 2, 4, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512)


def _bucket(value: int, buckets: list[int]) -> int:
    for b in buckets:
        if b >= value:
            return b
    return buckets[-1]


ATTENTION_BACKENDS = ("auto", "flash-varlen", "sdpa", "varlen-reference")

# One step's work: (slot, first position, token ids, sample a next token?). A decode is one sampled token.
StepItem = tuple[int, int, list[int], bool]


def token_buckets(max_tokens: int) -> list[int]:
    """Padded token counts mixed-step graphs are captured for: the slot buckets up to 512, then every 128
    up to 1024, every 256 after, and max_tokens itself (padding: < 16 tokens or <= 25%)."""
    out = [b for b in SLOT_BUCKETS if b < max_tokens]
    b = 640
    while b < max_tokens:
        if b > out[-1]:
            out.append(b)
        b += 128 if b < 1024 else 256
    out.append(max_tokens)
    return out


def chunk_seq_buckets(num_slots: int) -> list[int]:
    """Chunk-sequence counts a split-KV mixed step's varlen call is padded to (a graph each): 2, then
    num_slots."""
    return sorted({b for b in (2,) if b < num_slots} | {num_slots})


def varlen_sequences_one_chunk(chunk: int, num_slots: int, decode_split: bool) -> int:
    """Sequences of the varlen call of a mixed step whose one prefill chunk has `chunk` rows: with split-KV
    decode the chunk-sequence bucket plus one padding sequence (3 on a runner of more than 2 slots); else one
    per row of the padded step up to num_slots, plus one (decode rows share the call; exact for a chunk of up
    to 512 tokens, or any chunk on a runner of up to 512 slots). The kernel launches a thread block
    per (query block, sequence, head) whether a sequence has rows or not; past the GPU's SM count the chunk's
    blocks share SMs (on the H200 a 510-token chunk's attention then grows ~1.7x as fast with its prefix as in
    a one-sequence call: scripts/gpu/flash_ab.py)."""
    if decode_split:
        return _bucket(1, chunk_seq_buckets(num_slots)) + 1
    return min(_bucket(chunk, list(SLOT_BUCKETS)), num_slots) + 1


def kv_len_buckets(max_positions: int) -> list[int]:
    """Static KV widths decode graphs are captured for: 128, 256, 512, 1024, then every 1024, then the max."""
    out = [b for b in (128, 256, 512) if b < max_positions]
    b = 1024
    while b < max_positions:
        out.append(b)
        b += 1024
    out.append(max_positions)
    return out


def kv_bytes_per_token(config: Any, dtype: torch.dtype) -> int:
    """Bytes of K+V per token over all layers."""
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    elem = torch.empty((), dtype=dtype).element_size()
    return 2 * config.num_hidden_layers * config.num_key_value_heads * head_dim * elem


class LeanModelRunner:
    """Forward passes over the HF modules with an owned slot KV cache. Used by LeanEngine and bench-engine."""

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        num_slots: int,
        max_model_len: int,
        cuda_graphs: bool = True,
        attention: str = "auto",
        max_tokens: int | None = None,
        fused: bool = True,
        decode_attn: str = "auto",
        fused_kernels: str = "auto",
    ) -> None:
        if attention not in ATTENTION_BACKENDS:
            raise ValueError(f"attention must be one of {', '.join(ATTENTION_BACKENDS)}, got {attention!r}")
        cfg = model.config
        self.model = model
        self.config = cfg
        param = next(model.parameters())
        self.device = param.device
        self.dtype = param.dtype
        self.layers = list(model.model.layers)
        self.embed = model.model.embed_tokens
        self.norm = model.model.norm
        self.lm_head = model.lm_head
        self.num_q_heads = cfg.num_attention_heads
        self.num_kv_heads = cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        self.num_slots = num_slots
        self.max_model_len = max_model_len
        # One extra position per slot: the scratch row that idle graph rows write to.
        self.max_positions = max_model_len + 1
        self.scratch_pos = max_model_len
        shape = (len(self.layers), num_slots, self.max_positions, self.num_kv_heads, self.head_dim)
        self.k_cache = torch.zeros(shape, dtype=self.dtype, device=self.device)
        self.v_cache = torch.zeros(shape, dtype=self.dtype, device=self.device)
        with torch.inference_mode():
            pos = torch.arange(self.max_positions, device=self.device).unsqueeze(0)
            probe = torch.empty((), dtype=self.dtype, device=self.device)
            cos, sin = model.model.rotary_emb(probe, pos)
        self.cos = cos[0].contiguous()
        self.sin = sin[0].contiguous()
        # Fused per-layer compute (fused.py) when the layers have the Llama/Qwen shape, else the HF modules.
        self.blocks: list[FusedBlock] | None = None
        self.fused_note = "disabled"
        if fused:
            try:
                self.blocks = [
                    FusedBlock(layer, self.num_q_heads, self.num_kv_heads, self.head_dim)
                    for layer in self.layers
                ]
                self.final_norm = norm_params(self.norm, "model.norm")
                self.fused_note = (
                    "fused.FusedBlock (one qkv GEMM, one gate/up GEMM, rms_norm, joint q/k rope)"
                )
            except ValueError as err:
                self.blocks = None
                self.fused_note = f"HF modules ({err})"
        self.sin_signed = signed_sin(self.sin).contiguous()
        # The layer's elementwise work in three Triton kernels (fused_kernels.py): `auto` on CUDA where
        # Triton is there and the kernels match the PyTorch path; `triton` forces them (CPU: interpreter).
        self.fused_triton, self.fused_triton_note = select_fused_kernels(
            fused_kernels,
            None if self.blocks is None else self.blocks[0],
            self.device,
            self.head_dim,
            self.cos,
            self.sin_signed,
        )
        self.use_graphs = cuda_graphs and self.device.type == "cuda"
        self.slot_buckets = sorted({b for b in SLOT_BUCKETS if b < num_slots} | {num_slots})
        self.len_buckets = kv_len_buckets(self.max_positions)
        # The last step's in-band host-speed probe (seconds; _varlen_fill), None until a varlen step ran.
        self.host_probe_s: float | None = None
        self._graphs: dict[
            tuple[int, int], tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
        ] = {}
        self._pool: Any = None
        # Tokens one step may carry (the engine passes its token budget + batch cap: decodes are outside the
        # Sarathi budget); by default any step that fits the cache.
        self.max_tokens = max(max_tokens or max_model_len + num_slots, num_slots, 1)
        group = self.num_q_heads // self.num_kv_heads
        self.attention, self.attention_note = select_backend(
            attention, self.device, self.dtype, self.num_kv_heads, group, self.head_dim
        )
        # The varlen kernel: the CUDA one, or its plain-PyTorch twin for `varlen-reference` (same contract).
        self._kernel = flash_varlen_attention if self.attention == "flash-varlen" else varlen_attention_cpu
        self.mixed_buckets = token_buckets(self.max_tokens)
        self._varlen_graphs: dict[tuple[int, bool, int], tuple[Any, torch.Tensor]] = {}
        # Decode rows of varlen steps: the split-KV kernel (decode_kernel.py) or the varlen call itself.
        self.decode_attn, self.decode_attn_note = select_decode_attention(
            decode_attn, self.attention, self.device, self.dtype, self.num_kv_heads, group, self.head_dim
        )
        self.decode_split = self.decode_attn == "split-kv"
        self._decode_kernel = (
            decode_attention_split if self.attention == "flash-varlen" else decode_attention_split_reference
        )
        self.decode_tuning = {"split": DEFAULT_SPLIT, "block_n": DEFAULT_BLOCK_N, "num_warps": DEFAULT_WARPS}
        # So are a mixed step's chunk sequences and decode entries (every program of an unused entry or
        # sequence still costs a thread-block launch per head): graphs per (tokens, chunk, entry) bucket.
        self.chunk_seq_buckets = chunk_seq_buckets(num_slots)
        self.entry_buckets = sorted({b for b in (0, 16, 48) if b < num_slots} | {num_slots})
        if self.attention != "sdpa":
            # Static step inputs (graphs read them in place): ids, positions, slots, sampled rows (int64);
            # cu_q, cu_k, seqused_k (int32); split-KV decode rows, slots, key counts (int32). Step-sized views
            # are prefixes of each region.
            t, n = self.max_tokens, num_slots
            self._i64 = torch.zeros(3 * t + n, dtype=torch.int64, device=self.device)
            self._i32 = torch.zeros(3 * (n + 2), dtype=torch.int32, device=self.device)
            self._d32 = torch.zeros(3 * n, dtype=torch.int32, device=self.device)

    # -- shared pieces ------------------------------------------------------------------------------------
    def _rope(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        # Uses no instance state: the profiler times it as LeanModelRunner._rope(None, x, cos, sin).
        half = x.shape[-1] // 2
        rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
        return x * cos + rotated * sin

    def _rope_rows(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(cos, sin) rows for the HF-module path, (cos, signed sin) rows for the fused path."""
        sin = self.sin if self.blocks is None else self.sin_signed
        return self.cos[positions].unsqueeze(1), sin[positions].unsqueeze(1)

    def _qkv(
        self,
        layer: Any,
        x: torch.Tensor,
        positions: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # `rope`: the (cos, sin) rows of `positions`, when the caller gathered them already (once per step).
        # The profiler calls this with (layer, x, positions) to check its rope op against the engine.
        cos, sin = rope if rope is not None else self._rope_rows(positions)
        attn = layer.self_attn
        n = x.shape[0]
        q = attn.q_proj(x).view(n, self.num_q_heads, self.head_dim)
        k = attn.k_proj(x).view(n, self.num_kv_heads, self.head_dim)
        if getattr(attn, "q_norm", None) is not None:  # Qwen3's per-head norms
            q, k = attn.q_norm(q), attn.k_norm(k)
        v = attn.v_proj(x).view(n, self.num_kv_heads, self.head_dim)
        return self._rope(q, cos, sin), self._rope(k, cos, sin), v

    def _layers(
        self,
        h: torch.Tensor,
        positions: torch.Tensor,
        slots: torch.Tensor,
        attend: Callable[[int, torch.Tensor], torch.Tensor],
    ) -> torch.Tensor:
        if self.fused_triton:
            return self._layers_triton(h, positions, slots, attend)
        n = h.shape[0]
        # The rotary rows are gathered once per step, not once per layer (fewer kernels per step).
        rope = self._rope_rows(positions)
        for i, layer in enumerate(self.layers):
            residual = h
            if self.blocks is not None:
                b = self.blocks[i]
                q, k, v = b.qk_norm_rope(b.qkv(b.input_norm(h)), *rope)
            else:
                q, k, v = self._qkv(layer, layer.input_layernorm(h), positions, rope)
            save_kv(self.k_cache[i], self.v_cache[i], k, v, slots, positions)
            out = attend(i, q)
            h = residual + layer.self_attn.o_proj(out.reshape(n, self.num_q_heads * self.head_dim))
            residual = h
            if self.blocks is not None:
                h = residual + b.mlp(b.post_norm(h))
            else:
                h = residual + layer.mlp(layer.post_attention_layernorm(h))
        return h

    def _layers_triton(
        self,
        h: torch.Tensor,
        positions: torch.Tensor,
        slots: torch.Tensor,
        attend: Callable[[int, torch.Tensor], torch.Tensor],
    ) -> torch.Tensor:
        """`_layers` with fused_kernels: each residual add is fused with the next RMSNorm, q/k norm + RoPE
        + the K/V cache write are one kernel, silu * up one kernel (same rounding points as HF)."""
        assert self.blocks is not None
        n = h.shape[0]
        pending: torch.Tensor | None = None  # the MLP output still to be added to the residual stream
        for i, layer in enumerate(self.layers):
            b = self.blocks[i]
            h, x = add_rms_norm(h, pending, b.in_w, b.in_eps)
            q = qk_norm_rope_save(
                b.qkv(x),
                b.qk_norm_w,
                b.qk_norm_eps or 0.0,
                self.cos,
                self.sin_signed,
                positions,
                slots,
                self.k_cache[i],
                self.v_cache[i],
                self.num_q_heads,
                self.num_kv_heads,
            )
            out = attend(i, q)
            attn = layer.self_attn.o_proj(out.reshape(n, self.num_q_heads * self.head_dim))
            h, x = add_rms_norm(h, attn, b.post_w, b.post_eps)
            pending = b.down_proj(silu_mul(b.gate_up(x)))
        return h if pending is None else h + pending

    def _logits_argmax(self, h: torch.Tensor) -> torch.Tensor:
        x = self.norm(h) if self.blocks is None else rms_norm(h, *self.final_norm)
        return torch.argmax(self.lm_head(x), dim=-1)

    # -- decode-only step (slot-major, graph-capturable) ----------------------------------------------------
    def _decode_slot_major(
        self, ids: torch.Tensor, positions: torch.Tensor, kv_lens: torch.Tensor, kv_bucket: int
    ) -> torch.Tensor:
        s = ids.shape[0]
        slots = torch.arange(s, device=ids.device)

        def attend(i: int, q: torch.Tensor) -> torch.Tensor:
            return decode_attention(q, self.k_cache[i], self.v_cache[i], kv_lens, kv_bucket)

        h = self._layers(self.embed(ids), positions, slots, attend)
        return self._logits_argmax(h)

    def _capture(self, body: Callable[[], torch.Tensor]) -> tuple[Any, torch.Tensor]:
        """Capture `body` (static inputs already in place) as a CUDA graph in the runner's shared pool, after
        two warm-up runs on a side stream; returns the graph and its output tensor (rewritten by replays)."""
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side), torch.inference_mode():
            for _ in range(2):
                body()
        torch.cuda.current_stream().wait_stream(side)
        if self._pool is None:
            self._pool = torch.cuda.graph_pool_handle()
        graph = torch.cuda.CUDAGraph()
        with torch.inference_mode(), torch.cuda.graph(graph, pool=self._pool):
            out = body()
        return graph, out

    def _graph_for(
        self, s: int, kv_bucket: int
    ) -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        key = (s, kv_bucket)
        found = self._graphs.get(key)
        if found is not None:
            return found
        ids = torch.zeros(s, dtype=torch.int64, device=self.device)
        pos = torch.full((s,), self.scratch_pos, dtype=torch.int64, device=self.device)
        lens = torch.ones(s, dtype=torch.int64, device=self.device)
        graph, out = self._capture(lambda: self._decode_slot_major(ids, pos, lens, kv_bucket))
        entry = (graph, ids, pos, lens, out)
        self._graphs[key] = entry
        return entry

    def decode(self, slots: list[int], token_ids: list[int], kv_lens: list[int]) -> torch.Tensor:
        """One decode token per (slot, last token id, KV length incl. it); returns next ids (device)."""
        s = _bucket(max(slots) + 1, self.slot_buckets)
        kv_bucket = _bucket(max(kv_lens), self.len_buckets)
        ids = [0] * s
        pos = [self.scratch_pos] * s
        lens = [1] * s
        for slot, tok, n in zip(slots, token_ids, kv_lens, strict=True):
            ids[slot], pos[slot], lens[slot] = tok, n - 1, n
        ids_t = torch.tensor(ids, dtype=torch.int64)
        pos_t = torch.tensor(pos, dtype=torch.int64)
        lens_t = torch.tensor(lens, dtype=torch.int64)
        index = torch.tensor(slots, dtype=torch.int64, device=self.device)
        if self.use_graphs:
            graph, g_ids, g_pos, g_lens, g_out = self._graph_for(s, kv_bucket)
            g_ids.copy_(ids_t, non_blocking=True)
            g_pos.copy_(pos_t, non_blocking=True)
            g_lens.copy_(lens_t, non_blocking=True)
            graph.replay()
            with torch.inference_mode():
                return g_out[index]
        with torch.inference_mode():
            out = self._decode_slot_major(
                ids_t.to(self.device), pos_t.to(self.device), lens_t.to(self.device), kv_bucket
            )
        return out[index]

    # -- mixed step (eager) ---------------------------------------------------------------------------------
    def mixed(
        self, decodes: list[tuple[int, int, int]], chunks: list[tuple[int, int, list[int], bool]]
    ) -> torch.Tensor:
        """Decode rows (slot, token id, KV length incl. it) then prefill chunks (slot, start, token ids,
        sample?) in one pass. Returns next ids (device) for every decode row, then for each sampled chunk."""
        ids: list[int] = []
        pos: list[int] = []
        slot_of: list[int] = []
        sample_rows: list[int] = []
        for slot, tok, n in decodes:
            sample_rows.append(len(ids))
            ids.append(tok)
            pos.append(n - 1)
            slot_of.append(slot)
        spans: list[tuple[int, int, int, int]] = []
        for slot, start, toks, sample in chunks:
            off = len(ids)
            ids.extend(toks)
            pos.extend(range(start, start + len(toks)))
            slot_of.extend([slot] * len(toks))
            spans.append((off, len(toks), slot, start))
            if sample:
                sample_rows.append(len(ids) - 1)
        dev = self.device
        ids_t = torch.tensor(ids, dtype=torch.int64, device=dev)
        pos_t = torch.tensor(pos, dtype=torch.int64, device=dev)
        slots_t = torch.tensor(slot_of, dtype=torch.int64, device=dev)
        nd = len(decodes)
        dec_slots = slots_t[:nd]
        dec_lens = torch.tensor([n for _, _, n in decodes], dtype=torch.int64, device=dev)
        dec_num_slots = max(d[0] for d in decodes) + 1 if decodes else 0
        dec_kv_bucket = max(d[2] for d in decodes) if decodes else 0

        def attend(i: int, q: torch.Tensor) -> torch.Tensor:
            parts = []
            if nd:
                parts.append(
                    decode_attention_rows(
                        q[:nd],
                        self.k_cache[i],
                        self.v_cache[i],
                        dec_slots,
                        dec_lens,
                        dec_num_slots,
                        dec_kv_bucket,
                    )
                )
            for off, t, slot, start in spans:
                parts.append(
                    prefill_attention(q[off : off + t], self.k_cache[i], self.v_cache[i], slot, start)
                )
            return parts[0] if len(parts) == 1 else torch.cat(parts, dim=0)

        with torch.inference_mode():
            h = self._layers(self.embed(ids_t), pos_t, slots_t, attend)
            return self._logits_argmax(h[torch.tensor(sample_rows, dtype=torch.int64, device=dev)])

    def describe(self) -> dict[str, Any]:
        """The attention and graph set-up, for the server's knobs and bench/profile manifests."""
        out: dict[str, Any] = {
            "attention_backend": self.attention,
            "attention_backend_reason": self.attention_note,
            "kv_cache_layout": "slot: [slots, positions, kv_heads, head_dim] per layer",
            "cuda_graphs": self.use_graphs,
            "max_tokens_per_step": self.max_tokens,
            "layer_compute": self.fused_note,
            "elementwise_kernels": self.fused_triton_note,
        }
        if self.attention == "sdpa":
            out["attention_impl"] = "sdpa on a slot KV cache (masked slot-major decode, per-chunk prefill)"
            out["graphed_steps"] = "decode-only" if self.use_graphs else "none"
            out["decode_graph_slot_buckets"] = self.slot_buckets
            out["decode_graph_kv_buckets"] = self.len_buckets
        else:
            out["attention_impl"] = (
                "aten._flash_attention_forward varlen (cu_seqlens + seqused_k) over the slot cache"
                if self.attention == "flash-varlen"
                else "attention.varlen_attention_cpu: the same varlen contract in plain PyTorch, eager"
            )
            out["graphed_steps"] = "all" if self.use_graphs and self.attention == "flash-varlen" else "none"
            # The in-band host probe's list (_varlen_fill): its length sets the probe's time, so levels
            # compare only between servers with the same length.
            out["host_probe_ints"] = self._i64.numel()
            out["decode_attention"] = self.decode_attn
            out["decode_attention_reason"] = self.decode_attn_note
            out["decode_attention_impl"] = (
                (
                    "decode_kernel.decode_attention_split (Triton split-KV, "
                    + ", ".join(f"{k} {v}" for k, v in self.decode_tuning.items())
                    + ")"
                    if self.attention == "flash-varlen"
                    else "decode_kernel.decode_attention_split_reference (its contract in plain PyTorch)"
                )
                if self.decode_split
                else "the varlen call (one-row sequences)"
            )
            out["mixed_step_attention"] = (
                "varlen call over the chunks, then split-KV decode rows" if self.decode_split else "one call"
            )
            out["decode_graph_token_buckets"] = self.slot_buckets
            out["mixed_graph_token_buckets"] = self.mixed_buckets
        return out

    # -- one step, any backend ------------------------------------------------------------------------------
    def forward(self, items: list[StepItem]) -> torch.Tensor:
        """Run one iteration; returns the next token id (device) of every sampled item, in item order.

        items: (slot, first position, token ids, sample?) with every earlier position of the slot already
        in the cache; a decode is (slot, n - 1, [last token], True). At most one item per slot.
        """
        if self.attention == "sdpa":
            return self._forward_sdpa(items)
        return self._forward_varlen(items)

    def _forward_sdpa(self, items: list[StepItem]) -> torch.Tensor:
        decode_items = [j for j, it in enumerate(items) if it[3] and len(it[2]) == 1]
        decodes = [(items[j][0], items[j][2][0], items[j][1] + 1) for j in decode_items]
        chunk_items = [j for j, it in enumerate(items) if not (it[3] and len(it[2]) == 1)]
        if not chunk_items:
            return self.decode([d[0] for d in decodes], [d[1] for d in decodes], [d[2] for d in decodes])
        out = self.mixed(decodes, [items[j] for j in chunk_items])
        # mixed() answers decodes first, then sampled chunks: put the rows back in item order.
        row_item = decode_items + [j for j in chunk_items if items[j][3]]
        order = sorted(range(len(row_item)), key=row_item.__getitem__)
        if order == list(range(len(order))):
            return out
        return out[torch.tensor(order, dtype=torch.int64, device=out.device)]

    # -- varlen steps (flash-varlen / varlen-reference) ---------------------------------------------------
    # Row layout of a step: prefill chunks first (by slot), then decode rows (by slot), then padding up to
    # the token bucket. With split-KV decode the varlen call sees only the chunks (plus one key-less
    # sequence over the remaining rows) and `decode_attention_split` then writes the decode rows' answers
    # into its output; with `flash` decode one varlen call covers everything (decode rows as one-row
    # sequences; decode-only steps with max_q = 1, where the kernel packs a KV head's query heads).
    def _varlen_shape(
        self, tokens: int, decode_only: bool, chunk_seqs: int, entries: int
    ) -> tuple[int, int, int, int]:
        """(varlen sequences incl. padding, max query rows per sequence, sampled rows, split-KV decode
        entries) of a padded step; `chunk_seqs`, `entries`: the chunk-sequence and decode-entry buckets of
        a split-KV mixed step."""
        rows = min(tokens, self.num_slots)
        if self.decode_split:
            if decode_only:  # no varlen call at all
                return 0, 1, tokens, tokens
            return chunk_seqs + 1, max(tokens, 2), rows, entries
        if decode_only:  # one sequence per row, padding rows included (see varlen_tensors one_row_each)
            return tokens, 1, tokens, 0
        # max_q >= 2: with max_q == 1 the kernel packs query heads and needs rows == sequences.
        return rows + 1, max(tokens, 2), rows, 0

    def _varlen_views(self, tokens: int, num_seqs: int, n_out: int, entries: int) -> tuple[torch.Tensor, ...]:
        t, n = self.max_tokens, self.num_slots
        i64, i32, d32 = self._i64, self._i32, self._d32
        return (
            i64[:tokens],
            i64[t : t + tokens],
            i64[2 * t : 2 * t + tokens],
            i64[3 * t : 3 * t + n_out],
            i32[: num_seqs + 1],
            i32[n + 2 : n + 2 + num_seqs + 1],
            i32[2 * (n + 2) : 2 * (n + 2) + num_seqs],
            d32[:entries],
            d32[n : n + entries],
            d32[2 * n : 2 * n + entries],
        )

    def _varlen_fill(
        self,
        ids: list[int],
        pos: list[int],
        slot_of: list[int],
        sample: list[int],
        seqs: list[VarlenSeq],
        decodes: list[tuple[int, int, int]],
        shape: tuple[int, int, int],
        one_row_each: bool,
    ) -> None:
        """Copy one step's host lists into the static buffers. seqs: the varlen call's sequences (chunks
        only with split-KV decode); decodes: (row, slot, keys) of the split-KV entries; shape: (tokens,
        varlen sequences, split-KV entries); one_row_each: a decode-only step in one varlen call."""
        t, n = self.max_tokens, self.num_slots
        tokens, num_seqs, entries = shape
        pad = t - len(ids)
        host64 = ids + [0] * pad + pos + [self.scratch_pos] * pad + slot_of + [0] * pad
        host64 += sample + [0] * (n - len(sample))
        t0 = time.perf_counter()
        host = torch.tensor(host64, dtype=torch.int64)  # 3 x max_tokens + slots ints, whatever the step
        self.host_probe_s = time.perf_counter() - t0
        self._i64.copy_(host, non_blocking=True)
        if num_seqs:
            cu_q, cu_k, used = varlen_tensors(
                seqs, num_seqs, self.max_positions, tokens, one_row_each=one_row_each
            )
            host32 = cu_q + [0] * (n + 2 - len(cu_q)) + cu_k + [0] * (n + 2 - len(cu_k))
            host32 += used + [0] * (n + 2 - len(used))
            self._i32.copy_(torch.tensor(host32, dtype=torch.int32), non_blocking=True)
        if entries:
            # Decode-only steps: each entry is its row (padding gets zeros); mixed: padding writes nothing.
            fill_row = (lambda e: e) if num_seqs == 0 else (lambda e: -1)
            rows = [r for r, _s, _k in decodes] + [fill_row(e) for e in range(len(decodes), entries)]
            slots = [s for _r, s, _k in decodes] + [0] * (entries - len(decodes))
            lens = [k for _r, _s, k in decodes] + [0] * (entries - len(decodes))
            host = rows + [0] * (n - entries) + slots + [0] * (n - entries) + lens + [0] * (n - entries)
            self._d32.copy_(torch.tensor(host, dtype=torch.int32), non_blocking=True)

    def _varlen_body(self, tokens: int, num_seqs: int, max_q: int, n_out: int, entries: int) -> torch.Tensor:
        ids, pos, slots, sample, cu_q, cu_k, used, d_rows, d_slots, d_lens = self._varlen_views(
            tokens, num_seqs, n_out, entries
        )

        def attend(i: int, q: torch.Tensor) -> torch.Tensor:
            kc, vc = self.k_cache[i], self.v_cache[i]
            if num_seqs:
                out = self._kernel(q, kc, vc, cu_q, cu_k, used, max_q, self.max_positions)
            else:
                out = torch.empty_like(q)
            if entries:
                self._decode_kernel(q, kc, vc, d_rows, d_slots, d_lens, out, **self.decode_tuning)
            return out

        h = self._layers(self.embed(ids), pos, slots, attend)
        return self._logits_argmax(h[sample])

    def _varlen_graph(
        self, tokens: int, decode_only: bool, chunk_seqs: int, entries: int
    ) -> tuple[Any, torch.Tensor]:
        key = (tokens, decode_only, chunk_seqs, entries)
        found = self._varlen_graphs.get(key)
        if found is not None:
            return found
        num_seqs, max_q, n_out, entries = self._varlen_shape(tokens, decode_only, chunk_seqs, entries)
        each = decode_only and not self.decode_split
        self._varlen_fill([], [], [], [], [], [], (tokens, num_seqs, entries), each)  # an all-padding step
        graph, out = self._capture(lambda: self._varlen_body(tokens, num_seqs, max_q, n_out, entries))
        self._varlen_graphs[key] = (graph, out)
        return graph, out

    def _forward_varlen(self, items: list[StepItem]) -> torch.Tensor:
        ids: list[int] = []
        pos: list[int] = []
        slot_of: list[int] = []
        seqs: list[VarlenSeq] = []
        decodes: list[tuple[int, int, int]] = []
        sample_row: dict[int, int] = {}
        one_row = [len(it[2]) == 1 and it[3] for it in items]
        # Chunks first, then decode rows, each by slot (see the layout note above).
        for j in sorted(range(len(items)), key=lambda j: (one_row[j], items[j][0])):
            slot, start, toks, sample = items[j]
            if self.decode_split and one_row[j]:
                decodes.append((len(ids), slot, start + 1))
            else:
                seqs.append((len(ids), len(toks), slot, start + len(toks)))
            ids.extend(toks)
            pos.extend(range(start, start + len(toks)))
            slot_of.extend([slot] * len(toks))
            if sample:
                sample_row[j] = len(ids) - 1
        sample = [sample_row[j] for j in range(len(items)) if j in sample_row]
        if len(ids) > self.max_tokens:
            raise ValueError(f"step of {len(ids)} tokens exceeds max_tokens={self.max_tokens}")
        decode_only = all(one_row)
        tokens, _, chunk_seqs, entry_bucket = self.step_key(len(ids), decode_only, len(seqs), len(decodes))
        num_seqs, max_q, n_out, entries = self._varlen_shape(tokens, decode_only, chunk_seqs, entry_bucket)
        graphed = self.use_graphs and self.attention == "flash-varlen"
        # The graph first: a capture (a step shape capture_all did not foresee) fills the buffers itself.
        graph, out = (
            self._varlen_graph(tokens, decode_only, chunk_seqs, entry_bucket) if graphed else (None, None)
        )
        each = decode_only and not self.decode_split
        self._varlen_fill(ids, pos, slot_of, sample, seqs, decodes, (tokens, num_seqs, entries), each)
        if graph is not None:
            graph.replay()
        else:
            with torch.inference_mode():
                out = self._varlen_body(tokens, num_seqs, max_q, n_out, entries)
        with torch.inference_mode():
            return out[: len(sample)].clone()  # the graph's output buffer is rewritten by the next replay

    def step_key(
        self, n_tokens: int, decode_only: bool, n_chunks: int, n_decodes: int
    ) -> tuple[int, bool, int, int]:
        """The graph key of a varlen step: (token bucket, decode-only, chunk-sequence bucket, decode-entry
        bucket); the last two are 0 unless split-KV decode runs a mixed step. n_chunks / n_decodes: the
        step's varlen sequences / split-KV decode rows."""
        if decode_only:
            return _bucket(n_tokens, self.slot_buckets), True, 0, 0
        tokens = _bucket(n_tokens, self.mixed_buckets)
        if not self.decode_split:
            return tokens, False, 0, 0
        return (
            tokens,
            False,
            _bucket(n_chunks, self.chunk_seq_buckets),
            _bucket(n_decodes, self.entry_buckets),
        )

    def graph_keys(self, max_slots: int | None = None) -> list[tuple[int, bool, int, int]]:
        """Every key `step_key` can give (decode-only steps up to max_slots rows), largest first."""
        keys = [(t, True, 0, 0) for t in self.slot_buckets if max_slots is None or t <= max_slots]

        # A mixed step has at least one chunk row: at most tokens - 1 decodes and tokens chunk sequences.
        def reachable(buckets: list[int], most: int) -> list[int]:
            return [b for i, b in enumerate(buckets) if i == 0 or buckets[i - 1] < most]

        for t in self.mixed_buckets:
            if not self.decode_split:
                keys.append((t, False, 0, 0))
                continue
            for c in reachable(self.chunk_seq_buckets, t):
                keys += [(t, False, c, e) for e in reachable(self.entry_buckets, t - 1)]
        return sorted(keys, reverse=True)

    def capture_all(self, max_slots: int | None = None) -> int:
        """Capture every graph bucket up front (CUDA only); returns the number captured."""
        if not self.use_graphs:
            return 0
        if self.attention == "flash-varlen":
            for key in self.graph_keys(max_slots):
                self._varlen_graph(*key)
            torch.cuda.synchronize()
            return len(self._varlen_graphs)
        if self.attention != "sdpa":
            return 0
        for s in sorted(self.slot_buckets, reverse=True):
            if max_slots is not None and s > max_slots:
                continue
            for kv in sorted(self.len_buckets, reverse=True):
                self._graph_for(s, kv)
        torch.cuda.synchronize()
        return len(self._graphs)


class LeanEngine(Engine):
    """Sarathi-scheduled engine over LeanModelRunner; reports tokens and iterations to a Timeline."""

    name = "lean"
    supports_on_launch = True

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        timeline: Timeline,
        chunk_size: int = 512,
        batch_size_cap: int = 128,
        block_size: int = 16,
        num_blocks: int | None = None,
        max_model_len: int = 4096,
        watermark_blocks_fraction: float = 0.01,
        cuda_graphs: bool = True,
        eos_token_id: int | list[int] | None = None,
        attention: str = "auto",
        decode_attn: str = "auto",
    ) -> None:
        self.timeline = timeline
        self.runner = LeanModelRunner(
            model,
            num_slots=batch_size_cap,
            max_model_len=max_model_len,
            cuda_graphs=cuda_graphs,
            attention=attention,
            max_tokens=chunk_size + batch_size_cap,
            decode_attn=decode_attn,
        )
        physical_blocks = batch_size_cap * math.ceil(max_model_len / block_size)
        self.num_blocks = physical_blocks if num_blocks is None else num_blocks
        self.scheduler = SarathiScheduler(
            chunk_size=chunk_size,
            batch_size_cap=batch_size_cap,
            block_size=block_size,
            num_blocks=self.num_blocks,
            watermark_blocks_fraction=watermark_blocks_fraction,
        )
        self.watermark_blocks_fraction = watermark_blocks_fraction
        eos = eos_token_id if eos_token_id is not None else getattr(model.config, "eos_token_id", None)
        self.eos_ids = set(eos if isinstance(eos, list) else ([] if eos is None else [eos]))
        self._reqs: dict[int, tuple[Sequence, EngineRequest]] = {}
        self._next_id = 0
        self._events = (
            (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
            if self.runner.device.type == "cuda"
            else None
        )

    def max_context(self) -> int:
        # One block of slack: a lone request that filled every block would preempt itself forever under
        # the "a running request needs one free block" rule.
        usable_blocks = self.num_blocks - self.scheduler.watermark_blocks - 1
        return max(0, min(self.runner.max_model_len, usable_blocks * self.scheduler.block_size))

    def knobs(self) -> dict[str, Any]:
        s = self.scheduler
        return {
            "engine": self.name,
            "scheduler_policy": "sarathi",
            "token_budget": s.chunk_size,
            "batch_size_cap": s.batch_size_cap,
            "block_size": s.block_size,
            "num_blocks": s.num_blocks,
            "kv_capacity_tokens": s.num_blocks * s.block_size,
            "watermark_blocks_fraction": self.watermark_blocks_fraction,
            "max_model_len": self.runner.max_model_len,
            **self.runner.describe(),
            "preemption": "recompute newest running request",
        }

    def counters(self) -> dict[str, int]:
        s = self.scheduler
        return {
            "preemptions": s.num_preemptions,
            "recomputed_prefill_tokens": s.recomputed_tokens,
            "preempted_in_prefill": s.preempted_in_prefill,
            "kv_blocks_in_use": s.num_allocated,
            "waiting": len(s.waiting),
            "running": len(s.running),
        }

    def add_request(self, req: EngineRequest) -> int:
        handle = self._next_id
        self._next_id += 1
        seq = Sequence(
            seq_id=handle,
            arrival=handle,
            prompt_len=len(req.prompt_token_ids),
            max_tokens=req.max_tokens,
            tokens=list(req.prompt_token_ids),
        )
        self._reqs[handle] = (seq, req)
        self.scheduler.add(seq)
        return handle

    def cancel(self, handle: int) -> bool:
        entry = self._reqs.pop(handle, None)
        if entry is None:
            return False
        self.scheduler.remove(handle)
        entry[0].finished = True
        entry[1].on_finish("cancelled", None)
        return True

    def has_work(self) -> bool:
        return self.scheduler.has_work()

    def kv_tokens_in_use(self) -> int:
        return sum(
            seq.num_computed for seq, _ in self._reqs.values() if seq.seq_id in self.scheduler.allocated
        )

    def step(self) -> bool:
        start = self.timeline.now()
        batch = self.scheduler.schedule()
        if not batch.items:
            return False
        scheduled = self.timeline.now()
        n_prefill = batch.num_prefill_tokens
        n_decode = batch.num_decode_tokens
        if self._events is not None:
            self._events[0].record()
        self.runner.host_probe_s = None
        next_ids = self._run(batch)
        if self._events is not None:
            self._events[1].record()
        launched = self.timeline.now()
        if self.on_launch is not None:
            self.on_launch()  # counted in the wait phase: the device runs the step meanwhile
        ids = next_ids.tolist()  # the one host sync of the step (none when nothing is sampled: empty)
        gpu_time = None
        if self._events is not None:
            self._events[1].synchronize()  # a step that samples nothing has not synced yet
            gpu_time = self._events[0].elapsed_time(self._events[1]) / 1000.0
        t = self.timeline.now()
        self._advance(batch, ids, t)
        self.scheduler.finish_batch(batch)
        end = self.timeline.now()
        self.timeline.record_iteration(
            start=start,
            end=end,
            phases=StepPhases(scheduled - start, launched - scheduled, t - launched, end - t),
            gpu_time=gpu_time,
            num_prefill_tokens=n_prefill,
            num_decode_tokens=n_decode,
            batch_size=len(batch.items),
            kv_tokens_in_use=self.kv_tokens_in_use(),
            host_probe=self.runner.host_probe_s,
        )
        return True

    def _run(self, batch: ScheduledBatch) -> torch.Tensor:
        items: list[StepItem] = []
        for seq, n in batch.items:
            assert seq.slot is not None
            if seq.prefill_done:
                items.append((seq.slot, len(seq.tokens) - 1, [seq.tokens[-1]], True))
            else:
                start = seq.num_computed
                items.append(
                    (seq.slot, start, seq.tokens[start : start + n], start + n >= seq.prefill_target)
                )
        return self.runner.forward(items)

    def _advance(self, batch: ScheduledBatch, ids: list[int], t: float) -> None:
        k = 0
        for seq, n in batch.items:
            if seq.prefill_done:
                seq.num_computed += 1
                sampled = True
            else:
                seq.num_computed += n
                sampled = seq.num_computed >= seq.prefill_target
            if not sampled:
                continue
            token = ids[k]
            k += 1
            entry = self._reqs.get(seq.seq_id)
            if entry is None:
                continue
            req = entry[1]
            seq.tokens.append(token)
            index = seq.num_output
            seq.num_output += 1
            self.timeline.record_token(req.request_id, index, t)
            req.on_token(index, token, t)
            reason = None
            if seq.num_output >= seq.max_tokens:
                reason = "length"
            elif not req.ignore_eos and token in self.eos_ids:
                reason = "stop"
            if reason is not None:
                seq.finished = True
                del self._reqs[seq.seq_id]
                req.on_finish(reason, None)

    def probe(self, repeats: int) -> dict[str, Any] | None:
        from .probe import run_probe

        return run_probe(self.runner, budget=self.scheduler.chunk_size, repeats=repeats)

    def warmup(self) -> None:
        if self.runner.use_graphs:
            self.runner.capture_all()
        # One prefill per power-of-two chunk up to the budget, into slot 0 (overwritten before reads): first
        # calls of eager kernels (sdpa) or of each captured graph (flash-varlen) stay out of served steps.
        n = 16
        while True:
            size = min(n, self.scheduler.chunk_size, self.runner.max_model_len)
            self.runner.forward([(0, 0, [0] * size, True)])
            if size >= min(self.scheduler.chunk_size, self.runner.max_model_len):
                break
            n *= 2
        if self.runner.device.type == "cuda":
            torch.cuda.synchronize()

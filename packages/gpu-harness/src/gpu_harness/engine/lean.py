"""The `lean` engine: the HF model's own modules and weights, driven by our KV cache, attention and scheduler.

Per layer it calls the HF modules for norms, projections, q/k RMSNorm and MLP, applies RoPE itself from the
model's rotary table, writes K/V into a slot cache it owns and calls SDPA directly (attention.py). Decode-only
iterations run one fused step over slot-major rows (row i = cache slot i), which on CUDA is captured once per
(slot bucket, KV-length bucket) as a CUDA graph and replayed; mixed prefill+decode iterations run eagerly with
all tokens of the batch in one pass through the linear layers. Scheduling is scheduler.SarathiScheduler.
It does not own HTTP, threads or logs (driver.py, serve/, timeline.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from ..timeline import Timeline
from .attention import decode_attention, decode_attention_rows, prefill_attention, save_kv
from .base import Engine, EngineRequest
from .scheduler import SarathiScheduler, ScheduledBatch, Sequence

SLOT_BUCKETS = (1, 2, 4, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512)


def _bucket(value: int, buckets: list[int]) -> int:
    for b in buckets:
        if b >= value:
            return b
    return buckets[-1]


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
        self, model: torch.nn.Module, *, num_slots: int, max_model_len: int, cuda_graphs: bool = True
    ) -> None:
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
        shape = (len(self.layers), num_slots, self.num_kv_heads, self.max_positions, self.head_dim)
        self.k_cache = torch.zeros(shape, dtype=self.dtype, device=self.device)
        self.v_cache = torch.zeros(shape, dtype=self.dtype, device=self.device)
        with torch.inference_mode():
            pos = torch.arange(self.max_positions, device=self.device).unsqueeze(0)
            probe = torch.empty((), dtype=self.dtype, device=self.device)
            cos, sin = model.model.rotary_emb(probe, pos)
        self.cos = cos[0].contiguous()
        self.sin = sin[0].contiguous()
        self.use_graphs = cuda_graphs and self.device.type == "cuda"
        self.slot_buckets = sorted({b for b in SLOT_BUCKETS if b < num_slots} | {num_slots})
        self.len_buckets = kv_len_buckets(self.max_positions)
        self._graphs: dict[
            tuple[int, int], tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
        ] = {}
        self._pool: Any = None

    # -- shared pieces ------------------------------------------------------------------------------------
    def _rope(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        # Uses no instance state: the profiler times it as LeanModelRunner._rope(None, x, cos, sin).
        half = x.shape[-1] // 2
        rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
        return x * cos + rotated * sin

    def _rope_rows(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cos[positions].unsqueeze(1), self.sin[positions].unsqueeze(1)

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
        q = attn.q_norm(attn.q_proj(x).view(n, self.num_q_heads, self.head_dim))
        k = attn.k_norm(attn.k_proj(x).view(n, self.num_kv_heads, self.head_dim))
        v = attn.v_proj(x).view(n, self.num_kv_heads, self.head_dim)
        return self._rope(q, cos, sin), self._rope(k, cos, sin), v

    def _layers(
        self,
        h: torch.Tensor,
        positions: torch.Tensor,
        slots: torch.Tensor,
        attend: Callable[[int, torch.Tensor], torch.Tensor],
    ) -> torch.Tensor:
        n = h.shape[0]
        # The rotary rows are gathered once per step, not once per layer (fewer kernels per step).
        rope = self._rope_rows(positions)
        for i, layer in enumerate(self.layers):
            residual = h
            x = layer.input_layernorm(h)
            q, k, v = self._qkv(layer, x, positions, rope)
            save_kv(self.k_cache[i], self.v_cache[i], k, v, slots, positions)
            out = attend(i, q)
            h = residual + layer.self_attn.o_proj(out.reshape(n, self.num_q_heads * self.head_dim))
            residual = h
            h = residual + layer.mlp(layer.post_attention_layernorm(h))
        return h

    def _logits_argmax(self, h: torch.Tensor) -> torch.Tensor:
        return torch.argmax(self.lm_head(self.norm(h)), dim=-1)

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
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side), torch.inference_mode():
            for _ in range(2):
                self._decode_slot_major(ids, pos, lens, kv_bucket)
        torch.cuda.current_stream().wait_stream(side)
        if self._pool is None:
            self._pool = torch.cuda.graph_pool_handle()
        graph = torch.cuda.CUDAGraph()
        with torch.inference_mode(), torch.cuda.graph(graph, pool=self._pool):
            out = self._decode_slot_major(ids, pos, lens, kv_bucket)
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

    def capture_all(self, max_slots: int | None = None) -> int:
        """Capture every decode graph bucket up front (CUDA only); returns the number captured."""
        if not self.use_graphs:
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
    ) -> None:
        self.timeline = timeline
        self.runner = LeanModelRunner(
            model, num_slots=batch_size_cap, max_model_len=max_model_len, cuda_graphs=cuda_graphs
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
            "attention_impl": "sdpa(enable_gqa) on a slot KV cache",
            "kv_cache_layout": "slot",
            "cuda_graphs": self.runner.use_graphs,
            "decode_graph_slot_buckets": self.runner.slot_buckets,
            "decode_graph_kv_buckets": self.runner.len_buckets,
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
        n_prefill = batch.num_prefill_tokens
        n_decode = batch.num_decode_tokens
        if self._events is not None:
            self._events[0].record()
        next_ids = self._run(batch)
        if self._events is not None:
            self._events[1].record()
        ids = next_ids.tolist()  # the one host sync of the step
        t = self.timeline.now()
        gpu_time = None
        if self._events is not None:
            gpu_time = self._events[0].elapsed_time(self._events[1]) / 1000.0
        self._advance(batch, ids, t)
        self.scheduler.finish_batch(batch)
        self.timeline.record_iteration(
            start=start,
            end=self.timeline.now(),
            gpu_time=gpu_time,
            num_prefill_tokens=n_prefill,
            num_decode_tokens=n_decode,
            batch_size=len(batch.items),
            kv_tokens_in_use=self.kv_tokens_in_use(),
        )
        return True

    def _run(self, batch: ScheduledBatch) -> torch.Tensor:
        decodes: list[tuple[int, int, int]] = []
        chunks: list[tuple[int, int, list[int], bool]] = []
        for seq, n in batch.items:
            assert seq.slot is not None
            if seq.prefill_done:
                decodes.append((seq.slot, seq.tokens[-1], len(seq.tokens)))
            else:
                start = seq.num_computed
                chunks.append(
                    (seq.slot, start, seq.tokens[start : start + n], start + n >= seq.prefill_target)
                )
        if not chunks:
            return self.runner.decode(
                [d[0] for d in decodes], [d[1] for d in decodes], [d[2] for d in decodes]
            )
        return self.runner.mixed(decodes, chunks)

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

    def warmup(self) -> None:
        if self.runner.use_graphs:
            self.runner.capture_all()
        # One eager prefill per power-of-two chunk up to the budget, into slot 0 (overwritten before reads).
        n = 16
        while True:
            size = min(n, self.scheduler.chunk_size, self.runner.max_model_len)
            self.runner.mixed([], [(0, 0, [0] * size, True)])
            if size >= min(self.scheduler.chunk_size, self.runner.max_model_len):
                break
            n *= 2
        if self.runner.device.type == "cuda":
            torch.cuda.synchronize()

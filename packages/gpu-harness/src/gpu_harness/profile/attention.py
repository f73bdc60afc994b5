"""Timing of the serving engine's own attention kernels (attention.csv), imported from gpu_harness.engine.

Rows follow Vidur's meaning (vidur-reference.md §2.2):
- prefill (chunk c, kv k): `engine.attention.save_kv` of the chunk's c new K/V at positions k..k+c-1
  (attn_kv_cache_save), then `prefill_attention` of the c queries over the k cached plus c new keys
  (attn_prefill), batch 1.
- decode (batch b, kv k): `save_kv` of b new K/V (attn_kv_cache_save), then `decode_attention` of b
  one-token queries each over k cached keys plus its own (attn_decode), slots 0..b-1 as the engine lays
  them out, with the key window the engine would read (its bucket rule when it exposes one).
With the `flash-varlen` backend (what the engine picks on a GPU where the kernel passes its self-test, by
the same `select_backend`), attn_prefill times `flash_varlen_attention` instead: the chunk's c query rows
over k + c keys in the call the engine makes for a step with that one chunk, among the empty sequences it
pads the call to (`lean.varlen_sequences_one_chunk`; `prefill_call="single"`: the chunk alone, as before);
attn_decode times what the engine runs for decode rows (the same
`select_decode_attention`): `decode_kernel.decode_attention_split` (b entries over k + 1 keys each) or
`flash_varlen_attention` with b one-row sequences.
The cache has the engine's layout `[slots, positions, kv_heads, head_dim]` at the model's real head_dim.
K/V contents are random (timing does not depend on values). Owns no model code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..engine import attention as engine_attention
from ..engine import decode_kernel
from ..engine.lean import varlen_sequences_one_chunk
from .grid import DecodePoint, PrefillPoint
from .model_dims import ModelDims
from .timing import OpTimer, TimeStats

# Input buffers per op rotate over this many copies (the L2 scrub in OpTimer does the rest on CUDA).
_SLOTS = 2


def chunk_call_tensors(chunk: int, kv_len: int, sequences: int) -> tuple[list[int], list[int], list[int]]:
    """(cu_q, cu_k, seqused_k) of a varlen call whose first sequence is the chunk (`chunk` rows over `kv_len`
    keys from cache row 0) and whose other `sequences - 1` sequences are empty (no rows, no keys)."""
    if sequences < 1:
        raise ValueError(f"sequences must be >= 1, got {sequences}")
    return [0] + [chunk] * sequences, [0] * (sequences + 1), [kv_len] + [0] * (sequences - 1)


def kv_bucket_rule() -> tuple[Callable[[int, int], int], str]:
    """The key-window width the engine reads for a decode step whose longest context is kv_len, given the
    cache's positions: the lean engine's static buckets (`kv_len_buckets`) when present, else kv_len."""
    try:
        from ..engine.lean import kv_len_buckets
    except ImportError:
        return (lambda kv_len, _max: kv_len), "exact kv length"

    def bucket(kv_len: int, max_positions: int) -> int:
        return next((b for b in kv_len_buckets(max_positions) if b >= kv_len), max_positions)

    return bucket, "gpu_harness.engine.lean.kv_len_buckets"


class AttentionProfiler:
    """Owns one layer-sized KV cache big enough for the largest grid point, and times the engine's kernels."""

    def __init__(
        self,
        model: torch.nn.Module,
        layers: list[torch.nn.Module],
        dims: ModelDims,
        timer: OpTimer,
        *,
        block_size: int,
        max_batch_size: int,
        max_seq_len: int,
        seed: int,
        attention: str = "auto",
        decode_attn: str = "auto",
        kv_save_fused: bool = False,
        prefill_call: str = "engine",
    ) -> None:
        param = next(model.parameters())
        # The fused q/k norm + RoPE kernel writes K/V itself (timed as attn_rope): no save of its own.
        self.kv_save_fused = kv_save_fused
        self.device = param.device
        self.dtype = param.dtype
        if attention == "varlen-reference":
            raise ValueError("attention varlen-reference is a test path, not a profiled kernel")
        self.attention, self.attention_note = engine_attention.select_backend(
            attention, self.device, self.dtype, dims.n_kv_head, dims.n_head // dims.n_kv_head, dims.head_dim
        )
        self.decode_attn, self.decode_attn_note = decode_kernel.select_decode_attention(
            decode_attn,
            self.attention,
            self.device,
            self.dtype,
            dims.n_kv_head,
            dims.n_head // dims.n_kv_head,
            dims.head_dim,
        )
        self.backend = f"gpu_harness.engine.attention:{self.attention}"
        self.dims = dims
        self.timer = timer
        self.block_size = block_size
        # As the engine: one spare position per slot (its scratch row for idle graph rows).
        self.max_positions = max_seq_len + 1
        self.bucket, self.bucket_rule = kv_bucket_rule()
        if prefill_call not in ("engine", "single"):
            raise ValueError(f"prefill_call must be engine or single, got {prefill_call!r}")
        self.prefill_call = prefill_call
        self.max_batch_size = max_batch_size
        self.gen = torch.Generator(device=self.device).manual_seed(seed + 1)
        shape = (max_batch_size, self.max_positions, dims.n_kv_head, dims.head_dim)
        self.k_cache = self._randn(*shape)
        self.v_cache = self._randn(*shape)

    @property
    def flash(self) -> bool:
        return self.attention == "flash-varlen"

    def _flash(self, q: torch.Tensor, rows: int, slots: range, kv_len: int) -> torch.Tensor:
        """flash_varlen_attention of len(slots) sequences of `rows` query rows over kv_len keys each."""
        n = len(slots)
        cu_q = torch.arange(0, (n + 1) * rows, rows, dtype=torch.int32, device=self.device)
        cu_k = torch.tensor(
            [s * self.max_positions for s in slots] + [slots[-1] * self.max_positions],
            dtype=torch.int32,
            device=self.device,
        )
        used = torch.full((n,), kv_len, dtype=torch.int32, device=self.device)
        kc, vc = self.k_cache, self.v_cache
        return lambda: engine_attention.flash_varlen_attention(
            q, kc, vc, cu_q, cu_k, used, rows, self.max_positions
        )

    def prefill_sequences(self, chunk: int) -> int:
        """Varlen sequences of the timed attn_prefill call of a `chunk`-row chunk (1 with prefill_call
        single)."""
        if self.prefill_call == "single":
            return 1
        return varlen_sequences_one_chunk(chunk, self.max_batch_size, self.decode_attn == "split-kv")

    def _flash_chunk(self, q: torch.Tensor, chunk: int, kv_len: int) -> Callable[[], torch.Tensor]:
        """flash_varlen_attention of one chunk (`chunk` query rows over kv_len keys, slot 0) in the call shape
        of `prefill_sequences`."""
        cu_q, cu_k, used = chunk_call_tensors(chunk, kv_len, self.prefill_sequences(chunk))
        i32 = {"dtype": torch.int32, "device": self.device}
        cu_q_t, cu_k_t, used_t = (
            torch.tensor(cu_q, **i32),
            torch.tensor(cu_k, **i32),
            torch.tensor(used, **i32),
        )
        kc, vc = self.k_cache, self.v_cache
        return lambda: engine_attention.flash_varlen_attention(
            q, kc, vc, cu_q_t, cu_k_t, used_t, chunk, self.max_positions
        )

    def _randn(self, *shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=self.gen, device=self.device, dtype=self.dtype)

    def describe(self) -> dict[str, Any]:
        """What was profiled, for profile.json."""
        rule = (
            "gpu_harness.engine.lean.varlen_sequences_one_chunk"
            if self.prefill_call == "engine"
            else "one sequence alone"
        )
        return {
            "module": engine_attention.__name__,
            "backend": self.attention,
            "backend_reason": self.attention_note,
            "functions": {
                "attn_kv_cache_save": "0 (in attn_rope: fused_kernels.qk_norm_rope_save)"
                if self.kv_save_fused
                else "save_kv",
                "attn_prefill": "flash_varlen_attention" if self.flash else "prefill_attention",
                "attn_decode": self._decode_function(),
            },
            "kernel": "aten._flash_attention_forward (varlen, seqused_k)"
            if self.flash
            else "torch.nn.functional.scaled_dot_product_attention",
            "decode_attention": self.decode_attn,
            "decode_attention_reason": self.decode_attn_note,
            "sdpa_backends": _sdpa_backends(),
            "cache_layout": "[slots, positions, kv_heads, head_dim] (one slot per request)",
            "head_dim": self.dims.head_dim,
            "decode_kv_window": "each sequence's own keys (seqused_k)" if self.flash else self.bucket_rule,
            "prefill_call": (
                f"{self.prefill_call}: the chunk and {self.prefill_sequences(512) - 1} empty varlen "
                "sequences "
                f"({rule}, {self.max_batch_size} slots)"
                if self.flash
                else "sdpa prefill_attention (no varlen call)"
            ),
            "block_size_column": f"{self.block_size} (scheduler block size flag; cache is slot-based)",
        }

    def _decode_function(self) -> str:
        if not self.flash:
            return "decode_attention"
        if self.decode_attn == "split-kv":
            return "decode_kernel.decode_attention_split"
        return "flash_varlen_attention"

    def _split_kv(self, q: torch.Tensor, kv_len: int) -> Callable[[], torch.Tensor]:
        """decode_attention_split of len(q) entries (slot i = row i) over kv_len keys each."""
        b = q.shape[0]
        rows = torch.arange(b, dtype=torch.int32, device=self.device)
        lens = torch.full((b,), kv_len, dtype=torch.int32, device=self.device)
        out = torch.empty_like(q)
        kc, vc = self.k_cache, self.v_cache
        return lambda: decode_kernel.decode_attention_split(q, kc, vc, rows, rows, lens, out)

    def profile_prefill(self, point: PrefillPoint) -> dict[str, TimeStats]:
        """attn_kv_cache_save and attn_prefill stats (ms) for one chunk over `point.kv` cached tokens."""
        d = self.dims
        c, k = point.chunk, point.kv
        qs = [self._randn(c, d.n_head, d.head_dim) for _ in range(_SLOTS)]
        ks = [self._randn(c, d.n_kv_head, d.head_dim) for _ in range(_SLOTS)]
        vs = [self._randn(c, d.n_kv_head, d.head_dim) for _ in range(_SLOTS)]
        slot_ids = torch.zeros(c, dtype=torch.int64, device=self.device)
        positions = torch.arange(k, k + c, dtype=torch.int64, device=self.device)
        kc, vc = self.k_cache, self.v_cache
        with torch.inference_mode():
            save = self.timer.measure(
                [
                    (lambda i=i: engine_attention.save_kv(kc, vc, ks[i], vs[i], slot_ids, positions))
                    for i in range(_SLOTS)
                ]
            )
            if self.flash:
                prefill = self.timer.measure([self._flash_chunk(qs[i], c, k + c) for i in range(_SLOTS)])
            else:
                prefill = self.timer.measure(
                    [
                        (lambda i=i: engine_attention.prefill_attention(qs[i], kc, vc, 0, k))
                        for i in range(_SLOTS)
                    ]
                )
        return {
            "attn_kv_cache_save": TimeStats.zero() if self.kv_save_fused else save,
            "attn_prefill": prefill,
        }

    def profile_decode(self, point: DecodePoint) -> dict[str, TimeStats]:
        """attn_kv_cache_save and attn_decode stats (ms): `batch` sequences of `kv` cached tokens."""
        d = self.dims
        b, k = point.batch, point.kv
        qs = [self._randn(b, d.n_head, d.head_dim) for _ in range(_SLOTS)]
        ks = [self._randn(b, d.n_kv_head, d.head_dim) for _ in range(_SLOTS)]
        vs = [self._randn(b, d.n_kv_head, d.head_dim) for _ in range(_SLOTS)]
        slot_ids = torch.arange(b, dtype=torch.int64, device=self.device)
        positions = torch.full((b,), k, dtype=torch.int64, device=self.device)
        kv_lens = torch.full((b,), k + 1, dtype=torch.int64, device=self.device)
        bucket = self.bucket(k + 1, self.max_positions)
        kc, vc = self.k_cache, self.v_cache
        with torch.inference_mode():
            save = self.timer.measure(
                [
                    (lambda i=i: engine_attention.save_kv(kc, vc, ks[i], vs[i], slot_ids, positions))
                    for i in range(_SLOTS)
                ]
            )
            if self.flash and self.decode_attn == "split-kv":
                decode = self.timer.measure([self._split_kv(qs[i], k + 1) for i in range(_SLOTS)])
            elif self.flash:
                decode = self.timer.measure([self._flash(qs[i], 1, range(b), k + 1) for i in range(_SLOTS)])
            else:
                decode = self.timer.measure(
                    [
                        (lambda i=i: engine_attention.decode_attention(qs[i], kc, vc, kv_lens, bucket))
                        for i in range(_SLOTS)
                    ]
                )
        return {"attn_kv_cache_save": TimeStats.zero() if self.kv_save_fused else save, "attn_decode": decode}


def _sdpa_backends() -> dict[str, bool]:
    cuda = torch.backends.cuda
    out: dict[str, bool] = {}
    for name in ("flash_sdp_enabled", "mem_efficient_sdp_enabled", "cudnn_sdp_enabled", "math_sdp_enabled"):
        fn = getattr(cuda, name, None)
        if callable(fn):
            out[name.removesuffix("_enabled")] = bool(fn())
    return out

"""The `hf-cb` engine: transformers' continuous batching (`ContinuousBatchingManager`, paged KV cache).

The manager runs its own generation thread; `step()` here only drains its output queue and turns cumulative
streaming outputs into per-token callbacks, using the per-token timestamps the manager records itself
(`record_timestamps=True`, `time.perf_counter`, converted to the timeline clock). Greedy decoding
(`do_sample=False`); `ignore_eos` passes `eos_token_id=-1` for that request. Limits: the manager exposes no
per-step hook, so this engine writes no iterations.csv rows, and `kv_tokens_in_use` is the sum of prompt +
generated tokens of live requests (an estimate, 0 when idle).
On CPU, transformers sizes the cache with psutil.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from ..errors import HarnessError
from ..timeline import Timeline
from .base import Engine, EngineRequest


class HfCbEngine(Engine):
    """transformers CB tuned via its config: token budget, request cap, blocks, CUDA graphs, compile level."""

    name = "hf-cb"

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        timeline: Timeline,
        max_batch_tokens: int = 512,
        max_batch_size: int = 128,
        block_size: int = 256,
        num_blocks: int | None = None,
        max_model_len: int = 4096,
        attn_impl: str = "sdpa",
        cuda_graphs: bool = True,
        compile_level: int = 0,
        max_memory_percent: float = 0.8,
    ) -> None:
        from transformers import GenerationConfig
        from transformers.generation.configuration_utils import ContinuousBatchingConfig

        self.timeline = timeline
        self.device = next(model.parameters()).device
        impl = attn_impl if attn_impl.startswith("paged|") else f"paged|{attn_impl}"
        model.set_attn_implementation(impl)
        on_cuda = self.device.type == "cuda"
        self._cfg: dict[str, Any] = {
            "block_size": block_size,
            "num_blocks": num_blocks,
            "max_batch_tokens": max_batch_tokens,
            "max_requests_per_batch": max_batch_size,
            "max_memory_percent": max_memory_percent,
            "use_cuda_graph": bool(cuda_graphs and on_cuda),
            "default_compile_level": compile_level,
            "scheduler_type": "fifo",
            "allow_block_sharing": False,  # prefix caching would make timing depend on prompt contents
        }
        gen = GenerationConfig(do_sample=False, max_new_tokens=16, eos_token_id=-1, pad_token_id=0)
        try:
            cb = ContinuousBatchingConfig(**self._cfg)
            self._mgr = model.init_continuous_batching(generation_config=gen, continuous_batching_config=cb)
            self._mgr.start()
        except (TypeError, ValueError) as err:
            msg = f"--engine hf-cb: transformers rejected the config ({err})"
            raise HarnessError("HARNESS_ENGINE", msg) from err
        eos = getattr(model.config, "eos_token_id", None)
        self._eos: int | list[int] = -1 if eos is None else eos
        self._attn = impl
        self._max_model_len = max_model_len
        self._live: dict[int, tuple[str, EngineRequest, int]] = {}
        self._by_cb_id: dict[str, int] = {}
        self._next = 0

    def knobs(self) -> dict[str, Any]:
        return {
            "engine": self.name,
            "scheduler_policy": "transformers-cb fifo (decodes, prefills, then new requests; token budget)",
            "token_budget": self._cfg["max_batch_tokens"],
            "batch_size_cap": self._cfg["max_requests_per_batch"],
            "block_size": self._cfg["block_size"],
            "num_blocks": self._cfg["num_blocks"],
            "attention_impl": self._attn,
            "cuda_graphs": self._cfg["use_cuda_graph"],
            "compile_level": self._cfg["default_compile_level"],
            "max_model_len": self._max_model_len,
            "max_memory_percent": self._cfg["max_memory_percent"],
        }

    def max_context(self) -> int:
        return self._max_model_len

    def add_request(self, req: EngineRequest) -> int:
        handle = self._next
        self._next += 1
        cb_id = f"h{handle}"
        self._mgr.add_request(
            list(req.prompt_token_ids),
            request_id=cb_id,
            max_new_tokens=req.max_tokens,
            streaming=True,
            record_timestamps=True,
            eos_token_id=-1 if req.ignore_eos else self._eos,
        )
        self._live[handle] = (cb_id, req, 0)
        self._by_cb_id[cb_id] = handle
        return handle

    def cancel(self, handle: int) -> bool:
        entry = self._live.pop(handle, None)
        if entry is None:
            return False
        self._by_cb_id.pop(entry[0], None)
        self._mgr.cancel_request(entry[0])
        entry[1].on_finish("cancelled", None)
        return True

    def has_work(self) -> bool:
        return bool(self._live)

    def kv_tokens_in_use(self) -> int:
        return sum(len(r.prompt_token_ids) + n for _, r, n in self._live.values())

    def step(self) -> bool:
        out = self._mgr.get_result(timeout=0.005)
        if out is None:
            if self._mgr.background_thread_status.fatal_error is not None:
                raise HarnessError(
                    "HARNESS_ENGINE",
                    f"transformers CB thread failed: {self._mgr.background_thread_status.fatal_error}",
                )
            return False
        handle = self._by_cb_id.get(out.request_id)
        if handle is None:
            return True  # a cancelled request's late output
        cb_id, req, sent = self._live[handle]
        now = self.timeline.now()
        stamps = out.timestamps or []
        tokens = list(out.generated_tokens)
        for i in range(sent, len(tokens)):
            t = self.timeline.from_perf_counter(stamps[i]) if i < len(stamps) else now
            self.timeline.record_token(req.request_id, i, t)
            req.on_token(i, tokens[i], t)
        self._live[handle] = (cb_id, req, len(tokens))
        if out.error:
            self._finish(handle, "error", out.error)
        elif out.is_finished():
            reason = "length" if len(tokens) >= req.max_tokens else "stop"
            self._finish(handle, reason, None)
        return True

    def _finish(self, handle: int, reason: str, error: str | None) -> None:
        cb_id, req, _ = self._live.pop(handle)
        self._by_cb_id.pop(cb_id, None)
        req.on_finish(reason, error)

    def warmup(self) -> None:
        done: list[str] = []
        req = EngineRequest("warmup", [1] * 16, 4, True, lambda *a: None, lambda r, e: done.append(r))
        self.add_request(req)
        deadline = time.monotonic() + 300
        while not done and time.monotonic() < deadline:
            self.step()

    def close(self) -> None:
        self._mgr.stop(block=True)

"""The `hf-cb` engine (transformers continuous batching) on CPU: greedy tokens vs HF generate, cancel, and a
real loopback HTTP stream through the same server code (in-process aiohttp site on a free port)."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import torch
from serving import served

from gpu_harness.engine.base import EngineRequest
from gpu_harness.engine.hf_cb import HfCbEngine
from gpu_harness.model import build_model
from gpu_harness.serve.server import ServeOptions, build_context
from gpu_harness.timeline import Timeline

torch.set_num_threads(1)
PROMPTS = [[5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17], [100, 200, 3], list(range(30, 67))]


def test_hf_cb_greedy_tokens_equal_hf_generate_and_cancel_frees() -> None:
    model = build_model("qwen3-tiny", device="cpu", dtype="float32", seed=3)
    reference = [
        model.generate(
            torch.tensor([p]), max_new_tokens=8, do_sample=False, eos_token_id=None, pad_token_id=0
        )[0, len(p) :].tolist()
        for p in PROMPTS
    ]
    tl = Timeline()
    engine = HfCbEngine(
        model,
        timeline=tl,
        max_batch_tokens=16,
        max_batch_size=4,
        block_size=16,
        num_blocks=32,
        max_model_len=128,
    )
    try:
        toks: dict[int, list[int]] = {i: [] for i in range(len(PROMPTS))}
        reasons: dict[int, str] = {}
        for i, p in enumerate(PROMPTS):
            engine.add_request(
                EngineRequest(
                    str(i),
                    p,
                    8,
                    True,
                    lambda idx, tok, t, i=i: toks[i].append(tok),
                    lambda r, e, i=i: reasons.__setitem__(i, r),
                )
            )
        while engine.has_work():
            engine.step()
        assert [toks[i] for i in range(len(PROMPTS))] == reference
        assert set(reasons.values()) == {"length"}
        times = [t for _, _, t in tl.tokens()]
        assert all(t > 0 for t in times)
        got: list[str] = []
        h = engine.add_request(
            EngineRequest("c", PROMPTS[0], 100, True, lambda *a: None, lambda r, e: got.append(r))
        )
        assert engine.kv_tokens_in_use() > 0
        assert engine.cancel(h) and got == ["cancelled"]
        assert engine.kv_tokens_in_use() == 0 and not engine.has_work()
    finally:
        engine.close()


def test_hf_cb_serves_a_stream_over_loopback_http() -> None:
    opts = ServeOptions(
        model_config="qwen3-tiny",
        device="cpu",
        dtype="float32",
        seed=3,
        engine="hf-cb",
        max_num_batched_tokens=16,
        max_batch_size=4,
        block_size=16,
        num_blocks=32,
        max_model_len=128,
        warmup=False,
        threads=1,
    )
    ctx = build_context(opts)

    async def go() -> list[str]:
        async with served(ctx) as url, aiohttp.ClientSession() as s:
            body = {"prompt": [1, 2, 3], "max_tokens": 5, "ignore_eos": True, "stream": True}
            async with s.post(f"{url}/v1/completions", json=body) as r:
                assert r.status == 200
                return [ln.decode().strip() for ln in [x async for x in r.content] if ln.strip()]

    try:
        lines = asyncio.run(go())
    finally:
        ctx.front.close(None)
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(ln[len("data: ") :]) for ln in lines[:-1]]
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None] * 4 + ["length"]
    assert ctx.front.run_info["engine"]["engine"] == "hf-cb"

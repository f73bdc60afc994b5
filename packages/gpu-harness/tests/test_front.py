"""The in-process front reads the timeline between steps, consistent with the tokens delivered."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from typing import Any

import aiohttp
from serving import served, tiny_options

from gpu_harness.serve.server import build_context


def test_iterations_read_after_done_hold_the_last_step() -> None:
    # Per-token delivery hands a step's last token (and the request's [DONE]) to the HTTP loop before the
    # engine thread records the step. Recording is slowed here so that the GET below lands in that window.
    ctx = build_context(tiny_options(seed=3, token_delivery="per-token"))
    timeline = ctx.front.timeline
    record = timeline.record_iteration

    def slow_record(**kw: Any) -> None:
        time.sleep(0.3)
        record(**kw)

    timeline.record_iteration = slow_record
    max_tokens = 3

    async def go() -> tuple[list[str], str]:
        async with served(ctx) as url, aiohttp.ClientSession() as s:
            body = {"prompt": [1, 2, 3, 4], "max_tokens": max_tokens, "ignore_eos": True, "stream": True}
            async with s.post(f"{url}/v1/completions", json=body) as r:
                lines = [ln.decode().strip() for ln in [x async for x in r.content] if ln.strip()]
            async with s.get(f"{url}/v1/engine/iterations") as r:
                return lines, await r.text()

    try:
        lines, iterations = asyncio.run(go())
    finally:
        ctx.front.close(None)
    assert lines[-1] == "data: [DONE]"
    assert sum(len(json.loads(ln[6:])["choices"][0]["token_ids"]) for ln in lines[:-1]) == max_tokens
    rows = list(csv.DictReader(io.StringIO(iterations)))
    # One prefill step (its output is the first token), then one decode step per further token.
    assert sum(int(r["num_decode_tokens"]) for r in rows) + 1 == max_tokens

"""Peer client for the benchmark: open-loop replay written the way the common anchor tools do it
(vLLM `bench serve` / SGLang `bench_serving`): one asyncio loop, one shared aiohttp ClientSession,
asyncio.sleep pacing, one task per request, SSE lines read from `response.content`, perf_counter stamps.

Input: a JSON file {"url": ..., "model": ..., "requests": [{"request_id", "prompt_token_ids",
"num_decode_tokens", "arrived_at", "script"?}]}. Output (stdout, one JSON object): per-request send lag
(s), token counts, failures, CPU seconds, peak in-flight.
"""

import asyncio
import json
import sys
import time

import aiohttp


async def main(spec: dict) -> None:
    url = spec["url"] + "/v1/completions"
    reqs = spec["requests"]
    results: list[dict] = []
    state = {"in_flight": 0, "peak": 0}
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=6 * 60 * 60)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, read_bufsize=10 * 1024**2
    ) as session:

        async def one(r: dict, scheduled: float, t0: float) -> None:
            payload = {
                "model": spec["model"],
                "prompt": r["prompt_token_ids"],
                "max_tokens": r["num_decode_tokens"],
                "ignore_eos": True,
                "stream": True,
                "stream_options": {"include_usage": True},
                "temperature": 0,
            }
            if "script" in r:
                payload["script"] = r["script"]
            state["in_flight"] += 1
            state["peak"] = max(state["peak"], state["in_flight"])
            st = time.perf_counter()
            lag = st - t0 - scheduled
            tokens = 0
            ttft = None
            error = ""
            try:
                async with session.post(
                    url, json=payload, headers={"X-Request-Id": str(r["request_id"])}
                ) as resp:
                    if resp.status != 200:
                        error = f"HTTP {resp.status}"
                    else:
                        async for chunk_bytes in resp.content:
                            chunk_bytes = chunk_bytes.strip()
                            if not chunk_bytes:
                                continue
                            chunk = chunk_bytes.decode("utf-8").removeprefix("data: ")
                            if chunk == "[DONE]":
                                continue
                            data = json.loads(chunk)
                            if data.get("choices"):
                                ts = time.perf_counter()
                                if ttft is None:
                                    ttft = ts - st
                                tokens += 1
            except Exception as e:  # noqa: BLE001 - recorded, as the anchors do
                error = repr(e)
            state["in_flight"] -= 1
            results.append({"lag": lag, "tokens": tokens, "error": error})

        tasks = []
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        for r in reqs:
            delay = r["arrived_at"] - (time.perf_counter() - t0)
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(r, r["arrived_at"], t0)))
        await asyncio.gather(*tasks)
        cpu_s = time.process_time() - cpu0
    print(
        json.dumps(
            {"results": results, "cpu_s": cpu_s, "peak_in_flight": state["peak"]}
        )
    )


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        asyncio.run(main(json.load(f)))

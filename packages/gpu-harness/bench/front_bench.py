"""The HTTP front's cost per streamed token, without an engine.

    python bench/front_bench.py [--streams 96] [--tokens 200] [--step-ms 4]

Serves the reference server's own aiohttp application (gpu_harness.serve.app) in a child process whose
engine front is a stand-in: every `--step-ms` it hands one token to every live request, the way the engine
process's events reach the server's event loop (ProcessFront: one message per step, each token handed to its
request on the loop). `--streams` clients on raw loopback sockets post streaming completions and read them to
[DONE]. Prints the server process's CPU time per token and the time from each step's hand-over until its last
token left the server (the event loop's busy span per step). The engine is the only stand-in: routing, SSE
encoding and socket writes are the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import time
from typing import Any


def serve(port_q: Any, stats_q: Any, step_ms: float, tokens: int) -> None:
    from aiohttp import web

    from gpu_harness.serve.app import CTX_KEY, ServerContext, build_app  # noqa: F401

    class StepFront:
        """Hands one token per step to every live request (on the loop, as ProcessFront's reader does)."""

        name = "front-bench"

        def __init__(self) -> None:
            self.live: dict[int, Any] = {}
            self.next = 0
            self.spans: list[float] = []
            self.handed = 0

        def max_context(self) -> int:
            return 1 << 20

        def submit(self, req: Any) -> int:
            self.next += 1
            self.live[self.next] = [req, 0]
            return self.next

        def cancel(self, ticket: int) -> None:
            self.live.pop(ticket, None)

        def hand_over(self, loop: Any, fn: Any, arg: Any) -> None:
            fn(arg)

        def step(self) -> None:
            t = time.perf_counter()
            for ticket, entry in list(self.live.items()):
                req, n = entry
                req.on_token(n, 7, t)
                entry[1] = n + 1
                self.handed += 1
                if n + 1 >= req.max_tokens:
                    del self.live[ticket]
                    req.on_finish("length", None)

        async def call(self, what: str, log_dir: str | None = None) -> Any:
            return {}

        last_error = None

        def close(self, log_dir: str | None) -> list[str]:
            return []

    front = StepFront()
    ctx = ServerContext(front=front, model_name="bench", vocab_size=1000, eos_ids=set(), weights="random")
    app = build_app(ctx)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_q.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        cpu0 = wall0 = None
        handed0 = 0
        steps = 0
        while True:
            await asyncio.sleep(step_ms / 1000)
            if front.live and cpu0 is None and len(front.live) >= 8:
                cpu0, wall0, handed0 = time.process_time(), time.perf_counter(), front.handed
            t0 = time.perf_counter()
            front.step()
            # The woken request handlers run in the loop's next pass, before this task resumes from it.
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            front.spans.append(time.perf_counter() - t0)
            steps += 1
            if cpu0 is not None and not front.live and front.handed > handed0:
                cpu = time.process_time() - cpu0
                stats_q.put(
                    {
                        "tokens": front.handed - handed0,
                        "cpu_s": cpu,
                        "wall_s": time.perf_counter() - wall0,
                        "span_ms_p50": 1e3 * statistics.median(front.spans[-steps:]),
                    }
                )
                return

    asyncio.run(main())


async def client(port: int, streams: int, tokens: int) -> None:
    request = {"prompt": [1, 2, 3], "max_tokens": tokens, "stream": True, "ignore_eos": True}
    body = json.dumps(request).encode()

    async def one(i: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = (
            f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"X-Request-Id: {i}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        writer.write(head + body)
        buf = b""
        while b"data: [DONE]" not in buf:
            chunk = await reader.read(1 << 16)
            if not chunk:
                break
            buf = buf[-64:] + chunk
        writer.close()

    await asyncio.gather(*(one(i) for i in range(streams)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--streams", type=int, default=96)
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--step-ms", type=float, default=4.0)
    a = ap.parse_args()
    ctx = mp.get_context("spawn")
    port_q, stats_q = ctx.Queue(), ctx.Queue()
    proc = ctx.Process(target=serve, args=(port_q, stats_q, a.step_ms, a.tokens), daemon=True)
    proc.start()
    port = port_q.get(timeout=60)
    asyncio.run(client(port, a.streams, a.tokens))
    s = stats_q.get(timeout=120)
    proc.join(timeout=10)
    print(
        f"front: {a.streams} streams x {a.tokens} tokens, a step every {a.step_ms} ms (pid {os.getpid()}): "
        f"{1e6 * s['cpu_s'] / s['tokens']:.1f} us CPU per token, {s['tokens'] / s['wall_s']:.0f} tokens/s, "
        f"the loop busy {s['span_ms_p50']:.2f} ms per step (median)"
    )


if __name__ == "__main__":
    main()

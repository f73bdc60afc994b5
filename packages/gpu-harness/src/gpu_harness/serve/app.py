"""aiohttp routes: /v1/completions (SSE + JSON), /v1/models, /health and the /v1/engine/* timeline endpoints
(stats, iterations, tokens, run manifest, flush, reset).

Owns HTTP parsing, streaming and disconnect handling; talks to the engine only through an EngineFront
(front.py: the engine on a thread of this process, or in a process of its own). Never lets bad input reach the
engine: every failure is an OpenAI-style JSON error. It does not build models or engines (server.py does).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..engine.base import EngineRequest
from .front import EngineFront
from .protocol import ApiError, CompletionParams, now_s, parse_completion, stream_chunk, usage


class StepMailbox:
    """Token events of one engine step, handed to the event loop in one wakeup (--token-delivery per-step).

    Per token, `loop.call_soon_threadsafe` writes to the loop's self-pipe, and each write lets the HTTP thread
    take the GIL while the engine thread is between a step's tokens: host time per request in a step. Here the
    engine thread only appends (post), and after the step the driver's after-step hook calls flush: one wakeup
    per loop pass, the events in their order. Both run on the engine thread only.
    """

    def __init__(self) -> None:
        self._items: list[tuple[asyncio.AbstractEventLoop, Any, Any]] = []

    def post(self, loop: asyncio.AbstractEventLoop, fn: Any, arg: Any) -> None:
        self._items.append((loop, fn, arg))

    def flush(self) -> None:
        if not self._items:
            return
        items, self._items = self._items, []
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, Any]]] = {}
        for loop, fn, arg in items:
            by_loop.setdefault(loop, []).append((fn, arg))
        for loop, calls in by_loop.items():
            loop.call_soon_threadsafe(_deliver, calls)


def _deliver(calls: list[tuple[Any, Any]]) -> None:
    for fn, arg in calls:
        fn(arg)


@dataclass
class ServerContext:
    """Everything the routes need; the front's `run_info` becomes server_run.json."""

    front: EngineFront
    model_name: str
    vocab_size: int
    eos_ids: set[int]
    weights: str
    log_dir: str | None = None
    tokenizer: Any = None
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def decode(self, token_id: int) -> str:
        return self.tokenizer.decode([token_id]) if self.tokenizer is not None else ""

    def tokenize(self) -> Any:
        if self.tokenizer is None:
            return None
        return lambda text: self.tokenizer.encode(text, add_special_tokens=False).ids


CTX_KEY: web.AppKey[ServerContext] = web.AppKey("ctx", ServerContext)
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _error(err: ApiError) -> web.Response:
    return web.json_response(err.body(), status=err.status)


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as err:
        return _error(err)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}.get(exc.status)
        return _error(ApiError(exc.status, f"{request.method} {request.path}: {exc.reason}", code=code))


async def handle_completions(request: web.Request) -> web.StreamResponse:
    received = time.perf_counter()  # the handler's start (the timeline's admissions record it)
    ctx = request.app[CTX_KEY]
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ApiError(400, f"request body is not valid JSON ({err})", code="invalid_json") from err
    params = parse_completion(
        body,
        vocab_size=ctx.vocab_size,
        max_context=ctx.front.max_context(),
        served_model=ctx.model_name,
        tokenize=ctx.tokenize(),
    )
    n = next(ctx._ids)
    rid = request.headers.get("X-Request-Id") or f"srv-{n}"
    if not _REQUEST_ID.fullmatch(rid):
        # The id goes verbatim into server_tokens.csv: keep it one safe CSV cell.
        raise ApiError(
            400,
            "header X-Request-Id: expected 1-128 characters of [A-Za-z0-9._:-]",
            param="X-Request-Id",
            code="invalid_request_id",
        )
    cid = f"cmpl-{n}"
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any, Any]] = asyncio.Queue()

    front = ctx.front

    def hand_over(event: tuple[str, Any, Any]) -> None:  # where the front runs the request's callbacks
        front.hand_over(loop, queue.put_nowait, event)

    def on_token(index: int, token_id: int, t: float) -> None:
        hand_over(("tok", index, token_id))

    def on_finish(reason: str, error: str | None) -> None:
        hand_over(("fin", reason, error))

    ticket = front.submit(
        EngineRequest(
            rid,
            params.prompt_token_ids,
            params.max_tokens,
            params.ignore_eos,
            on_token,
            on_finish,
            (received, time.perf_counter()),
        )
    )
    done = False
    try:
        if params.stream:
            resp = await _stream(request, ctx, params, cid, queue)
        else:
            resp = await _collect(ctx, params, cid, queue)
        done = True
        return resp
    finally:
        if not done:
            # Client went away (or the write failed): free the request's KV now.
            front.cancel(ticket)


def _finish_reason(ctx: ServerContext, params: CompletionParams, index: int, token_id: int) -> str | None:
    if index + 1 >= params.max_tokens:
        return "length"
    if not params.ignore_eos and token_id in ctx.eos_ids:
        return "stop"
    return None


async def _stream(
    request: web.Request,
    ctx: ServerContext,
    params: CompletionParams,
    cid: str,
    queue: asyncio.Queue[tuple[str, Any, Any]],
) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await resp.prepare(request)
    created = now_s()
    count = 0
    while True:
        kind, a, b = await queue.get()
        if kind == "tok":
            count += 1
            chunk = stream_chunk(
                cid, created, ctx.model_name, ctx.decode(b), b, _finish_reason(ctx, params, a, b)
            )
            await resp.write(f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n".encode())
            continue
        if a == "error":
            err = ApiError(500, f"engine error: {b}", type="server_error", code="engine_error")
            await resp.write(f"data: {json.dumps(err.body())}\n\n".encode())
        if params.include_usage:
            tail = {
                "id": cid,
                "object": "text_completion",
                "created": created,
                "model": ctx.model_name,
                "choices": [],
                "usage": usage(len(params.prompt_token_ids), count),
            }
            await resp.write(f"data: {json.dumps(tail, separators=(',', ':'))}\n\n".encode())
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp


async def _collect(
    ctx: ServerContext, params: CompletionParams, cid: str, queue: asyncio.Queue[tuple[str, Any, Any]]
) -> web.Response:
    ids: list[int] = []
    while True:
        kind, a, b = await queue.get()
        if kind == "tok":
            ids.append(b)
            continue
        if a == "error":
            raise ApiError(500, f"engine error: {b}", type="server_error", code="engine_error")
        text = "".join(ctx.decode(t) for t in ids)
        return web.json_response(
            {
                "id": cid,
                "object": "text_completion",
                "created": now_s(),
                "model": ctx.model_name,
                "choices": [
                    {"index": 0, "text": text, "token_ids": ids, "logprobs": None, "finish_reason": a}
                ],
                "usage": usage(len(params.prompt_token_ids), len(ids)),
            }
        )


async def handle_models(request: web.Request) -> web.Response:
    ctx = request.app[CTX_KEY]
    return web.json_response(
        {
            "object": "list",
            "data": [
                {
                    "id": ctx.model_name,
                    "object": "model",
                    "created": now_s(),
                    "owned_by": "gpu-harness",
                    "max_model_len": ctx.front.max_context(),
                    "weights": ctx.weights,
                    "note": (
                        "random weights from a seed: outputs are meaningless, timing with forced output "
                        "lengths "
                        "(ignore_eos + max_tokens) does not depend on weight values"
                    )
                    if ctx.weights == "random"
                    else "",
                }
            ],
        }
    )


async def handle_health(request: web.Request) -> web.Response:
    ctx = request.app[CTX_KEY]
    return web.json_response(
        {
            "status": "ok",
            "engine": ctx.front.name,
            "weights": ctx.weights,
            "last_engine_error": ctx.front.last_error,
        }
    )


async def handle_stats(request: web.Request) -> web.Response:
    return web.json_response(await request.app[CTX_KEY].front.call("stats"))


async def handle_iterations(request: web.Request) -> web.Response:
    text = await request.app[CTX_KEY].front.call("iterations")
    return web.Response(text=text, content_type="text/csv")


async def handle_tokens(request: web.Request) -> web.Response:
    return web.Response(text=await request.app[CTX_KEY].front.call("tokens"), content_type="text/csv")


async def handle_admissions(request: web.Request) -> web.Response:
    """Per request, when the engine side got it and when the engine thread took it in (timeline clock)."""
    text = await request.app[CTX_KEY].front.call("admissions")
    return web.Response(text=text, content_type="text/csv")


async def handle_run(request: web.Request) -> web.Response:
    """The run manifest that a flush writes as server_run.json (incl. the wall-clock anchor), over HTTP."""
    info = await request.app[CTX_KEY].front.call("run")
    return web.Response(
        text=json.dumps(info, indent=2, sort_keys=True) + "\n", content_type="application/json"
    )


async def handle_flush(request: web.Request) -> web.Response:
    ctx = request.app[CTX_KEY]
    if ctx.log_dir is None:
        raise ApiError(
            400, "the server was started without --log-dir; nothing to flush to", code="no_log_dir"
        )
    return web.json_response({"written": await ctx.front.call("flush", ctx.log_dir)})


async def handle_reset(request: web.Request) -> web.Response:
    return web.json_response(await request.app[CTX_KEY].front.call("reset"))


def build_app(ctx: ServerContext) -> web.Application:
    """The aiohttp application (64 MiB body limit, JSON errors for every 4xx)."""
    app = web.Application(middlewares=[error_middleware], client_max_size=64 * 1024 * 1024)
    app[CTX_KEY] = ctx
    app.router.add_post("/v1/completions", handle_completions)
    app.router.add_get("/v1/models", handle_models)
    app.router.add_get("/health", handle_health)
    app.router.add_get("/v1/engine/stats", handle_stats)
    app.router.add_get("/v1/engine/iterations", handle_iterations)
    app.router.add_get("/v1/engine/tokens", handle_tokens)
    app.router.add_get("/v1/engine/admissions", handle_admissions)
    app.router.add_get("/v1/engine/run", handle_run)
    app.router.add_post("/v1/engine/flush", handle_flush)
    app.router.add_post("/v1/engine/reset", handle_reset)
    return app

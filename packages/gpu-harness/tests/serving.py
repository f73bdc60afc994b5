"""Helpers the server tests share: serve options for the tiny config on CPU, and an app served on loopback."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from gpu_harness.serve.app import ServerContext, build_app
from gpu_harness.serve.server import ServeOptions


def tiny_options(**change: object) -> ServeOptions:
    """Serve options for the tiny config on CPU, no warm-up, with `change` applied."""
    opts = ServeOptions(
        model_config="qwen3-tiny",
        device="cpu",
        dtype="float32",
        warmup=False,
        threads=1,
        max_model_len=64,
        max_batch_size=2,
    )
    for k, v in change.items():
        setattr(opts, k, v)
    return opts


@contextlib.asynccontextmanager
async def served(ctx: ServerContext) -> AsyncIterator[str]:
    """ctx's app on a free 127.0.0.1 port of the running event loop; yields its base URL."""
    runner = web.AppRunner(build_app(ctx), handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()

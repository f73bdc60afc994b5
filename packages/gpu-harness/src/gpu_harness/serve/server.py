"""Server startup: options -> model -> engine -> driver -> aiohttp site; READY line; flush on SIGTERM/SIGINT.

Owns wiring and lifecycle only. `run_server` is called by the CLI, which owns argv parsing and exit codes;
`emit` is the CLI's way to print (this module never prints itself).
"""

from __future__ import annotations

import asyncio
import gc
import math
import os
import platform
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import transformers
from aiohttp import web

from .. import __version__
from ..engine.base import Engine
from ..engine.driver import EngineDriver
from ..errors import HarnessError
from ..model import build_model, load_hf_config, parse_dtype
from ..timeline import Timeline
from .app import ServerContext, StepMailbox, build_app
from .front import InProcessFront

#: serve --token-delivery: one event-loop wakeup per token; per engine step, after the step; per engine step,
#: once the next step is launched (the tokens' HTTP work then runs while the device runs that step).
TOKEN_DELIVERIES = ("per-token", "per-step", "overlap")


@dataclass
class ServeOptions:
    """The `serve` flags (see cli.py for their help texts and units)."""

    model_config: str = "qwen3-0.6b"
    model_name: str | None = None
    weights: str | None = None
    seed: int = 0
    device: str = "cpu"
    dtype: str = "float32"
    engine: str = "lean"
    max_num_batched_tokens: int = 512
    max_batch_size: int = 128
    block_size: int = 16
    num_blocks: int | None = None
    kv_memory_fraction: float | None = None
    max_model_len: int = 4096
    watermark_blocks_fraction: float = 0.01
    attn_impl: str | None = None
    decode_attn: str = "auto"
    host: str = "127.0.0.1"
    port: int = 8000
    log_dir: str | None = None
    cuda_graphs: bool = True
    warmup: bool = True
    gc_freeze: bool = True
    probe_repeats: int | None = None
    token_delivery: str = "per-step"
    tokenizer: str | None = None
    threads: int | None = None
    hf_compile_level: int = 0
    engine_process: bool = False
    engine_cpus: str | None = None
    switch_interval_us: int | None = None


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine() or "cpu"


def _resolve_num_blocks(opts: ServeOptions, config: Any, device: torch.device) -> int | None:
    if opts.num_blocks is not None or opts.kv_memory_fraction is None:
        return opts.num_blocks
    if not 0 < opts.kv_memory_fraction <= 1:
        raise HarnessError(
            "HARNESS_BAD_FLAG", f"--kv-memory-fraction {opts.kv_memory_fraction}: expected (0, 1]"
        )
    from ..engine.lean import kv_bytes_per_token

    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
    else:
        free = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    per_token = kv_bytes_per_token(config, parse_dtype(opts.dtype))
    blocks = int(free * opts.kv_memory_fraction / (per_token * opts.block_size))
    physical = opts.max_batch_size * math.ceil(opts.max_model_len / opts.block_size)
    return max(1, min(blocks, physical))


def build_engine(opts: ServeOptions, model: torch.nn.Module, timeline: Timeline, config: Any) -> Engine:
    """Construct the engine named by --engine with the scheduler/cache knobs."""
    device = next(model.parameters()).device
    if opts.engine == "lean":
        from ..engine.lean import LeanEngine

        return LeanEngine(
            model,
            timeline=timeline,
            chunk_size=opts.max_num_batched_tokens,
            batch_size_cap=opts.max_batch_size,
            block_size=opts.block_size,
            num_blocks=_resolve_num_blocks(opts, config, device),
            max_model_len=opts.max_model_len,
            watermark_blocks_fraction=opts.watermark_blocks_fraction,
            cuda_graphs=opts.cuda_graphs,
            attention=opts.attn_impl or "auto",
            decode_attn=opts.decode_attn,
        )
    if opts.engine == "hf-cb":
        from ..engine.hf_cb import HfCbEngine

        return HfCbEngine(
            model,
            timeline=timeline,
            max_batch_tokens=opts.max_num_batched_tokens,
            max_batch_size=opts.max_batch_size,
            block_size=opts.block_size,
            num_blocks=opts.num_blocks,
            max_model_len=opts.max_model_len,
            attn_impl=opts.attn_impl or "sdpa",
            cuda_graphs=opts.cuda_graphs,
            compile_level=opts.hf_compile_level,
        )
    raise HarnessError("HARNESS_BAD_FLAG", f"--engine {opts.engine!r}: expected lean or hf-cb")


def pinnable_cpus() -> set[int]:
    """The CPUs the engine thread may pin itself to: every online CPU, not only this process's own affinity (a
    server started under `taskset -c OTHERS` still pins its engine thread to a CPU kept out of OTHERS)."""
    allowed = set(os.sched_getaffinity(0))
    try:
        text = Path("/sys/devices/system/cpu/online").read_text().strip()
    except OSError:
        return allowed
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        allowed |= set(range(int(lo), int(hi or lo) + 1))
    return allowed


def engine_cpus(opts: ServeOptions) -> set[int] | None:
    """--engine-cpus as a set of CPU numbers (None when not given); each must be one this process may use."""
    if opts.engine_cpus is None:
        return None
    try:
        cpus = {int(x) for x in opts.engine_cpus.split(",")}
    except ValueError:
        raise HarnessError(
            "HARNESS_BAD_FLAG",
            f"--engine-cpus {opts.engine_cpus!r}: expected CPU numbers separated by commas (e.g. 3 or 2,3)",
        ) from None
    allowed = pinnable_cpus()
    if not cpus <= allowed:
        raise HarnessError(
            "HARNESS_BAD_FLAG",
            f"--engine-cpus {opts.engine_cpus}: CPU {min(cpus - allowed)} is not one this process may use "
            f"({', '.join(map(str, sorted(allowed)))})",
        )
    return cpus


def check_options(opts: ServeOptions) -> Any:
    """Every flag check that needs no model; returns the model config (HarnessError naming the flag)."""
    for name in ("max_num_batched_tokens", "max_batch_size", "block_size", "max_model_len"):
        if getattr(opts, name) < 1:
            raise HarnessError("HARNESS_BAD_FLAG", f"--{name.replace('_', '-')}: expected an integer >= 1")
    if opts.token_delivery not in TOKEN_DELIVERIES:
        raise HarnessError(
            "HARNESS_BAD_FLAG",
            f"--token-delivery {opts.token_delivery!r}: expected {' | '.join(TOKEN_DELIVERIES)}",
        )
    if opts.token_delivery == "overlap" and opts.engine != "lean":
        raise HarnessError(
            "HARNESS_BAD_FLAG",
            "--token-delivery overlap: needs the lean engine (its step's launch hook), "
            f"not --engine {opts.engine}",
        )
    if opts.engine_process and opts.token_delivery == "per-token":
        raise HarnessError(
            "HARNESS_BAD_FLAG",
            "--engine-process: sends a step's tokens together; use --token-delivery per-step or overlap",
        )
    engine_cpus(opts)
    if opts.switch_interval_us is not None and opts.switch_interval_us < 1:
        raise HarnessError(
            "HARNESS_BAD_FLAG",
            f"--switch-interval-us {opts.switch_interval_us}: expected an integer >= 1 (microseconds)",
        )
    if opts.probe_repeats is not None and opts.probe_repeats < 0:
        raise HarnessError(
            "HARNESS_BAD_FLAG",
            f"--probe-repeats {opts.probe_repeats}: expected an integer >= 0 (0 = no probe)",
        )
    if opts.device not in ("cpu", "cuda") and not opts.device.startswith("cuda:"):
        raise HarnessError("HARNESS_BAD_FLAG", f"--device {opts.device!r}: expected cpu or cuda")
    if opts.engine == "lean" and opts.attn_impl is not None:
        from ..engine.lean import ATTENTION_BACKENDS

        if opts.attn_impl not in ATTENTION_BACKENDS:
            raise HarnessError(
                "HARNESS_BAD_FLAG",
                f"--attn-impl {opts.attn_impl!r}: the lean engine takes {' | '.join(ATTENTION_BACKENDS)}",
            )
    if torch.device(opts.device).type == "cuda" and not torch.cuda.is_available():
        raise HarnessError("HARNESS_BAD_FLAG", "--device cuda: no CUDA device is visible to torch")
    config = load_hf_config(opts.model_config)
    if opts.max_model_len > config.max_position_embeddings:
        raise HarnessError(
            "HARNESS_BAD_FLAG",
            f"--max-model-len {opts.max_model_len}: exceeds the config's "
            f"max_position_embeddings ({config.max_position_embeddings})",
        )
    return config


def build_engine_side(opts: ServeOptions, config: Any) -> tuple[Engine, Timeline, dict[str, Any]]:
    """Model, engine, warm-up and machine probe, in the process that will run the steps; returns the engine,
    its timeline (logs reset after warm-up) and the run manifest (server_run.json)."""
    device = torch.device(opts.device)
    threads = opts.threads if opts.threads is not None else (1 if device.type == "cuda" else None)
    if threads is not None:
        # Kernel launch costs ~4x less with one intra-op thread (issue 4's measurement).
        torch.set_num_threads(threads)
    attn = "sdpa" if opts.engine == "lean" else (opts.attn_impl or "sdpa").removeprefix("paged|")
    model = build_model(
        config,
        device=device,
        dtype=opts.dtype,
        seed=opts.seed,
        weights_dir=opts.weights,
        attn_implementation=attn,
    )
    if opts.switch_interval_us is not None:
        sys.setswitchinterval(opts.switch_interval_us / 1e6)
    timeline = Timeline()
    engine = build_engine(opts, model, timeline, config)
    if opts.warmup:
        engine.warmup()
    # The machine probe (engine/probe.py): by default on CUDA, where machines differ; off on CPU.
    repeats = opts.probe_repeats if opts.probe_repeats is not None else (60 if device.type == "cuda" else 0)
    probe = engine.probe(repeats) if repeats > 0 else None
    timeline.reset()
    run_info = {
        "schema_version": 1,
        "kind": "server",
        "gpu_harness_version": __version__,
        "model": served_name(opts),
        "model_config": str(opts.model_config),
        "weights": "real" if opts.weights else "random",
        "seed": opts.seed,
        "dtype": opts.dtype,
        "device": str(device),
        "device_name": _device_name(device),
        "torch_version": torch.__version__,
        "transformers_version": transformers.__version__,
        "engine": engine.knobs(),
        "options": asdict(opts),
        "hostname": socket.gethostname(),
        "torch_threads": torch.get_num_threads(),
        "machine_probe": probe,
        "engine_process": opts.engine_process,
        "engine_cpus": sorted(engine_cpus(opts) or []) or None,
        "switch_interval_s": sys.getswitchinterval(),
    }
    return engine, timeline, run_info


def make_driver(opts: ServeOptions, engine: Engine, after_step: Callable[[], None] | None) -> EngineDriver:
    """The engine's driver thread as the flags set it: the token hand-over hook after the step or after the
    next launch (--token-delivery overlap), the CPUs it is pinned to (--engine-cpus). Not started."""
    return EngineDriver(
        engine,
        after_step=after_step,
        after_launch=opts.token_delivery == "overlap",
        cpus=engine_cpus(opts),
    )


def served_name(opts: ServeOptions) -> str:
    return opts.model_name or Path(str(opts.model_config)).name.removesuffix(".json")


def build_context(opts: ServeOptions) -> ServerContext:
    """Check the flags, load the config (+ tokenizer), then the engine: warmed up and running on a driver
    thread of this process, or in a process of its own (--engine-process)."""
    config = check_options(opts)
    tokenizer = None
    if opts.tokenizer is not None:
        from tokenizers import Tokenizer

        try:
            tokenizer = Tokenizer.from_file(opts.tokenizer)
        except Exception as err:  # tokenizers raises its own exception types
            raise HarnessError(
                "HARNESS_BAD_FLAG", f"--tokenizer {opts.tokenizer}: unreadable ({err})"
            ) from err
    front: Any
    if opts.engine_process:
        from .engine_proc import ProcessFront

        front = ProcessFront.start(opts)
    else:
        engine, timeline, run_info = build_engine_side(opts, config)
        mailbox = StepMailbox() if opts.token_delivery != "per-token" else None
        driver = make_driver(opts, engine, mailbox.flush if mailbox is not None else None)
        driver.start()
        front = InProcessFront(engine, driver, timeline, run_info, mailbox)
    eos = config.eos_token_id
    return ServerContext(
        front=front,
        model_name=served_name(opts),
        vocab_size=int(config.vocab_size),
        eos_ids=set(eos if isinstance(eos, list) else ([] if eos is None else [eos])),
        weights="real" if opts.weights else "random",
        log_dir=opts.log_dir,
        tokenizer=tokenizer,
    )


def freeze_gc(run_info: dict[str, Any], freeze: bool) -> None:
    """Last thing before READY: collect, then move every surviving object (the imports', the model's, the
    app's) into the permanent generation, which no collection scans. A full collection of that heap takes
    0.2-0.33 s on the H200 hosts, and the engine thread stalls for it (it holds the GIL); serving creates
    objects that trigger one now and then (every recorded token, every step), so without the freeze a run
    may get such a stall at a random step (19 of the 50 runs recorded before the thirteenth session had
    one). The count goes into server_run.json as `gc_frozen_objects` (0 when --no-gc-freeze)."""
    if freeze:
        gc.collect()
        gc.freeze()
    run_info["gc_frozen_objects"] = gc.get_freeze_count() if freeze else 0


async def run_server(opts: ServeOptions, emit: Callable[[str], None], log: Callable[[str], None]) -> None:
    """Serve until SIGTERM/SIGINT; then write the timeline to --log-dir (if set) and stop."""
    ctx = build_context(opts)
    runner = web.AppRunner(build_app(ctx), handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, opts.host, opts.port)
    try:
        await site.start()
    except OSError as err:
        ctx.front.close(None)
        raise HarnessError(
            "HARNESS_BAD_FLAG", f"--host {opts.host} --port {opts.port}: cannot listen ({err})"
        ) from err
    host, port = runner.addresses[0][:2]
    if ctx.weights == "random":
        log("weights: random (seeded); timing with forced output lengths does not depend on weight values")
    log(f"engine knobs: {ctx.front.run_info['engine']}")
    if opts.engine_process:
        log(f"engine process: pid {ctx.front.run_info['engine_pid']}")
    probe = ctx.front.run_info.get("machine_probe")
    if probe is not None:
        log(
            f"machine probe: {len(probe['points'])} step compositions x {probe['repeats']} in "
            f"{probe['seconds']:.1f} s: "
            + ", ".join(f"{p['key']} {p['p50_ms']:.3f} ms" for p in probe["points"][:3])
        )
    # With --engine-process the engine's process froze its own GC before it reported ready; this is the HTTP
    # side's.
    freeze_gc(ctx.front.run_info if not opts.engine_process else {}, opts.gc_freeze)
    emit(f"READY http://{host}:{port}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        paths = ctx.front.close(ctx.log_dir)
        if paths:
            log(f"timeline written: {', '.join(paths)}")
        await runner.cleanup()

"""`gpu-harness bench-engine`: lean-engine step times against an HF CUDA-graph step and hardware floors.

Measures, in one run: decode step time over a batch x mean-context grid with mixed per-request context lengths
(lean engine, host wall and GPU time) against (a) a CUDA-graph replay of the plain HF model decode step with
its static KV cache at the same batch and the mean context (eager on CPU), and (b) the memory-bandwidth floor
(weights + KV bytes read per step / bandwidth); prefill chunk time against its compute floor; output tokens/s
of the whole engine at saturation. Every grid point is independent: a failure is recorded and the run goes
on; points beyond --time-budget-s are recorded as skipped. Owns measurement and rendering only.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path
from typing import Any


def _ints(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from err
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def add_model_arguments(p: argparse.ArgumentParser, seed_help: str) -> None:
    """--model-config, --device, --dtype, --seed: the model flags bench-engine and check-engine share."""
    p.add_argument("--model-config", default="qwen3-0.6b", help="HF config.json path or bundled name")
    p.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    p.add_argument(
        "--dtype",
        default=None,
        choices=["float32", "float16", "bfloat16"],
        help="default: bfloat16 on cuda, float32 on cpu",
    )
    p.add_argument("--seed", type=int, default=0, help=seed_help)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The bench-engine flags (units in the help)."""
    add_model_arguments(p, "weights and context-length seed")
    p.add_argument("--batches", type=_ints, default=[1, 16, 64, 128], help="decode batch sizes (requests)")
    p.add_argument(
        "--contexts",
        type=_ints,
        default=[256, 1024, 2048, 4096],
        help="mean decode context lengths in tokens; per-request lengths are uniform in [C/2, 3C/2]",
    )
    p.add_argument(
        "--prefill-chunks", type=_ints, default=[512, 1024, 2048], help="prefill chunk sizes (tokens)"
    )
    p.add_argument("--bandwidth-tbps", type=float, default=4.3, help="memory bandwidth for the floor, TB/s")
    p.add_argument("--tflops", type=float, default=790.0, help="matmul rate for the compute floor, TFLOP/s")
    p.add_argument("--repeats", type=int, default=20, help="timed repetitions per point (median reported)")
    p.add_argument("--warmup-iters", type=int, default=3, help="untimed repetitions per point")
    p.add_argument(
        "--time-budget-s", type=float, default=900.0, help="stop starting new points after this (s)"
    )
    p.add_argument("--saturation-requests", type=int, default=128, help="requests in the saturation run")
    p.add_argument("--saturation-prompt", type=int, default=512, help="prompt tokens per saturation request")
    p.add_argument(
        "--saturation-max-tokens", type=int, default=256, help="output tokens per saturation request"
    )
    p.add_argument("--chunk-size", type=int, default=512, help="engine token budget in the saturation run")
    p.add_argument(
        "--cuda-graphs",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="lean steps as CUDA graphs (cuda only; flash-varlen: every step, sdpa: decode only)",
    )
    p.add_argument(
        "--attention",
        default="auto",
        choices=["auto", "flash-varlen", "sdpa", "varlen-reference"],
        help="lean attention backend (auto: flash-varlen where its GPU self-test passes, else sdpa)",
    )
    p.add_argument(
        "--decode-attn",
        default="auto",
        choices=["auto", "split-kv", "flash"],
        help="lean flash-varlen: decode rows in the split-KV Triton kernel or the varlen call (as serve)",
    )
    p.add_argument(
        "--mixed-decodes",
        type=_ints,
        default=[16, 64],
        help="mixed-step section: decode rows (context ~ the middle --contexts value) sharing a step with "
        "one prefill chunk that fills --chunk-size",
    )
    p.add_argument(
        "--hf-baseline",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time the plain HF model decode step",
    )
    p.add_argument(
        "--threads", type=int, default=1, help="torch intra-op threads (1: cheapest kernel launch)"
    )
    p.add_argument(
        "--kernel-breakdown",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="cuda: also list the top GPU kernels (torch.profiler, eager steps) of the largest decode, "
        "prefill and mixed points",
    )
    p.add_argument(
        "--decode-sweep",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="cuda: also time one layer's decode attention per kernel and split-KV tuning (split, block_n, "
        "warps) at a few batch x context points, against the KV bytes' bandwidth floor",
    )
    p.add_argument("--out", default="tmp/bench_engine", help="output directory for bench_engine.{json,md}")


class _Clock:
    """Wall (perf_counter) and, on cuda, GPU (CUDA events) timing of a callable."""

    def __init__(self, torch: Any, device: Any) -> None:
        self.torch = torch
        self.cuda = device.type == "cuda"

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()

    def time(self, fn: Any, repeats: int, warmup: int) -> tuple[float, float | None]:
        """Median wall seconds and median GPU seconds (None on cpu) of fn() including a final sync."""
        for _ in range(warmup):
            fn()
        self.sync()
        walls: list[float] = []
        gpus: list[float] = []
        for _ in range(repeats):
            if self.cuda:
                a = self.torch.cuda.Event(enable_timing=True)
                b = self.torch.cuda.Event(enable_timing=True)
                a.record()
            t0 = time.perf_counter()
            fn()
            if self.cuda:
                b.record()
            self.sync()
            walls.append(time.perf_counter() - t0)
            if self.cuda:
                gpus.append(a.elapsed_time(b) / 1000.0)
        return statistics.median(walls), (statistics.median(gpus) if gpus else None)


def _kernel_table(torch: Any, runner: Any, items: list[Any], steps: int = 3, top: int = 14) -> dict[str, Any]:
    """The top GPU kernels of `runner.forward(items)` run eagerly (graphs off for the duration) under
    torch.profiler: name, launches per step and microseconds per step, plus the step's kernel total."""
    from torch.profiler import ProfilerActivity, profile

    graphs = runner.use_graphs
    runner.use_graphs = False
    try:
        runner.forward(items)
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(steps):
                runner.forward(items)
            torch.cuda.synchronize()
    finally:
        runner.use_graphs = graphs
    rows = []
    for ev in prof.key_averages():
        us = float(getattr(ev, "self_device_time_total", 0) or 0)
        if us > 0:
            rows.append({"kernel": ev.key[:110], "launches": ev.count / steps, "us": us / steps})
    rows.sort(key=lambda r: -r["us"])
    return {"total_us": sum(r["us"] for r in rows), "kernels": len(rows), "top": rows[:top]}


SWEEP_POINTS = ((1, 4096), (16, 1024), (64, 1024), (64, 4096), (128, 2048))
SWEEP_TUNINGS = (
    (128, 32, 4),
    (128, 64, 4),
    (256, 32, 4),
    (256, 64, 4),
    (256, 64, 2),
    (256, 64, 8),
    (256, 128, 4),
    (512, 64, 4),
    (512, 128, 8),
)


def _decode_sweep(
    torch: Any, config: Any, dtype: Any, device: Any, clock: Any, args: Any
) -> list[dict[str, Any]]:
    """One layer's decode attention (mixed lengths in [C/2, 3C/2]) per kernel: FlashAttention varlen with
    one-row sequences, and the split-KV kernel at each tuning; median GPU microseconds and bandwidth."""
    import numpy as np

    rng = np.random.default_rng(args.seed)
    rows: list[dict[str, Any]] = []
    for batch, context in SWEEP_POINTS:
        lens = [context] if batch == 1 else rng.integers(context // 2, context * 3 // 2 + 1, batch).tolist()
        rows += _sweep_point(torch, config, dtype, device, clock, args, batch, context, lens)
        torch.cuda.empty_cache()
    return rows


def _sweep_point(
    torch: Any,
    config: Any,
    dtype: Any,
    device: Any,
    clock: Any,
    args: Any,
    batch: int,
    context: int,
    lens: list[int],
) -> list[dict[str, Any]]:
    from .engine import attention as ea
    from .engine import decode_kernel as dk

    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    hq, hkv = config.num_attention_heads, config.num_key_value_heads
    positions = context * 3 // 2 + 2
    kc = torch.randn(batch, positions, hkv, head_dim, device=device, dtype=dtype)
    vc = torch.randn_like(kc)
    q = torch.randn(batch, hq, head_dim, device=device, dtype=dtype)
    kv_bytes = 2 * sum(lens) * hkv * head_dim * kc.element_size()
    floor = kv_bytes / (args.bandwidth_tbps * 1e12)
    as32 = lambda xs: torch.tensor(xs, dtype=torch.int32, device=device)  # noqa: E731
    seqs = [(i, 1, i, n) for i, n in enumerate(lens)]
    cu_q, cu_k, used = (as32(x) for x in ea.varlen_tensors(seqs, batch, positions, batch, one_row_each=True))
    rows_t, lens_t, out = as32(list(range(batch))), as32(lens), torch.empty_like(q)
    fns: list[tuple[str, Any]] = [
        (
            "flash varlen (one-row sequences)",
            lambda: ea.flash_varlen_attention(q, kc, vc, cu_q, cu_k, used, 1, positions),
        )
    ]
    for split, block_n, warps in SWEEP_TUNINGS:
        fns.append(
            (
                f"split-kv split {split} block_n {block_n} warps {warps}",
                lambda s=split, b=block_n, w=warps: dk.decode_attention_split(
                    q, kc, vc, rows_t, rows_t, lens_t, out, split=s, block_n=b, num_warps=w
                ),
            )
        )
    rows: list[dict[str, Any]] = []
    for name, fn in fns:
        row: dict[str, Any] = {"batch": batch, "context": context, "kernel": name, "floor_s": floor}
        try:
            _wall, gpu = clock.time(fn, args.repeats, args.warmup_iters)
            row.update({"gpu_s": gpu, "over_floor": gpu / floor, "tbps": kv_bytes / gpu / 1e12})
        except Exception as err:
            row["error"] = f"{type(err).__name__}: {str(err)[:160]}"
        rows.append(row)
    return rows


def _hf_decode_step(torch: Any, model: Any, batch: int, context: int, use_graph: bool) -> Any:
    """A callable running one HF decode step (static cache, all rows at position `context`)."""
    from transformers import StaticCache

    device = next(model.parameters()).device
    cache = StaticCache(config=model.config, max_cache_len=context + 1)
    ids = torch.zeros((batch, 1), dtype=torch.int64, device=device)
    pos = torch.full((batch, 1), context, dtype=torch.int64, device=device)
    cpos = torch.tensor([context], dtype=torch.int64, device=device)

    def step() -> Any:
        with torch.inference_mode():
            out = model(
                input_ids=ids, position_ids=pos, cache_position=cpos, past_key_values=cache, use_cache=True
            )
            return out.logits[:, -1].argmax(-1)

    step()  # allocates the static cache outside any capture
    if not use_graph:
        return step
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(2):
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    return graph.replay


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    """Run the whole measurement; returns the result dict (never raises for a single failing point)."""
    import numpy as np
    import torch
    import transformers

    from .engine.base import EngineRequest
    from .engine.lean import LeanEngine, LeanModelRunner, kv_bytes_per_token
    from .model import build_model, load_hf_config, parse_dtype
    from .timeline import Timeline

    t_start = time.perf_counter()
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype_name = args.dtype or ("bfloat16" if device.type == "cuda" else "float32")
    dtype = parse_dtype(dtype_name)
    torch.set_num_threads(args.threads)
    config = load_hf_config(args.model_config)
    model = build_model(config, device=device, dtype=dtype, seed=args.seed)
    clock = _Clock(torch, device)
    elem = torch.empty((), dtype=dtype).element_size()
    n_params = sum(p.numel() for p in model.parameters())
    n_embed = config.vocab_size * config.hidden_size
    weight_bytes = n_params * elem
    kv_tok = kv_bytes_per_token(config, dtype)
    bw = args.bandwidth_tbps * 1e12
    flops = args.tflops * 1e12
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    rng = np.random.default_rng(args.seed)
    use_graphs = args.cuda_graphs and device.type == "cuda"

    def over_budget() -> bool:
        return time.perf_counter() - t_start > args.time_budget_s

    decode_rows: list[dict[str, Any]] = []
    lean_setup: dict[str, Any] = {}
    breakdown = args.kernel_breakdown and device.type == "cuda"
    kernels: dict[str, Any] = {}
    max_batch = max(args.batches)
    for context in args.contexts:
        runner = None
        try:
            if not over_budget():
                runner = LeanModelRunner(
                    model,
                    num_slots=max_batch,
                    max_model_len=context * 3 // 2 + 2,
                    cuda_graphs=args.cuda_graphs,
                    attention=args.attention,
                    max_tokens=max_batch,
                    decode_attn=args.decode_attn,
                )
                lean_setup.setdefault("decode", runner.describe())
        except Exception as err:
            for b in args.batches:
                decode_rows.append({"batch": b, "context": context, "error": f"{type(err).__name__}: {err}"})
            continue
        for batch in args.batches:
            row: dict[str, Any] = {"batch": batch, "context": context}
            decode_rows.append(row)
            if runner is None or over_budget():
                row["skipped"] = "time budget"
                continue
            try:
                if batch < 1:
                    raise ValueError(f"batch {batch}: a decode step needs at least one row")
                lens = (
                    [context]
                    if batch == 1
                    else rng.integers(context // 2, context * 3 // 2 + 1, batch).tolist()
                )
                kv_lens = [n + 1 for n in lens]
                slots = list(range(batch))
                toks = rng.integers(0, config.vocab_size, batch).tolist()
                items = [(s, k - 1, [t], True) for s, t, k in zip(slots, toks, kv_lens, strict=True)]
                wall, gpu = clock.time(
                    lambda r=runner, it=items: r.forward(it), args.repeats, args.warmup_iters
                )
                floor = (weight_bytes + sum(kv_lens) * kv_tok) / bw
                row.update(
                    {
                        "mean_context": float(np.mean(lens)),
                        "max_context": int(max(lens)),
                        "lean_wall_s": wall,
                        "lean_gpu_s": gpu,
                        "bandwidth_floor_s": floor,
                        "lean_over_floor": wall / floor,
                        "host_minus_gpu_s": None if gpu is None else wall - gpu,
                    }
                )
                if breakdown and batch == max_batch and context == max(args.contexts):
                    kernels[f"decode {batch} x {context}"] = _kernel_table(torch, runner, items)
            except Exception as err:
                row["error"] = f"{type(err).__name__}: {err}"
        del runner
        if device.type == "cuda":
            torch.cuda.empty_cache()
        if args.hf_baseline:
            for row in decode_rows:
                if row["context"] != context or "lean_wall_s" not in row:
                    continue
                if over_budget():
                    row["hf_skipped"] = "time budget"
                    continue
                try:
                    mode = "cuda-graph" if use_graphs else "eager"
                    try:
                        fn = _hf_decode_step(torch, model, row["batch"], context, use_graphs)
                    except Exception as err:
                        if not use_graphs:
                            raise
                        # Keep a baseline even when HF's step cannot be captured; say so in the row.
                        mode = f"eager (graph capture failed: {type(err).__name__}: {str(err)[:120]})"
                        fn = _hf_decode_step(torch, model, row["batch"], context, False)
                    hf_wall, _ = clock.time(fn, args.repeats, args.warmup_iters)
                    row["hf_step_s"] = hf_wall
                    row["hf_mode"] = mode
                    row["lean_over_hf"] = row["lean_wall_s"] / hf_wall
                    del fn
                except Exception as err:
                    row["hf_error"] = f"{type(err).__name__}: {err}"
                if device.type == "cuda":
                    torch.cuda.empty_cache()

    sweep = (
        _decode_sweep(torch, config, dtype, device, clock, args)
        if args.decode_sweep and device.type == "cuda"
        else []
    )

    prefill_rows: list[dict[str, Any]] = []
    runner = None
    for chunk in args.prefill_chunks:
        row = {"chunk_tokens": chunk}
        prefill_rows.append(row)
        if over_budget():
            row["skipped"] = "time budget"
            continue
        try:
            if runner is None:
                runner = LeanModelRunner(
                    model,
                    num_slots=1,
                    max_model_len=max(args.prefill_chunks),
                    cuda_graphs=args.cuda_graphs,
                    attention=args.attention,
                    max_tokens=max(args.prefill_chunks),
                    decode_attn=args.decode_attn,
                )
                lean_setup.setdefault("prefill", runner.describe())
            toks = rng.integers(0, config.vocab_size, chunk).tolist()
            wall, gpu = clock.time(
                lambda r=runner, t=toks: r.forward([(0, 0, t, True)]),
                max(3, args.repeats // 2),
                args.warmup_iters,
            )
            linear = 2 * (n_params - n_embed) * chunk + 2 * n_embed
            attn = (
                4 * config.num_attention_heads * head_dim * config.num_hidden_layers * chunk * (chunk + 1) / 2
            )
            floor = (linear + attn) / flops
            row.update(
                {
                    "lean_wall_s": wall,
                    "lean_gpu_s": gpu,
                    "compute_floor_s": floor,
                    "lean_over_floor": wall / floor,
                }
            )
            if breakdown and chunk == max(args.prefill_chunks):
                kernels[f"prefill {chunk}"] = _kernel_table(torch, runner, [(0, 0, toks, True)])
        except Exception as err:
            row["error"] = f"{type(err).__name__}: {err}"
    del runner

    # Mixed steps as a served Sarathi iteration has them: d decodes + one prefill chunk, budget-filling.
    mixed_rows: list[dict[str, Any]] = []
    context = sorted(args.contexts)[len(args.contexts) // 2]
    runner = None
    for d in args.mixed_decodes:
        chunk = args.chunk_size - d
        row = {"decodes": d, "context": context, "chunk_tokens": chunk}
        mixed_rows.append(row)
        if over_budget():
            row["skipped"] = "time budget"
            continue
        try:
            if chunk < 1:
                raise ValueError(
                    f"--chunk-size {args.chunk_size} leaves no prefill tokens beside {d} decodes"
                )
            if runner is None:
                runner = LeanModelRunner(
                    model,
                    num_slots=max(args.mixed_decodes) + 1,
                    max_model_len=max(context * 3 // 2 + 2, args.chunk_size),
                    cuda_graphs=args.cuda_graphs,
                    attention=args.attention,
                    max_tokens=args.chunk_size + max(args.mixed_decodes),
                    decode_attn=args.decode_attn,
                )
                lean_setup.setdefault("mixed", runner.describe())
            lens = rng.integers(context // 2, context * 3 // 2 + 1, d).tolist()
            toks = rng.integers(0, config.vocab_size, d + chunk).tolist()
            items = [(s + 1, n, [toks[s]], True) for s, n in enumerate(lens)]
            items.append((0, 0, toks[d:], True))
            wall, gpu = clock.time(lambda r=runner, it=items: r.forward(it), args.repeats, args.warmup_iters)
            linear = 2 * (n_params - n_embed) * (d + chunk) + 2 * n_embed * (d + 1)
            attn = (
                4
                * config.num_attention_heads
                * head_dim
                * config.num_hidden_layers
                * (chunk * (chunk + 1) / 2 + sum(lens))
            )
            floor = max((linear + attn) / flops, (weight_bytes + (sum(lens) + chunk) * kv_tok) / bw)
            row.update(
                {
                    "lean_wall_s": wall,
                    "lean_gpu_s": gpu,
                    "floor_s": floor,
                    "lean_over_floor": wall / floor,
                    "host_minus_gpu_s": None if gpu is None else wall - gpu,
                }
            )
            if breakdown and d == max(args.mixed_decodes):
                kernels[f"mixed {d} decodes + {chunk}"] = _kernel_table(torch, runner, items)
        except Exception as err:
            row["error"] = f"{type(err).__name__}: {err}"
    del runner

    saturation: dict[str, Any] = {
        "requests": args.saturation_requests,
        "prompt_tokens": args.saturation_prompt,
        "max_tokens": args.saturation_max_tokens,
        "chunk_size": args.chunk_size,
    }
    if over_budget():
        saturation["skipped"] = "time budget"
    else:
        try:
            timeline = Timeline()
            engine = LeanEngine(
                model,
                timeline=timeline,
                chunk_size=args.chunk_size,
                batch_size_cap=args.saturation_requests,
                max_model_len=args.saturation_prompt + args.saturation_max_tokens + 1,
                cuda_graphs=args.cuda_graphs,
                attention=args.attention,
                decode_attn=args.decode_attn,
            )
            lean_setup["saturation"] = engine.runner.describe()
            engine.warmup()  # graph capture and first-call costs stay out of the throughput figure
            timeline.reset()
            done = [0]
            for i in range(args.saturation_requests):
                prompt = rng.integers(0, config.vocab_size, args.saturation_prompt).tolist()
                engine.add_request(
                    EngineRequest(
                        str(i),
                        prompt,
                        args.saturation_max_tokens,
                        True,
                        lambda *_: None,
                        lambda *_: done.__setitem__(0, done[0] + 1),
                    )
                )
            t0 = time.perf_counter()
            while engine.has_work():
                engine.step()
            elapsed = time.perf_counter() - t0
            its = timeline.iterations()
            dec = [it for it in its if it.num_prefill_tokens == 0]
            mix = [it for it in its if it.num_prefill_tokens > 0]
            out_tokens = len(timeline.tokens())
            saturation.update(
                {
                    "elapsed_s": elapsed,
                    "output_tokens": out_tokens,
                    "output_tokens_per_s": out_tokens / elapsed,
                    "steps": len(its),
                    "decode_only_steps": len(dec),
                    "finished": done[0],
                    "decode_step_wall_median_s": statistics.median([it.end - it.start for it in dec])
                    if dec
                    else None,
                    "decode_step_gpu_median_s": statistics.median(
                        [it.gpu_time for it in dec if it.gpu_time is not None]
                    )
                    if dec and dec[0].gpu_time is not None
                    else None,
                    "prefill_step_wall_median_s": statistics.median([it.end - it.start for it in mix])
                    if mix
                    else None,
                    "decode_tokens_per_s_steady": (
                        statistics.median([it.num_decode_tokens / (it.end - it.start) for it in dec])
                        if dec
                        else None
                    ),
                }
            )
        except Exception as err:
            saturation["error"] = f"{type(err).__name__}: {err}"

    return {
        "schema_version": 1,
        "kind": "bench-engine",
        "model_config": str(args.model_config),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "dtype": dtype_name,
        "weights": "random",
        "torch_version": torch.__version__,
        "transformers_version": transformers.__version__,
        "params": n_params,
        "weight_bytes": weight_bytes,
        "kv_bytes_per_token": kv_tok,
        "bandwidth_tbps": args.bandwidth_tbps,
        "tflops": args.tflops,
        "cuda_graphs": use_graphs,
        "attention_requested": args.attention,
        "lean": lean_setup,
        "repeats": args.repeats,
        "threads": args.threads,
        "elapsed_s": time.perf_counter() - t_start,
        "decode": decode_rows,
        "prefill": prefill_rows,
        "mixed": mixed_rows,
        "saturation": saturation,
        "kernels": kernels,
        "decode_sweep": sweep,
    }


def _ms(x: Any) -> str:
    return "-" if x is None else f"{x * 1000:.4g}"


def _ratio(x: Any) -> str:
    return "-" if x is None else f"{x:.2f}x"


def render_markdown(result: dict[str, Any]) -> str:
    """Markdown tables of a run_bench result."""
    lines = [
        f"# bench-engine: {result['model_config']} on {result['device_name']} "
        f"({result['dtype']}, random weights)",
        "",
        f"floors: bandwidth {result['bandwidth_tbps']} TB/s, matmul {result['tflops']} TFLOP/s; "
        f"lean CUDA graphs: {result['cuda_graphs']}; median of {result['repeats']} repeats",
        "",
        "lean attention: "
        + "; ".join(
            f"{k} {v.get('attention_backend')} ({v.get('attention_backend_reason')}), "
            f"graphed steps: {v.get('graphed_steps')}"
            for k, v in result.get("lean", {}).items()
        ),
        "",
        "## Decode step (mixed context lengths, uniform in [C/2, 3C/2]; batch 1 uses C)",
        "",
        "| batch | mean ctx | lean wall ms | lean GPU ms | HF step ms | lean/HF | floor ms | lean/floor "
        "| note |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in result["decode"]:
        note = (
            r.get("error")
            or r.get("skipped")
            or r.get("hf_error")
            or r.get("hf_skipped")
            or r.get("hf_mode", "")
        )
        lines.append(
            f"| {r['batch']} | {r['context']} | {_ms(r.get('lean_wall_s'))} | {_ms(r.get('lean_gpu_s'))} | "
            f"{_ms(r.get('hf_step_s'))} | {_ratio(r.get('lean_over_hf'))} | "
            f"{_ms(r.get('bandwidth_floor_s'))} | "
            f"{_ratio(r.get('lean_over_floor'))} | {note} |"
        )
    lines += [
        "",
        "## Prefill chunk (one request, from position 0)",
        "",
        "| tokens | lean wall ms | lean GPU ms | compute floor ms | lean/floor | note |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for r in result["prefill"]:
        lines.append(
            f"| {r['chunk_tokens']} | {_ms(r.get('lean_wall_s'))} | {_ms(r.get('lean_gpu_s'))} | "
            f"{_ms(r.get('compute_floor_s'))} | {_ratio(r.get('lean_over_floor'))} | "
            f"{r.get('error') or r.get('skipped') or ''} |"
        )
    lines += [
        "",
        "## Mixed step (decodes at mixed contexts + one prefill chunk from position 0, one iteration)",
        "",
        "| decodes | mean ctx | chunk tokens | lean wall ms | lean GPU ms | host - GPU ms | floor ms "
        "| lean/floor | note |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in result.get("mixed", []):
        lines.append(
            f"| {r['decodes']} | {r['context']} | {r['chunk_tokens']} | {_ms(r.get('lean_wall_s'))} | "
            f"{_ms(r.get('lean_gpu_s'))} | {_ms(r.get('host_minus_gpu_s'))} | {_ms(r.get('floor_s'))} | "
            f"{_ratio(r.get('lean_over_floor'))} | {r.get('error') or r.get('skipped') or ''} |"
        )
    s = result["saturation"]
    lines += ["", "## Saturation (all requests at t=0, ignore_eos)", ""]
    if "output_tokens_per_s" in s:
        lines.append(
            f"{s['requests']} requests x {s['prompt_tokens']} prompt / {s['max_tokens']} output tokens, "
            f"chunk {s['chunk_size']}: **{s['output_tokens_per_s']:.1f} output tokens/s** "
            f"({s['output_tokens']} tokens in "
            f"{s['elapsed_s']:.2f} s, {s['steps']} steps); decode-only step median wall "
            f"{_ms(s['decode_step_wall_median_s'])} ms, GPU {_ms(s['decode_step_gpu_median_s'])} ms; "
            f"steps with prefill median wall {_ms(s.get('prefill_step_wall_median_s'))} ms"
        )
    else:
        lines.append(f"not measured: {s.get('error') or s.get('skipped')}")
    if result.get("decode_sweep"):
        lines += [
            "",
            "## Decode attention, one layer (mixed lengths in [C/2, 3C/2]; floor = K+V bytes / bandwidth)",
            "",
            "| batch | mean ctx | kernel | GPU us | TB/s | /floor |",
            "|---:|---:|---|---:|---:|---:|",
        ]
        for r in result["decode_sweep"]:
            if "error" in r:
                lines.append(f"| {r['batch']} | {r['context']} | {r['kernel']} | {r['error']} | | |")
                continue
            lines.append(
                f"| {r['batch']} | {r['context']} | {r['kernel']} | {r['gpu_s'] * 1e6:.1f} | "
                f"{r['tbps']:.2f} | {_ratio(r['over_floor'])} |"
            )
    for point, table in result.get("kernels", {}).items():
        lines += [
            "",
            f"## Kernels of one {point} step (eager, torch.profiler): {table['total_us'] / 1000:.3g} ms in "
            f"{table['kernels']} kernel names",
            "",
            "| kernel | launches | us / step |",
            "|---|---:|---:|",
        ]
        for k in table["top"]:
            lines.append(f"| `{k['kernel']}` | {k['launches']:.0f} | {k['us']:.1f} |")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    """CLI entry: measure, write bench_engine.json/.md under --out, print the markdown."""
    from .timeline import atomic_write_text

    result = run_bench(args)
    out = Path(args.out)
    atomic_write_text(out / "bench_engine.json", json.dumps(result, indent=2) + "\n")
    md = render_markdown(result)
    atomic_write_text(out / "bench_engine.md", md)
    print(md)
    failed = [r for r in result["decode"] + result["prefill"] if "error" in r]
    return 0 if not failed or len(failed) < len(result["decode"]) + len(result["prefill"]) else 1


__all__ = ["add_arguments", "render_markdown", "run", "run_bench", "math"]

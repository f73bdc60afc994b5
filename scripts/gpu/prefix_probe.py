#!/usr/bin/env python3
"""Where does a prefill chunk's prompt prefix cost time: the engine's own step against the per-op profile.

On the H200 runs a 510-token chunk step (plus 2 decodes) took 3.6 ms after no earlier prompt tokens and 8.3 ms
after 3584 (~2.6 ms per million (chunk token, prefix token) pairs), while Vidur, from the per-op profile,
predicted 3.8 and 7.0 ms (~1.6 ms per million pairs). This times, on one machine and one model:
  - engine: the LeanModelRunner's forward of that step (2 decodes reading --kv tokens, then one chunk of
    --chunk tokens after c tokens of its prompt), CUDA-event time, with CUDA graphs (as served) and without;
  - profile: the per-op profiler's attn_prefill of (chunk, kv = c) (`AttentionProfiler.profile_prefill`, the
    kernel and call the engine makes), times the model's layer count;
  - kernels: the engine's step without graphs under torch.profiler at the smallest and largest c, its CUDA
    kernel time summed by kernel name (which kernels grow with the prefix).
Writes prefix_probe.{json,md} to --out.

  PYTHONPATH=packages/gpu-harness/src python3 scripts/gpu/prefix_probe.py --out /tmp/pp
  (CPU smoke: --model-config packages/gpu-harness/src/gpu_harness/configs/qwen3-tiny.json --device cpu
   --attention varlen-reference --max-model-len 512 --budget 64 --chunk 60 --kv 20 --contexts 0,128,256
   --repeats 2 --warmup 1)
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys on xs (0 when xs do not vary)."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return (
        sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
        if sxx > 0
        else 0.0
    )


def render(
    meta: dict[str, Any],
    points: list[dict[str, Any]],
    kernels: dict[str, dict[str, float]],
) -> str:
    """prefix_probe.md: per prefix the engine's step (graphs, eager) and the profile's attention, each with
    its growth over the first prefix; the three slopes per million pairs; the kernels that grow."""
    chunk = meta["chunk"]
    base = points[0]
    lines = [
        f"# Prefill-prefix cost ({meta['device_name']}, chunk {chunk} + {meta['decodes']} decodes of {meta['kv']} KV)",
        "",
        (
            "| prefix tokens | M pairs | engine step P50 ms (graphs) | growth | engine eager P50 ms | growth "
            f"| profile attn_prefill x {meta['layers']} layers ms | growth |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in points:
        lines.append(
            f"| {p['context']} | {p['mpairs']:.3f} | {p['graphs_ms']:.3f} | {p['graphs_ms'] - base['graphs_ms']:+.3f} "
            f"| {p['eager_ms']:.3f} | {p['eager_ms'] - base['eager_ms']:+.3f} "
            f"| {p['profile_ms']:.3f} | {p['profile_ms'] - base['profile_ms']:+.3f} |"
        )
    xs = [p["mpairs"] for p in points]
    lines += [
        "",
        (
            "Slopes, ms per million (chunk token, prefix token) pairs: engine with graphs "
            f"{slope(xs, [p['graphs_ms'] for p in points]):.2f}, eager {slope(xs, [p['eager_ms'] for p in points]):.2f}, "
            f"the profile's attention {slope(xs, [p['profile_ms'] for p in points]):.2f}."
        ),
    ]
    if kernels:
        lo, hi = min(kernels, key=int), max(kernels, key=int)
        names = sorted(
            set(kernels[lo]) | set(kernels[hi]),
            key=lambda n: -(kernels[hi].get(n, 0) - kernels[lo].get(n, 0)),
        )
        lines += [
            "",
            f"Eager step's CUDA kernel time by kernel (torch.profiler, per step), prefix {lo} vs {hi} tokens:",
            "",
            f"| kernel | prefix {lo} ms | prefix {hi} ms | growth |",
            "|---|---|---|---|",
        ]
        for n in names[:12]:
            a, b = kernels[lo].get(n, 0.0), kernels[hi].get(n, 0.0)
            lines.append(f"| {n[:90]} | {a:.3f} | {b:.3f} | {b - a:+.3f} |")
    return "\n".join(lines) + "\n"


def kernel_times(
    torch: Any, runner: Any, items: Any, contexts: tuple[int, int]
) -> dict[str, dict[str, float]]:
    """Per context: the eager step's CUDA kernel time (ms per step) summed by kernel name (torch.profiler)."""
    from torch.profiler import ProfilerActivity, profile

    steps = 20
    out: dict[str, dict[str, float]] = {}
    for c in contexts:
        with torch.inference_mode():
            for _ in range(3):
                runner.forward(items(c))
            torch.cuda.synchronize()
            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                for _ in range(steps):
                    runner.forward(items(c))
                torch.cuda.synchronize()
        per: dict[str, float] = defaultdict(float)
        for ev in prof.key_averages():
            t = getattr(ev, "device_time_total", None) or getattr(
                ev, "cuda_time_total", 0
            )
            if t:
                per[ev.key] += t / 1e3 / steps
        out[str(c)] = dict(per)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--model-config",
        default="packages/gpu-harness/src/gpu_harness/configs/qwen3-0.6b.json",
    )
    ap.add_argument("--device", default="cuda")
    ap.add_argument(
        "--attention", default="auto", help="LeanModelRunner attention backend"
    )
    ap.add_argument("--max-model-len", type=int, default=4608)
    ap.add_argument("--budget", type=int, default=512, help="the server's token budget")
    ap.add_argument(
        "--slots", type=int, default=128, help="the server's batch cap (runner slots)"
    )
    ap.add_argument("--chunk", type=int, default=510, help="prefill chunk tokens")
    ap.add_argument(
        "--decodes", type=int, default=2, help="decode requests in the step"
    )
    ap.add_argument("--kv", type=int, default=505, help="KV tokens each decode reads")
    ap.add_argument(
        "--contexts",
        default="0,512,1024,1536,2048,2560,3072,3584",
        help="chunk's prompt prefix, tokens",
    )
    ap.add_argument("--repeats", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument(
        "--out", type=Path, required=True, help="folder for prefix_probe.{json,md}"
    )
    args = ap.parse_args()

    import torch
    from gpu_harness.engine.lean import LeanModelRunner
    from gpu_harness.model import build_model, load_hf_config
    from gpu_harness.profile.attention import AttentionProfiler
    from gpu_harness.profile.grid import PrefillPoint
    from gpu_harness.profile.model_dims import decoder_layers, dims_from_config
    from gpu_harness.profile.timing import OpTimer

    device = torch.device(args.device)
    cuda = device.type == "cuda"
    dtype = torch.bfloat16 if cuda else torch.float32
    config = load_hf_config(args.model_config)
    model = build_model(config, device=device, dtype=dtype, seed=0)
    contexts = [int(c) for c in args.contexts.split(",")]

    def runner(graphs: bool) -> Any:
        return LeanModelRunner(
            model,
            num_slots=args.slots,
            max_model_len=args.max_model_len,
            max_tokens=args.budget + args.slots,
            attention=args.attention,
            cuda_graphs=graphs and cuda,
        )

    def items(c: int) -> list[tuple[int, int, list[int], bool]]:
        decodes = [(s, args.kv - 1, [7 + s], True) for s in range(args.decodes)]
        return [*decodes, (args.decodes, c, [11] * args.chunk, True)]

    def timed(fn: Any) -> list[float]:
        out = []
        for i in range(args.warmup + args.repeats):
            if cuda:
                a, b = (
                    torch.cuda.Event(enable_timing=True),
                    torch.cuda.Event(enable_timing=True),
                )
                a.record()
                fn()
                b.record()
                b.synchronize()
                ms = a.elapsed_time(b)
            else:
                t = time.perf_counter()
                fn()
                ms = (time.perf_counter() - t) * 1e3
            if i >= args.warmup:
                out.append(ms)
        return out

    layers = decoder_layers(model, args.model_config)
    dims = dims_from_config(config, model, args.model_config)
    profiler = AttentionProfiler(
        model,
        layers,
        dims,
        OpTimer(device, args.warmup, args.repeats),
        block_size=16,
        max_batch_size=1,
        max_seq_len=args.max_model_len,
        seed=0,
        attention="auto" if args.attention == "varlen-reference" else args.attention,
    )
    # The profile's attention first, then each runner in turn (two 128-slot KV caches do not fit side by side).
    points: list[dict[str, Any]] = []
    for c in contexts:
        stats = profiler.profile_prefill(PrefillPoint(args.chunk, c))["attn_prefill"]
        points.append(
            {
                "context": c,
                "mpairs": args.chunk * c / 1e6,
                "profile_ms": stats.median * dims.num_layers,
            }
        )
    profile_desc = profiler.describe()
    del profiler
    kernels: dict[str, dict[str, float]] = {}
    kernel_error = None
    engine_desc: dict[str, Any] = {}
    for name, graphs in (("graphs", True), ("eager", False)):
        r = runner(graphs)
        for p in points:
            with torch.inference_mode():
                p[f"{name}_ms"] = statistics.median(
                    timed(lambda r=r, c=p["context"]: r.forward(items(c)))
                )
        if graphs:
            engine_desc = r.describe()
        elif cuda:
            try:
                kernels = kernel_times(torch, r, items, (contexts[0], contexts[-1]))
            except Exception as err:  # noqa: BLE001 (a profiler without CUPTI: keep the timings above)
                kernel_error = repr(err)
                print(f"kernel profile failed: {kernel_error}", flush=True)
        del r
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
    for p in points:
        print(json.dumps(p), flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    meta = {
        "device_name": torch.cuda.get_device_name(0) if cuda else "cpu",
        "torch": torch.__version__,
        "model_config": args.model_config,
        "layers": dims.num_layers,
        "chunk": args.chunk,
        "decodes": args.decodes,
        "kv": args.kv,
        "slots": args.slots,
        "budget": args.budget,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "engine": engine_desc,
        "profile_attention": profile_desc,
        "kernel_profile_error": kernel_error,
    }
    (args.out / "prefix_probe.json").write_text(
        json.dumps({"meta": meta, "points": points, "kernels": kernels}, indent=1)
    )
    text = render(meta, points, kernels)
    (args.out / "prefix_probe.md").write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

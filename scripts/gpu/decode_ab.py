#!/usr/bin/env python3
"""Does the engine's decode step grow with context the way the per-op profile says?

On the H200 runs the calibration's decode residual at 17-32 requests was ~0.3 ms more negative for Azure conv
(~1,100 tokens of context per request) than for ShareGPT (~190): Vidur's decode step grows faster with context
than the engine's. This times, on one machine and one model, for --batch decode requests at each context of
--contexts:
  - engine: the LeanModelRunner's forward of the decode-only step (CUDA graphs, as served), uniform contexts;
  - profile: the per-op profiler's attn_decode of (batch, kv) (`AttentionProfiler.profile_decode`) x layers;
  - kernel: the split-KV decode kernel alone, in the profiler's call (batch entries of one length), with the
    engine's entry padding (its entries bucket, padding rows -1), and with lengths spread around the mean
    (uniform over 0.3-1.7x, the same total), timed by the profiler's OpTimer (one layer).
Writes decode_ab.{json,md} to --out.

  PYTHONPATH=packages/gpu-harness/src python3 scripts/gpu/decode_ab.py --out /tmp/da   (CUDA only)
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any


def slope(xs: list[float], ys: list[float]) -> float:
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return (
        sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
        if sxx > 0
        else 0.0
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--model-config",
        default="packages/gpu-harness/src/gpu_harness/configs/qwen3-0.6b.json",
    )
    ap.add_argument("--max-model-len", type=int, default=4608)
    ap.add_argument("--budget", type=int, default=512)
    ap.add_argument("--slots", type=int, default=128)
    ap.add_argument("--batch", type=int, default=24)
    ap.add_argument("--contexts", default="192,576,1152,2048")
    ap.add_argument("--repeats", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()

    import torch
    from gpu_harness.engine import decode_kernel
    from gpu_harness.engine.lean import LeanModelRunner, _bucket
    from gpu_harness.model import build_model, load_hf_config
    from gpu_harness.profile.attention import AttentionProfiler
    from gpu_harness.profile.grid import DecodePoint
    from gpu_harness.profile.model_dims import decoder_layers, dims_from_config
    from gpu_harness.profile.timing import OpTimer

    dev = torch.device("cuda")
    dt = torch.bfloat16
    config = load_hf_config(args.model_config)
    model = build_model(config, device=dev, dtype=dt, seed=0)
    dims = dims_from_config(config, model, args.model_config)
    layers = decoder_layers(model, args.model_config)
    contexts = [int(c) for c in args.contexts.split(",")]
    b = args.batch

    def timed(fn: Any) -> float:
        for _ in range(args.warmup):
            fn()
        a, e = (
            torch.cuda.Event(enable_timing=True),
            torch.cuda.Event(enable_timing=True),
        )
        out = []
        for _ in range(args.repeats):
            a.record()
            fn()
            e.record()
            e.synchronize()
            out.append(a.elapsed_time(e))
        return statistics.median(out)

    profiler = AttentionProfiler(
        model,
        layers,
        dims,
        OpTimer(dev, args.warmup, args.repeats),
        block_size=16,
        max_batch_size=args.slots,
        max_seq_len=args.max_model_len,
        seed=0,
    )
    points: list[dict[str, Any]] = [{"context": c} for c in contexts]
    for p in points:
        p["profile_ms"] = (
            profiler.profile_decode(DecodePoint(b, p["context"]))["attn_decode"].median
            * dims.num_layers
        )
    kc, vc = profiler.k_cache, profiler.v_cache
    kernel_timer = OpTimer(dev, args.warmup, args.repeats)
    i32 = {"dtype": torch.int32, "device": dev}
    g = torch.Generator().manual_seed(0)
    entries_bucket = _bucket(
        b, sorted({x for x in (0, 16, 48) if x < args.slots} | {args.slots})
    )
    with torch.inference_mode():
        q = torch.randn(
            entries_bucket, dims.n_head, dims.head_dim, device=dev, dtype=dt
        )
        out = torch.empty_like(q)
        for p in points:
            c = p["context"]
            spread = (
                torch.empty(b)
                .uniform_(0.3 * c, 1.7 * c, generator=g)
                .round()
                .clamp(min=1)
            )
            spread = (
                (spread * (c * b / float(spread.sum())))
                .round()
                .clamp(min=1, max=args.max_model_len)
            )
            cases = {
                "kernel_profile": ([*range(b)], [c + 1] * b),
                "kernel_padded": (
                    [*range(b)] + [-1] * (entries_bucket - b),
                    [c + 1] * b + [0] * (entries_bucket - b),
                ),
                "kernel_spread": ([*range(b)], [int(x) + 1 for x in spread.tolist()]),
                "kernel_spread_padded": (
                    [*range(b)] + [-1] * (entries_bucket - b),
                    [int(x) + 1 for x in spread.tolist()] + [0] * (entries_bucket - b),
                ),
            }
            for name, (rows, lens) in cases.items():
                r = torch.tensor(rows, **i32)
                s = torch.tensor([max(x, 0) for x in rows], **i32)
                n = torch.tensor(lens, **i32)
                # The profiler's timer (the same GPU-sleep prequeue and L2 scrub as attn_decode): a lone
                # Triton launch pair timed with bare events is launch-bound (~0.1 ms whatever the context).
                p[name + "_ms"] = kernel_timer.measure(
                    [
                        lambda r=r, s=s, n=n, kc=kc, vc=vc: (
                            decode_kernel.decode_attention_split(
                                q, kc, vc, r, s, n, out
                            )
                        )
                    ]
                ).median
    del profiler, kc, vc
    torch.cuda.empty_cache()
    runner = LeanModelRunner(
        model,
        num_slots=args.slots,
        max_model_len=args.max_model_len,
        max_tokens=args.budget + args.slots,
        cuda_graphs=True,
    )
    with torch.inference_mode():
        for p in points:
            items = [(i, p["context"] - 1, [7 + i], True) for i in range(b)]
            p["engine_ms"] = timed(lambda items=items: runner.forward(items))
            print(json.dumps(p), flush=True)
    xs = [p["context"] * b / 1e3 for p in points]
    keys = [
        "engine_ms",
        "profile_ms",
        "kernel_profile_ms",
        "kernel_padded_ms",
        "kernel_spread_ms",
        "kernel_spread_padded_ms",
    ]
    lines = [
        f"# Decode steps of {b} requests against context ({torch.cuda.get_device_name(0)}; entries bucket {entries_bucket})",
        "",
        "| context per request | engine step ms | profile attn_decode x layers ms | kernel, profile call | padded | spread | spread + padded |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in points:
        lines.append(
            f"| {p['context']} | {p['engine_ms']:.3f} | {p['profile_ms']:.3f} | {p['kernel_profile_ms']:.4f} | "
            f"{p['kernel_padded_ms']:.4f} | {p['kernel_spread_ms']:.4f} | {p['kernel_spread_padded_ms']:.4f} |"
        )
    lines += [
        "",
        "Slopes, ms per 1,000 context tokens of the step (one layer for the kernel columns): "
        + ", ".join(f"{k[:-3]} {slope(xs, [p[k] for p in points]):.4f}" for k in keys)
        + f"; kernel columns x {dims.num_layers} layers: "
        + ", ".join(
            f"{k[:-3]} {slope(xs, [p[k] for p in points]) * dims.num_layers:.4f}"
            for k in keys[2:]
        )
        + ".",
    ]
    text = "\n".join(lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {
        "device_name": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "entries_bucket": entries_bucket,
    }
    meta.update(
        {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    )
    (args.out / "decode_ab.json").write_text(
        json.dumps({"meta": meta, "points": points}, indent=1)
    )
    (args.out / "decode_ab.md").write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

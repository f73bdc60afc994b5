#!/usr/bin/env python3
"""Why does the engine's prefill-chunk attention cost ~1.5x what the per-op profile times for the same chunk?

prefix_probe.py (ninth session) found the engine's FlashAttention kernel time of a 510-token chunk growing 2.5 ms
per million (chunk token, prefix token) pairs over 28 layers and the profiler's call of the same function 1.5.
Both call `engine.attention.flash_varlen_attention` on one chunk; they differ in the call's shape. This times the
kernel alone for the chunk after --prefixes, changing one thing at a time from the profiler's call:
  - profile: one sequence, max_q = chunk, a one-slot cache, keys at row 0 (what profile/attention.py times);
  - seqs=S: S varlen sequences, the chunk first and S-1 empty ones (the engine pads a step's sequences to its
    chunk-sequence bucket, 2 or num_slots, plus one for padding rows: 3 for a step with one chunk);
  - max_q: the engine's token bucket as max_q, with the padding rows in one more sequence;
  - slots: the engine's 128-slot cache with the chunk in slot 2;
  - engine: all of them (what the engine's step with one chunk and 2 decodes calls).
Each: CUDA-event time over --repeats back-to-back calls after --warmup (no L2 scrub: the engine has none), and the
profile's call once more through the profiler's OpTimer (L2 scrub). Writes flash_ab.{json,md} to --out.

  PYTHONPATH=packages/gpu-harness/src python3 scripts/gpu/flash_ab.py --out /tmp/fa
  (CPU smoke, the kernel's plain-PyTorch twin: --device cpu --slots 4 --max-positions 400 --chunk 60 --bucket 64
   --prefixes 0,256 --seqs 1,3 --repeats 2 --warmup 1)
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chunk", type=int, default=510)
    ap.add_argument(
        "--bucket", type=int, default=512, help="the engine's token bucket (max_q)"
    )
    ap.add_argument("--prefixes", default="0,3584")
    ap.add_argument(
        "--seqs", default="1,2,3,5,129", help="varlen sequence counts to try"
    )
    ap.add_argument("--slots", type=int, default=128)
    ap.add_argument("--max-positions", type=int, default=4609)
    ap.add_argument("--q-heads", type=int, default=16)
    ap.add_argument("--kv-heads", type=int, default=8)
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()

    import time

    import torch
    from gpu_harness.engine.attention import (
        flash_varlen_attention,
        varlen_attention_cpu,
    )
    from gpu_harness.profile.timing import OpTimer

    dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    dt = torch.bfloat16 if cuda else torch.float32
    kernel = flash_varlen_attention if cuda else varlen_attention_cpu
    p = args.max_positions
    c = args.chunk
    g = torch.Generator(device=dev).manual_seed(0)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g, device=dev, dtype=dt)

    small = (
        randn(1, p, args.kv_heads, args.head_dim),
        randn(1, p, args.kv_heads, args.head_dim),
    )
    big = (
        randn(args.slots, p, args.kv_heads, args.head_dim),
        randn(args.slots, p, args.kv_heads, args.head_dim),
    )
    i32 = {"dtype": torch.int32, "device": dev}

    def call(
        k: int,
        *,
        seqs: int,
        max_q: int,
        cache: tuple[torch.Tensor, torch.Tensor],
        slot: int,
    ) -> Any:
        rows = max(max_q, c) if seqs > 1 else c
        q = randn(rows, args.q_heads, args.head_dim)
        cu_q = [0, c] + [rows] * (seqs - 1)
        cu_k = torch.tensor([slot * p] * (seqs + 1), **i32)
        used = torch.tensor([k + c] + [0] * (seqs - 1), **i32)
        cu_q_t = torch.tensor(cu_q, **i32)
        kc, vc = cache
        return lambda: kernel(
            q, kc, vc, cu_q_t, cu_k, used, max_q if seqs > 1 else c, p
        )

    def timed(fn: Any) -> float:
        for _ in range(args.warmup):
            fn()
        if not cuda:
            samples = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                fn()
                samples.append((time.perf_counter() - t0) * 1e3)
            return statistics.median(samples)
        a, b = (
            torch.cuda.Event(enable_timing=True),
            torch.cuda.Event(enable_timing=True),
        )
        out = []
        for _ in range(args.repeats):
            a.record()
            fn()
            b.record()
            b.synchronize()
            out.append(a.elapsed_time(b))
        return statistics.median(out)

    variants: list[tuple[str, dict[str, Any]]] = [
        ("profile", {"seqs": 1, "max_q": c, "cache": small, "slot": 0}),
        *[
            (f"seqs={s}", {"seqs": s, "max_q": c, "cache": small, "slot": 0})
            for s in map(int, args.seqs.split(","))
            if s > 1
        ],
        ("max_q", {"seqs": 2, "max_q": args.bucket, "cache": small, "slot": 0}),
        ("slots", {"seqs": 1, "max_q": c, "cache": big, "slot": 2}),
        ("engine", {"seqs": 3, "max_q": args.bucket, "cache": big, "slot": 2}),
    ]
    prefixes = [int(x) for x in args.prefixes.split(",")]
    timer = OpTimer(dev, args.warmup, args.repeats)
    points: list[dict[str, Any]] = []
    with torch.inference_mode():
        for name, kw in variants:
            row: dict[str, Any] = {
                "variant": name,
                "seqs": kw["seqs"],
                "max_q": kw["max_q"],
                "slot": kw["slot"],
            }
            for k in prefixes:
                row[f"ms_{k}"] = timed(call(k, **kw))
            if name == "profile":
                row["profiler_timer_ms"] = {
                    k: timer.measure([call(k, **kw)]).median for k in prefixes
                }
            points.append(row)
            print(json.dumps(row), flush=True)
    name_of_device = torch.cuda.get_device_name(0) if cuda else "cpu"
    lo, hi = prefixes[0], prefixes[-1]
    base = points[0]
    lines = [
        f"# FlashAttention varlen call shapes ({name_of_device}, chunk {c}, one layer)",
        "",
        f"| variant | sequences | max_q | slot | prefix {lo} ms | prefix {hi} ms | growth ms | growth / profile's |",
        "|---|---|---|---|---|---|---|---|",
    ]
    g0 = base[f"ms_{hi}"] - base[f"ms_{lo}"]
    for r in points:
        gr = r[f"ms_{hi}"] - r[f"ms_{lo}"]
        lines.append(
            f"| {r['variant']} | {r['seqs']} | {r['max_q']} | {r['slot']} | {r[f'ms_{lo}']:.4f} | {r[f'ms_{hi}']:.4f} "
            f"| {gr:+.4f} | {gr / g0 if g0 else float('nan'):.2f} |"
        )
    t = base["profiler_timer_ms"]
    lines += [
        "",
        f"The profile's call through the profiler's OpTimer (L2 scrub): {t[lo]:.4f} / {t[hi]:.4f} ms.",
    ]
    text = "\n".join(lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"device_name": name_of_device, "torch": torch.__version__, **vars(args)}
    meta["out"] = str(meta["out"])
    (args.out / "flash_ab.json").write_text(
        json.dumps({"meta": meta, "points": points}, indent=1)
    )
    (args.out / "flash_ab.md").write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

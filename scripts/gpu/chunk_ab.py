#!/usr/bin/env python3
"""Does the engine's mixed step jump with its chunk size where the engine-shaped profile's chunk attention does?

The engine-shaped profile (`--prefill-call engine`: the chunk among the empty sequences the engine pads its varlen
call to, max_q = the chunk) has attn_prefill at prefix 0 jump by ~10 us per layer from a 384-token chunk to a
416-token one (a fourth 128-row query block); the served 512-budget steps show no such jump (H200 runs, mixed steps
of 17-32 requests: 4.40 / 4.39 / 4.56 ms GPU time at 320-383 / 384-447 / 448-511 prefill tokens, against the
simulation on that profile 4.51 / 4.97 / 5.29). The engine passes max_q = the step's token bucket, not the chunk.
This times, on one machine, for chunks of --chunks tokens after --prefixes tokens of their prompt, beside --decodes
decode rows over --decode-kv tokens each:
  - engine: the LeanModelRunner's forward of that mixed step (CUDA graphs, as served), every chunk size's step
    timed in turn within each repeat (so clock drift hits all sizes alike), median;
  - profile_engine / profile_single: the profiler's attn_prefill of (chunk, prefix) in the engine's padded call
    and alone (`AttentionProfiler.profile_prefill`, OpTimer, L2 scrub) x layers;
  - call_bucket: the engine's padded call with max_q = the step's token bucket (what the engine passes), through
    the same OpTimer, x layers.
Writes chunk_ab.{json,md} to --out.

  PYTHONPATH=packages/gpu-harness/src python3 scripts/gpu/chunk_ab.py --out /tmp/ca
(`--device cpu`, with a tiny --model-config, is a smoke test: host timers, no call_bucket column.)
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--model-config",
        default="packages/gpu-harness/src/gpu_harness/configs/qwen3-0.6b.json",
    )
    ap.add_argument("--max-model-len", type=int, default=4608)
    ap.add_argument("--budget", type=int, default=512)
    ap.add_argument("--slots", type=int, default=128)
    ap.add_argument(
        "--chunks", default="128,192,256,288,320,352,368,384,400,416,448,480,496"
    )
    ap.add_argument("--prefixes", default="0,2048")
    ap.add_argument("--decodes", type=int, default=16)
    ap.add_argument("--decode-kv", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()

    import time

    import torch
    from gpu_harness.engine import attention as engine_attention
    from gpu_harness.engine.lean import (
        LeanModelRunner,
        _bucket,
        token_buckets,
        varlen_sequences_one_chunk,
    )
    from gpu_harness.model import build_model, load_hf_config
    from gpu_harness.profile.attention import AttentionProfiler, chunk_call_tensors
    from gpu_harness.profile.grid import PrefillPoint
    from gpu_harness.profile.model_dims import decoder_layers, dims_from_config
    from gpu_harness.profile.timing import OpTimer
    from probe_out import write_results

    dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    dt = torch.bfloat16 if cuda else torch.float32
    config = load_hf_config(args.model_config)
    model = build_model(config, device=dev, dtype=dt, seed=0)
    dims = dims_from_config(config, model, args.model_config)
    layers = decoder_layers(model, args.model_config)
    chunks = [int(c) for c in args.chunks.split(",")]
    prefixes = [int(k) for k in args.prefixes.split(",")]
    d = args.decodes
    max_tokens = args.budget + args.slots
    buckets = token_buckets(max_tokens)
    points: list[dict[str, Any]] = [
        {"chunk": c, "prefix": k, "tokens": c + d, "bucket": _bucket(c + d, buckets)}
        for k in prefixes
        for c in chunks
    ]

    timer = OpTimer(dev, args.warmup, args.repeats)
    p_seqs = 1  # the padded call's sequences (timed on CUDA only)
    for call in ("engine", "single"):
        profiler = AttentionProfiler(
            model,
            layers,
            dims,
            timer,
            block_size=16,
            max_batch_size=args.slots,
            max_seq_len=args.max_model_len,
            seed=0,
            prefill_call=call,
        )
        for p in points:
            p[f"profile_{call}_ms"] = (
                profiler.profile_prefill(PrefillPoint(p["chunk"], p["prefix"]))[
                    "attn_prefill"
                ].median
                * dims.num_layers
            )
        if call == "engine" and cuda:
            seqs = varlen_sequences_one_chunk(
                512, args.slots, profiler.decode_attn == "split-kv"
            )
            kc, vc = profiler.k_cache, profiler.v_cache
            i32 = {"dtype": torch.int32, "device": dev}
            with torch.inference_mode():
                for p in points:
                    c, k, bucket = p["chunk"], p["prefix"], p["bucket"]
                    cu_q, cu_k, used = chunk_call_tensors(c, k + c, seqs)
                    q = torch.randn(
                        max(bucket, c), dims.n_head, dims.head_dim, device=dev, dtype=dt
                    )
                    t = [torch.tensor(v, **i32) for v in (cu_q, cu_k, used)]
                    p["call_bucket_ms"] = (
                        timer.measure(
                            [
                                lambda q=q, t=t, bucket=bucket, kc=kc, vc=vc: (
                                    engine_attention.flash_varlen_attention(
                                        q,
                                        kc,
                                        vc,
                                        t[0],
                                        t[1],
                                        t[2],
                                        bucket,
                                        args.max_model_len,
                                    )
                                )
                            ]
                        ).median
                        * dims.num_layers
                    )
            p_seqs = seqs
        del profiler
        torch.cuda.empty_cache()

    runner = LeanModelRunner(
        model,
        num_slots=args.slots,
        max_model_len=args.max_model_len,
        max_tokens=max_tokens,
        cuda_graphs=cuda,
    )

    def items(c: int, k: int) -> list[tuple[int, int, list[int], bool]]:
        decodes = [(1 + i, args.decode_kv, [7 + i], True) for i in range(d)]
        return [(0, k, [11] * c, False), *decodes]

    steps = [items(p["chunk"], p["prefix"]) for p in points]
    samples: list[list[float]] = [[] for _ in points]
    with torch.inference_mode():
        for _ in range(args.warmup):
            for s in steps:
                runner.forward(s)
        for _ in range(args.repeats if not cuda else 0):
            for i, s in enumerate(steps):
                t0 = time.perf_counter()
                runner.forward(s)
                samples[i].append((time.perf_counter() - t0) * 1e3)
        if cuda:
            torch.cuda.synchronize()
        for _ in range(args.repeats if cuda else 0):
            ev = [
                (
                    torch.cuda.Event(enable_timing=True),
                    torch.cuda.Event(enable_timing=True),
                )
                for _ in steps
            ]
            for (a, e), s in zip(ev, steps, strict=True):
                a.record()
                runner.forward(s)
                e.record()
            ev[-1][1].synchronize()
            for i, (a, e) in enumerate(ev):
                samples[i].append(a.elapsed_time(e))
    for p, s in zip(points, samples, strict=True):
        p["engine_ms"] = statistics.median(s)
        print(json.dumps(p), flush=True)

    for p in points:
        p.setdefault("call_bucket_ms", float("nan"))
    keys = ["engine_ms", "profile_engine_ms", "profile_single_ms", "call_bucket_ms"]
    lines = [
        (
            f"# Mixed steps against chunk size ({torch.cuda.get_device_name(0) if cuda else 'cpu'}; {d} decode rows "
            f"over {args.decode_kv} tokens each, {args.slots} slots, token buckets up to {max_tokens}, varlen call of "
            f"{p_seqs} sequences)"
        ),
        "",
        (
            "Each column's growth from the first chunk of its prefix, ms (attention columns x "
            f"{dims.num_layers} layers; the engine step's own time in brackets)."
        ),
        "",
        (
            "| prefix | chunk | step tokens / bucket | engine step | profile, engine call (max_q = chunk) "
            "| profile, one sequence | engine call, max_q = bucket |"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    for k in prefixes:
        rows = [p for p in points if p["prefix"] == k]
        base = rows[0]
        for p in rows:
            g = [p[key] - base[key] for key in keys]
            lines.append(
                f"| {k} | {p['chunk']} | {p['tokens']} / {p['bucket']} | {g[0]:+.3f} ({p['engine_ms']:.3f}) | "
                f"{g[1]:+.3f} | {g[2]:+.3f} | {g[3]:+.3f} |"
            )
    text = "\n".join(lines) + "\n"
    write_results(
        args,
        "chunk_ab",
        points,
        text,
        device_name=torch.cuda.get_device_name(0) if cuda else "cpu",
        torch=torch.__version__,
        sequences=p_seqs,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

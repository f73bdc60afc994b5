#!/usr/bin/env python3
"""Same machine, same weights, same step: does the engine's slot count (the server's batch cap) change a
step's time?

The 32-request-cap server's steps looked cheaper than the default (128-slot) server's in the fifth session's
runs,
but each server ran on its own machine. This times identical step compositions on two LeanModelRunners built
side
by side over one model (num_slots 128 with a 640-token step limit, as `serve` builds for budget 512 + cap
128; and
num_slots 32 with 544), interleaved A, B, A, B, ... so that clock drift hits both alike:
  - decode-only steps of d requests, each reading k KV tokens;
  - mixed steps: one prefill chunk of (budget - d) tokens after c tokens of context, plus d decodes;
  - the logits and argmax alone over the rows a mixed step samples from (the engine computes them for
    min(padded tokens, num_slots) rows of every mixed step, however few it samples).
Each point: CUDA-event time of the whole forward (host buffer fill, graph replay, output copy), median and
P10/P90
of --repeats after --warmup untimed calls. Writes slot_ab.json and slot_ab.md to --out.

  PYTHONPATH=packages/gpu-harness/src python3 scripts/gpu/slot_ab.py --out /tmp/ab
  (CPU smoke: --model-config .../qwen3-tiny.json --device cpu --attention varlen-reference --max-model-len
  256
   --budget 64 --repeats 2)
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any


def render(meta: dict[str, Any], points: list[dict[str, Any]]) -> str:
    """slot_ab.md: per composition the two P50s and their difference, the median ratio over every
    composition (the figure `simulate.stepTimeScale` takes for the second slot count against the first), the
    logits times."""
    a, b = meta["slots"]
    steps = [p for p in points if p["kind"] != "logits"]
    kv = steps[0]["kv"] if steps else "?"
    lines = [
        f"# Slot count A/B ({meta['device_name']}, budget {meta['budget']}, KV {kv} per decode)",
        "",
        f"| kind | decodes | chunk | context | {a} slots P50 ms | {b} slots P50 ms | {b} − {a} ms | ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    ratios = []
    for p in steps:
        x, y = p[f"slots{a}"]["p50"], p[f"slots{b}"]["p50"]
        ratios.append(y / x)
        lines.append(
            f"| {p['kind']} | {p['decodes']} | {p.get('chunk', '')} | {p.get('context', '')} "
            f"| {x:.3f} | {y:.3f} | {y - x:+.3f} | {y / x:.3f} |"
        )
    if ratios:
        lines += [
            "",
            f"Median step-time ratio, {b} slots / {a} slots, over {len(ratios)} compositions: "
            f"{statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f}).",
        ]
    lines += ["", "| logits + argmax rows | P50 ms |", "|---|---|"]
    lines += [f"| {p['rows']} | {p['ms']['p50']:.3f} |" for p in points if p["kind"] == "logits"]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model-config", default="packages/gpu-harness/src/gpu_harness/configs/qwen3-0.6b.json")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--attention", default="auto", help="LeanModelRunner attention backend")
    ap.add_argument("--max-model-len", type=int, default=4608)
    ap.add_argument(
        "--budget", type=int, default=512, help="the server's token budget (max_num_batched_tokens)"
    )
    ap.add_argument("--slots", default="128,32", help="the two slot counts (batch caps) to compare")
    ap.add_argument("--decodes", default="4,12,24,32", help="decode requests per step")
    ap.add_argument("--kv", type=int, default=1100, help="KV tokens each decode reads")
    ap.add_argument("--contexts", default="0,1024", help="prefill chunk's earlier context, tokens")
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--out", type=Path, help="folder for slot_ab.{json,md}")
    ap.add_argument(
        "--from-json", type=Path, help="print slot_ab.md of an earlier run's slot_ab.json (no GPU)"
    )
    args = ap.parse_args()
    if args.from_json is not None:
        data = json.loads(args.from_json.read_text())
        print(render(data["meta"], data["points"]), end="")
        return 0
    if args.out is None:
        ap.error("--out is required (or --from-json)")

    import torch
    from gpu_harness.engine.lean import LeanModelRunner
    from gpu_harness.engine.probe import quantile
    from gpu_harness.model import build_model, load_hf_config

    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    config = load_hf_config(args.model_config)
    model = build_model(config, device=device, dtype=dtype, seed=0)
    slots = [int(s) for s in args.slots.split(",")]
    runners = {
        n: LeanModelRunner(
            model,
            num_slots=n,
            max_model_len=args.max_model_len,
            max_tokens=args.budget + n,
            attention=args.attention,
            cuda_graphs=device.type == "cuda",
        )
        for n in slots
    }
    cuda = device.type == "cuda"

    def timed(fn: Any) -> list[float]:
        out = []
        for i in range(args.warmup + args.repeats):
            if cuda:
                a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
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

    def decode_items(d: int) -> list[tuple[int, int, list[int], bool]]:
        return [(s, args.kv - 1, [7 + s], True) for s in range(d)]

    points: list[dict[str, Any]] = []
    decodes = [int(x) for x in args.decodes.split(",")]
    contexts = [int(x) for x in args.contexts.split(",")]
    cases: list[tuple[str, dict[str, Any], Any]] = []
    for d in decodes:
        cases.append(("decode", {"decodes": d, "kv": args.kv}, lambda d=d: decode_items(d)))
    for c in contexts:
        for d in [0, *decodes]:
            chunk = args.budget - d
            if d >= min(slots):  # the chunk needs a slot of its own below every runner's slot count
                continue
            cases.append(
                (
                    "mixed",
                    {"decodes": d, "kv": args.kv, "chunk": chunk, "context": c},
                    lambda d=d, c=c, chunk=chunk: [*decode_items(d), (d, c, [11] * chunk, True)],
                )
            )
    for kind, shape, items_of in cases:
        items = items_of()
        row: dict[str, Any] = {"kind": kind, **shape}
        # Interleave: A, B, A, B (two rounds each), so drift between the two shows as their own spread.
        samples: dict[int, list[float]] = {n: [] for n in slots}
        for _round in range(2):
            for n in slots:
                with torch.inference_mode():
                    samples[n] += timed(lambda n=n, items=items: runners[n].forward(items))
        for n in slots:
            v = samples[n]
            row[f"slots{n}"] = {
                "p10": quantile(v, 0.1),
                "p50": statistics.median(v),
                "p90": quantile(v, 0.9),
                "n": len(v),
            }
        points.append(row)
        print(json.dumps(row), flush=True)
    # The logits + argmax over the rows a mixed step of each runner computes them for.
    hidden = config.hidden_size
    for rows in sorted({min(args.budget, n) for n in slots} | {16, 32, 48}):
        h = torch.randn(rows, hidden, device=device, dtype=dtype)
        r = runners[slots[0]]
        with torch.inference_mode():
            v = timed(lambda h=h, r=r: r._logits_argmax(h))
        row = {
            "kind": "logits",
            "rows": rows,
            "ms": {"p10": quantile(v, 0.1), "p50": statistics.median(v), "p90": quantile(v, 0.9)},
        }
        points.append(row)
        print(json.dumps(row), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {
        "device_name": torch.cuda.get_device_name(0) if cuda else "cpu",
        "torch": torch.__version__,
        "model_config": args.model_config,
        "slots": slots,
        "budget": args.budget,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "engine": {n: runners[n].describe() for n in slots},
    }
    (args.out / "slot_ab.json").write_text(json.dumps({"meta": meta, "points": points}, indent=1))
    text = render(meta, points)
    (args.out / "slot_ab.md").write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""How much of a served step's recorded GPU time is the host preparing the step?

The server's engine loop (`LeanEngine.step`) records its start event, then builds the step's inputs on the host
(item lists, the static buffers' host copies) and replays the CUDA graph, records its end event and syncs on the
sampled tokens. The GPU is idle when the start event is recorded (the previous step synced), so the event window
holds the host's preparation as well as the GPU's work, while the profiler times steps back to back (the host
prepares step i+1 while the GPU runs step i). Served decode steps took 0.34-0.77 ms more "GPU time" than the
engine's step timed by the profiler at the same batch size and context (`scripts/served-vs-bench.py`). This times,
on one machine, decode-only steps of --batches requests over --kv tokens each (and one mixed step):
  - pipelined: steps back to back, events around each forward, one sync at the end (the profiler's way);
  - served: the server's way: start event, forward, end event, the sampled ids to the host (sync) each step;
  - host: the host's wall time of the forward call itself in the served loop.
Writes host_ab.{json,md} to --out.

  PYTHONPATH=packages/gpu-harness/src python3 scripts/gpu/host_ab.py --out /tmp/ha
(`--device cpu`, with a tiny --model-config, is a smoke test of the loop: no events, host timers only.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
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
    ap.add_argument("--batches", default="1,4,8,16,24,32,64")
    ap.add_argument("--kv", type=int, default=1024)
    ap.add_argument("--mixed-chunk", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()

    import torch
    from gpu_harness.engine.lean import LeanModelRunner
    from gpu_harness.model import build_model, load_hf_config
    from probe_out import write_results

    dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    config = load_hf_config(args.model_config)
    model = build_model(
        config, device=dev, dtype=torch.bfloat16 if cuda else torch.float32, seed=0
    )
    runner = LeanModelRunner(
        model,
        num_slots=args.slots,
        max_model_len=args.max_model_len,
        max_tokens=args.budget + args.slots,
        cuda_graphs=cuda,
    )

    def decodes(b: int, first_slot: int = 0) -> list[tuple[int, int, list[int], bool]]:
        return [(first_slot + i, args.kv, [7 + i], True) for i in range(b)]

    cases: list[tuple[str, list[Any]]] = [
        (f"decode b={b}", decodes(b)) for b in (int(x) for x in args.batches.split(","))
    ]
    cases.append(
        (
            f"mixed chunk={args.mixed_chunk} + 16 decodes",
            [(0, 0, [11] * args.mixed_chunk, True), *decodes(16, 1)],
        )
    )

    def event() -> Any:
        return torch.cuda.Event(enable_timing=True)

    points: list[dict[str, Any]] = []
    with torch.inference_mode():
        for name, items in cases:
            for _ in range(args.warmup):
                runner.forward(items).tolist()
            served, host = [], []
            for _ in range(args.repeats):
                e0, e1 = (event(), event()) if cuda else (None, None)
                if e0 is not None:
                    e0.record()
                t0 = time.perf_counter()
                out = runner.forward(items)
                host.append((time.perf_counter() - t0) * 1e3)
                if e1 is not None:
                    e1.record()
                out.tolist()
                if e1 is not None:
                    e1.synchronize()
                    served.append(e0.elapsed_time(e1))
            pipelined = []
            if cuda:
                torch.cuda.synchronize()
                ev = [(event(), event()) for _ in range(args.repeats)]
                for a, e in ev:
                    a.record()
                    runner.forward(items)
                    e.record()
                ev[-1][1].synchronize()
                pipelined = [a.elapsed_time(e) for a, e in ev]
            p = {
                "case": name,
                "pipelined_ms": statistics.median(pipelined)
                if pipelined
                else float("nan"),
                "served_ms": statistics.median(served) if served else float("nan"),
                "host_forward_ms": statistics.median(host),
            }
            points.append(p)
            print(json.dumps(p), flush=True)

    lines = [
        (
            "# The served step's event window against the GPU's own step "
            f"({torch.cuda.get_device_name(0) if cuda else 'cpu'}; {args.slots} slots, kv {args.kv} per decode row, "
            f"medians of {args.repeats})"
        ),
        "",
        "| step | pipelined (GPU) ms | served (event window) ms | served - pipelined ms | host time of forward() ms |",
        "|---|---|---|---|---|",
    ]
    for p in points:
        lines.append(
            f"| {p['case']} | {p['pipelined_ms']:.3f} | {p['served_ms']:.3f} | "
            f"{p['served_ms'] - p['pipelined_ms']:+.3f} | {p['host_forward_ms']:.3f} |"
        )
    text = "\n".join(lines) + "\n"
    write_results(
        args,
        "host_ab",
        points,
        text,
        device_name=torch.cuda.get_device_name(0) if cuda else "cpu",
        torch=torch.__version__,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

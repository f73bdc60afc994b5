"""`gpu-harness check-engine`: greedy tokens of the lean engine against HF `generate` on the same weights.

Every prompt (seeded random token ids, lengths spread so that prompts are chunked and share iterations with
decodes) is served by the lean engine, all at once, with each requested attention backend, and generated
alone by HF `generate` (greedy). A prompt passes when its tokens are equal, or when they first differ at a
step where HF's own top-2 logits are within --tie-tolerance (a near-tie that rounding in reduced precision
may flip; in float32 on CPU the tolerance can be 0). Owns measurement and reporting only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


def add_arguments(p: argparse.ArgumentParser) -> None:
    from .bench import add_model_arguments

    add_model_arguments(p, "weights and prompt seed")
    p.add_argument(
        "--attention",
        default="auto,flash-varlen:flash,sdpa",
        help="comma list of lean attention backends to check (auto | flash-varlen | sdpa | "
        "varlen-reference), each optionally with :DECODE (auto | split-kv | flash: how varlen backends "
        "attend decode rows)",
    )
    p.add_argument(
        "--prompt-lengths",
        default="5,37,130,300,700",
        help="comma list of prompt lengths in tokens (one prompt each)",
    )
    p.add_argument("--max-tokens", type=int, default=24, help="greedy tokens per prompt")
    p.add_argument("--chunk-size", type=int, default=256, help="engine token budget per iteration")
    p.add_argument(
        "--tie-tolerance",
        type=float,
        default=None,
        help="largest HF top-2 logit gap at which a first divergence counts as a near-tie "
        "(default: 0 in float32, 0.125 in bfloat16/float16)",
    )
    p.add_argument("--out", default=None, help="write the report as JSON here")


def _lengths(text: str) -> list[int]:
    try:
        out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError as err:
        raise ValueError(f"--prompt-lengths {text!r}: expected comma-separated integers") from err
    if not out or min(out) < 1:
        raise ValueError(f"--prompt-lengths {text!r}: expected integers >= 1")
    return out


def check(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from .engine.base import EngineRequest
    from .engine.lean import LeanEngine
    from .model import build_model, load_hf_config, parse_dtype
    from .timeline import Timeline

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype_name = args.dtype or ("bfloat16" if device.type == "cuda" else "float32")
    tol = (
        args.tie_tolerance if args.tie_tolerance is not None else (0.0 if dtype_name == "float32" else 0.125)
    )
    if device.type == "cuda":
        torch.set_num_threads(1)
    config = load_hf_config(args.model_config)
    model = build_model(config, device=device, dtype=parse_dtype(dtype_name), seed=args.seed)
    gen = torch.Generator().manual_seed(args.seed + 11)
    prompts = [
        torch.randint(0, config.vocab_size, (n,), generator=gen).tolist()
        for n in _lengths(args.prompt_lengths)
    ]
    t0 = time.perf_counter()
    hf: list[tuple[list[int], list[float]]] = []
    for p in prompts:
        with torch.inference_mode():
            res = model.generate(
                torch.tensor([p], device=device),
                max_new_tokens=args.max_tokens,
                do_sample=False,
                eos_token_id=None,
                pad_token_id=0,
                output_logits=True,
                return_dict_in_generate=True,
            )
        toks = res.sequences[0, len(p) :].tolist()
        gaps = []
        for logits in res.logits:
            top = torch.topk(logits[0].float(), 2).values
            gaps.append(float(top[0] - top[1]))
        hf.append((toks, gaps))
    report: dict[str, Any] = {
        "model_config": str(args.model_config),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "dtype": dtype_name,
        "torch_version": torch.__version__,
        "prompt_lengths": [len(p) for p in prompts],
        "max_tokens": args.max_tokens,
        "chunk_size": args.chunk_size,
        "tie_tolerance": tol,
        "hf_seconds": time.perf_counter() - t0,
        "backends": {},
    }
    for name in [a.strip() for a in args.attention.split(",") if a.strip()]:
        attention, _, decode_attn = name.partition(":")
        timeline = Timeline()
        engine = LeanEngine(
            model,
            timeline=timeline,
            chunk_size=args.chunk_size,
            batch_size_cap=len(prompts),
            max_model_len=max(len(p) for p in prompts) + args.max_tokens + 1,
            attention=attention,
            decode_attn=decode_attn or "auto",
        )
        engine.warmup()
        got: dict[int, list[int]] = {i: [] for i in range(len(prompts))}
        for i, p in enumerate(prompts):
            engine.add_request(
                EngineRequest(
                    str(i),
                    p,
                    args.max_tokens,
                    True,
                    lambda _x, tok, _t, out=got[i]: out.append(tok),
                    lambda *_: None,
                )
            )
        while engine.has_work():
            engine.step()
        its = timeline.iterations()
        rows = []
        for i, (ref, gaps) in enumerate(hf):
            mine = got[i]
            first = next((k for k, (a, b) in enumerate(zip(mine, ref, strict=False)) if a != b), None)
            if first is None and len(mine) != len(ref):
                first = min(len(mine), len(ref))
            gap = gaps[first] if first is not None and first < len(gaps) else None
            rows.append(
                {
                    "prompt_tokens": len(prompts[i]),
                    "equal": first is None,
                    "first_difference": first,
                    "hf_top2_gap_there": gap,
                    "ok": first is None or (gap is not None and gap <= tol),
                }
            )
        report["backends"][name] = {
            "resolved": engine.runner.attention,
            "reason": engine.runner.attention_note,
            "decode_attention": engine.runner.decode_attn,
            "decode_attention_reason": engine.runner.decode_attn_note,
            "graphed_steps": engine.runner.describe()["graphed_steps"],
            "mixed_iterations": sum(1 for it in its if it.num_prefill_tokens and it.num_decode_tokens),
            "prompts_equal": sum(r["equal"] for r in rows),
            "prompts_ok": sum(r["ok"] for r in rows),
            "prompts": rows,
        }
    report["ok"] = all(b["prompts_ok"] == len(prompts) for b in report["backends"].values())
    return report


def run(args: argparse.Namespace) -> int:
    from .timeline import atomic_write_text

    try:
        _lengths(args.prompt_lengths)
    except ValueError as err:
        print(f"gpu-harness: HARNESS_BAD_FLAG: {err}", file=sys.stderr)
        return 2
    report = check(args)
    text = json.dumps(report, indent=2) + "\n"
    if args.out:
        atomic_write_text(Path(args.out), text)
    for name, b in report["backends"].items():
        n = len(report["prompt_lengths"])
        print(
            f"check-engine {name} -> {b['resolved']}, decode {b['decode_attention']} "
            f"(graphed steps: {b['graphed_steps']}): "
            f"{b['prompts_equal']}/{n} prompts equal to HF generate, {b['prompts_ok']}/{n} equal or "
            f"first differing at a near-tie (top-2 gap <= {report['tie_tolerance']}); "
            f"{b['mixed_iterations']} mixed iterations"
        )
    return 0 if report["ok"] else 1

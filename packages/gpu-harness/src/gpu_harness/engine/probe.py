"""Machine probe: a fixed set of step compositions timed on a serving engine's own model runner, before it
serves.

Two starts of one server configuration on two lent H200 machines ran the same step 2-6 % apart, and a server
with 32 slots ran it ~3 % faster than one with 128 on one machine; neither is in a per-op profile taken
once. A probe taken at every server start puts a number on the GPU side of both (`runner calibrate
--machine-probe` scales a calibration by the median ratio of two probes over the compositions both timed).
Measured in the seventh H200 session, that scaling made predictions of another machine's loads worse: the
machines differed more in a step's host time under HTTP load, which a probe without traffic does not see (the
top-level README). The probe stays in every server manifest as a record of the machine.

The compositions are absolute sizes, so that two servers of one model time the same steps whatever their
batch cap and token budget; those a runner cannot hold (more decodes than slots, a chunk over the budget, KV
over the context limit) are left out, and a ratio uses only the compositions both probes have:
  - decode-only steps of d = 1, 4, 8, 16, 32, 64 requests, each reading KV tokens;
  - mixed steps: one prefill chunk of CHUNK tokens after 0 or KV tokens of context, plus 0, 4 or 16 decodes.
KV = min(1024, max_model_len // 4), CHUNK = min(224, budget * 7 // 8) (224 for budgets of 256 and 512).
Each step is timed as the engine runs one (host buffer fill, graph replay, the host sync on the sampled ids),
in ROUNDS passes over every composition (drift hits them alike), after untimed warm-up calls.
"""

from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from .lean import LeanModelRunner, StepItem

PROBE_SCHEMA_VERSION = 1
DECODES = (1, 4, 8, 16, 32, 64)
MIXED_DECODES = (0, 4, 16)
ROUNDS = 4
WARMUP_PER_ROUND = 3


def quantile(values: list[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default, R-7) of a non-empty list."""
    v = sorted(values)
    h = (len(v) - 1) * q
    lo = int(h)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (h - lo) * (v[hi] - v[lo])


def compositions(
    *, num_slots: int, budget: int, max_model_len: int, max_tokens: int
) -> list[tuple[dict[str, Any], list[StepItem]]]:
    """(description, step items) of every probe composition this runner can hold."""
    kv = min(1024, max_model_len // 4)
    chunk = min(224, budget * 7 // 8)
    out: list[tuple[dict[str, Any], list[StepItem]]] = []
    if kv < 2 or chunk < 1:
        return out

    def decodes(d: int) -> list[StepItem]:
        return [(s, kv - 1, [7 + s % 50], True) for s in range(d)]

    for d in DECODES:
        if d <= num_slots:
            out.append(
                ({"key": f"decode d={d} kv={kv}", "kind": "decode", "decodes": d, "kv": kv}, decodes(d))
            )
    for context in (0, kv):
        for d in MIXED_DECODES:
            fits = d + 1 <= num_slots and chunk + d <= min(budget, max_tokens)
            if not fits or context + chunk > max_model_len:
                continue
            desc = {
                "key": f"mixed d={d} kv={kv} chunk={chunk} context={context}",
                "kind": "mixed",
                "decodes": d,
                "kv": kv,
                "chunk": chunk,
                "context": context,
            }
            out.append((desc, [*decodes(d), (d, context, [11] * chunk, True)]))
    return out


def run_probe(runner: LeanModelRunner, *, budget: int, repeats: int) -> dict[str, Any]:
    """Times every composition `repeats` times (spread over ROUNDS passes); returns the probe record that the
    server puts in server_run.json as `machine_probe`."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    cases = compositions(
        num_slots=runner.num_slots,
        budget=budget,
        max_model_len=runner.max_model_len,
        max_tokens=runner.max_tokens,
    )
    cuda = runner.device.type == "cuda"
    samples: list[list[float]] = [[] for _ in cases]
    per_round = [repeats // ROUNDS + (1 if r < repeats % ROUNDS else 0) for r in range(ROUNDS)]
    began = time.perf_counter()
    with torch.inference_mode():
        for r in range(ROUNDS):
            if per_round[r] == 0:
                continue
            for i, (_, items) in enumerate(cases):
                for j in range(WARMUP_PER_ROUND + per_round[r]):
                    t = time.perf_counter()
                    runner.forward(items).tolist()  # the engine's one host sync of a step
                    if cuda:
                        torch.cuda.synchronize()
                    if j >= WARMUP_PER_ROUND:
                        samples[i].append((time.perf_counter() - t) * 1e3)
    points = [
        {
            **desc,
            "p10_ms": quantile(v, 0.1),
            "p50_ms": statistics.median(v),
            "p90_ms": quantile(v, 0.9),
            "n": len(v),
        }
        for (desc, _), v in zip(cases, samples, strict=True)
    ]
    return {
        "schema_version": PROBE_SCHEMA_VERSION,
        "what": "wall time of one engine step (host fill, forward, host sync) per fixed composition, ms",
        "repeats": repeats,
        "rounds": ROUNDS,
        "warmup_per_round": WARMUP_PER_ROUND,
        "seconds": time.perf_counter() - began,
        "points": points,
    }

"""The lean engine against HF `generate` on the same random weights (CPU, float32, tiny Qwen3 config)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import torch

from gpu_harness.engine.base import EngineRequest
from gpu_harness.engine.lean import LeanEngine, LeanModelRunner, token_buckets
from gpu_harness.model import build_model, load_hf_config
from gpu_harness.timeline import Timeline

torch.set_num_threads(1)

PROMPTS = [
    [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17],
    [100, 200, 3],
    list(range(30, 67)),
    [7],
    [300] * 20,
]
MAX_TOKENS = 14
# The backends that run on CPU: `sdpa`, and `varlen-reference` (the flash-varlen data path: packed rows,
# padded token buckets, static index buffers, with `varlen_attention_cpu` in place of the CUDA kernel).
CPU_BACKENDS = ["sdpa", "varlen-reference"]


def make_engine(model: torch.nn.Module, timeline: Timeline | None = None, **kw: object) -> LeanEngine:
    """A LeanEngine sized for the tiny config: budget 8, 4 requests, 4-token blocks, 64-token context."""
    opts: dict[str, object] = {"chunk_size": 8, "batch_size_cap": 4, "block_size": 4, "max_model_len": 64}
    opts.update(kw)
    return LeanEngine(model, timeline=timeline or Timeline(), **opts)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return build_model("qwen3-tiny", device="cpu", dtype="float32", seed=3)


@pytest.fixture(scope="module")
def reference(model: torch.nn.Module) -> list[list[int]]:
    out = []
    for p in PROMPTS:
        ids = model.generate(
            torch.tensor([p]), max_new_tokens=MAX_TOKENS, do_sample=False, eos_token_id=None, pad_token_id=0
        )
        out.append(ids[0, len(p) :].tolist())
    return out


def serve_all(
    engine: LeanEngine, prompts: list[list[int]], max_tokens: int, ignore_eos: bool = True
) -> tuple[dict[int, list[int]], dict[int, str]]:
    toks: dict[int, list[int]] = {i: [] for i in range(len(prompts))}
    reasons: dict[int, str] = {}
    for i, p in enumerate(prompts):
        engine.add_request(
            EngineRequest(
                str(i),
                p,
                max_tokens,
                ignore_eos,
                lambda idx, tok, t, i=i: toks[i].append(tok),
                lambda r, e, i=i: reasons.__setitem__(i, r),
            )
        )
    steps = 0
    while engine.has_work():
        engine.step()
        steps += 1
        assert steps < 10_000
    return toks, reasons


def test_random_weights_are_deterministic_per_seed() -> None:
    a = build_model("qwen3-tiny", device="cpu", dtype="float32", seed=3)
    b = build_model("qwen3-tiny", device="cpu", dtype="float32", seed=3)
    c = build_model("qwen3-tiny", device="cpu", dtype="float32", seed=4)
    pa, pb, pc = (dict(m.named_parameters()) for m in (a, b, c))
    assert all(torch.equal(pa[k], pb[k]) for k in pa)
    assert not torch.equal(
        pa["model.layers.0.self_attn.q_proj.weight"], pc["model.layers.0.self_attn.q_proj.weight"]
    )


@pytest.mark.parametrize("attention", CPU_BACKENDS)
def test_greedy_tokens_equal_hf_generate_with_chunked_prefill(
    model: torch.nn.Module, reference: list[list[int]], attention: str
) -> None:
    tl = Timeline()
    # A budget of 8 splits the 13-, 20- and 37-token prompts over several iterations, mixed with decodes.
    engine = make_engine(model, tl, attention=attention)
    assert engine.knobs()["attention_backend"] == attention
    toks, reasons = serve_all(engine, PROMPTS, MAX_TOKENS)
    assert [toks[i] for i in range(len(PROMPTS))] == reference
    assert set(reasons.values()) == {"length"}
    its = tl.iterations()
    assert any(it.num_prefill_tokens and it.num_decode_tokens for it in its)  # mixed iterations happened
    assert max(it.num_prefill_tokens + it.num_decode_tokens for it in its) <= 8 + 4
    # Totals: every prompt token prefilled once, one output per prefill completion, the rest decodes.
    assert sum(it.num_prefill_tokens for it in its) == sum(len(p) for p in PROMPTS)
    assert sum(it.num_decode_tokens for it in its) == len(PROMPTS) * (MAX_TOKENS - 1)
    assert len(tl.tokens()) == len(PROMPTS) * MAX_TOKENS
    assert engine.kv_tokens_in_use() == 0 and engine.scheduler.num_allocated == 0


@pytest.mark.parametrize("attention", CPU_BACKENDS)
def test_greedy_tokens_survive_preemption_and_recompute(
    model: torch.nn.Module, reference: list[list[int]], attention: str
) -> None:
    tl = Timeline()
    engine = make_engine(
        model, tl, attention=attention, chunk_size=16, num_blocks=20, watermark_blocks_fraction=0.0
    )
    toks, _ = serve_all(engine, PROMPTS, MAX_TOKENS)
    assert [toks[i] for i in range(len(PROMPTS))] == reference
    c = engine.counters()
    assert c["preemptions"] > 0
    its = tl.iterations()
    assert (
        sum(it.num_prefill_tokens for it in its)
        == sum(len(p) for p in PROMPTS) + c["recomputed_prefill_tokens"]
    )
    # One output per incarnation that completed its prefill, the rest from decodes.
    prefill_outputs = len(PROMPTS) + c["preemptions"] - c["preempted_in_prefill"]
    assert sum(it.num_decode_tokens for it in its) + prefill_outputs == len(PROMPTS) * MAX_TOKENS
    assert all(it.kv_tokens_in_use is not None and it.kv_tokens_in_use <= 20 * 4 for it in its)


def test_token_times_non_decreasing_and_within_steps(model: torch.nn.Module) -> None:
    tl = Timeline()
    engine = make_engine(model, tl)
    serve_all(engine, PROMPTS[:3], 5)
    by_req: dict[str, list[float]] = {}
    for rid, idx, t in tl.tokens():
        assert idx == len(by_req.setdefault(rid, []))
        by_req[rid].append(t)
    assert all(ts == sorted(ts) for ts in by_req.values())
    its = tl.iterations()
    assert all(a.end <= b.start for a, b in zip(its, its[1:], strict=False))
    assert all(its[0].start <= t <= its[-1].end for ts in by_req.values() for t in ts)


def test_eos_stops_unless_ignored(model: torch.nn.Module, reference: list[list[int]]) -> None:
    # Pretend the 4th greedy token of prompt 0 is EOS: without ignore_eos the request stops right there.
    eos = reference[0][3]
    first = reference[0].index(eos)
    engine = make_engine(model, chunk_size=64, batch_size_cap=2, eos_token_id=eos)
    toks, reasons = serve_all(engine, [PROMPTS[0]], MAX_TOKENS, ignore_eos=False)
    assert toks[0] == reference[0][: first + 1] and reasons[0] == "stop"
    engine = make_engine(model, chunk_size=64, batch_size_cap=2, eos_token_id=eos)
    toks, reasons = serve_all(engine, [PROMPTS[0]], MAX_TOKENS, ignore_eos=True)
    assert toks[0] == reference[0] and reasons[0] == "length"


def test_cancel_frees_kv_and_reports_cancelled(model: torch.nn.Module) -> None:
    engine = make_engine(model, chunk_size=64, batch_size_cap=2)
    reasons: list[str] = []
    h = engine.add_request(
        EngineRequest("x", PROMPTS[2], 20, True, lambda *a: None, lambda r, e: reasons.append(r))
    )
    engine.step()
    engine.step()
    assert engine.kv_tokens_in_use() == len(PROMPTS[2]) + 1
    assert engine.cancel(h) and reasons == ["cancelled"]
    assert engine.kv_tokens_in_use() == 0 and engine.scheduler.num_allocated == 0 and not engine.has_work()
    assert not engine.cancel(h)


@pytest.mark.parametrize("attention", CPU_BACKENDS)
def test_greedy_tokens_equal_hf_when_head_dim_differs_from_hidden_over_heads(attention: str) -> None:
    # Qwen3-0.6B has head_dim 128 while hidden / heads = 64: the q width is not the hidden size.
    config = load_hf_config("qwen3-tiny")
    config.head_dim = 32
    model = build_model(config, device="cpu", dtype="float32", seed=5)
    prompts = [PROMPTS[0], PROMPTS[2]]
    ref = [
        model.generate(
            torch.tensor([p]), max_new_tokens=8, do_sample=False, eos_token_id=None, pad_token_id=0
        )[0, len(p) :].tolist()
        for p in prompts
    ]
    engine = make_engine(model, batch_size_cap=2, attention=attention)
    toks, _ = serve_all(engine, prompts, 8)
    assert [toks[0], toks[1]] == ref


def test_backends_agree_on_one_unordered_mixed_step(model: torch.nn.Module) -> None:
    # Items in non-slot order, a non-sampled chunk between sampled ones: outputs come back in item order.
    prompts = {3: PROMPTS[2][:20], 0: PROMPTS[0], 1: PROMPTS[4][:9]}
    outs = []
    for attention in CPU_BACKENDS:
        r = LeanModelRunner(model, num_slots=4, max_model_len=64, cuda_graphs=False, attention=attention)
        # First step: the three prompts' first parts; slot 1 stops short of its end (no sample).
        first = r.forward(
            [(3, 0, prompts[3][:12], True), (0, 0, prompts[0], True), (1, 0, prompts[1][:5], False)]
        )
        # Second step: a decode of slot 0, the rest of slot 1's prompt, a decode of slot 3.
        second = r.forward(
            [(1, 5, prompts[1][5:], True), (0, 13, [int(first[1])], True), (3, 12, [int(first[0])], True)]
        )
        outs.append((first.tolist(), second.tolist()))
    assert outs[0] == outs[1]
    assert len(outs[0][0]) == 2 and len(outs[0][1]) == 3


def test_token_buckets_cover_every_step_size_with_bounded_padding() -> None:
    buckets = token_buckets(640)
    assert buckets[0] == 1 and buckets[-1] == 640 and buckets == sorted(set(buckets))
    for n in range(1, 641):
        b = next(b for b in buckets if b >= n)
        assert b - n < 16 or b <= 1.25 * n
    assert token_buckets(2048)[-3:] == [1536, 1792, 2048]


@pytest.mark.parametrize("decode_attn", ["split-kv", "flash"])
def test_varlen_path_equals_hf_with_either_decode_attention(
    model: torch.nn.Module, reference: list[list[int]], decode_attn: str
) -> None:
    # The flash-varlen step (chunks first then decodes, token and chunk-count buckets, static index
    # buffers; decode rows in the split-KV kernel after a chunk-only varlen call, or all rows in one call)
    # on the CPU twins of both kernels: greedy tokens must still equal HF generate.
    engine = make_engine(model, attention="varlen-reference", decode_attn=decode_attn)
    knobs = engine.knobs()
    assert knobs["attention_backend"] == "varlen-reference" and knobs["decode_attention"] == decode_attn
    assert knobs["mixed_step_attention"].startswith(
        "varlen call over" if decode_attn == "split-kv" else "one"
    )
    toks, _ = serve_all(engine, PROMPTS, MAX_TOKENS)
    assert [toks[i] for i in range(len(PROMPTS))] == reference


def test_triton_decode_kernel_in_the_engine_equals_hf(
    model: torch.nn.Module, reference: list[list[int]]
) -> None:
    # The real Triton kernel (Triton's CPU interpreter) in the engine's data path, where the GPU runs it.
    from gpu_harness.engine.decode_kernel import decode_attention_split

    engine = make_engine(model, attention="varlen-reference")
    engine.runner._decode_kernel = decode_attention_split
    engine.runner.decode_tuning = {"split": 16, "block_n": 16, "num_warps": 1}  # several splits per row
    toks, _ = serve_all(engine, PROMPTS[:3], MAX_TOKENS)
    assert [toks[i] for i in range(3)] == reference[:3]


def test_captured_graph_keys_cover_every_reachable_step(model: torch.nn.Module) -> None:
    # capture_all captures `graph_keys()`; a step whose `step_key` is not among them would capture while
    # serving. Check every (tokens, chunks, decodes) a step can have, for both decode attentions.
    for decode_attn in ("split-kv", "flash"):
        r = LeanModelRunner(
            model,
            num_slots=64,
            max_model_len=64,
            cuda_graphs=False,
            attention="varlen-reference",
            max_tokens=80,
            decode_attn=decode_attn,
        )
        keys = set(r.graph_keys())
        assert len(keys) == len(r.graph_keys())
        for n in range(1, 65):
            assert r.step_key(n, True, 0, n) in keys
        for n in range(1, 81):
            for chunks in range(1, min(n, 64) + 1):
                for decodes in range(0, min(n - chunks, 64 - chunks) + 1):
                    assert r.step_key(n, False, chunks + (0 if r.decode_split else decodes), decodes) in keys
    assert r.step_key(70, False, 3, 5) == (80, False, 0, 0)  # flash: one varlen call, no split buckets


def test_triton_elementwise_kernels_in_the_engine_equal_hf(
    model: torch.nn.Module, reference: list[list[int]]
) -> None:
    # fused_kernels="triton" (Triton's CPU interpreter here): add+RMSNorm, q/k norm+RoPE+KV write and
    # silu*up as the GPU runs them, inside the varlen data path; greedy tokens must equal HF generate.
    engine = make_engine(model, attention="varlen-reference")
    runner = LeanModelRunner(
        model,
        num_slots=4,
        max_model_len=64,
        cuda_graphs=False,
        attention="varlen-reference",
        max_tokens=12,
        fused_kernels="triton",
    )
    assert runner.fused_triton and runner.describe()["elementwise_kernels"].startswith("fused_kernels")
    engine.runner = runner
    toks, _ = serve_all(engine, PROMPTS[:3], MAX_TOKENS)
    assert [toks[i] for i in range(3)] == reference[:3]
    with pytest.raises(ValueError, match="auto, triton or torch"):
        LeanModelRunner(model, num_slots=1, max_model_len=8, cuda_graphs=False, fused_kernels="cuda")


def _flushes_under_driver(model: torch.nn.Module, after_launch: bool) -> tuple[list[Any], Timeline, int]:
    """Serve three requests through an EngineDriver whose after-step hook records each hand-over: (time, the
    token times it carried). Returns the hand-overs, the timeline and the number of tokens generated."""
    from gpu_harness.engine.driver import EngineDriver

    tl = Timeline()
    engine = make_engine(model, tl)
    pending: list[float] = []  # touched on the engine thread only
    flushes: list[tuple[float, list[float]]] = []
    finished = threading.Event()
    ends: list[str] = []

    def flush() -> None:
        if pending:
            flushes.append((tl.now(), list(pending)))
            pending.clear()

    def on_finish(reason: str, error: str | None) -> None:
        ends.append(reason)
        if len(ends) == 3:
            finished.set()

    driver = EngineDriver(engine, after_step=flush, after_launch=after_launch)
    driver.start()
    try:
        for i, p in enumerate(PROMPTS[:3]):
            driver.submit(EngineRequest(str(i), p, 6, True, lambda idx, tok, t: pending.append(t), on_finish))
        assert finished.wait(60)
        deadline = time.monotonic() + 10
        while sum(len(ts) for _, ts in flushes) < 18 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        driver.stop()
    return flushes, tl, 3 * 6


def test_overlap_hands_a_steps_tokens_over_once_the_next_step_is_launched(model: torch.nn.Module) -> None:
    flushes, tl, total = _flushes_under_driver(model, after_launch=True)
    its = tl.iterations()
    assert sum(len(ts) for _, ts in flushes) == total  # every token handed over, the last step's too
    assert len(flushes) >= 3
    launched_windows = [
        (it.start + it.phases.schedule + it.phases.prepare, it.end, it.start) for it in its if it.phases
    ]
    *inside, last = flushes
    for t, token_times in inside:
        # Inside a later step: after its launch, before it ended, carrying only earlier steps' tokens.
        hit = [w for w in launched_windows if w[0] <= t <= w[1]]
        assert len(hit) == 1, (t, launched_windows)
        assert max(token_times) <= hit[0][2]
    assert last[0] >= its[-1].end  # no step followed the last one: handed over after it


def test_per_step_hands_a_steps_tokens_over_between_steps(model: torch.nn.Module) -> None:
    flushes, tl, total = _flushes_under_driver(model, after_launch=False)
    its = tl.iterations()
    assert sum(len(ts) for _, ts in flushes) == total
    for t, _ in flushes:
        assert not any(it.start <= t <= it.end for it in its)  # never during a step


def test_overlap_needs_an_engine_with_a_launch_hook() -> None:
    from gpu_harness.engine.driver import EngineDriver

    class NoHook(LeanEngine):
        supports_on_launch = False

    engine = NoHook.__new__(NoHook)
    with pytest.raises(ValueError, match="on_launch"):
        EngineDriver(engine, after_step=lambda: None, after_launch=True)


def test_engine_cpus_pin_the_engine_thread_only(model: torch.nn.Module) -> None:
    import os

    from gpu_harness.engine.driver import EngineDriver

    before = os.sched_getaffinity(0)
    cpu = min(before)
    driver = EngineDriver(make_engine(model), cpus={cpu})
    driver.start()
    try:
        inside = driver.query(lambda: os.sched_getaffinity(0)).result(timeout=30)
    finally:
        driver.stop()
    assert inside == {cpu}
    assert os.sched_getaffinity(0) == before  # the caller's thread is left as it was


@pytest.mark.parametrize("attention", CPU_BACKENDS)
def test_every_varlen_step_records_its_host_probe(model: torch.nn.Module, attention: str) -> None:
    # The probe times the step's fixed-size input conversion: on the varlen path every step has one (a
    # positive time, in iterations.csv's host_probe_time), on the sdpa path none (an empty cell).
    tl = Timeline()
    engine = make_engine(model, tl, attention=attention)
    serve_all(engine, PROMPTS[:3], 4)
    probes = [it.host_probe for it in tl.iterations()]
    # Its size, for comparing levels across servers: 3 x the step token limit + the slots (@vf/metrics-io's
    # readHostProbeSize falls back to that formula for servers that did not record it).
    knobs = engine.runner.describe()
    rows = tl.iterations_csv().splitlines()
    assert rows[0].endswith(",process_time,host_probe_time") and len(rows) == len(probes) + 1
    if attention == "sdpa":
        assert probes and all(p is None for p in probes)
        assert all(r.endswith(",") for r in rows[1:])
        assert "host_probe_ints" not in knobs
    else:
        assert probes and all(p is not None and 0 < p < 1 for p in probes)
        assert all(not r.endswith(",") for r in rows[1:])
        assert knobs["host_probe_ints"] == 3 * knobs["max_tokens_per_step"] + engine.runner.num_slots

"""The reference server as a real subprocess on 127.0.0.1 (free port), driven over real HTTP (aiohttp client).

One server (tiny Qwen3, lean engine, CPU) serves every test in this module, once with each --token-delivery
(a wakeup of the event loop per token, or per engine step); the last test stops it with SIGTERM and checks the
flushed timeline files.
Scheduler knobs are small so that chunking and preemption happen.
"""

from __future__ import annotations

import asyncio
import csv
import gc
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

NUM_BLOCKS = 48
BLOCK = 4
MAX_CONTEXT = (NUM_BLOCKS - 1) * BLOCK  # 188 < --max-model-len 256: the KV blocks (minus one) limit it
WORDS = ["hello", "world", "the", "cat", "sat", "on", "mat"]


class Server:
    def __init__(self, proc: subprocess.Popen[str], url: str, log_dir: Path, delivery: str) -> None:
        self.proc = proc
        self.url = url
        self.log_dir = log_dir
        self.delivery = delivery


def start_server(root: Path, delivery: str) -> Server:
    """A tiny-Qwen3 CPU server under root (tokenizer, logs) with `--token-delivery DELIVERY...` flags."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    tok = Tokenizer(WordLevel({w: 10 + i for i, w in enumerate(WORDS)} | {"[UNK]": 3}, unk_token="[UNK]"))
    tok.pre_tokenizer = Whitespace()
    tok.save(str(root / "tokenizer.json"))
    log_dir = root / "logs"
    flags = {
        "--model-config": "qwen3-tiny",
        "--device": "cpu",
        "--dtype": "float32",
        "--seed": "3",
        "--port": "0",
        "--threads": "1",
        "--max-batch-size": "16",
        "--block-size": str(BLOCK),
        "--num-blocks": str(NUM_BLOCKS),
        "--max-num-batched-tokens": "32",
        "--max-model-len": "256",
        "--watermark-blocks-fraction": "0",
        "--log-dir": str(log_dir),
        "--tokenizer": str(root / "tokenizer.json"),
        "--probe-repeats": "2",
    }
    cmd = [sys.executable, "-m", "gpu_harness.cli", "serve", *(x for kv in flags.items() for x in kv)]
    cmd += ["--token-delivery", *delivery.split()]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("READY "):
        proc.kill()
        raise AssertionError(f"server did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    url = line.split()[1]
    assert url.startswith("http://127.0.0.1:")
    return Server(proc, url, log_dir, delivery)


def stop_server(srv: Server) -> None:
    if srv.proc.poll() is None:
        srv.proc.kill()
        srv.proc.wait()


@pytest.fixture(
    scope="module",
    params=[
        "per-token",
        "per-step",
        "overlap",
        "overlap --engine-process --engine-cpus 0 --switch-interval-us 200",
    ],
)
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("srv"), request.param)
    yield srv
    stop_server(srv)


async def _stream(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any], rid: str
) -> list[dict[str, Any] | str]:
    events: list[dict[str, Any] | str] = []
    async with session.post(f"{url}/v1/completions", json=body, headers={"X-Request-Id": rid}) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        async for raw in resp.content:
            line = raw.decode().strip()
            if not line:
                continue
            assert line.startswith("data: ")
            data = line[len("data: ") :]
            events.append(data if data == "[DONE]" else json.loads(data))
    return events


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def _get(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url) as resp:
        assert resp.status == 200
        return await (resp.json() if "json" in resp.content_type else resp.text())


def test_32_concurrent_streams_exact_tokens_and_consistent_logs(server: Server) -> None:
    prompts = [[(7 * i + j) % 500 + 1 for j in range(3 + (i * 5) % 38)] for i in range(32)]
    max_tokens = 12

    async def go() -> tuple[list[list[Any]], str, str, dict[str, Any]]:
        async with aiohttp.ClientSession() as s:
            async with s.post(f"{server.url}/v1/engine/reset") as r:
                assert r.status == 200
            body = {
                "max_tokens": max_tokens,
                "ignore_eos": True,
                "stream": True,
                "stream_options": {"include_usage": True},
            }
            results = await asyncio.gather(
                *[_stream(s, server.url, {**body, "prompt": p}, str(i)) for i, p in enumerate(prompts)]
            )
            toks = await _get(s, f"{server.url}/v1/engine/tokens")
            its = await _get(s, f"{server.url}/v1/engine/iterations")
            stats = await _get(s, f"{server.url}/v1/engine/stats")
            return results, toks, its, stats

    results, tokens_csv, iterations_csv, stats = asyncio.run(go())
    for events in results:
        assert events[-1] == "[DONE]"
        chunks = [e for e in events[:-1] if isinstance(e, dict) and e["choices"]]
        assert sum(len(c["choices"][0]["token_ids"]) for c in chunks) == max_tokens
        assert [c["choices"][0]["finish_reason"] for c in chunks] == [None] * (max_tokens - 1) + ["length"]
        assert all(c["object"] == "text_completion" and c["choices"][0]["logprobs"] is None for c in chunks)
        usage = events[-2]
        assert isinstance(usage, dict) and usage["usage"]["completion_tokens"] == max_tokens
    rows = _csv(tokens_csv)
    by_req: dict[str, list[float]] = {}
    for r in rows:
        assert int(r["token_index"]) == len(by_req.setdefault(r["request_id"], []))
        by_req[r["request_id"]].append(float(r["t"]))
    assert sorted(by_req, key=int) == [str(i) for i in range(32)]
    assert all(len(ts) == max_tokens and ts == sorted(ts) for ts in by_req.values())
    its = _csv(iterations_csv)
    c = stats["counters"]
    assert c["preemptions"] > 0  # 48 blocks cannot hold 16 running requests: preemption was exercised
    assert (
        sum(int(r["num_prefill_tokens"]) for r in its)
        == sum(map(len, prompts)) + c["recomputed_prefill_tokens"]
    )
    prefill_outputs = 32 + c["preemptions"] - c["preempted_in_prefill"]
    assert sum(int(r["num_decode_tokens"]) for r in its) + prefill_outputs == 32 * max_tokens
    assert all(int(r["batch_size"]) <= 16 + 16 for r in its)
    assert [int(r["step"]) for r in its] == list(range(len(its)))
    # Every step's four phases are recorded, none negative, and add up to its wall time (6-decimal rounding).
    phase_cols = ("schedule_time", "prepare_time", "wait_time", "process_time")
    for r in its:
        phases = [float(r[k]) for k in phase_cols]
        assert min(phases) >= 0
        assert abs(sum(phases) - (float(r["end"]) - float(r["start"]))) <= 4e-6
    # On CPU the forward runs inside "prepare" (nothing is asynchronous), so it dominates the step.
    assert sum(float(r["prepare_time"]) for r in its) > 0.5 * sum(
        float(r["end"]) - float(r["start"]) for r in its
    )
    assert stats["kv_tokens_in_use"] == 0 and not stats["has_work"]
    assert stats["knobs"]["token_budget"] == 32 and stats["knobs"]["num_blocks"] == NUM_BLOCKS


BAD_REQUESTS: list[tuple[str, str, bytes, int, str]] = [
    ("POST", "/v1/completions", b"{not json", 400, "invalid_json"),
    ("POST", "/v1/completions", b"[1, 2]", 400, "invalid_body"),
    ("POST", "/v1/completions", b'{"max_tokens": 4}', 400, "missing_field"),
    ("POST", "/v1/completions", b'{"prompt": [1, "x"], "max_tokens": 4}', 400, "invalid_type"),
    ("POST", "/v1/completions", b'{"prompt": [], "max_tokens": 4}', 400, "empty_prompt"),
    ("POST", "/v1/completions", b'{"prompt": [1, 2], "max_tokens": 0}', 400, "invalid_type"),
    ("POST", "/v1/completions", b'{"prompt": [1, 2], "max_tokens": "4"}', 400, "invalid_type"),
    ("POST", "/v1/completions", b'{"prompt": [1, 2], "stream": "yes"}', 400, "invalid_type"),
    ("POST", "/v1/completions", b'{"prompt": [1, 512], "max_tokens": 4}', 422, "token_out_of_vocab"),
    ("POST", "/v1/completions", b'{"prompt": [-1], "max_tokens": 4}', 422, "token_out_of_vocab"),
    ("POST", "/v1/completions", b'{"prompt": [1, 2, 3], "max_tokens": 190}', 413, "context_length_exceeded"),
    ("POST", "/v1/completions", b'{"prompt": [1], "model": "gpt-4"}', 404, "model_not_found"),
    ("GET", "/v1/nothing", b"", 404, "not_found"),
    ("GET", "/v1/completions", b"", 405, "method_not_allowed"),
]


def test_every_bad_request_gets_its_4xx_and_the_server_keeps_serving(server: Server) -> None:
    async def go() -> None:
        async with aiohttp.ClientSession() as s:
            async with s.post(
                f"{server.url}/v1/completions",
                json={"prompt": [1], "max_tokens": 2},
                headers={"X-Request-Id": "a,b"},
            ) as r:
                assert (r.status, (await r.json())["error"]["code"]) == (400, "invalid_request_id")
            for method, path, data, status, code in BAD_REQUESTS:
                async with s.request(
                    method, f"{server.url}{path}", data=data, headers={"Content-Type": "application/json"}
                ) as r:
                    body = await r.json()
                    assert (r.status, body["error"]["code"]) == (status, code), (path, data)
                    assert body["error"]["message"] and "type" in body["error"] and "param" in body["error"]
                async with s.post(
                    f"{server.url}/v1/completions",
                    json={"prompt": [1, 2, 3], "max_tokens": 3, "ignore_eos": True},
                ) as r:
                    ok = await r.json()
                    assert r.status == 200 and len(ok["choices"][0]["token_ids"]) == 3

    asyncio.run(go())
    assert server.proc.poll() is None


def test_non_stream_text_prompt_and_models(server: Server) -> None:
    async def go() -> tuple[Any, Any, Any, Any]:
        async with aiohttp.ClientSession() as s:
            async with s.post(
                f"{server.url}/v1/completions",
                json={"prompt": "the cat sat", "max_tokens": 5, "ignore_eos": True},
            ) as r:
                assert r.status == 200
                text_out = await r.json()
            async with s.post(
                f"{server.url}/v1/completions",
                json={"prompt": [12, 13, 14], "max_tokens": 5, "ignore_eos": True, "model": "qwen3-tiny"},
            ) as r:
                ids_out = await r.json()
            return (
                text_out,
                ids_out,
                await _get(s, f"{server.url}/v1/models"),
                await _get(s, f"{server.url}/health"),
            )

    text_out, ids_out, models, health = asyncio.run(go())
    # "the cat sat" -> ids 12, 13, 14 in the test tokenizer: same greedy continuation as the id prompt.
    assert text_out["choices"][0]["token_ids"] == ids_out["choices"][0]["token_ids"]
    assert text_out["usage"] == {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
    assert text_out["choices"][0]["finish_reason"] == "length"
    model = models["data"][0]
    assert (
        model["id"] == "qwen3-tiny" and model["weights"] == "random" and model["max_model_len"] == MAX_CONTEXT
    )
    assert health["status"] == "ok" and health["engine"] == "lean"


def test_disconnect_mid_stream_cancels_and_frees_kv(server: Server) -> None:
    max_tokens = 170

    async def go() -> tuple[dict[str, Any], str]:
        async with aiohttp.ClientSession() as s:
            body = {
                "prompt": list(range(1, 11)),
                "max_tokens": max_tokens,
                "ignore_eos": True,
                "stream": True,
            }
            resp = await s.post(f"{server.url}/v1/completions", json=body, headers={"X-Request-Id": "gone"})
            seen = 0
            async for raw in resp.content:
                if raw.strip():
                    seen += 1
                if seen == 3:
                    break
            resp.close()  # drop the connection mid-stream
            deadline = time.monotonic() + 20
            while True:
                stats = await _get(s, f"{server.url}/v1/engine/stats")
                if (stats["kv_tokens_in_use"] == 0 and not stats["has_work"]) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.02)
            return stats, await _get(s, f"{server.url}/v1/engine/tokens")

    stats, tokens_csv = asyncio.run(go())
    assert stats["kv_tokens_in_use"] == 0 and not stats["has_work"]
    assert stats["counters"]["kv_blocks_in_use"] == 0
    emitted = [r for r in _csv(tokens_csv) if r["request_id"] == "gone"]
    assert 3 <= len(emitted) < max_tokens


def test_flush_reset_and_sigterm_write_the_timeline(server: Server) -> None:
    async def go() -> tuple[Any, str, Any, str]:
        async with aiohttp.ClientSession() as s:
            async with s.post(f"{server.url}/v1/engine/flush") as r:
                flushed = await r.json()
            async with s.post(f"{server.url}/v1/engine/reset") as r:
                assert r.status == 200
            after_reset = await _get(s, f"{server.url}/v1/engine/iterations")
            async with s.post(
                f"{server.url}/v1/completions",
                json={"prompt": [4, 5], "max_tokens": 4, "ignore_eos": True},
                headers={"X-Request-Id": "last"},
            ) as r:
                last = await r.json()
            admitted = await _get(s, f"{server.url}/v1/engine/admissions")
            return flushed, after_reset, last, admitted

    flushed, after_reset, last, admitted = asyncio.run(go())
    assert sorted(Path(p).name for p in flushed["written"]) == [
        "iterations.csv",
        "server_admissions.csv",
        "server_run.json",
        "server_tokens.csv",
    ]
    # The one request since the reset: its admission over HTTP, as the flush writes it.
    assert [r["request_id"] for r in _csv(admitted)] == ["last"]
    assert after_reset.strip().split("\n") == [
        "step,start,end,gpu_time,num_prefill_tokens,num_decode_tokens,batch_size,kv_tokens_in_use,"
        "schedule_time,prepare_time,wait_time,process_time,host_probe_time"
    ]
    assert len(last["choices"][0]["token_ids"]) == 4
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=60) == 0
    info = json.loads((server.log_dir / "server_run.json").read_text())
    assert info["weights"] == "random" and info["engine"]["engine"] == "lean"
    assert info["engine"]["block_size"] == BLOCK and info["wall_anchor_unix_s"] > 1.6e9
    assert info["torch_version"] and info["transformers_version"] and info["device"] == "cpu"
    assert info["options"]["token_delivery"] == server.delivery.split()[0]
    assert info["engine_process"] == ("--engine-process" in server.delivery)
    assert info["engine_cpus"] == ([0] if "--engine-cpus 0" in server.delivery else None)
    # Python's thread switch interval where the engine runs: --switch-interval-us, else Python's 5 ms.
    lowered = "--switch-interval-us 200" in server.delivery
    assert info["switch_interval_s"] == pytest.approx(0.0002 if lowered else 0.005)
    # The steps ran in the server's own process, or in the engine process it spawned.
    assert (info.get("engine_pid", server.proc.pid) != server.proc.pid) == info["engine_process"]
    # gc.freeze() before READY: torch's and transformers' import-time objects alone are ~450k, so a freeze
    # that did not happen (0) or happened too early (before the imports and the model) would not reach 100k.
    assert info["options"]["gc_freeze"] is True and info["gc_frozen_objects"] > 100_000
    probe = info["machine_probe"]  # --probe-repeats 2: KV 64, chunk 28 (budget 32), up to 16 decodes
    assert [p["key"] for p in probe["points"]][:2] == ["decode d=1 kv=64", "decode d=4 kv=64"]
    assert all(p["n"] == 2 and p["p50_ms"] > 0 for p in probe["points"]) and len(probe["points"]) == 8
    its = _csv((server.log_dir / "iterations.csv").read_text())
    toks = _csv((server.log_dir / "server_tokens.csv").read_text())
    assert [r["request_id"] for r in toks] == ["last"] * 4
    # The HTTP handler started, handed it over, it reached the engine's inbox (in the engine process when
    # there is one: the stamps share the host's monotonic clock), then the engine thread took it in before
    # the step that prefilled it.
    [adm] = _csv((server.log_dir / "server_admissions.csv").read_text())
    assert adm["request_id"] == "last"
    assert 0 < float(adm["received"]) <= float(adm["submitted"]) <= float(adm["inbox"])
    assert float(adm["inbox"]) <= float(adm["drained"]) <= min(float(r["start"]) for r in its)
    assert float(adm["drained"]) < float(toks[0]["t"])
    assert sum(int(r["num_prefill_tokens"]) for r in its) == 2
    assert sum(int(r["num_decode_tokens"]) for r in its) == 3
    assert all(r["gpu_time"] == "" for r in its)  # CPU: no CUDA events
    assert all(r["wait_time"] != "" and r["prepare_time"] != "" for r in its)  # the phases reach the file
    assert not list(server.log_dir.glob(".*tmp"))  # atomic writes leave no temp files
    assert os.path.getsize(server.log_dir / "iterations.csv") > 0


def test_freeze_gc_moves_live_objects_out_of_collections_and_reports_the_count() -> None:
    from gpu_harness.serve.server import freeze_gc

    info: dict[str, Any] = {}
    freeze_gc(info, False)
    assert info["gc_frozen_objects"] == 0 and gc.get_freeze_count() == 0
    kept = [[i] for i in range(50_000)]  # 50k tracked lists alive at the freeze
    try:
        freeze_gc(info, True)
        assert info["gc_frozen_objects"] == gc.get_freeze_count() >= len(kept)
        # What a full collection still scans excludes them: tracked objects outside the permanent generation.
        assert len(gc.get_objects()) < gc.get_freeze_count() - len(kept) // 2
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0 and len(gc.get_objects()) >= len(kept)


def test_step_mailbox_hands_a_steps_events_over_in_one_wakeup_in_order() -> None:
    from gpu_harness.serve.app import StepMailbox

    loop = asyncio.new_event_loop()
    wakeups: list[int] = []
    real = loop.call_soon_threadsafe

    def counted(*args: Any) -> Any:
        wakeups.append(1)
        return real(*args)

    loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
    got: list[Any] = []
    box = StepMailbox()
    try:
        box.flush()  # nothing posted: no wakeup
        for i in range(5):
            box.post(loop, got.append, ("tok", i))
        box.post(loop, got.append, ("fin", "length"))
        assert got == [] and wakeups == []  # nothing reaches the loop before the step ends
        box.flush()
        loop.run_until_complete(asyncio.sleep(0))
        assert wakeups == [1]
        assert got == [*(("tok", i) for i in range(5)), ("fin", "length")]
    finally:
        loop.close()


def test_engine_process_death_fails_open_requests_and_the_server_says_why(tmp_path: Path) -> None:
    # A real fault: the engine process is killed (SIGKILL) mid-stream. The open stream ends with an engine
    # error, /health names it, later requests fail at once, and the HTTP server itself keeps answering.
    srv = start_server(tmp_path, "overlap --engine-process")

    async def go() -> tuple[list[Any], dict[str, Any], int, dict[str, Any]]:
        async with aiohttp.ClientSession() as s:
            run = await _get(s, f"{srv.url}/v1/engine/run")
            body = {"prompt": [1, 2, 3], "max_tokens": 180, "ignore_eos": True, "stream": True}
            lines: list[Any] = []
            async with s.post(f"{srv.url}/v1/completions", json=body) as resp:
                async for raw in resp.content:
                    if not raw.strip():
                        continue
                    lines.append(raw.decode().strip())
                    if len(lines) == 2:
                        os.kill(run["engine_pid"], signal.SIGKILL)
            health = await _get(s, f"{srv.url}/health")
            body["stream"] = False
            async with s.post(f"{srv.url}/v1/completions", json=body) as resp:
                status, err = resp.status, await resp.json()
            return lines, health, status, err

    try:
        lines, health, status, err = asyncio.run(go())
    finally:
        stop_server(srv)
    assert lines[-1] == "data: [DONE]"
    error = json.loads(lines[-2][len("data: ") :])["error"]
    assert error["code"] == "engine_error" and "engine process exited" in error["message"]
    assert 2 <= len(lines) - 2 < 180  # some tokens came before the kill, not all
    assert "engine process exited" in health["last_engine_error"]
    assert status == 500 and err["error"]["code"] == "engine_error"

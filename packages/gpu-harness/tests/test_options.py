"""Serve option checks that need no server: KV sizing from memory, coded errors for bad flags and configs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from serving import tiny_options

from gpu_harness.errors import HarnessError
from gpu_harness.model import load_hf_config
from gpu_harness.serve.server import (
    ServeOptions,
    _resolve_num_blocks,
    build_context,
    engine_cpus,
    pinnable_cpus,
)


def test_kv_memory_fraction_sizes_blocks_within_the_slot_cache() -> None:
    config = load_hf_config("qwen3-tiny")
    opts = ServeOptions(
        model_config="qwen3-tiny", max_batch_size=4, max_model_len=64, block_size=8, kv_memory_fraction=0.5
    )
    blocks = _resolve_num_blocks(opts, config, torch.device("cpu"))
    assert blocks is not None and 1 <= blocks <= 4 * 64 // 8
    opts.num_blocks = 7
    assert _resolve_num_blocks(opts, config, torch.device("cpu")) == 7
    opts.num_blocks, opts.kv_memory_fraction = None, 1.5
    with pytest.raises(HarnessError, match="--kv-memory-fraction"):
        _resolve_num_blocks(opts, config, torch.device("cpu"))


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"max_batch_size": 0}, "--max-batch-size"),
        ({"device": "tpu"}, "--device 'tpu'"),
        ({"max_model_len": 100_000}, "--max-model-len"),
        ({"engine": "vllm"}, "--engine 'vllm'"),
        ({"dtype": "int8"}, "--dtype 'int8'"),
        ({"probe_repeats": -1}, "--probe-repeats -1"),
        ({"token_delivery": "batched"}, "--token-delivery 'batched'"),
        ({"token_delivery": "overlap", "engine": "hf-cb"}, "--token-delivery overlap: needs the lean engine"),
        ({"token_delivery": "per-token", "engine_process": True}, "--engine-process: sends a step's tokens"),
        ({"engine_cpus": "one"}, "--engine-cpus 'one': expected CPU numbers"),
        ({"engine_cpus": "0,4096"}, "--engine-cpus 0,4096: CPU 4096 is not one this process may use"),
        ({"switch_interval_us": 0}, "--switch-interval-us 0: expected an integer >= 1"),
    ],
)
def test_bad_flags_raise_coded_errors_naming_the_flag(change: dict[str, object], needle: str) -> None:
    opts = tiny_options(**change)
    with pytest.raises(HarnessError) as info:
        build_context(opts)
    assert info.value.code == "HARNESS_BAD_FLAG" and needle in str(info.value)


def test_bad_config_file_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "config.json"
    bad.write_text('{\n  "model_type": "qwen3",\n  oops\n}\n')
    with pytest.raises(HarnessError, match=r"config.json:3: invalid JSON") as info:
        load_hf_config(bad)
    assert info.value.code == "HARNESS_BAD_CONFIG"
    bad.write_text(json.dumps({"model_type": "qwen3", "hidden_size": 0}))
    with pytest.raises(HarnessError, match="field hidden_size"):
        load_hf_config(bad)


def test_engine_process_reports_the_childs_coded_error(tmp_path: Path) -> None:
    # The flag checks pass in the server process; loading the weights fails in the spawned engine process,
    # whose HarnessError (code and message) the server raises as its own.
    opts = tiny_options(weights=str(tmp_path), engine_process=True)
    with pytest.raises(HarnessError) as info:
        build_context(opts)
    assert info.value.code == "HARNESS_BAD_WEIGHTS" and str(tmp_path) in str(info.value)


def test_engine_cpus_may_name_a_cpu_outside_the_servers_own_affinity() -> None:
    # call 42's layout: the server under `taskset -c OTHERS`, its engine thread on a CPU kept out of OTHERS.
    online = sorted(pinnable_cpus())
    assert len(online) >= 2, f"needs two online CPUs, found {online}"
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {online[0]})
    try:
        assert engine_cpus(tiny_options(engine_cpus=str(online[-1]))) == {online[-1]}
    finally:
        os.sched_setaffinity(0, before)

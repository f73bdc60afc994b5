"""Test set-up: Triton kernels run in Triton's CPU interpreter (the variable must be set before
gpu_harness.engine.decode_kernel is imported, since `triton.jit` reads it when a kernel is defined); the tiny
Qwen3 model the profiler tests share."""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(scope="module")
def tiny() -> tuple[torch.nn.Module, object]:
    """The bundled qwen3-tiny config built on CPU in float32 (seed 3), with its config."""
    from gpu_harness.model import build_model, load_hf_config

    torch.set_num_threads(1)
    cfg = load_hf_config("qwen3-tiny")
    return build_model(cfg, device="cpu", dtype="float32", seed=3), cfg

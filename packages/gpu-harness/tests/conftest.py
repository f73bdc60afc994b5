"""Test set-up: Triton kernels run in Triton's CPU interpreter (the variable must be set before
gpu_harness.engine.decode_kernel is imported, since `triton.jit` reads it when a kernel is defined)."""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")

"""`gpu-harness profile`: flags -> ProfileOptions -> run_profile; progress to stderr, exit codes.

`add_arguments` / `run` are what the package CLI dispatches to; `python -m gpu_harness.profile` uses them too.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from .errors import ProfileError
from .runner import ProfileOptions, run_profile


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the profiler's flags on `parser`."""
    parser.description = (
        "Time the reference server's own modules and attention kernels per Vidur op and write Vidur's "
        "profiling CSVs to ROOT/compute/DEVICE_NAME/ORG/MODEL/{mlp,attention}.csv plus profile.json. "
        "All CSV times are milliseconds."
    )
    parser.add_argument(
        "--model-config",
        required=True,
        type=Path,
        metavar="PATH",
        help="HF config.json of the model (or a bundled name such as qwen3-0.6b)",
    )
    parser.add_argument(
        "--model-name",
        metavar="ORG/NAME",
        help="name Vidur knows the model by; the output subfolder (default: the config's "
        "_name_or_path, else the config file name)",
    )
    parser.add_argument(
        "--device-name",
        required=True,
        metavar="SKU",
        help="Vidur device string used in the output path, e.g. h200",
    )
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), default="cuda", help="torch device (default cuda)"
    )
    parser.add_argument(
        "--dtype",
        choices=("float32", "bfloat16", "float16"),
        default="bfloat16",
        help="weights and activations dtype (default bfloat16)",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="ROOT", help="profile root folder")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny grid for tests (8 num_tokens, 9 prefill and 9 decode points); ignores the budget",
    )
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=4096,
        metavar="N",
        help="largest num_tokens in mlp.csv; set to Vidur's prediction_max_tokens_per_request (default 4096)",
    )
    parser.add_argument(
        "--max-batch-size",
        type=int,
        default=128,
        metavar="B",
        help="largest decode batch; set to Vidur's prediction_max_batch_size (default 128)",
    )
    parser.add_argument(
        "--max-seq-len",
        type=int,
        default=4096,
        metavar="TOKENS",
        help="largest context (chunk + kv) profiled; = max_model_len column (default 4096)",
    )
    parser.add_argument(
        "--block-size",
        type=int,
        default=16,
        metavar="TOKENS",
        help="written to attention.csv's block_size column; must equal the Vidur scheduler's "
        "block_size flag (default 16)",
    )
    parser.add_argument(
        "--attention",
        default="auto",
        help="attention kernels to time, as the lean engine picks them: auto (flash-varlen on a GPU where "
        "its self-test passes, else sdpa) | flash-varlen | sdpa",
    )
    parser.add_argument(
        "--fused-kernels",
        default="auto",
        help="elementwise ops to time, as the lean engine picks them: auto (the Triton kernels on a GPU "
        "where "
        "their self-test passes, else the PyTorch ops) | triton | torch",
    )
    parser.add_argument(
        "--decode-attn",
        default="auto",
        help="decode attention to time under flash-varlen, as the lean engine picks it: auto (the split-KV "
        "Triton kernel where its self-test passes, else flash) | split-kv | flash",
    )
    parser.add_argument(
        "--prefill-call",
        default="engine",
        help="shape of the flash-varlen call attn_prefill times: engine (the chunk among the empty sequences "
        "the engine's call pads a one-chunk step to, which slows its thread blocks' placement: ~1.7x the "
        "prefix cost on the H200) | single (one sequence alone, as profiles before the ninth session "
        "timed it)",
    )
    parser.add_argument(
        "--decode-call",
        default="engine",
        help="what sets attn_decode's growth with context: engine (the kernel's rows moved by how much "
        "faster or slower the engine's decode-only step grows with kv, timed at a few kv per batch size: "
        "on the H200 the kernel alone grows 15-35 %% faster at 8-24 requests) | kernel (the kernel alone, as "
        "profiles before the tenth session)",
    )
    parser.add_argument(
        "--repeats", type=int, default=20, help="measured samples per op and point (default 20)"
    )
    parser.add_argument(
        "--warmup", type=int, default=3, help="unmeasured calls before the samples (default 3)"
    )
    parser.add_argument(
        "--time-budget-s",
        type=float,
        default=200.0,
        metavar="S",
        help="wall-clock budget in seconds for the sweeps; finer grid points are dropped first, "
        "the full range is always covered (default 200; 0 or less is an error)",
    )
    parser.add_argument("--no-time-budget", action="store_true", help="measure every grid point")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the random weights and inputs (default 0)"
    )
    parser.add_argument(
        "--num-tensor-parallel-workers",
        type=int,
        default=1,
        metavar="TP",
        help="tensor-parallel degree; only 1 is supported",
    )


def options_from_args(args: argparse.Namespace, command: str) -> ProfileOptions:
    """Turn parsed flags into ProfileOptions."""
    return ProfileOptions(
        model_config=args.model_config,
        model_name=args.model_name,
        device_name=args.device_name,
        device=args.device,
        dtype=args.dtype,
        out=args.out,
        quick=args.quick,
        max_tokens=args.max_tokens,
        max_batch_size=args.max_batch_size,
        max_seq_len=args.max_seq_len,
        block_size=args.block_size,
        attention=args.attention,
        decode_attn=args.decode_attn,
        prefill_call=args.prefill_call,
        decode_call=args.decode_call,
        fused_kernels=args.fused_kernels,
        repeats=args.repeats,
        warmup=args.warmup,
        time_budget_s=None if args.no_time_budget else args.time_budget_s,
        seed=args.seed,
        num_tensor_parallel_workers=args.num_tensor_parallel_workers,
        command=command,
    )


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Run the profile; 0 on success, 2 on a bad flag/config, 1 on other failures. Prints the output dir."""
    # The command as typed: `gpu-harness profile ...` (package CLI) or `python -m gpu_harness.profile ...`.
    command = shlex.join(
        ["gpu-harness", *sys.argv[1:]]
        if sys.argv[1:2] == ["profile"]
        else ["python", "-m", "gpu_harness.profile", *sys.argv[1:]]
    )
    try:
        result = run_profile(options_from_args(args, command), progress=_progress)
    except ProfileError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2 if err.code in ("PROFILE_BAD_FLAG", "PROFILE_BAD_CONFIG", "PROFILE_UNSUPPORTED") else 1
    print(str(result.out_dir))
    return 0

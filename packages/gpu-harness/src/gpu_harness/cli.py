"""`gpu-harness` command line: `serve`, `bench-engine`, `check-engine`, `profile`.

Owns argv, printing and exit codes only.

Exit codes: 0 ok, 1 runtime failure, 2 bad flags/input (coded HarnessError/ProfileError message on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="run the OpenAI-compatible reference server",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Serve /v1/completions (token-id prompts, SSE streaming) with the lean or hf-cb "
        "engine. Prints 'READY http://HOST:PORT' on stdout once serving; logs go to stderr.",
    )
    p.add_argument(
        "--model-config",
        default="qwen3-0.6b",
        help="HF config.json path (or a bundled name: qwen3-0.6b, qwen3-tiny)",
    )
    p.add_argument(
        "--model-name", default=None, help="model id served in /v1/models (default: config file stem)"
    )
    p.add_argument(
        "--weights", default=None, help="directory of *.safetensors to load (default: random weights)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights (integer)")
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: cuda when available)")
    p.add_argument(
        "--dtype",
        default=None,
        choices=["float32", "float16", "bfloat16"],
        help="weight/activation/KV dtype (default: bfloat16 on cuda, float32 on cpu)",
    )
    p.add_argument("--engine", default="lean", choices=["lean", "hf-cb"], help="serving engine")
    p.add_argument(
        "--max-num-batched-tokens",
        type=int,
        default=512,
        help="token budget per iteration in tokens (= Vidur sarathi chunk_size)",
    )
    p.add_argument(
        "--max-batch-size",
        type=int,
        default=128,
        help="max requests per iteration and max requests holding KV (= Vidur batch_size_cap)",
    )
    p.add_argument("--block-size", type=int, default=16, help="KV block size in tokens (= Vidur block_size)")
    p.add_argument(
        "--num-blocks",
        type=int,
        default=None,
        help="KV capacity in blocks (= Vidur num_blocks; default: max-batch-size x max-model-len)",
    )
    p.add_argument(
        "--kv-memory-fraction",
        type=float,
        default=None,
        help="size --num-blocks from this fraction (0-1] of free device memory instead",
    )
    p.add_argument(
        "--watermark-blocks-fraction",
        type=float,
        default=0.01,
        help="fraction of blocks kept free when admitting (= Vidur watermark_blocks_fraction)",
    )
    p.add_argument(
        "--max-model-len",
        type=int,
        default=4096,
        help="context limit in tokens (prompt + max_tokens); sizes the lean slot cache",
    )
    p.add_argument(
        "--attn-impl",
        default=None,
        help="attention implementation; lean: auto (default: flash-varlen when its GPU self-test passes, "
        "else sdpa) | flash-varlen | sdpa | varlen-reference; hf-cb: sdpa (default) | eager | "
        "flash_attention_2 (used as paged|<impl>)",
    )
    p.add_argument(
        "--decode-attn",
        default="auto",
        choices=["auto", "split-kv", "flash"],
        help="lean flash-varlen: decode rows in the split-KV Triton kernel (auto: where Triton is there and "
        "its self-test passes) or in the FlashAttention varlen call with the chunks (flash)",
    )
    p.add_argument("--host", default="127.0.0.1", help="listen address")
    p.add_argument("--port", type=int, default=8000, help="listen port (0 = pick a free one; see READY line)")
    p.add_argument(
        "--log-dir",
        default=None,
        help="directory for iterations.csv, server_tokens.csv, server_run.json (written on "
        "SIGTERM/SIGINT and POST /v1/engine/flush)",
    )
    p.add_argument(
        "--cuda-graphs",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="capture steps as CUDA graphs (cuda only; lean flash-varlen: every step, sdpa: decode-only)",
    )
    p.add_argument(
        "--warmup",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run warm-up shapes (and capture all graphs) before READY; logs are reset after it",
    )
    p.add_argument(
        "--gc-freeze",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="move every object alive at READY (torch's, transformers', the model's: ~450k) into Python's "
        "permanent GC generation, so a full collection during serving scans only what serving made: "
        "without it a full collection stalls the engine's step 0.2-0.33 s (19 of the 50 runs recorded on "
        "the H200 before the thirteenth session had one)",
    )
    p.add_argument(
        "--probe-repeats",
        type=int,
        default=None,
        help="time the machine probe's fixed step compositions this many times each before READY and put "
        "them in server_run.json as machine_probe (runner calibrate --machine-probe); 0 = off "
        "(default: 60 on cuda, 0 on cpu)",
    )
    p.add_argument(
        "--token-delivery",
        default="per-step",
        choices=["per-token", "per-step", "overlap"],
        help="how the engine thread hands tokens to the HTTP thread: one event-loop wakeup per engine "
        "step, the step's tokens together, after the step (per-step); the same, but once the next step is "
        "launched on the device, so that the tokens' HTTP work runs while the device runs it (overlap; lean "
        "engine only); or one wakeup per token (per-token: the servers recorded before the seventh H200 "
        "session)",
    )
    p.add_argument(
        "--engine-process",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="run the model and the engine's step loop in a process of their own (spawned), apart from the "
        "HTTP server: the HTTP side's Python work no longer takes the GIL from the step's host phases; "
        "tokens cross over a pipe, per step (--token-delivery per-step or overlap)",
    )
    p.add_argument(
        "--engine-cpus",
        default=None,
        help="CPU numbers (comma-separated) the engine's step-loop thread is pinned to (default: not "
        "pinned); recorded in server_run.json as engine_cpus",
    )
    p.add_argument(
        "--switch-interval-us",
        type=int,
        default=None,
        help="Python's thread switch interval (sys.setswitchinterval, microseconds) in the process the "
        "engine runs in: how long a thread that wants the GIL (the engine process's request reader) waits "
        "before the step loop must yield it (default: Python's 5,000); recorded in server_run.json as "
        "switch_interval_s",
    )
    p.add_argument(
        "--tokenizer", default=None, help="tokenizer.json enabling text prompts and text in outputs"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads (default: 1 on cuda, torch's default on cpu)",
    )
    p.add_argument(
        "--hf-compile-level",
        type=int,
        default=0,
        help="hf-cb only: transformers CB default_compile_level 0-3 (0 = off)",
    )


def _add_bench(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from .bench import add_arguments

    p = sub.add_parser(
        "bench-engine",
        help="measure lean decode/prefill step times against floors",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_arguments(p)


def _serve(args: argparse.Namespace) -> int:
    import torch

    from .serve.server import ServeOptions, run_server

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = args.dtype or ("bfloat16" if device.startswith("cuda") else "float32")
    opts = ServeOptions(
        model_config=args.model_config,
        model_name=args.model_name,
        weights=args.weights,
        seed=args.seed,
        device=device,
        dtype=dtype,
        engine=args.engine,
        max_num_batched_tokens=args.max_num_batched_tokens,
        max_batch_size=args.max_batch_size,
        block_size=args.block_size,
        num_blocks=args.num_blocks,
        kv_memory_fraction=args.kv_memory_fraction,
        max_model_len=args.max_model_len,
        watermark_blocks_fraction=args.watermark_blocks_fraction,
        attn_impl=args.attn_impl,
        decode_attn=args.decode_attn,
        host=args.host,
        port=args.port,
        log_dir=args.log_dir,
        cuda_graphs=args.cuda_graphs,
        warmup=args.warmup,
        gc_freeze=args.gc_freeze,
        probe_repeats=args.probe_repeats,
        token_delivery=args.token_delivery,
        tokenizer=args.tokenizer,
        threads=args.threads,
        hf_compile_level=args.hf_compile_level,
        engine_process=args.engine_process,
        engine_cpus=args.engine_cpus,
        switch_interval_us=args.switch_interval_us,
    )

    def emit(line: str) -> None:
        print(line, flush=True)

    def log(line: str) -> None:
        print(f"gpu-harness: {line}", file=sys.stderr, flush=True)

    asyncio.run(run_server(opts, emit, log))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="gpu-harness", description="vidur-fidelity GPU-side tools")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_serve(sub)
    _add_bench(sub)
    chk = sub.add_parser(
        "check-engine",
        help="greedy tokens of the lean engine vs HF generate on the same weights, per attention backend",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    from .check import add_arguments as add_check_arguments

    add_check_arguments(chk)
    prof = sub.add_parser(
        "profile",
        help="profile the model per Vidur op into Vidur's CSV schema",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    profile_cli = None
    if argv and argv[0] == "profile":
        # Lazy: serve/bench never import the profiler.
        from .profile import cli as profile_cli

        profile_cli.add_arguments(prof)
    args = parser.parse_args(argv)
    from .errors import HarnessError

    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "bench-engine":
            from .bench import run

            return run(args)
        if args.command == "check-engine":
            from .check import run as run_check

            return run_check(args)
        assert profile_cli is not None
        return int(profile_cli.run(args))
    except HarnessError as err:
        print(f"gpu-harness: {err}", file=sys.stderr)
        return 2
    except Exception as err:
        if type(err).__name__ == "ProfileError":
            print(f"gpu-harness: {err}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())

"""Runs a whole profile: builds the model, sweeps the grids within the time budget, writes the files.

Output: `<out>/compute/<device_name>/<model_name>/{mlp.csv,attention.csv,profile.json}` (model_name is
`ORG/NAME`, so it adds two folders), each written atomically. Progress goes to an optional callback; this
module never prints, reads argv/env or exits.
"""

from __future__ import annotations

import json
import platform
import re
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from .engine_decode import AnchorRow, EngineDecodeTimer, anchor_kvs, growth_deltas, interpolate, shift_stats
from .errors import ProfileError
from .grid import (
    DecodePoint,
    PrefillPoint,
    decode_points,
    order_coarse_to_fine_1d,
    order_coarse_to_fine_2d,
    prefill_points,
    vidur_num_tokens,
)
from .model_dims import ModelDims, decoder_layers, dims_from_config
from .schema import (
    ATTENTION_COLUMNS,
    ATTENTION_OPS,
    MLP_COLUMNS,
    MLP_OPS,
    render_csv,
    stats_cells,
    write_atomic,
    write_json_atomic,
)
from .timing import OpTimer, TimeStats

Progress = Callable[[str], None]

# Share of the time budget per phase; time a phase leaves unused passes on to the next.
# Shares follow the phases' measured cost on the H200 (Qwen3-0.6B: mlp ~25 s, prefill ~100 s, decode ~45 s
# for the full default grids).
PHASE_SHARES = {"mlp": 0.15, "prefill": 0.5, "decode": 0.35}
# Points of these coarse-to-fine levels are always measured, even past the budget, so that every axis is
# covered end to end (1-D: 9 points; 2-D: up to 5 x 5) and the predictor always has enough rows to train.
MANDATORY_LEVEL_1D = 3
MANDATORY_LEVEL_2D = 2
QUICK_NUM_TOKENS = (1, 2, 4, 8, 16, 32, 64, 128)
_NAME_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass
class ProfileOptions:
    """Everything a profile run needs; sizes in tokens, times in seconds."""

    model_config: Path
    device_name: str
    out: Path
    model_name: str | None = None
    device: str = "cpu"
    dtype: str = "float32"
    quick: bool = False
    max_tokens: int = 4096
    max_batch_size: int = 128
    max_seq_len: int = 4096
    block_size: int = 16
    repeats: int = 20
    warmup: int = 3
    time_budget_s: float | None = 200.0
    seed: int = 0
    num_tensor_parallel_workers: int = 1
    num_slots: int | None = None
    attention: str = "auto"
    decode_attn: str = "auto"
    prefill_call: str = "engine"
    decode_call: str = "engine"
    fused_kernels: str = "auto"
    command: str = ""
    extra_manifest: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProfileResult:
    """Where the files went and how many rows each got."""

    out_dir: Path
    mlp_rows: int
    attention_rows: int
    duration_s: float
    trimmed: dict[str, bool]
    manifest: dict[str, Any]


def _bundled(config: Path) -> Path:
    """A config shipped with gpu_harness (configs/<name>.json), for bare names such as qwen3-0.6b."""
    return Path(__file__).resolve().parent.parent / "configs" / f"{config}.json"


def default_model_name(config_path: Path) -> str:
    """`_name_or_path` from the config JSON when it names a model, else the file (or folder) name."""
    if not config_path.exists() and _bundled(config_path).exists():
        config_path = _bundled(config_path)
    try:
        raw = json.loads((config_path / "config.json" if config_path.is_dir() else config_path).read_text())
    except (OSError, json.JSONDecodeError):
        raw = {}
    name = raw.get("_name_or_path") if isinstance(raw, dict) else None
    if isinstance(name, str) and name and not name.startswith(("/", ".")):
        return name
    return config_path.name if config_path.is_dir() else config_path.stem


def validate_options(opts: ProfileOptions) -> str:
    """Check flags; returns the model name. Errors name the flag and what was expected."""
    name = opts.model_name or default_model_name(opts.model_config)
    segments = name.split("/")
    if len(segments) > 2 or not all(_NAME_SEGMENT.match(s) for s in segments):
        raise ProfileError(
            "PROFILE_BAD_FLAG",
            f"--model-name {name!r}: expected ORG/NAME or NAME of letters, digits, '.', '_', '-'",
        )
    if not _NAME_SEGMENT.match(opts.device_name):
        raise ProfileError(
            "PROFILE_BAD_FLAG", f"--device-name {opts.device_name!r}: expected a SKU like h200"
        )
    if opts.device not in ("cpu", "cuda"):
        raise ProfileError("PROFILE_BAD_FLAG", f"--device {opts.device!r}: expected cpu or cuda")
    if opts.device == "cuda" and not torch.cuda.is_available():
        raise ProfileError("PROFILE_DEVICE", "--device cuda: torch sees no CUDA device on this host")
    if opts.num_tensor_parallel_workers != 1:
        raise ProfileError(
            "PROFILE_UNSUPPORTED",
            f"--num-tensor-parallel-workers {opts.num_tensor_parallel_workers}: only 1 is supported "
            "(the reference server runs on one GPU; no all-reduce is profiled)",
        )
    if opts.attention not in ("auto", "flash-varlen", "sdpa"):
        raise ProfileError(
            "PROFILE_BAD_FLAG", f"--attention {opts.attention!r}: expected auto, flash-varlen or sdpa"
        )
    if opts.fused_kernels not in ("auto", "triton", "torch"):
        raise ProfileError(
            "PROFILE_BAD_FLAG", f"--fused-kernels {opts.fused_kernels!r}: expected auto, triton or torch"
        )
    if opts.prefill_call not in ("engine", "single"):
        raise ProfileError(
            "PROFILE_BAD_FLAG", f"--prefill-call {opts.prefill_call!r}: expected engine or single"
        )
    if opts.decode_call not in ("engine", "kernel"):
        raise ProfileError(
            "PROFILE_BAD_FLAG", f"--decode-call {opts.decode_call!r}: expected engine or kernel"
        )
    if opts.decode_attn not in ("auto", "split-kv", "flash"):
        raise ProfileError(
            "PROFILE_BAD_FLAG", f"--decode-attn {opts.decode_attn!r}: expected auto, split-kv or flash"
        )
    for flag, value, low in (
        ("--max-tokens", opts.max_tokens, 1),
        ("--max-batch-size", opts.max_batch_size, 1),
        ("--max-seq-len", opts.max_seq_len, 2),
        ("--block-size", opts.block_size, 1),
        ("--repeats", opts.repeats, 1),
        ("--warmup", opts.warmup, 0),
    ):
        if value < low:
            raise ProfileError("PROFILE_BAD_FLAG", f"{flag} {value}: expected an integer >= {low}")
    if opts.time_budget_s is not None and opts.time_budget_s <= 0:
        raise ProfileError("PROFILE_BAD_FLAG", f"--time-budget-s {opts.time_budget_s}: expected seconds > 0")
    if not opts.model_config.exists() and not _bundled(opts.model_config).exists():
        raise ProfileError("PROFILE_BAD_CONFIG", f"--model-config {opts.model_config}: file not found")
    return name


class _Budget:
    """Splits the time budget into phases; unused time carries over."""

    def __init__(self, total_s: float | None) -> None:
        self.total_s = total_s
        self.start = time.perf_counter()
        self.phase_deadline = float("inf")
        self.spent_s: dict[str, float] = {}
        self.phase_start = self.start

    def begin(self, phase: str) -> None:
        self.phase_start = time.perf_counter()
        if self.total_s is None:
            return
        remaining_shares = sum(
            v
            for k, v in PHASE_SHARES.items()
            if list(PHASE_SHARES).index(k) >= list(PHASE_SHARES).index(phase)
        )
        left = self.total_s - (time.perf_counter() - self.start)
        self.phase_deadline = time.perf_counter() + max(0.0, left) * PHASE_SHARES[phase] / remaining_shares

    def end(self, phase: str) -> None:
        self.spent_s[phase] = round(time.perf_counter() - self.phase_start, 3)

    def allows(self, estimate_s: float) -> bool:
        return time.perf_counter() + estimate_s <= self.phase_deadline


def _sweep(
    name: str,
    ordered: Sequence[tuple[int, Any]],
    mandatory_level: int,
    budget: _Budget,
    measure: Callable[[Any], dict[str, TimeStats]],
    progress: Progress | None,
) -> tuple[list[Any], bool]:
    """Measure points in coarse-to-fine order until the phase budget runs out (never before the mandatory
    levels are done). Returns (measured (point, stats) pairs, trimmed?)."""
    budget.begin(name)
    done: list[Any] = []
    last_report = time.perf_counter()
    per_point_s = 0.0
    for i, (level, point) in enumerate(ordered):
        if level > mandatory_level and not budget.allows(per_point_s):
            if progress:
                progress(
                    f"[profile] {name}: time budget reached after {i}/{len(ordered)} points "
                    f"(all levels <= {level - 1} complete); the rest are skipped"
                )
            budget.end(name)
            return done, True
        t0 = time.perf_counter()
        done.append((point, measure(point)))
        dt = time.perf_counter() - t0
        per_point_s = dt if i == 0 else 0.8 * per_point_s + 0.2 * dt
        if progress and (time.perf_counter() - last_report > 5.0 or i + 1 == len(ordered)):
            progress(
                f"[profile] {name}: {i + 1}/{len(ordered)} points, "
                f"{time.perf_counter() - budget.phase_start:.0f} s"
            )
            last_report = time.perf_counter()
    budget.end(name)
    return done, False


def _mlp_row(dims: ModelDims, tp: int, num_tokens: int, stats: dict[str, TimeStats]) -> dict[str, Any]:
    row: dict[str, Any] = stats_cells(MLP_OPS, stats)
    row.update(
        n_head=dims.n_head,
        n_kv_head=dims.n_kv_head,
        n_embd=dims.n_embd,
        n_expanded_embd=dims.n_expanded_embd,
        vocab_size=dims.vocab_size,
        use_gated_mlp=dims.use_gated_mlp,
        num_tokens=num_tokens,
        num_tensor_parallel_workers=tp,
    )
    return row


def _attention_row(
    dims: ModelDims,
    opts: ProfileOptions,
    backend: str,
    batch: int,
    chunk: int,
    kv: int,
    stats: dict[str, TimeStats],
) -> dict[str, Any]:
    full = {op: stats.get(op, TimeStats.zero()) for op in ATTENTION_OPS}
    row: dict[str, Any] = stats_cells(ATTENTION_OPS, full)
    row.update(
        n_embd=dims.n_embd,
        n_q_head=dims.n_head,
        n_kv_head=dims.n_kv_head,
        block_size=opts.block_size,
        num_tensor_parallel_workers=opts.num_tensor_parallel_workers,
        max_model_len=opts.max_seq_len,
        batch_size=batch,
        prefill_chunk_size=chunk,
        kv_cache_size=kv,
        is_prefill=chunk > 0,
        attention_backend=backend,
    )
    return row


def _host_info(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": __import__("os").cpu_count(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info["gpu"] = {
            "name": props.name,
            "total_memory_bytes": int(props.total_memory),
            "capability": f"{props.major}.{props.minor}",
            "multi_processor_count": props.multi_processor_count,
            "cuda_runtime": torch.version.cuda,
            "driver": _driver_version(),
        }
    return info


def _driver_version() -> str | None:
    try:
        import subprocess

        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


def run_profile(opts: ProfileOptions, progress: Progress | None = None) -> ProfileResult:
    """Profile the model and write the three files; returns where they went."""
    from ..model import build_model, load_hf_config
    from .attention import AttentionProfiler
    from .mlp import MlpProfiler

    model_name = validate_options(opts)
    t_start = time.perf_counter()
    created_at = datetime.now(UTC).isoformat()
    device = torch.device(opts.device)
    where = str(opts.model_config)
    try:
        config = load_hf_config(opts.model_config)
        model = build_model(config, device=device, dtype=opts.dtype, seed=opts.seed)
    except Exception as err:  # the loader's own coded errors and foreign ones alike
        code = getattr(err, "code", "")
        raise ProfileError(
            "PROFILE_BAD_FLAG" if code == "HARNESS_BAD_FLAG" else "PROFILE_BAD_CONFIG",
            f"--model-config {where}: {getattr(err, 'detail', err)}",
        ) from err
    layers = decoder_layers(model, where)
    dims = dims_from_config(config, model, where)
    timer = OpTimer(device, opts.warmup, opts.repeats)
    slots = opts.num_slots or (min(dims.num_layers, 8) if device.type == "cuda" else min(dims.num_layers, 2))
    budget = _Budget(None if opts.quick else opts.time_budget_s)
    if progress:
        progress(f"[profile] {model_name} on {opts.device} ({opts.dtype}): dims {asdict(dims)}")

    # mlp.csv
    num_tokens = (
        [t for t in QUICK_NUM_TOKENS if t <= opts.max_tokens]
        if opts.quick
        else vidur_num_tokens(opts.max_tokens)
    )
    mlp = MlpProfiler(model, layers, dims, timer, slots, opts.seed, fused_kernels=opts.fused_kernels)
    mlp_done, mlp_trimmed = _sweep(
        "mlp", order_coarse_to_fine_1d(num_tokens), MANDATORY_LEVEL_1D, budget, mlp.profile, progress
    )
    mlp_rows = [
        _mlp_row(dims, opts.num_tensor_parallel_workers, t, s)
        for t, s in sorted(mlp_done, key=lambda t: t[0])
    ]
    rope_impl = mlp.rope_impl
    mlp_ops_impl = (
        "gpu_harness.engine.fused.FusedBlock over the HF model's weights (one qkv GEMM, one gate/up GEMM, "
        "rms_norm), as gpu_harness.engine.lean runs them on flat [tokens, hidden] activations"
        if mlp.blocks is not None
        else "the HF model's own decoder-block modules, called as gpu_harness.engine.lean calls them"
    ) + f"; elementwise: {mlp.fused_triton_note}"
    kv_save_fused = mlp.fused_triton
    del mlp

    # attention.csv
    pre = prefill_points(opts.max_seq_len, opts.quick)
    dec = decode_points(opts.max_seq_len, opts.max_batch_size, opts.quick)
    attn = AttentionProfiler(
        model,
        layers,
        dims,
        timer,
        block_size=opts.block_size,
        max_batch_size=max(p.batch for p in dec),
        max_seq_len=opts.max_seq_len,
        seed=opts.seed,
        attention=opts.attention,
        decode_attn=opts.decode_attn,
        kv_save_fused=kv_save_fused,
        prefill_call=opts.prefill_call,
    )
    pre_done, pre_trimmed = _sweep(
        "prefill",
        order_coarse_to_fine_2d([(p.chunk, p.kv) for p in pre]),
        MANDATORY_LEVEL_2D,
        budget,
        lambda ck: attn.profile_prefill(PrefillPoint(*ck)),
        progress,
    )
    dec_done, dec_trimmed = _sweep(
        "decode",
        order_coarse_to_fine_2d([(p.batch, p.kv) for p in dec]),
        MANDATORY_LEVEL_2D,
        budget,
        lambda bk: attn.profile_decode(DecodePoint(*bk)),
        progress,
    )
    engine_decode: dict[str, Any] | None = None
    if opts.decode_call == "engine":
        t_engine = time.perf_counter()
        dec_done, engine_decode = _engine_decode(
            model, attn, timer, opts, dims, dec_done, [p.kv for p in dec], progress
        )
        budget.spent_s["decode_engine"] = round(time.perf_counter() - t_engine, 3)
    attention_rows = [
        _attention_row(dims, opts, attn.backend, 1, c, k, s)
        for (c, k), s in sorted(pre_done, key=lambda t: t[0])
    ]
    attention_rows += [
        _attention_row(dims, opts, attn.backend, b, 0, k, s)
        for (b, k), s in sorted(dec_done, key=lambda t: t[0])
    ]

    out_dir = opts.out / "compute" / opts.device_name / model_name
    write_atomic(out_dir / "mlp.csv", render_csv(MLP_COLUMNS, mlp_rows))
    write_atomic(out_dir / "attention.csv", render_csv(ATTENTION_COLUMNS, attention_rows))
    duration = time.perf_counter() - t_start
    trimmed = {"mlp": mlp_trimmed, "prefill": pre_trimmed, "decode": dec_trimmed}
    attention_impl = attn.describe()
    attention_impl["decode_call"] = (
        "engine: the kernel's attn_decode moved, per batch size, by the engine's decode-step growth with kv "
        "less the kernel's (per layer, from the smallest kv; linear between the anchors of engine_decode)"
        if engine_decode is not None
        else "kernel: the decode kernel timed alone"
    )
    manifest = _manifest(
        opts,
        model_name,
        dims,
        device,
        timer,
        attention_impl,
        created_at,
        duration,
        trimmed,
        num_tokens=[t for t, _ in mlp_done],
        prefill=[list(ck) for ck, _ in pre_done],
        decode=[list(bk) for bk, _ in dec_done],
        rope_impl=rope_impl,
        mlp_ops_impl=mlp_ops_impl,
        phase_s=budget.spent_s,
        slots=slots,
    )
    if engine_decode is not None:
        manifest["engine_decode"] = engine_decode
    write_json_atomic(out_dir / "profile.json", manifest)
    if progress:
        progress(
            f"[profile] wrote {out_dir} ({len(mlp_rows)} mlp rows, {len(attention_rows)} attention rows) "
            f"in {duration:.1f} s"
        )
    return ProfileResult(out_dir, len(mlp_rows), len(attention_rows), duration, trimmed, manifest)


def _engine_decode(
    model: torch.nn.Module,
    attn: Any,
    timer: OpTimer,
    opts: ProfileOptions,
    dims: ModelDims,
    dec_done: list[tuple[tuple[int, int], dict[str, TimeStats]]],
    kv_axis: list[int],
    progress: Progress | None,
) -> tuple[list[tuple[tuple[int, int], dict[str, TimeStats]]], dict[str, Any]]:
    """Time the engine's decode-only step and the kernel at the kv anchors of every measured batch size and
    move each measured attn_decode row by the interpolated growth difference (engine_decode.py). Returns
    the moved rows and the manifest's record of the anchors."""
    anchors = anchor_kvs(kv_axis)
    batches = sorted({b for (b, _k), _s in dec_done})
    engine = EngineDecodeTimer(
        model,
        timer,
        num_slots=max(batches),
        max_seq_len=opts.max_seq_len,
        attention=opts.attention,
        decode_attn=opts.decode_attn,
        fused_kernels=opts.fused_kernels,
    )
    runner_note = engine.describe()
    rows: list[AnchorRow] = []
    deltas: dict[int, dict[int, float]] = {}
    last_report = time.perf_counter()
    try:
        for i, b in enumerate(batches):
            steps = engine.paired_growth(b, anchors)
            kernel = {kv: attn.profile_decode(DecodePoint(b, kv))["attn_decode"].median for kv in anchors}
            deltas[b] = growth_deltas({kv: g for kv, (_s, g) in steps.items()}, kernel, dims.num_layers)
            rows += [AnchorRow(b, kv, *steps[kv], kernel[kv], deltas[b][kv]) for kv in anchors]
            if progress and (time.perf_counter() - last_report > 5.0 or i + 1 == len(batches)):
                progress(f"[profile] decode_engine: {i + 1}/{len(batches)} batch sizes x {len(anchors)} kv")
                last_report = time.perf_counter()
    finally:
        engine.close()
    # The floor per batch size: the cheapest kernel median measured for it (sweep rows and anchors).
    floors = {b: min(r.kernel_ms for r in rows if r.batch == b) for b in batches}
    for (b, _k), s in dec_done:
        floors[b] = min(floors[b], s["attn_decode"].median)
    moved: list[tuple[tuple[int, int], dict[str, TimeStats]]] = []
    floored = 0
    for (b, k), s in dec_done:
        shift = interpolate(deltas[b], k)
        floored += s["attn_decode"].median + shift < floors[b]
        moved.append(((b, k), {**s, "attn_decode": shift_stats(s["attn_decode"], shift, floors[b])}))
    record = {
        "method": "attn_decode(b, kv) = kernel(b, kv) + delta_b(kv); delta_b at each anchor = "
        "step_growth(b, kv) / layers - (kernel(b, kv) - kernel(b, kv_0)); step_growth = median of paired "
        "differences step(b, kv) - step(b, kv_0), the two steps back to back; kernel = median; ms; linear "
        "in kv between anchors; a row's median never below the cheapest kernel median measured for its "
        "batch size (profile/engine_decode.py)",
        "floored_rows": floored,
        "layers": dims.num_layers,
        "anchors_kv": anchors,
        "runner": runner_note,
        "rows": [r.as_dict() for r in rows],
    }
    return moved, record


def _versions() -> dict[str, str]:
    import transformers

    from .. import __version__

    return {"gpu_harness": __version__, "torch": torch.__version__, "transformers": transformers.__version__}


def _manifest(
    opts: ProfileOptions,
    model_name: str,
    dims: ModelDims,
    device: torch.device,
    timer: OpTimer,
    attention_impl: dict[str, Any],
    created_at: str,
    duration: float,
    trimmed: dict[str, bool],
    *,
    num_tokens: list[int],
    rope_impl: str,
    mlp_ops_impl: str,
    phase_s: dict[str, float],
    prefill: list[list[int]],
    decode: list[list[int]],
    slots: int,
) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "kind": "profile",
        "created_at": created_at,
        "model_name": model_name,
        "device_name": opts.device_name,
        "model_config": str(opts.model_config),
        "dims": asdict(dims),
        "weights": "random",
        "dtype": opts.dtype,
        "device": opts.device,
        "tool_versions": _versions(),
        "host": _host_info(device),
        "command": opts.command,
        "duration_s": round(duration, 3),
        "phase_s": phase_s,
        "method": {
            "timer": timer.method,
            "warmup": opts.warmup,
            "repeats": opts.repeats,
            "rotation_slots": slots,
            "stat": "median of repeats is what Vidur trains on; times in ms",
        },
        "engine": {
            "name": "lean",
            "mlp_ops": mlp_ops_impl,
            "rope": rope_impl,
            "attention": attention_impl,
        },
        "grid": {
            "quick": opts.quick,
            "max_tokens": opts.max_tokens,
            "max_batch_size": opts.max_batch_size,
            "max_seq_len": opts.max_seq_len,
            "block_size": opts.block_size,
            "num_tensor_parallel_workers": opts.num_tensor_parallel_workers,
            "time_budget_s": opts.time_budget_s,
            "trimmed_by_budget": trimmed,
            "num_tokens": num_tokens,
            "prefill_chunk_kv": prefill,
            "decode_batch_kv": decode,
        },
        "vidur_notes": {
            "n_embd": "hidden_size (Vidur's filter value); kernels run at the real head_dim "
            f"{dims.head_dim} (Vidur would derive n_embd/n_head = {dims.n_embd // dims.n_head})",
            "attn_rope": "includes the q/k RMSNorm (Qwen3) before the rotary embedding",
            "attn_input_reshape/attn_output_reshape": "0.0: the engine's reshapes are views with no kernels",
            "vidur_predictor": (
                "attn_decode times the batched kernel at each batch size, so Vidur's extra for batched "
                "decode on GQA models (default 0.1) would count it twice: 0 (read by @vf/vidur-bridge)"
            ),
        },
        "vidur_predictor": {"attention_decode_batching_overhead_fraction": 0.0},
        **opts.extra_manifest,
    }

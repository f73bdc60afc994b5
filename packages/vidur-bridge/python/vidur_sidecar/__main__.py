"""Entry point: `python -m vidur_sidecar --spec SPEC.json` (one simulation per process).

Exit codes: 0 ok, 3 a coded error (reported as an `@@vidur-bridge {"event":"error"}` line), 1 anything else.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from typing import Any

from .protocol import SidecarError, emit


def _run(spec: dict[str, Any]) -> None:
    from . import devices, hf_model, hooks, profile_check

    # Cheap checks first (pandas only): importing vidur.main costs seconds.
    dims = hf_model.read_hf_dims(spec["model"]["hf_config"])
    coverage = profile_check.check_profile(
        spec["profile"]["mlp"],
        spec["profile"]["attention"],
        dims,
        int(spec["tp"]),
        int(spec["block_size"]),
        spec["needs"],
        bool(spec.get("allow_extrapolation", False)),
    )
    for key in ("all_reduce", "send_recv"):
        path = spec["profile"].get(key)
        if path and not os.path.isfile(path):
            raise SidecarError("VIDUR_PROFILE_MISSING", f"network profile file {path} does not exist (needed for TP/PP > 1)")

    overhead = None
    if spec.get("cpu_overhead"):
        from . import cpu_overhead

        overhead = cpu_overhead.load_overhead_table(spec["cpu_overhead"], spec["model"]["name"], int(spec["tp"]))
    grid = None
    if spec.get("decode_grid"):
        from . import cpu_overhead

        if overhead is None:
            raise SidecarError("VIDUR_BAD_OPTION", "a decode grid needs a CPU overhead table (the calibration writes both)")
        grid = cpu_overhead.load_decode_grid(spec["decode_grid"])

    try:
        import vidur
        from vidur import main as vidur_main
    except Exception as e:  # any import failure means a broken venv
        raise SidecarError("VIDUR_VENV_BROKEN", f"cannot import vidur: {e}") from e
    hf_model.register_model(spec["model"]["name"], dims)
    devices.register_device(spec.get("device"), spec["device_name"])
    devices.register_node(spec.get("node"), spec["node_name"])

    args = list(spec["vidur_args"])
    plan = None
    if spec.get("auto_num_blocks"):
        from vidur.config.device_sku_config import BaseDeviceSKUConfig

        device = BaseDeviceSKUConfig.create_from_type_string(spec["device_name"])
        plan = hf_model.true_memory_plan(
            dims,
            float(device.total_memory_gb),
            float(spec["memory_margin_fraction"]),
            int(spec["tp"]),
            int(spec["pp"]),
            int(spec["block_size"]),
        )
        args += ["--cache_config_num_blocks", str(plan["num_blocks"])]

    record_dir = spec["record_dir"]
    recorder = hooks.Recorder(
        os.path.join(record_dir, "bridge_batches.csv"), os.path.join(record_dir, "bridge_tokens.csv"), int(spec["num_requests"])
    )
    train_total = 12 + (1 if int(spec["tp"]) > 1 else 0) + (1 if int(spec["pp"]) > 1 else 0)
    hooks.install(spec["profile"], recorder, spec.get("rf_random_state"), train_total)
    if overhead is not None:
        from . import cpu_overhead

        cpu_overhead.install(*overhead, block_size=int(spec["block_size"]), decode_grid=grid)
    gate = None
    if spec.get("front_gate"):
        g = spec["front_gate"]
        gate = hooks.FrontGate(float(g["constant_s"]), float(g["per_token_s"]), float(g["per_step_s"]), float(g["handoff_s"]))
        hooks.install_front_gate(gate, recorder)
    scale = float(spec.get("step_time_scale", 1.0))
    if scale != 1.0:
        from . import cpu_overhead

        cpu_overhead.install_scale(scale)

    with open(os.path.join(record_dir, "bridge_resolved.json"), "w", encoding="utf-8") as f:
        json.dump(
            {
                "vidur_version": vidur.__version__,
                "vidur_argv": args,
                "model_dims": dims.__dict__,
                "memory_plan": plan,
                "profile_coverage": coverage,
                "cpu_overhead_ms_by_batch_size": dict(zip(overhead[0], overhead[1], strict=True)) if overhead else None,
                "cpu_overhead_prefill_extra_ms_by_batch_size": (
                    dict(zip(overhead[0], overhead[2], strict=True)) if overhead and overhead[2] is not None else None
                ),
                "cpu_overhead_prefix_ms_per_mpair_by_batch_size": (
                    dict(zip(overhead[0], overhead[4], strict=True)) if overhead and overhead[4] is not None else None
                ),
                "cpu_overhead_step_classes_ms": (
                    {str(b): v for b, v in zip(*overhead[5], strict=True)} if overhead and overhead[5] is not None else None
                ),
                "cpu_overhead_decode_kv_ms_per_ktoken": overhead[6] if overhead else None,
                "cpu_overhead_jitter": (
                    {"levels": overhead[3][0], "seed": cpu_overhead.JITTER_SEED} if overhead and overhead[3] is not None else None
                ),
                "decode_grid": (
                    {"file": spec["decode_grid"], "batches": grid[0], "points": sum(len(r[0]) for r in grid[1])}
                    if grid is not None
                    else None
                ),
                "step_time_scale": scale,
                "python": sys.version.split()[0],
            },
            f,
            indent=2,
        )
    emit("progress", phase="load", done=0, total=1)
    sys.argv = ["vidur"] + args
    try:
        vidur_main.main()
    finally:
        recorder.close()
    if gate is not None:
        with open(os.path.join(record_dir, "bridge_admissions.csv"), "w", encoding="utf-8") as f:
            f.write("request_id,delay_s\n")
            for rid, d in sorted(gate.delays.items()):
                f.write(f"{rid},{d!r}\n")
    emit("progress", phase="done", done=1, total=1)


def main() -> int:
    parser = argparse.ArgumentParser(prog="vidur_sidecar", description="Run Vidur for @vf/vidur-bridge from a JSON spec.")
    parser.add_argument("--spec", required=True, help="path of the JSON spec written by the TypeScript side")
    ns = parser.parse_args()
    try:
        with open(ns.spec, encoding="utf-8") as f:
            spec = json.load(f)
        _run(spec)
    except SidecarError as e:
        emit("error", code=e.code, message=e.message)
        return 3
    except BaseException as e:  # report everything; the TS side adds the stderr tail
        if isinstance(e, SystemExit) and (e.code in (0, None)):
            return 0
        traceback.print_exc()
        text = str(e)
        if len(text) > 1500:  # e.g. Vidur's pending-requests assertion prints every request
            text = text[:1500] + f" ... ({len(text) - 1500} more characters)"
        emit("error", code="VIDUR_EXIT_NONZERO", message=f"{type(e).__name__}: {text}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

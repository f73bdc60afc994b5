#!/usr/bin/env python3
"""The GPU half of an experiment, in one go, on a GPU host (stdlib only; no Node install needed there).

Phases (choose with --phases, default all, in this order):
  host      describe the host (nvidia-smi, torch, transformers) -> host.json
  engine    `gpu-harness bench-engine` (decode/prefill step grid vs floors) -> engine/
  serve     start the reference server once (`gpu-harness serve`), then, for every workload family given with
            --family: its capacity, then the loads (--load-fractions of the capacity) on --requests requests,
            --repeats times each; each run is `runner bench --engine-timeline` (--family-rates NAME=R1,R2 gives
            the rates instead). Capacity (--capacity): `saturation` (default) = the sustained throughput of one
            run of the family's --requests requests (or its --family-requests) all sent at once (completions
            per second between the 10th and 90th percentile completion: the rate the server keeps up with, so
            every load below it is stable); `sweep` = the highest rate whose --sweep-requests-request run keeps P99 TTFT under
            --ttft-bound-s (rates x --sweep-factor from --sweep-start, then bisection; short runs absorb a
            burst, so this over-states what a long run sustains). Then, with --demo, the demo experiment's loads
            (`runner run DEMO --steps workload,bench --record`), set to --load-fractions of the capacity of
            --demo-family when given
  profile   stop the server, then `gpu-harness profile` (Vidur CSVs from the engine's own kernels) -> profile/
Everything lands under --out (run dirs, server logs, sweep.json, loads.json, the profile) for the caller to tar.

A workload family is NAME=RUNNER_WORKLOAD_FLAGS, e.g.
  azure=--azure data/AzureLLMInferenceTrace_conv.csv --arrival poisson --seed 1
(the rate is appended per run as --rate R). The runner is called as `NODE RUNNER_JS ...`.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path


def log(msg: str) -> None:
    print(f"[gpu-half {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], *, timeout: float | None = None, check: bool = True, **kw) -> subprocess.CompletedProcess:
    log("$ " + shlex.join(cmd))
    return subprocess.run(cmd, timeout=timeout, check=check, **kw)


def p_quantile(values: list[float], q: float) -> float:
    """R-7 quantile (linear interpolation), as the comparator uses."""
    v = sorted(values)
    if not v:
        return math.nan
    h = (len(v) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (h - lo) * (v[hi] - v[lo])


def read_run(run_dir: Path) -> dict:
    rows = list(csv.DictReader(open(run_dir / "request_metrics.csv", newline="")))
    ok = [r for r in rows if r["status"] == "ok"]
    ttft = [float(r["ttft"]) for r in ok if r["ttft"]]
    tpot = [float(r["tpot"]) for r in ok if r["tpot"]]
    dur = max((float(r["completed_at"]) for r in ok if r["completed_at"]), default=math.nan)
    out_tokens = sum(int(r["num_output_tokens"]) for r in ok)
    done = sorted(float(r["completed_at"]) for r in ok if r["completed_at"])
    lo, hi = math.floor(0.1 * len(done)), math.ceil(0.9 * len(done)) - 1
    window = done[hi] - done[lo] if len(done) >= 10 else math.nan
    return {
        "sustained_rps": (hi - lo) / window if window and window > 0 else math.nan,
        "requests": len(rows),
        "ok": len(ok),
        "failed": sum(r["status"] == "failed" for r in rows),
        "short": sum(r["status"] == "short" for r in rows),
        "ttft_p50_s": p_quantile(ttft, 0.5),
        "ttft_p99_s": p_quantile(ttft, 0.99),
        "tpot_p50_s": p_quantile(tpot, 0.5),
        "output_tokens_per_s": out_tokens / dur if dur and dur > 0 else math.nan,
    }


class Server:
    def __init__(self, args: argparse.Namespace, log_dir: Path, server_args: str):
        self.server_args = server_args
        cmd = [sys.executable, "-m", "gpu_harness.cli", "serve", "--model-config", args.model_config,
               "--model-name", args.model_name, "--device", args.device, "--port", "0", "--log-dir", str(log_dir),
               *shlex.split(server_args)]
        log("$ " + shlex.join(cmd))
        self.stderr = open(log_dir.parent / "server.log", "a")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.stderr, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.time() + args.server_start_timeout_s
        self.url = None
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}; see server.log")
                continue
            if line.startswith("READY "):
                self.url = line.split()[1]
                break
        if self.url is None:
            raise RuntimeError("server did not become ready in time")
        log(f"server ready at {self.url}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.stderr.close()


def runner(args: argparse.Namespace, *rest: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    return run([args.node, args.runner, *rest], timeout=timeout, stdout=subprocess.PIPE, text=True)


def build_workload(args, out: Path, name: str, flags: str, rate: float, limit: int) -> Path:
    wdir = out / "workloads" / f"{name}-r{rate:g}-n{limit}"
    if not (wdir / "workload.json").exists():
        extra = ["--limit", str(limit)] if "--prompts" not in flags else ["--count", str(limit)]
        runner(args, "workload", *shlex.split(flags), "--rate", f"{rate:g}", *extra, "--out", str(wdir),
               "--model", args.model_name, "--model-config", args.model_config)
    return wdir


def bench(args, server: Server, wdir: Path, run_dir: Path, budget_end: float, family: str | None = None,
          capacity: bool = False) -> dict:
    left = budget_end - time.time()
    if left < 20:
        raise TimeoutError("time budget exhausted")
    extra = dict(f.split("=", 1) for f in args.family_bench_args).get(family, "") if family is not None else ""
    if capacity and family is not None:
        extra += " " + dict(f.split("=", 1) for f in args.capacity_bench_args).get(family, "")
    runner(args, "bench", "--workload", str(wdir), "--endpoint", server.url, "--engine-timeline",
           "--model", args.model_name, "--warmup", str(args.warmup), "--timeout-s", str(args.request_timeout_s),
           *shlex.split(extra), "--out", str(run_dir), timeout=left)
    stats = read_run(run_dir)
    log(f"{run_dir.name}: {json.dumps(stats)}")
    return stats


def start_server(args, out: Path, budget_end: float) -> Server:
    """Starts the server with the first --server-args that comes up and serves a short smoke workload."""
    last: Exception | None = None
    for i, server_args in enumerate(args.server_args or [""]):
        server = None
        try:
            server = Server(args, out / "server", server_args)
            wdir = build_workload(args, out, "smoke", args.smoke_flags, 4.0, 8)
            stats = bench(args, server, wdir, out / "runs" / f"smoke-{i}", budget_end)
            if stats["ok"] != stats["requests"]:
                raise RuntimeError(f"smoke run: {stats}")
            (out / "server_args.txt").write_text(server_args + "\n")
            return server
        except Exception as e:  # try the next configuration
            log(f"server configuration {server_args!r} failed: {e!r}")
            last = e
            if server is not None:
                server.stop()
    raise RuntimeError(f"no server configuration worked: {last!r}")


def sweep_capacity(args, server: Server, out: Path, name: str, flags: str, fam: dict, budget_end: float):
    """Highest rate whose run meets the bound: rates x --sweep-factor from --sweep-start until one fails, then
    --sweep-refine geometric bisections between the last good and the first bad rate."""
    def trial(rate: float) -> bool:
        wdir = build_workload(args, out, name, flags, rate, args.sweep_requests)
        stats = bench(args, server, wdir, out / "runs" / f"{name}-sweep-r{rate:g}", budget_end)
        stats["rate_rps"] = rate
        fam["sweep"].append(stats)
        return stats["failed"] == 0 and stats["ttft_p99_s"] <= args.ttft_bound_s

    rate, best, bad = args.sweep_start, None, None
    while rate <= args.sweep_max and time.time() < budget_end - 60:
        if not trial(rate):
            bad = rate
            break
        best = rate
        rate = round(rate * args.sweep_factor, 3)
    for _ in range(args.sweep_refine if best is not None and bad is not None else 0):
        if time.time() > budget_end - 60:
            break
        mid = round(math.sqrt(best * bad), 2)
        if trial(mid):
            best = mid
        else:
            bad = mid
    return best


def capacity_bound(args) -> str:
    if args.capacity == "saturation":
        return ("sustained throughput of the family's requests sent at once (completions per second "
                "between the 10th and 90th percentile completion)")
    return f"P99 TTFT <= {args.ttft_bound_s} s on {args.sweep_requests}-request sweep runs"


def family_requests(args, name: str) -> int:
    """The family's --family-requests NAME=N, else --requests."""
    given = {k: int(v) for k, v in (f.split("=", 1) for f in args.family_requests)}
    return given.get(name, args.requests)


def saturation_capacity(args, server: Server, out: Path, name: str, flags: str, fam: dict, budget_end: float):
    """Sustained throughput (req/s) of the family's requests all sent at once (--saturation-rate)."""
    wdir = build_workload(args, out, name, flags, args.saturation_rate, family_requests(args, name))
    stats = bench(args, server, wdir, out / "runs" / f"{name}-saturation", budget_end, name, capacity=True)
    stats["rate_rps"] = args.saturation_rate
    fam["saturation"] = stats
    if stats["failed"] or not math.isfinite(stats["sustained_rps"]):
        return None
    return round(stats["sustained_rps"], 2)


def record_demo(args, server: Server, out: Path, capacity: float | None) -> None:
    """Record the demo experiment's loads; with a measured demo capacity, first set its loads to
    --load-fractions of it (rounded to 0.5 req/s) and write the experiment file back (and into --out)."""
    import shutil
    path = Path(args.demo)
    exp = json.loads(path.read_text())
    if capacity is not None:
        rates = [max(0.5, round(capacity * f * 2) / 2) for f in args.load_fractions]
        exp["loads"] = [
            {"name": f"r{r:g}", "arrivals": {"kind": "poisson", "rateRps": r}, "realRunDir": f"runs/demo-r{r:g}"}
            for r in rates
        ]
        exp["capacity"] = {"rateRps": capacity, "bound": capacity_bound(args), "fractions": args.load_fractions}
        path.write_text(json.dumps(exp, indent=2) + "\n")
        (out / "demo-experiment.json").write_text(json.dumps(exp, indent=2) + "\n")
        log(f"demo loads at {rates} req/s (capacity {capacity} req/s)")
    # --demo-repeats N > 1: the loads recorded N times in turn, each pass's run dirs named <run>-rep<k> (k from
    # --rep-offset), so one server start gives the demo's run-to-run spread.
    passes = max(1, args.demo_repeats)
    for k in range(passes):
        runner(args, "run", str(path), "--steps", "workload,bench", "--record", "--force", "--endpoint", server.url,
               "--engine-timeline")
        suffix = "" if passes == 1 else f"-rep{args.rep_offset + k}"
        for d in (Path.cwd() / "tmp" / "real_runs").glob(f"{exp['name']}-*"):
            shutil.copytree(d, out / "runs" / f"{d.name}{suffix}", dirs_exist_ok=True)


def phase_serve(args, out: Path, budget_end: float) -> None:
    (out / "server").mkdir(parents=True, exist_ok=True)
    server = start_server(args, out, budget_end)
    try:
        families = dict(f.split("=", 1) for f in args.family)
        fixed = {k: [float(x) for x in v.split(",")] for k, v in (f.split("=", 1) for f in args.family_rates)}
        repeats = {k: int(v) for k, v in (f.split("=", 1) for f in args.family_repeats)}
        summary: dict = {"capacity": args.capacity, "server_args": server.server_args, "families": {}}
        if args.demo and args.demo_family not in families:
            record_demo(args, server, out, None)  # the experiment's own loads, first: it matters most
        for name, flags in families.items():
            fam: dict = {"sweep": [], "capacity_rps": None, "capacity_bound": capacity_bound(args), "loads": []}
            summary["families"][name] = fam
            if name in fixed:
                rates = [(r, None) for r in fixed[name]]
            else:
                measure = saturation_capacity if args.capacity == "saturation" else sweep_capacity
                best = measure(args, server, out, name, flags, fam, budget_end)
                fam["capacity_rps"] = best
                (out / "sweep.json").write_text(json.dumps(summary, indent=2))
                if best is None:
                    log(f"{name}: no rate met the bound; skipping loads")
                    continue
                rates = [(round(best * frac, 3), frac) for frac in args.load_fractions]
            if name == args.demo_family and args.demo:
                record_demo(args, server, out, fam["capacity_rps"])  # right away: the demo recording matters most
                continue
            if family_requests(args, name) == 0 or args.capacity_only:
                continue
            for r, frac in rates:
                wdir = build_workload(args, out, name, flags, r, family_requests(args, name))
                for rep in range(args.rep_offset, args.rep_offset + repeats.get(name, args.repeats)):
                    tag = f"load{int(frac * 100)}" if frac is not None else f"r{r:g}"
                    run_dir = out / "runs" / f"{name}-{tag}-rep{rep}"
                    try:
                        stats = bench(args, server, wdir, run_dir, budget_end, name)
                    except TimeoutError:
                        log("time budget exhausted; stopping loads")
                        break
                    stats.update(rate_rps=r, fraction=frac, repeat=rep, workload=str(wdir.name))
                    fam["loads"].append(stats)
                    (out / "sweep.json").write_text(json.dumps(summary, indent=2))
    finally:
        server.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path, help="results folder")
    ap.add_argument("--phases", default="host,engine,serve,profile", help="comma list of phases")
    ap.add_argument("--node", default="node", help="Node binary")
    ap.add_argument("--runner", required=True, help="path of the built runner's main.js")
    ap.add_argument("--model-config", required=True, help="HF config.json")
    ap.add_argument("--model-name", default="Qwen/Qwen3-0.6B", help="model name (org/name)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--device-name", default="h200", help="Vidur device SKU for the profile path")
    ap.add_argument("--server-args", action="append", default=[],
                    help="extra `gpu-harness serve` flags (one string); repeat to give fallbacks tried in order")
    ap.add_argument("--smoke-flags", default="--synthetic 8 --prefill fixed:64 --decode fixed:16 --seed 1",
                    help="runner workload flags of the smoke run that checks a server configuration")
    ap.add_argument("--server-start-timeout-s", type=float, default=300)
    ap.add_argument("--family", action="append", default=[], help="NAME=RUNNER_WORKLOAD_FLAGS (repeatable)")
    ap.add_argument("--capacity", choices=["saturation", "sweep"], default="saturation",
                    help="how a family's capacity is measured (see above)")
    ap.add_argument("--saturation-rate", type=float, default=100000.0,
                    help="arrival rate of the saturation run, req/s (high enough that all requests queue at once)")
    ap.add_argument("--sweep-start", type=float, default=4.0, help="first sweep rate, req/s")
    ap.add_argument("--sweep-factor", type=float, default=1.5, help="rate multiplier per sweep step")
    ap.add_argument("--sweep-max", type=float, default=400.0, help="highest sweep rate, req/s")
    ap.add_argument("--sweep-requests", type=int, default=200, help="requests per sweep run")
    ap.add_argument("--sweep-refine", type=int, default=2,
                    help="geometric bisections between the last good and first bad sweep rate")
    ap.add_argument("--family-rates", action="append", default=[],
                    help="NAME=R1,R2,... run family NAME at these rates (req/s) instead of sweeping")
    ap.add_argument("--capacity-only", action="store_true", help="measure each family's capacity, no loads")
    ap.add_argument("--family-bench-args", action="append", default=[],
                    help="NAME=ARGS: extra `runner bench` flags for family NAME's runs, e.g. azure0='--preconnect 0'")
    ap.add_argument("--capacity-bench-args", action="append", default=[],
                    help="NAME=ARGS: more `runner bench` flags for family NAME's saturation run only (after "
                         "--family-bench-args), e.g. azure='--preconnect 0': the capacity in the workload's order, "
                         "its loads as always")
    ap.add_argument("--rep-offset", type=int, default=0, help="first repeat index in run dir names")
    ap.add_argument("--demo-family", default=None,
                    help="family whose capacity sets the demo loads (--load-fractions of it); no loads of its own")
    ap.add_argument("--ttft-bound-s", type=float, default=1.0, help="capacity: P99 TTFT bound, seconds")
    ap.add_argument("--load-fractions", type=lambda s: [float(x) for x in s.split(",")], default=[0.3, 0.6, 0.85])
    ap.add_argument("--requests", type=int, default=500, help="requests per load run (0: the sweep only)")
    ap.add_argument("--family-requests", action="append", default=[],
                    help="NAME=N: --requests for family NAME (a trace family: the rows read)")
    ap.add_argument("--repeats", type=int, default=1, help="runs per load (run-to-run spread)")
    ap.add_argument("--family-repeats", action="append", default=[], help="NAME=N: --repeats for family NAME")
    ap.add_argument("--warmup", type=int, default=8, help="warm-up requests per run")
    ap.add_argument("--request-timeout-s", type=float, default=120)
    ap.add_argument("--demo", default=None, help="demo experiment file to record (phase serve)")
    ap.add_argument("--demo-repeats", type=int, default=1,
                    help="record the demo's loads this many times in turn (run dirs <run>-rep<k> when > 1)")
    ap.add_argument("--engine-args", default="", help="extra `gpu-harness bench-engine` flags")
    ap.add_argument("--profile-args", default="", help="extra `gpu-harness profile` flags")
    ap.add_argument("--time-budget-s", type=float, default=540, help="stop starting new work after this")
    args = ap.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    budget_end = time.time() + args.time_budget_s
    phases = args.phases.split(",")
    status: dict = {}
    for phase in phases:
        t0 = time.time()
        try:
            if phase == "host":
                info = {"python": sys.version}
                smi = run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm",
                           "--format=csv,noheader"], check=False, stdout=subprocess.PIPE, text=True)
                info["nvidia_smi"] = smi.stdout.strip()
                v = run([sys.executable, "-c", "import torch, transformers; print(torch.__version__, "
                         "torch.version.cuda, transformers.__version__)"], check=False, stdout=subprocess.PIPE,
                        text=True)
                info["torch_cuda_transformers"] = v.stdout.strip()
                (out / "host.json").write_text(json.dumps(info, indent=2))
            elif phase == "engine":
                run([sys.executable, "-m", "gpu_harness.cli", "bench-engine", "--model-config", args.model_config,
                     "--device", args.device, "--out", str(out / "engine"), *shlex.split(args.engine_args)],
                    timeout=max(30, budget_end - time.time()))
            elif phase == "serve":
                phase_serve(args, out, budget_end)
            elif phase == "profile":
                run([sys.executable, "-m", "gpu_harness.cli", "profile", "--model-config", args.model_config,
                     "--model-name", args.model_name, "--device-name", args.device_name, "--device", args.device,
                     "--dtype", "bfloat16", "--out", str(out / "profile"), *shlex.split(args.profile_args)],
                    timeout=max(30, budget_end - time.time() + 60))
            else:
                raise SystemExit(f"--phases: unknown phase {phase!r}")
            status[phase] = {"ok": True, "seconds": round(time.time() - t0, 1)}
        except Exception as e:  # a failed phase is recorded; the others still run
            log(f"phase {phase} failed: {e!r}")
            status[phase] = {"ok": False, "error": repr(e), "seconds": round(time.time() - t0, 1)}
        (out / "phases.json").write_text(json.dumps(status, indent=2))
    return 0 if all(s["ok"] for s in status.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

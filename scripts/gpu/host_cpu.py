"""Sample the host's CPU time while a call serves: every CPU's busy, idle and steal time (/proc/stat) and every thread
of the serving processes (/proc/PID/task/TID/stat: user + system time), on the wall clock, until stopped (SIGINT or
SIGTERM). Slow machines serve the same loads 30-60 % slower; this says whether the hypervisor took the CPUs away
(steal), whether the engine's step loop or the HTTP front used more CPU for the same work, or neither.

Writes OUT (CSV, written to OUT.tmp and renamed at the end): wall_s,kind,id,name,busy_s,steal_s,idle_s: kind "cpu"
(id: the CPU's number; busy = user + nice + system + irq + softirq) or "thread" (id: PID/TID; name: the process's
command's last word / the thread's name; busy = utime + stime; steal and idle empty). Cumulative counters: a reader
takes differences between samples. Processes are those whose command line contains one of --match (default: the
reference server, its engine process (spawned: a multiprocessing command line) and the bench client).

Usage: python3 scripts/gpu/host_cpu.py --out results/topo/host-cpu.csv [--interval-s 0.25] [--match gpu_harness]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def cpu_rows() -> list[tuple[str, str, float, float, float]]:
    rows = []
    with open("/proc/stat") as f:
        for line in f:
            if not line.startswith("cpu") or line.startswith("cpu "):
                continue
            parts = line.split()
            v = [int(x) for x in parts[1:]] + [0] * 10
            user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
            busy = user + nice + system + irq + softirq
            rows.append((parts[0][3:], "", busy / TICK, steal / TICK, (idle + iowait) / TICK))
    return rows


def matching_pids(patterns: list[str]) -> dict[int, str]:
    out = {}
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(p in cmd for p in patterns):
            words = cmd.split()
            out[int(entry)] = os.path.basename(words[0]) if words else "?"
    return out


def thread_rows(pids: dict[int, str]) -> list[tuple[str, str, float]]:
    rows = []
    for pid, proc in pids.items():
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    text = f.read()
            except OSError:
                continue
            # comm is in parentheses and may hold spaces; the fields after it start at the state.
            name = text[text.index("(") + 1 : text.rindex(")")]
            fields = text[text.rindex(")") + 2 :].split()
            utime, stime = int(fields[11]), int(fields[12])
            rows.append((f"{pid}/{tid}", f"{proc}/{name}".replace(",", " "), (utime + stime) / TICK))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="CSV to write (OUT.tmp while sampling, renamed when stopped)")
    ap.add_argument("--interval-s", type=float, default=0.25, help="seconds between samples (default 0.25)")
    ap.add_argument(
        "--match",
        action="append",
        default=None,
        help="a string the command lines of the processes to follow contain (repeatable; default: gpu_harness, "
        "multiprocessing, main.js)",
    )
    a = ap.parse_args()
    if not a.interval_s > 0:
        print(f"host_cpu.py: --interval-s {a.interval_s}: expected a number > 0", file=sys.stderr)
        return 2
    patterns = a.match or ["gpu_harness", "multiprocessing", "main.js"]
    stop = False

    def on_signal(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    tmp = a.out + ".tmp"
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    samples = 0
    with open(tmp, "w") as f:
        f.write("wall_s,kind,id,name,busy_s,steal_s,idle_s\n")
        pids: dict[int, str] = {}
        last_scan = 0.0
        while not stop:
            now = time.time()
            if now - last_scan >= 2.0:  # new server starts come and go; rescan every 2 s
                pids = matching_pids(patterns)
                last_scan = now
            f.writelines(f"{now:.3f},cpu,{c},,{b:.2f},{st:.2f},{i:.2f}\n" for c, _, b, st, i in cpu_rows())
            f.writelines(f"{now:.3f},thread,{tid},{name},{b:.2f},,\n" for tid, name, b in thread_rows(pids))
            samples += 1
            f.flush()
            time.sleep(a.interval_s)
    os.replace(tmp, a.out)
    print(f"host_cpu.py: {samples} samples -> {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

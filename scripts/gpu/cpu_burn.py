"""Keep the given CPUs busy for a while: one process a CPU, pinned to it, alternating pure-Python arithmetic with
copies of a 64 MiB buffer (the host's cores and its memory bandwidth both in use), until --seconds pass or it is
stopped (SIGINT or SIGTERM). Call 71 starts a server under it to see whether a busy host slows the machine probe's
steps (the GPU's wait included), as Q21's large steps were slower under load than its probe at an idle start.

Usage: python3 scripts/gpu/cpu_burn.py --cpus 0,1,3-15 --seconds 150
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import sys
import time


def cpu_list(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def burn(cpu: int, until: float) -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.sched_setaffinity(0, {cpu})
    buf = bytearray(64 << 20)
    x = 0
    while time.time() < until:
        for i in range(200_000):
            x = (x * 31 + i) & 0xFFFFFFFF
        buf[:] = bytes(buf)  # a 64 MiB read and write


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpus", required=True, help="the CPUs to keep busy, as taskset lists them (0,1,3-15)")
    ap.add_argument("--seconds", type=float, required=True, help="how long (the processes stop by themselves then)")
    a = ap.parse_args()
    try:
        cpus = cpu_list(a.cpus)
    except ValueError:
        print(f"cpu_burn.py: --cpus {a.cpus!r}: expected a list such as 0,1,3-15", file=sys.stderr)
        return 2
    if not a.seconds > 0:
        print(f"cpu_burn.py: --seconds {a.seconds}: expected a number > 0", file=sys.stderr)
        return 2
    until = time.time() + a.seconds
    procs = [multiprocessing.Process(target=burn, args=(c, until), daemon=True) for c in cpus]
    for p in procs:
        p.start()

    def stop(*_: object) -> None:
        for p in procs:
            p.terminate()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for p in procs:
        p.join()
    print(f"cpu_burn.py: {len(procs)} CPUs kept busy for up to {a.seconds:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

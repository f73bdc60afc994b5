/**
 * The run clock: one monotonic high-resolution clock (performance.now, sub-microsecond, never steps) whose
 * zero is the schedule start, plus its wall-clock anchor so times can be joined with server logs.
 * Also the pacing primitive `waitUntil`. It does not know about requests.
 */
import { setTimeout as delay } from "node:timers/promises";

/** Monotonic clock whose 0 is the schedule start; `nowS()` returns seconds since then (negative before). */
export interface RunClock {
  /** performance.now() value (ms) of the clock's zero. */
  readonly originPerfMs: number;
  /** Unix time (ms, fractional) of the clock's zero: performance.timeOrigin + originPerfMs. */
  readonly originUnixMs: number;
  /** Seconds since the clock's zero on the monotonic clock. */
  nowS(): number;
}

/** Creates a run clock whose zero lies `leadS` seconds after now. */
export function createRunClock(leadS = 0): RunClock {
  const originPerfMs = performance.now() + leadS * 1000;
  return {
    originPerfMs,
    originUnixMs: performance.timeOrigin + originPerfMs,
    nowS: () => (performance.now() - originPerfMs) / 1000,
  };
}

/**
 * Resolves at `targetS` on `clock`: a coarse setTimeout until `spinWindowMs` before the target (timers fire
 * up to ~1 ms late), then setImmediate turns (which let socket I/O run) until the target passes.
 * Returns false when `signal` aborted first.
 */
export async function waitUntil(
  clock: RunClock,
  targetS: number,
  spinWindowMs: number,
  signal?: AbortSignal,
): Promise<boolean> {
  for (;;) {
    if (signal?.aborted) return false;
    const remainingMs = (targetS - clock.nowS()) * 1000;
    if (remainingMs <= 0) return true;
    if (remainingMs > spinWindowMs) {
      try {
        await delay(remainingMs - spinWindowMs, undefined, signal ? { signal } : undefined);
      } catch {
        return false;
      }
    } else {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}

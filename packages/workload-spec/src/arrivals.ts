/**
 * Arrival schedules as integer microseconds from the schedule start (the first request arrives at 0), so that every
 * file prints them exactly with six decimals. Poisson, gamma (burstiness by the gaps' coefficient of variation),
 * constant rate, and trace timestamps with rate scaling. Randomness comes only from the named seeded PRNG.
 */
import { WorkloadSpecError } from "./errors.js";
import { createRng, sampleExponential, sampleGamma } from "./prng.js";
import type { ArrivalSpec } from "./schema.js";

/** Microseconds per second. */
const US_PER_S = 1_000_000;

/** Format integer microseconds as seconds with exactly six decimals ("12.000340"). */
export function formatMicros(us: number): string {
  const whole = Math.floor(us / US_PER_S);
  const frac = us - whole * US_PER_S;
  return `${whole}.${String(frac).padStart(6, "0")}`;
}

/** Seconds (float) -> nearest integer microseconds. */
export function secondsToMicros(seconds: number): number {
  return Math.round(seconds * US_PER_S);
}

/**
 * Arrival offsets in microseconds for `count` requests. `traceOffsetsUs` (from a trace source, first = 0) is
 * required for `kind: "trace"` and ignored otherwise.
 */
export function generateArrivalsUs(
  spec: ArrivalSpec,
  count: number,
  seed: number,
  traceOffsetsUs?: readonly number[],
): number[] {
  const rng = createRng(seed, "arrivals");
  const out: number[] = new Array<number>(count);
  if (count === 0) return out;
  out[0] = 0;
  switch (spec.kind) {
    case "constant":
      for (let i = 1; i < count; i++) out[i] = Math.round((i * US_PER_S) / spec.rateRps);
      return out;
    case "poisson":
    case "gamma": {
      // Gaps are summed in float seconds and each arrival rounded once, so rounding errors do not accumulate.
      const shape = spec.kind === "gamma" ? 1 / (spec.cv * spec.cv) : 1;
      const scale = 1 / (spec.rateRps * shape);
      let t = 0;
      for (let i = 1; i < count; i++) {
        t += spec.kind === "poisson" ? sampleExponential(rng, 1 / spec.rateRps) : sampleGamma(rng, shape, scale);
        out[i] = secondsToMicros(t);
      }
      return out;
    }
    case "trace": {
      if (traceOffsetsUs === undefined) {
        throw new WorkloadSpecError(
          "WORKLOAD_INVALID_SPEC",
          'arrivals kind "trace" needs a trace source (azure or mooncake)',
          { field: "arrivals.kind" },
        );
      }
      let factor = spec.timeScale ?? 1;
      if (spec.rateRps !== undefined) {
        const durationUs = traceOffsetsUs[count - 1] ?? 0;
        if (count < 2 || durationUs === 0) {
          throw new WorkloadSpecError("WORKLOAD_INVALID_SPEC", "rateRps needs at least two distinct trace arrivals", {
            field: "arrivals.rateRps",
          });
        }
        const observedRps = ((count - 1) * US_PER_S) / durationUs;
        factor = observedRps / spec.rateRps;
      }
      for (let i = 0; i < count; i++) {
        const us = traceOffsetsUs[i] ?? 0;
        out[i] = factor === 1 ? us : Math.round(us * factor);
      }
      return out;
    }
  }
}

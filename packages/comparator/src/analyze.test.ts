import type { Iteration } from "@vf/metrics-io";
import { describe, expect, it } from "vitest";
import { analyzeSteps, compareSamples, formatPct, formatSeconds, parseCompareOptions, stepBinIndex, sustainedThroughput } from "./analyze.js";
import { isComparatorError } from "./errors.js";

function step(i: number, start: number, wall: number, prefill: number, decode: number, gpu: number | null): Iteration {
  return { step: i, start, end: start + wall, gpu_time: gpu, num_prefill_tokens: prefill, num_decode_tokens: decode, batch_size: decode + (prefill > 0 ? 1 : 0), kv_tokens_in_use: null };
}

describe("step analysis", () => {
  it("bins by powers of two", () => {
    expect([0, 1, 2, 3, 4, 7, 8, 100].map(stepBinIndex)).toEqual([0, 1, 2, 2, 3, 3, 4, 7]);
  });
  it("splits busy-time error into execution and scheduling by hand", () => {
    // Real: two 4-token steps of 10 ms (gpu 8 ms) and one 64-token step of 30 ms (gpu 25 ms).
    const real = [step(0, 0, 0.01, 0, 4, 0.008), step(1, 0.02, 0.01, 0, 4, 0.008), step(2, 0.04, 0.03, 60, 4, 0.025)];
    // Sim: 4-token steps take 8 ms, the 64-token bin 24 ms, but it runs one extra 4-token step.
    const sim = [step(0, 0, 0.008, 0, 4, null), step(1, 0.01, 0.008, 0, 5, null), step(2, 0.02, 0.008, 0, 4, null), step(3, 0.03, 0.024, 60, 4, null)];
    const s = analyzeSteps(real, sim);
    const d = s.decomposition;
    expect(d.realTotalS).toBeCloseTo(0.05, 12);
    expect(d.simTotalS).toBeCloseTo(0.048, 12);
    expect(d.counterfactualS).toBeCloseTo(0.008 + 0.008 + 0.024, 12);
    expect(d.executionS).toBeCloseTo(-0.01, 12);
    expect(d.schedulingS).toBeCloseTo(0.008, 12);
    expect(d.executionS + d.schedulingS).toBeCloseTo(d.totalDiffS, 12);
    expect(d.fallbackSteps).toBe(0);
    expect(s.real.hostOverhead.totalS).toBeCloseTo(0.002 + 0.002 + 0.005, 12);
    expect(s.real.hostOverhead.fracOfWall).toBeCloseTo(0.009 / 0.05, 12);
    expect(s.sim.hostOverhead.totalS).toBeNull();
    expect(s.bins.map((b) => [b.lo, b.hi, b.realN, b.simN])).toEqual([
      [4, 8, 2, 3],
      [64, 128, 1, 1],
    ]);
    expect(s.bins[1]?.relErrMean).toBeCloseTo(-0.2, 12);
  });
  it("falls back to the nearest populated simulated bin", () => {
    const s = analyzeSteps([step(0, 0, 0.02, 0, 16, null)], [step(0, 0, 0.01, 0, 4, null)]);
    expect(s.decomposition.fallbackSteps).toBe(1);
    expect(s.decomposition.counterfactualS).toBeCloseTo(0.01, 12);
  });
});

describe("sustainedThroughput", () => {
  it("counts completions between the 10th and 90th percentile completion, by hand", () => {
    // 20 completions at t = 0, 0.5, 1, ... 9.5 s, 3 output tokens each, given out of order:
    // lo = 2 (t = 1), hi = 17 (t = 8.5): 15 completions and 45 tokens over 7.5 s.
    const done = Array.from({ length: 20 }, (_, i) => ({ completedAt: (19 - i) * 0.5, outputTokens: 3 }));
    const t = sustainedThroughput(done);
    expect(t.windowS).toBeCloseTo(7.5, 12);
    expect(t.requestsPerS).toBeCloseTo(2, 12);
    expect(t.outputTokensPerS).toBeCloseTo(6, 12);
  });
  it("is null with fewer than 10 completions or no time between them", () => {
    expect(sustainedThroughput([{ completedAt: 1, outputTokens: 1 }]).requestsPerS).toBeNull();
    expect(sustainedThroughput(Array.from({ length: 12 }, () => ({ completedAt: 5, outputTokens: 1 }))).requestsPerS).toBeNull();
  });
});

describe("compareSamples", () => {
  it("percentile errors and paired differences by hand", () => {
    const real = [1, 2, 3, 4];
    const sim = [1.1, 2.2, 3.3, 4.4];
    const { result } = compareSamples("x", real, sim, parseCompareOptions({ bootstrapReplicates: 100 }), true);
    expect(result.real.p50).toBe(2.5);
    expect(result.sim.p50).toBeCloseTo(2.75, 12);
    expect(result.diff.p50).toBeCloseTo(0.25, 12);
    expect(result.relErr.p50).toBeCloseTo(0.1, 12);
    expect(result.relErr.mean).toBeCloseTo(0.1, 12);
    expect(result.paired?.relDiff.mean).toBeCloseTo(0.1, 12);
    expect(result.paired?.relDiff.sd).toBeCloseTo(0, 12);
    expect(result.paired?.tost.equivalent).toBe(false); // a constant +10% is not inside ±10%
    expect(result.ks.statistic).toBe(0.25);
    expect(result.w1).toBeCloseTo(0.25, 12);
  });
});

describe("options and formatting", () => {
  it("rejects bad options naming the field", () => {
    expect(() => parseCompareOptions({ marginRel: -1 })).toThrow(/marginRel/);
    try {
      parseCompareOptions({ bootstrapReplicates: 1.5 });
    } catch (e) {
      expect(isComparatorError(e) && e.code === "COMPARATOR_INVALID_OPTIONS").toBe(true);
    }
    expect(() => parseCompareOptions({ bogus: 1 } as never)).toThrow(/bogus/);
    expect(parseCompareOptions(undefined)).toMatchObject({ marginRel: 0.1, alpha: 0.05, bootstrapReplicates: 2000, seed: 1 });
  });
  it("formats seconds and percentages", () => {
    expect(formatSeconds(1.23456)).toBe("1.235 s");
    expect(formatSeconds(0.0123456)).toBe("12.35 ms");
    expect(formatSeconds(0.0000123456)).toBe("12.35 µs");
    expect(formatSeconds(null)).toBe("n/a");
    expect(formatPct(0.1234)).toBe("+12.3%");
    expect(formatPct(-0.05)).toBe("-5.0%");
  });
});

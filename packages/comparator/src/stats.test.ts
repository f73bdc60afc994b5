import { describe, expect, it } from "vitest";
import { beta, createRng, normal } from "./rng.js";
import { incompleteBeta, kolmogorovSurvival, logGamma, studentTCdf } from "./special.js";
import {
  bootstrapQuantileRelErrorCi,
  bootstrapQuantileReplicate,
  ksTwoSampleSorted,
  mean,
  quantileR7,
  sampleSd,
  sortedCopy,
  summarizeSorted,
  tostPaired,
  wasserstein1Sorted,
} from "./stats.js";

function normals(seed: number, n: number, shift = 0): Float64Array {
  const rng = createRng(seed);
  return sortedCopy(Array.from({ length: n }, () => normal(rng) + shift));
}

describe("quantiles (R-7)", () => {
  it("interpolates linearly between order statistics", () => {
    const x = [1, 2, 3, 4];
    expect(quantileR7(x, 0.5)).toBe(2.5); // h = 1.5
    expect(quantileR7(x, 0.9)).toBeCloseTo(3.7, 12); // h = 2.7
    expect(quantileR7(x, 0)).toBe(1);
    expect(quantileR7(x, 1)).toBe(4);
    expect(quantileR7([10, 20, 30, 40, 50], 0.99)).toBeCloseTo(49.6, 12); // h = 3.96
    expect(quantileR7([], 0.5)).toBeNaN();
  });
  it("summarizes a sample", () => {
    const s = summarizeSorted(Float64Array.from({ length: 101 }, (_, i) => i));
    expect(s).toMatchObject({ n: 101, mean: 50, p50: 50, p90: 90, p95: 95, p99: 99, min: 0, max: 100 });
  });
  it("mean and sd by hand", () => {
    expect(mean([1, 2, 3, 6])).toBe(3);
    expect(sampleSd([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(Math.sqrt(32 / 7), 12);
  });
});

describe("special functions", () => {
  it("log-gamma and incomplete beta match closed forms", () => {
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 12);
    // I_0.5(2, 3) = (C(4,2) + C(4,3) + C(4,4)) / 16
    expect(incompleteBeta(0.5, 2, 3)).toBeCloseTo(11 / 16, 12);
    expect(incompleteBeta(0.3, 1, 1)).toBeCloseTo(0.3, 12);
  });
  it("Student t CDF matches the df = 3 closed form and table values", () => {
    const closed = (t: number) => 0.5 + (t / (Math.sqrt(3) * (1 + (t * t) / 3)) + Math.atan(t / Math.sqrt(3))) / Math.PI;
    for (const t of [-4, -1.2, 0, 0.7, 2.5, 9]) expect(studentTCdf(t, 3)).toBeCloseTo(closed(t), 10);
    expect(studentTCdf(2.228, 10)).toBeCloseTo(0.975, 3);
    expect(studentTCdf(1.96, 1e6)).toBeCloseTo(0.975, 3);
  });
  it("Kolmogorov survival matches known values", () => {
    expect(kolmogorovSurvival(1.3581)).toBeCloseTo(0.05, 3);
    expect(kolmogorovSurvival(1.6276)).toBeCloseTo(0.01, 3);
    expect(kolmogorovSurvival(1)).toBeCloseTo(0.27, 3);
    expect(kolmogorovSurvival(0.5)).toBeCloseTo(0.9639, 3);
    // Both branches agree at the switch point.
    expect(kolmogorovSurvival(1.1799)).toBeCloseTo(kolmogorovSurvival(1.1801), 3);
  });
});

describe("two-sample KS", () => {
  it("computes D by hand, including ties", () => {
    expect(ksTwoSampleSorted([1, 2, 3], [4, 5, 6]).statistic).toBe(1);
    expect(ksTwoSampleSorted([1, 2, 3, 4], [3, 4, 5, 6]).statistic).toBe(0.5);
    expect(ksTwoSampleSorted([1, 1, 2, 2], [1, 1, 2, 2]).statistic).toBe(0);
    const r = ksTwoSampleSorted([1, 2, 3], [4, 5, 6]);
    expect(r.nEffective).toBe(1.5);
    const lambda = (Math.sqrt(1.5) + 0.12 + 0.11 / Math.sqrt(1.5)) * 1;
    expect(r.pValue).toBeCloseTo(kolmogorovSurvival(lambda), 14);
  });
  it("accepts the same seeded distribution and rejects a shifted one", () => {
    const a = normals(1, 2000);
    const b = normals(2, 2000);
    const c = normals(3, 2000, 0.3);
    expect(ksTwoSampleSorted(a, b).pValue).toBeGreaterThan(0.05);
    const shifted = ksTwoSampleSorted(a, c);
    expect(shifted.pValue).toBeLessThan(1e-6);
    // D for a 0.3 sd shift of normals is about Φ(0.15) - Φ(-0.15) = 0.119.
    expect(shifted.statistic).toBeGreaterThan(0.08);
    expect(shifted.statistic).toBeLessThan(0.16);
  });
});

describe("Wasserstein-1", () => {
  it("known pairs", () => {
    expect(wasserstein1Sorted([0, 1], [1, 2])).toBeCloseTo(1, 14);
    expect(wasserstein1Sorted([0], [0, 2])).toBeCloseTo(1, 14);
    expect(wasserstein1Sorted([1, 2, 3], [1, 2, 3])).toBe(0);
    // mass 2/3 moves 0 -> 1 and 1/3 moves 3 -> 1: 2/3 + 2/3
    expect(wasserstein1Sorted([0, 0, 3], [1])).toBeCloseTo(4 / 3, 14);
  });
  it("equals the shift between a sample and its translate", () => {
    const a = normals(5, 3000);
    const b = a.map((x) => x + 0.5);
    expect(wasserstein1Sorted(a, b)).toBeCloseTo(0.5, 9);
  });
});

describe("TOST", () => {
  it("hand-computed case inside the margin", () => {
    const r = tostPaired([0.01, -0.01, 0.02, 0], 0.1, 0.05);
    const se = Math.sqrt(0.0005 / 3) / 2;
    expect(r.meanDiff).toBeCloseTo(0.005, 14);
    expect(r.tLower).toBeCloseTo(0.105 / se, 9);
    expect(r.tUpper).toBeCloseTo(-0.095 / se, 9);
    expect(r.pUpper).toBeCloseTo(studentTCdf(-0.095 / se, 3), 12);
    expect(r.equivalent).toBe(true);
    expect(r.p).toBeLessThan(0.001);
  });
  it("rejects equivalence when the mean sits at the margin", () => {
    const rng = createRng(9);
    const d = Array.from({ length: 200 }, () => 0.12 + 0.05 * normal(rng));
    const r = tostPaired(d, 0.1, 0.05);
    expect(r.equivalent).toBe(false);
    expect(r.pUpper).toBeGreaterThan(0.5);
    expect(r.ciLow).toBeGreaterThan(0.1);
  });
  it("degenerate constant differences compare with the margin", () => {
    expect(tostPaired([0.05, 0.05, 0.05], 0.1).equivalent).toBe(true);
    expect(tostPaired([0.2, 0.2, 0.2], 0.1).equivalent).toBe(false);
    expect(tostPaired([0.2], 0.1).equivalent).toBe(false);
  });
});

describe("bootstrap", () => {
  it("order-statistic replicates have the law of a naive resample's quantile", () => {
    const x = normals(11, 60);
    const rng = createRng(4);
    const fast: number[] = [];
    const naive: number[] = [];
    for (let b = 0; b < 4000; b++) {
      fast.push(bootstrapQuantileReplicate(x, 0.9, rng));
      const res = sortedCopy(Array.from({ length: x.length }, () => x[Math.floor(rng() * x.length)] as number));
      naive.push(quantileR7(res, 0.9));
    }
    expect(mean(fast)).toBeCloseTo(mean(naive), 1);
    expect(Math.abs(sampleSd(fast) - sampleSd(naive)) / sampleSd(naive)).toBeLessThan(0.1);
    expect(ksTwoSampleSorted(sortedCopy(fast), sortedCopy(naive)).pValue).toBeGreaterThan(0.001);
  });
  it("beta variates have the right mean", () => {
    const rng = createRng(3);
    expect(mean(Array.from({ length: 20000 }, () => beta(rng, 3, 5)))).toBeCloseTo(0.375, 2);
  });
  it("CIs are seeded, cover zero for equal laws and exclude it for a 20% shift", () => {
    const a = normals(21, 500).map((v) => 1 + 0.1 * v);
    const b = normals(22, 500).map((v) => 1 + 0.1 * v);
    const c = a.map((v) => v * 1.2);
    const ci1 = bootstrapQuantileRelErrorCi(a, b, 0.5, 1000, 7);
    expect(bootstrapQuantileRelErrorCi(a, b, 0.5, 1000, 7)).toEqual(ci1);
    expect(ci1.low).toBeLessThan(0);
    expect(ci1.high).toBeGreaterThan(0);
    const ci2 = bootstrapQuantileRelErrorCi(a, sortedCopy(c), 0.5, 1000, 7);
    expect(ci2.low).toBeGreaterThan(0.15);
    expect(ci2.high).toBeLessThan(0.25);
  });
});

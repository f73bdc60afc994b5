import { describe, expect, it } from "vitest";
import { createRng, sampleExponential, sampleGamma, sampleIntInclusive, sampleStandardNormal } from "./prng.js";

function meanAndCv(xs: number[]): { mean: number; cv: number } {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1);
  return { mean, cv: Math.sqrt(variance) / mean };
}

describe("createRng (xoshiro128** seeded by splitmix32)", () => {
  it("is deterministic per seed and label, and different across them", () => {
    const take = (seed: number, label: string) => {
      const r = createRng(seed, label);
      return Array.from({ length: 8 }, () => r.nextU32());
    };
    expect(take(42, "a")).toEqual(take(42, "a"));
    expect(take(42, "a")).not.toEqual(take(43, "a"));
    expect(take(42, "a")).not.toEqual(take(42, "b"));
    expect(take(1, "")).not.toEqual(take(1 + 2 ** 32, ""));
    for (const x of take(7, "z")) expect(Number.isInteger(x) && x >= 0 && x < 2 ** 32).toBe(true);
  });

  it("gives uniform floats in [0, 1) with the right moments", () => {
    const r = createRng(1);
    const xs = Array.from({ length: 50_000 }, () => r.next());
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    // Equal-width bins hold close to equal counts.
    const bins = new Array<number>(10).fill(0);
    for (const x of xs) bins[Math.floor(x * 10)]!++;
    for (const b of bins) expect(Math.abs(b - 5000)).toBeLessThan(300);
  });

  it("samples integers inclusively and distributions with the requested moments", () => {
    const r = createRng(5);
    const ints = Array.from({ length: 6000 }, () => sampleIntInclusive(r, 3, 8));
    expect(new Set(ints)).toEqual(new Set([3, 4, 5, 6, 7, 8]));
    expect(sampleIntInclusive(r, 9, 9)).toBe(9);
    const exp = meanAndCv(Array.from({ length: 40_000 }, () => sampleExponential(r, 2)));
    expect(Math.abs(exp.mean - 2)).toBeLessThan(0.06);
    expect(Math.abs(exp.cv - 1)).toBeLessThan(0.03);
    const normal = Array.from({ length: 40_000 }, () => sampleStandardNormal(r));
    expect(Math.abs(normal.reduce((s, x) => s + x, 0) / normal.length)).toBeLessThan(0.02);
    for (const [shape, scale] of [
      [0.25, 4],
      [4, 0.5],
    ] as const) {
      const g = meanAndCv(Array.from({ length: 40_000 }, () => sampleGamma(r, shape, scale)));
      expect(Math.abs(g.mean / (shape * scale) - 1)).toBeLessThan(0.05);
      expect(Math.abs(g.cv / (1 / Math.sqrt(shape)) - 1)).toBeLessThan(0.05);
    }
  });
});

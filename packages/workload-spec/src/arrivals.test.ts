import { describe, expect, it } from "vitest";
import { formatMicros, generateArrivalsUs, secondsToMicros } from "./arrivals.js";

function gapsCv(us: number[]): { rate: number; cv: number } {
  const gaps = us.slice(1).map((t, i) => t - us[i]!);
  const mean = gaps.reduce((s, g) => s + g, 0) / gaps.length;
  const sd = Math.sqrt(gaps.reduce((s, g) => s + (g - mean) ** 2, 0) / (gaps.length - 1));
  return { rate: 1e6 / mean, cv: sd / mean };
}

describe("formatMicros / secondsToMicros", () => {
  it("prints exactly six decimals from integers", () => {
    expect(formatMicros(0)).toBe("0.000000");
    expect(formatMicros(1)).toBe("0.000001");
    expect(formatMicros(3_501_999_999)).toBe("3501.999999");
    expect(formatMicros(12_000_340)).toBe("12.000340");
    expect(secondsToMicros(0.1 + 0.2)).toBe(300_000);
    expect(secondsToMicros(3501.999999)).toBe(3_501_999_999);
  });
});

describe("generateArrivalsUs", () => {
  it("constant rate is exact", () => {
    expect(generateArrivalsUs({ kind: "constant", rateRps: 3 }, 4, 0)).toEqual([0, 333_333, 666_667, 1_000_000]);
  });

  it("poisson has the requested rate and cv 1; the seed decides the schedule", () => {
    const a = generateArrivalsUs({ kind: "poisson", rateRps: 20 }, 20_000, 9);
    expect(a[0]).toBe(0);
    expect(a.every((t, i) => i === 0 || t >= a[i - 1]!)).toBe(true);
    const { rate, cv } = gapsCv(a);
    expect(Math.abs(rate / 20 - 1)).toBeLessThan(0.03);
    expect(Math.abs(cv - 1)).toBeLessThan(0.04);
    expect(generateArrivalsUs({ kind: "poisson", rateRps: 20 }, 50, 9)).toEqual(a.slice(0, 50));
    expect(generateArrivalsUs({ kind: "poisson", rateRps: 20 }, 50, 10)).not.toEqual(a.slice(0, 50));
  });

  it("gamma keeps the rate and has the requested burstiness (cv)", () => {
    for (const cv of [0.5, 3]) {
      const got = gapsCv(generateArrivalsUs({ kind: "gamma", rateRps: 10, cv }, 30_000, 4));
      expect(Math.abs(got.rate / 10 - 1)).toBeLessThan(0.05);
      expect(Math.abs(got.cv / cv - 1)).toBeLessThan(0.06);
    }
  });

  it("trace offsets: kept as is, time-scaled, or rescaled to a mean rate", () => {
    const offsets = [0, 1_000_001, 2_500_000, 4_000_000];
    expect(generateArrivalsUs({ kind: "trace" }, 4, 0, offsets)).toEqual(offsets);
    expect(generateArrivalsUs({ kind: "trace", timeScale: 0.5 }, 4, 0, offsets)).toEqual([0, 500_001, 1_250_000, 2_000_000]);
    // 3 gaps over 4 s = 0.75 req/s; asking 1.5 req/s halves every offset.
    expect(generateArrivalsUs({ kind: "trace", rateRps: 1.5 }, 4, 0, offsets)).toEqual([0, 500_001, 1_250_000, 2_000_000]);
    expect(() => generateArrivalsUs({ kind: "trace" }, 4, 0)).toThrow(/WORKLOAD_INVALID_SPEC/);
    expect(() => generateArrivalsUs({ kind: "trace", rateRps: 2 }, 2, 0, [0, 0])).toThrow(/WORKLOAD_INVALID_SPEC/);
  });
});

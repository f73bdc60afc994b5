import { describe, expect, it } from "vitest";
import { type ComparisonSpread, cellSpread, describeTally, tally } from "./spread.js";

/** A comparison's spread with one cell (TTFT P50) over three runs: the own run's percentile first. */
function spreadOf(realS: number[], simS: number[], verdict: "5%" | "band" | "off"): ComparisonSpread {
  const relErrs = realS.map((r, i) => (simS[i]! - r) / r);
  const cell = { realS, minS: Math.min(...realS), maxS: Math.max(...realS), rel: 0.2, simS: simS[0]!, relErrs, verdict };
  return { metrics: { ttft: { p50: cell, p90: null } } };
}

describe("cellSpread", () => {
  const before = spreadOf([10, 12, 11], [5, 5, 5], "off");
  const after = spreadOf([10, 12, 11], [11.8, 11.8, 12.1], "band");
  it("puts the uncalibrated and calibrated comparisons' spreads side by side, repeat by repeat", () => {
    const s = cellSpread(before, after, "ttft", "p50", ["rep-a", "rep-b"])!;
    expect(s.runs).toBe(3);
    expect([s.minS, s.maxS, s.rel]).toEqual([10, 12, 0.2]);
    expect(s.repeats.map((r) => r.dir)).toEqual(["rep-a", "rep-b"]);
    expect(s.repeats.map((r) => r.realS)).toEqual([12, 11]);
    expect(s.repeats[0]!.beforeRelErr).toBeCloseTo(-7 / 12, 12);
    expect(s.repeats[1]!.afterRelErr).toBeCloseTo(1.1 / 11, 12);
    expect(s.beforeVerdict).toBe("off");
    expect(s.afterVerdict).toBe("band");
  });
  it("is null where either comparison has no value for the cell", () => {
    expect(cellSpread(before, after, "ttft", "p90", ["rep-a", "rep-b"])).toBeNull();
    expect(cellSpread(before, after, "tbt", "p50", ["rep-a", "rep-b"])).toBeNull();
  });
});

describe("tally", () => {
  it("counts each verdict and skips missing ones", () => {
    const t = tally(["5%", "off", null, "band", "5%"]);
    expect(t).toEqual({ "5%": 2, band: 1, off: 1 });
    expect(describeTally(t)).toBe("2 within 5 % of the load's run, 1 in the real runs' band, 1 off");
  });
});

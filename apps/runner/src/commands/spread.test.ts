import { describe, expect, it } from "vitest";
import { cellSpread, describeTally, tally, VERDICT_TOLERANCE, verdictOf } from "./spread.js";

describe("verdictOf", () => {
  const all = [10, 12, 11];
  it("is 5% within 5 % of the load's own run, on either side and at the edge", () => {
    expect(VERDICT_TOLERANCE).toBe(0.05);
    expect(verdictOf(10.5, 10, all)).toBe("5%");
    expect(verdictOf(9.5, 10, all)).toBe("5%");
    expect(verdictOf(10.51, 10, all)).toBe("band");
  });
  it("is band inside the runs' range widened by 5 % and off outside it", () => {
    // The range is 10-12: widened, 9.5-12.6; the own run 12 makes 11.39 more than 5 % off it.
    expect(verdictOf(11.39, 12, all)).toBe("band");
    expect(verdictOf(12.6, 10, all)).toBe("band");
    expect(verdictOf(12.61, 10, all)).toBe("off");
    expect(verdictOf(9.49, 12, all)).toBe("off");
  });
  it("has no verdict without a simulated or real percentile", () => {
    expect(verdictOf(null, 10, all)).toBeNull();
    expect(verdictOf(10, null, all)).toBeNull();
    expect(verdictOf(10, 10, [])).toBeNull();
  });
});

describe("cellSpread", () => {
  const rep = (realS: number | null) => ({ dir: "d", realS, beforeRelErr: null, afterRelErr: null });
  it("spans the load's own run and its repeats and judges both simulations", () => {
    const s = cellSpread({ realS: 10, beforeS: 5, afterS: 11.8 }, [rep(12), rep(11)])!;
    expect(s.runs).toBe(3);
    expect(s.minS).toBe(10);
    expect(s.maxS).toBe(12);
    expect(s.rel).toBeCloseTo(2 / 11, 12);
    expect(s.beforeVerdict).toBe("off");
    expect(s.afterVerdict).toBe("band");
  });
  it("is null when a run has no percentile", () => {
    expect(cellSpread({ realS: null, beforeS: 1, afterS: 1 }, [rep(1)])).toBeNull();
    expect(cellSpread({ realS: 1, beforeS: 1, afterS: 1 }, [rep(null)])).toBeNull();
  });
});

describe("tally", () => {
  it("counts each verdict and skips missing ones", () => {
    const t = tally(["5%", "off", null, "band", "5%"]);
    expect(t).toEqual({ "5%": 2, band: 1, off: 1 });
    expect(describeTally(t)).toBe("2 within 5 % of the load's run, 1 in the real runs' band, 1 off");
  });
});

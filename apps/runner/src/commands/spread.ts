/**
 * The real run-to-run spread beside every calibration cell (issue 10: "an error inside the noise is not an error").
 * A load may name more recorded real runs of itself (`loads[].realRepeatDirs`: repeats, other server starts); the
 * comparator then reports, in each comparison (`comparison.json` `spread`, report.html, summary.md), every real run's
 * percentile, the simulation's error against each and a verdict: "5%" within 5 % of the load's own run, "band" inside
 * the real runs' range widened by 5 % on either side (the same rule as `scripts/fidelity-table.py --band`), "off"
 * otherwise (@vf/comparator `spreadVerdict`). Here the uncalibrated and the calibrated comparisons' spreads are put
 * side by side for calibration.json and calibration.md, and their verdicts tallied.
 */
import type { SpreadVerdict } from "@vf/comparator";
import { z } from "zod";

export type Verdict = SpreadVerdict;

/** One repeat's percentile and the uncalibrated (before) and calibrated (after) simulations' errors against it. */
export interface RepeatCell {
  dir: string;
  realS: number | null;
  beforeRelErr: number | null;
  afterRelErr: number | null;
}

/** A cell's real runs (the load's own first, then its repeats) and both simulations' verdicts. */
export interface CellSpread {
  /** How many real runs: the load's own and its repeats. */
  runs: number;
  minS: number;
  maxS: number;
  /** (max - min) / mean over the runs. */
  rel: number;
  repeats: RepeatCell[];
  beforeVerdict: Verdict | null;
  afterVerdict: Verdict | null;
}

const SpreadCellSchema = z
  .object({
    realS: z.array(z.number()).min(1),
    minS: z.number(),
    maxS: z.number(),
    rel: z.number(),
    relErrs: z.array(z.number()).min(1),
    verdict: z.enum(["5%", "band", "off"]),
  })
  .passthrough();
/** The part of comparison.json's `spread` read here (written by @vf/comparator when given repeats). */
export const ComparisonSpreadSchema = z
  .object({ metrics: z.record(z.string(), z.record(z.string(), SpreadCellSchema.nullable())) })
  .passthrough();
export type ComparisonSpread = z.infer<typeof ComparisonSpreadSchema>;

/**
 * One cell's spread from the uncalibrated (before) and calibrated (after) comparisons' spreads of the same real runs
 * (`repeatDirs`: the repeats, in the comparisons' order); null when either comparison has no value for it.
 */
export function cellSpread(before: ComparisonSpread, after: ComparisonSpread, metric: string, stat: string, repeatDirs: readonly string[]): CellSpread | null {
  const b = before.metrics[metric]?.[stat] ?? null;
  const a = after.metrics[metric]?.[stat] ?? null;
  if (b === null || a === null) return null;
  return {
    runs: b.realS.length,
    minS: b.minS,
    maxS: b.maxS,
    rel: b.rel,
    repeats: repeatDirs.map((dir, i) => ({
      dir,
      realS: b.realS[i + 1] ?? null,
      beforeRelErr: b.relErrs[i + 1] ?? null,
      afterRelErr: a.relErrs[i + 1] ?? null,
    })),
    beforeVerdict: b.verdict,
    afterVerdict: a.verdict,
  };
}

/** Counts of each verdict. */
export type Tally = Record<Verdict, number>;

export function tally(verdicts: readonly (Verdict | null)[]): Tally {
  const t: Tally = { "5%": 0, band: 0, off: 0 };
  for (const v of verdicts) if (v !== null) t[v] += 1;
  return t;
}

/** "7 within 5 % of the load's run, 1 in the real runs' band, 0 off". */
export function describeTally(t: Tally): string {
  return `${t["5%"]} within 5 % of the load's run, ${t.band} in the real runs' band, ${t.off} off`;
}

/**
 * The real run-to-run spread beside every calibration cell (issue 10: "an error inside the noise is not an error").
 * A load may name more recorded real runs of itself (`loads[].realRepeatDirs`: repeats, other server starts); each
 * cell then gets the real percentile of every run, both simulations' errors against each, and a verdict per
 * simulation: "5%" when within 5 % of the load's own run, "band" when inside the real runs' range widened by 5 % on
 * either side (the same rule as `scripts/fidelity-table.py --band`), else "off".
 */
import { analyzeLoaded, type LoadedRun, loadRun, parseCompareOptions } from "@vf/comparator";
import { UsageError } from "../errors.js";

/** The issue's target, and how far the band is widened past the real runs' range. */
export const VERDICT_TOLERANCE = 0.05;

export type Verdict = "5%" | "band" | "off";

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

const relErr = (sim: number | null, real: number | null) => (sim === null || real === null || real === 0 ? null : (sim - real) / real);

/** The verdict of a simulated percentile against the load's own run (`realS`) and every real run (`allS`). */
export function verdictOf(simS: number | null, realS: number | null, allS: readonly number[]): Verdict | null {
  const e = relErr(simS, realS);
  if (simS === null || e === null || allS.length === 0) return null;
  if (Math.abs(e) <= VERDICT_TOLERANCE) return "5%";
  const lo = Math.min(...allS);
  const hi = Math.max(...allS);
  return lo * (1 - VERDICT_TOLERANCE) <= simS && simS <= hi * (1 + VERDICT_TOLERANCE) ? "band" : "off";
}

/** A cell's spread from its own run's percentile, the simulations' and the repeats' (null when a real side is missing). */
export function cellSpread(cell: { realS: number | null; beforeS: number | null; afterS: number | null }, repeats: RepeatCell[]): CellSpread | null {
  if (cell.realS === null || repeats.some((r) => r.realS === null)) return null;
  const all = [cell.realS, ...repeats.map((r) => r.realS as number)];
  const mean = all.reduce((a, b) => a + b, 0) / all.length;
  const minS = Math.min(...all);
  const maxS = Math.max(...all);
  return {
    runs: all.length,
    minS,
    maxS,
    rel: mean > 0 ? (maxS - minS) / mean : 0,
    repeats,
    beforeVerdict: verdictOf(cell.beforeS, cell.realS, all),
    afterVerdict: verdictOf(cell.afterS, cell.realS, all),
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

/** P50 and P90 of TTFT and TBT as comparison.json reports them (seconds). */
export type Percentiles = Record<"ttft" | "tbt", Record<"p50" | "p90", { realS: number | null; simS: number | null }>>;

/**
 * Each repeat's percentiles against the uncalibrated (before) and the calibrated (after) simulation, by the
 * comparator's own rules (same requests, same quantiles): each run is loaded once, whatever the number of repeats.
 */
export async function repeatPercentiles(
  repeatDirs: readonly string[],
  beforeSim: string,
  afterSim: string,
): Promise<{ dir: string; before: Percentiles; after: Percentiles }[]> {
  // Only the percentiles are read: the bootstrap is kept to the comparator's minimum.
  const options = parseCompareOptions({ bootstrapReplicates: 10 });
  const [before, after] = await Promise.all([loadRun(beforeSim), loadRun(afterSim)]);
  const against = async (real: LoadedRun, sim: LoadedRun, id: string): Promise<Percentiles> => {
    const { comparison } = await analyzeLoaded(real, sim, id, options);
    const out = {} as Percentiles;
    for (const metric of ["ttft", "tbt"] as const) {
      const m = comparison.metrics[metric];
      if (m === null || m === undefined) throw new UsageError(`${real.dir}: no ${metric} samples against ${sim.dir}`);
      out[metric] = { p50: { realS: m.real.p50, simS: m.sim.p50 }, p90: { realS: m.real.p90, simS: m.sim.p90 } };
    }
    return out;
  };
  return Promise.all(
    repeatDirs.map(async (dir) => {
      const real = await loadRun(dir);
      return { dir, before: await against(real, before, "repeat-before"), after: await against(real, after, "repeat-after") };
    }),
  );
}

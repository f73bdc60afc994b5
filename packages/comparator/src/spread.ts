/**
 * The real run-to-run spread beside a comparison's errors: more recorded real runs of the same workload (repeats,
 * other server starts) are each compared with the same simulation under the same request rule and quantiles, and
 * every P50 / P90 cell gets the real runs' range and a verdict. "An error inside the noise is not an error": a
 * simulated percentile is judged `5%` when within 5 % of the comparison's own real run, `band` when it lies inside
 * the real runs' range widened by 5 % on either side, `off` otherwise.
 */
import { type Comparison, METRIC_KEYS, type MetricKey } from "./analyze.js";

/** The 5 % target, and how far the band is widened past the real runs' range on either side. */
export const SPREAD_TOLERANCE = 0.05;

/** The percentiles the spread reports. */
export const SPREAD_STATS = ["p50", "p90"] as const;
export type SpreadStat = (typeof SPREAD_STATS)[number];

export type SpreadVerdict = "5%" | "band" | "off";

/** The rule, as written into reports. */
export const SPREAD_RULE =
  "5% = the simulated percentile within 5 % of the comparison's own real run; band = inside the real runs' range (min-max over the own run and its repeats) widened by 5 % on either side, an error inside the run-to-run noise; off = neither";

/** One cell: every real run's percentile (the own run first) and the simulation's errors against them. */
export interface SpreadCell {
  /** Seconds, the comparison's own real run first, then each repeat in the order given. */
  realS: number[];
  minS: number;
  maxS: number;
  /** (max - min) / mean over the real runs. */
  rel: number;
  /** The simulated percentile over the own run's compared requests. */
  simS: number;
  /** (sim - real) / real against each real run (the simulation's percentile over that run's compared requests). */
  relErrs: number[];
  verdict: SpreadVerdict;
}

/** comparison.json `spread`: the real runs and every metric's P50 / P90 cells (null where a side has no value). */
export interface RealSpread {
  /** The real runs' dir names and run ids, the own run first. */
  runs: { dirName: string; runId: string }[];
  tolerance: number;
  rule: string;
  metrics: Partial<Record<MetricKey, Record<SpreadStat, SpreadCell | null>>>;
  /** Verdicts over every cell that has one. */
  tally: Record<SpreadVerdict, number>;
}

/**
 * The verdict of a simulated percentile against the own run's (`ownS`) and every real run's (`allS`, the own run
 * included); null when a value is missing or the own run's is 0.
 */
export function spreadVerdict(simS: number | null, ownS: number | null, allS: readonly number[]): SpreadVerdict | null {
  if (simS === null || ownS === null || ownS === 0 || allS.length === 0) return null;
  if (Math.abs((simS - ownS) / ownS) <= SPREAD_TOLERANCE) return "5%";
  const lo = Math.min(...allS);
  const hi = Math.max(...allS);
  return lo * (1 - SPREAD_TOLERANCE) <= simS && simS <= hi * (1 + SPREAD_TOLERANCE) ? "band" : "off";
}

/**
 * One cell from each real run's percentile and the simulation's over that run's compared requests (the own run
 * first); null when any is missing. The verdict is the own run's simulated percentile against every real run.
 */
export function spreadCell(runs: readonly { realS: number | null; simS: number | null }[]): SpreadCell | null {
  if (runs.length === 0 || runs.some((r) => r.realS === null || r.realS === 0 || r.simS === null)) return null;
  const realS = runs.map((r) => r.realS as number);
  const errs = runs.map((r) => ((r.simS as number) - (r.realS as number)) / (r.realS as number));
  const simS = runs[0]!.simS as number;
  const minS = Math.min(...realS);
  const maxS = Math.max(...realS);
  const mean = realS.reduce((a, b) => a + b, 0) / realS.length;
  return {
    realS,
    minS,
    maxS,
    rel: (maxS - minS) / mean,
    simS,
    relErrs: errs,
    verdict: spreadVerdict(simS, realS[0]!, realS)!,
  };
}

/**
 * The spread of `own` (a comparison of the own real run with a simulation) given each repeat's comparison with the
 * same simulation (each error is over that run's compared requests).
 */
export function realSpread(own: Comparison, repeats: readonly Comparison[]): RealSpread {
  const metrics: RealSpread["metrics"] = {};
  const tally: Record<SpreadVerdict, number> = { "5%": 0, band: 0, off: 0 };
  for (const key of METRIC_KEYS) {
    const m = own.metrics[key];
    if (m === null) continue;
    const cells = {} as Record<SpreadStat, SpreadCell | null>;
    for (const stat of SPREAD_STATS) {
      const cell = spreadCell([own, ...repeats].map((c) => ({ realS: c.metrics[key]?.real[stat] ?? null, simS: c.metrics[key]?.sim[stat] ?? null })));
      cells[stat] = cell;
      if (cell !== null) tally[cell.verdict] += 1;
    }
    metrics[key] = cells;
  }
  const runOf = (c: Comparison) => ({ dirName: c.runs.real.dirName, runId: c.runs.real.manifest.run_id });
  return { runs: [runOf(own), ...repeats.map(runOf)], tolerance: SPREAD_TOLERANCE, rule: SPREAD_RULE, metrics, tally };
}

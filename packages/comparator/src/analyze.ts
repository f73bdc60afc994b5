/**
 * The comparison itself: join two loaded runs on request_id, apply the exclusion rule, and compute every
 * number of the report (per-metric percentiles and errors, KS, W1, paired TOST, bootstrap CIs, step-level
 * split). Pure computation on loaded data plus the streamed token gaps; rendering and files live elsewhere.
 */
import type { RealSpread } from "./spread.js";
import { basename } from "node:path";
import { type Iteration, type RequestMetric, type RunManifest, readTokenTimestamps } from "@vf/metrics-io";
import { ComparatorError } from "./errors.js";
import { type LoadedRun, loadRun } from "./load.js";
import { type CompareOptions, type CompareOptionsInput, CompareOptionsSchema, formatIssues } from "./schema.js";
import {
  type KsResult,
  type SampleSummary,
  type TostResult,
  bootstrapQuantileRelErrorCi,
  ksTwoSampleSorted,
  mean,
  quantileR7,
  sampleSd,
  sortedCopy,
  summarizeSorted,
  tostPaired,
  wasserstein1Sorted,
} from "./stats.js";
import { readTokenGapsSorted } from "./token-gaps.js";

/** Metric keys in report order. */
export const METRIC_KEYS = ["ttft", "tbt", "tbt_mean", "tpot", "e2e"] as const;
/** One of the compared metrics. */
export type MetricKey = (typeof METRIC_KEYS)[number];

/** Human labels of the metrics. */
export const METRIC_LABELS: Record<MetricKey, string> = {
  ttft: "TTFT",
  tbt: "TBT (pooled gaps)",
  tbt_mean: "TBT (per-request mean)",
  tpot: "TPOT",
  e2e: "E2E",
};

/** Metric definitions stated in every report. */
export const DEFINITIONS: Record<string, string> = {
  arrived_at: "scheduled arrival from the workload (seconds from schedule start); both sides use it as time zero of a request",
  ttft: "TTFT = first output token time - arrived_at (request_metrics.csv `ttft`; Vidur: prefill_e2e_time)",
  tbt: "TBT = every gap t[i] - t[i-1] between consecutive output tokens of one request (token_timestamps.csv), pooled over all compared requests; when a stream chunk carries k tokens the gaps are those written by the run (see the writer's chunk convention)",
  tbt_mean: "per-request mean TBT = mean of that request's gaps (requests with >= 2 output tokens)",
  tpot: "TPOT = (last token - first token) / (n_out - 1) (request_metrics.csv `tpot`)",
  e2e: "E2E = last output token time - arrived_at (request_metrics.csv `e2e`)",
  percentile: "quantiles by linear interpolation between order statistics (Hyndman-Fan R-7, d3.quantileSorted): h = (n-1)p, q = x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h])",
  errors: "diff = sim - real (seconds); abs_err = |sim - real|; rel_err = (sim - real) / real (signed; negative = simulator under-predicts)",
  ks: "two-sample Kolmogorov-Smirnov D = sup|F_real - F_sim|; p-value from the asymptotic Kolmogorov distribution with Stephens' correction: p = Q_KS((sqrt(ne) + 0.12 + 0.11/sqrt(ne)) D), ne = n m / (n + m)",
  w1: "Wasserstein-1 distance = integral of |F_real(x) - F_sim(x)| dx (seconds)",
  tost: "TOST equivalence on paired per-request relative differences d = (sim - real)/real: H0a mean(d) <= -margin, H0b mean(d) >= +margin, one-sided t-tests with n-1 df; equivalent when max(p) < alpha (same as the (1-2 alpha) CI of mean(d) inside the margin)",
  bootstrap: "percentile bootstrap of rel_err at each percentile: B replicates, real and sim resampled independently with replacement (same sizes), seeded; each replicate's order statistics are drawn exactly from Beta laws (equivalent to sorting a full resample); CI = R-7 quantiles (1-level)/2 and (1+level)/2 of the replicates",
  steps: "step time = end - start of one engine step (iterations.csv); step tokens = num_prefill_tokens + num_decode_tokens; host overhead = (end - start) - gpu_time where gpu_time is recorded",
  throughput: "sustained throughput = completions per second between the 10th and 90th percentile completion of the compared requests: sort completed_at, lo = floor(0.1 n), hi = ceil(0.9 n) - 1, requests/s = (hi - lo) / (t[hi] - t[lo]), output tokens/s = output tokens of the completions lo+1..hi / (t[hi] - t[lo]); at a load the server keeps up with it equals the arrival rate, on a run whose requests all arrive at once it is the capacity",
  exclusion: "a request is compared only when it is present on both sides with status ok on both; missing, failed and short requests are listed and excluded from every metric; a metric additionally skips requests where that metric is empty on either side, and relative paired differences skip requests whose real value is 0",
};

/** Errors at mean and each percentile. */
export interface StatRow {
  mean: number | null;
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
}

/** A bootstrap confidence interval. */
export interface CiRow {
  low: number | null;
  high: number | null;
}

/** Paired per-request analysis of one metric. */
export interface PairedResult {
  n: number;
  zeroRealExcluded: number;
  relDiff: {
    mean: number | null;
    sd: number | null;
    p5: number | null;
    p25: number | null;
    p50: number | null;
    p75: number | null;
    p95: number | null;
    meanAbs: number | null;
    withinMarginFrac: number | null;
  };
  diffS: { mean: number | null; p50: number | null; p95: number | null };
  tost: TostResult;
}

/** Everything computed for one metric. */
export interface MetricResult {
  label: string;
  unit: "s";
  nReal: number;
  nSim: number;
  real: SampleSummary;
  sim: SampleSummary;
  diff: StatRow;
  absErr: StatRow;
  relErr: StatRow;
  relErrCi: { p50: CiRow; p90: CiRow; p95: CiRow; p99: CiRow };
  ks: KsResult;
  w1: number;
  paired: PairedResult | null;
}

/** An id list with its full count (truncated to maxListedIds). */
export interface IdList {
  count: number;
  ids: number[];
  truncated: boolean;
}

/** Step-level statistics of one side. */
export interface StepSide {
  steps: number;
  totalTimeS: number;
  meanStepTimeS: number;
  meanTokens: number;
  p50Tokens: number;
  meanBatchSize: number;
  hostOverhead: { stepsWithGpuTime: number; totalS: number | null; fracOfWall: number | null; meanPerStepS: number | null };
}

/** One step-token bin. */
export interface StepBin {
  lo: number;
  hi: number;
  realN: number;
  simN: number;
  realMeanS: number | null;
  simMeanS: number | null;
  realMedianS: number | null;
  simMedianS: number | null;
  relErrMean: number | null;
}

/** Step-level analysis (both sides have iterations.csv). */
export interface StepAnalysis {
  real: StepSide;
  sim: StepSide;
  bins: StepBin[];
  decomposition: {
    realTotalS: number;
    simTotalS: number;
    counterfactualS: number;
    executionS: number;
    schedulingS: number;
    totalDiffS: number;
    fallbackSteps: number;
  };
  composition: { ksTokens: KsResult; w1Tokens: number; ksBatchSize: KsResult };
}

/** The full result of a comparison (comparison.json is its snake_case-free JSON form). */
/** P50 / P90 / P99 of one sample (seconds). */
export interface Quantiles3 {
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

/**
 * The real side on the engine's own clock (server_token_timestamps.csv), which is what a simulator models:
 * TTFT = engine first-token time - arrival, TBT = gaps between the engine's token times; and the delivery delay
 * (client receive - engine emit) of first tokens, which the HTTP/SSE path adds and a simulator does not.
 */
export interface EngineClock {
  definition: string;
  ttft: { n: number; real: Quantiles3; sim: Quantiles3; relErr: Quantiles3 };
  tbt: { n: number; real: Quantiles3; sim: Quantiles3; relErr: Quantiles3 };
  deliveryFirstToken: { n: number; p50: number | null; p90: number | null; p99: number | null };
}

export interface ThroughputSide {
  requestsPerS: number | null;
  outputTokensPerS: number | null;
  /** t[hi] - t[lo], seconds; null with fewer than 10 completions. */
  windowS: number | null;
}

/** Sustained throughput of completed requests (DEFINITIONS.throughput). */
export function sustainedThroughput(done: readonly { completedAt: number; outputTokens: number }[]): ThroughputSide {
  const s = [...done].sort((a, b) => a.completedAt - b.completedAt);
  if (s.length < 10) return { requestsPerS: null, outputTokensPerS: null, windowS: null };
  const lo = Math.floor(0.1 * s.length);
  const hi = Math.ceil(0.9 * s.length) - 1;
  const window = s[hi]!.completedAt - s[lo]!.completedAt;
  if (!(window > 0)) return { requestsPerS: null, outputTokensPerS: null, windowS: null };
  let tokens = 0;
  for (let i = lo + 1; i <= hi; i++) tokens += s[i]!.outputTokens;
  return { requestsPerS: (hi - lo) / window, outputTokensPerS: tokens / window, windowS: window };
}

export interface Comparison {
  schemaVersion: 1;
  comparisonId: string;
  workloadId: { real: string | null; sim: string | null; match: boolean };
  weights: string;
  runs: { real: { dirName: string; manifest: RunManifest }; sim: { dirName: string; manifest: RunManifest } };
  options: Omit<CompareOptions, "createdAt" | "gitSha" | "command" | "comparisonId">;
  definitions: Record<string, string>;
  requests: {
    real: number;
    sim: number;
    compared: number;
    missingInSim: IdList;
    missingInReal: IdList;
    failedReal: IdList;
    failedSim: IdList;
    shortReal: IdList;
    shortSim: IdList;
    outputLengthMismatch: IdList;
    rule: string;
  };
  tokens: { real: boolean; sim: boolean; realRows: number | null; simRows: number | null };
  metrics: Record<MetricKey, MetricResult | null>;
  steps: StepAnalysis | null;
  /** Sustained throughput (DEFINITIONS.throughput) of each side and the simulation's relative error. */
  throughput: { real: ThroughputSide; sim: ThroughputSide; relErr: { requestsPerS: number | null; outputTokensPerS: number | null } };
  /** Present only when the real run carries the engine's token times (a gpu-harness run with --engine-timeline). */
  engineClock?: EngineClock;
  notes: string[];
  /** Present only when compareRuns was given repeats: the real run-to-run spread and its verdicts (spread.ts). */
  spread?: RealSpread;
}

/** Data kept for plots only (never written to JSON). */
export interface PlotData {
  sorted: Partial<Record<MetricKey, { real: Float64Array; sim: Float64Array }>>;
  pairs: Partial<Record<"ttft" | "e2e", { real: Float64Array; sim: Float64Array }>>;
  steps: { real: Iteration[]; sim: Iteration[] } | null;
}

function idList(ids: number[], max: number): IdList {
  ids.sort((a, b) => a - b);
  return { count: ids.length, ids: ids.slice(0, max), truncated: ids.length > max };
}

function nn(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

function statRow(real: SampleSummary, sim: SampleSummary, f: (r: number, s: number) => number): StatRow {
  const g = (r: number, s: number) => nn(f(r, s));
  return { mean: g(real.mean, sim.mean), p50: g(real.p50, sim.p50), p90: g(real.p90, sim.p90), p95: g(real.p95, sim.p95), p99: g(real.p99, sim.p99) };
}

const relOf = (r: number, s: number) => (r === 0 ? Number.NaN : (s - r) / r);

/** Compare two samples (seconds); `pairs` adds the paired analysis when given (same length, aligned). */
export function compareSamples(
  label: string,
  realValues: ArrayLike<number>,
  simValues: ArrayLike<number>,
  options: Pick<CompareOptions, "marginRel" | "alpha" | "bootstrapReplicates" | "seed" | "ciLevel">,
  paired: boolean,
  presorted = false,
): { result: MetricResult; realSorted: Float64Array; simSorted: Float64Array } {
  // Unpaired samples already sorted by the caller (pooled TBT: up to 50M values) are used as they are.
  const sorted = (v: ArrayLike<number>) => (presorted && !paired && v instanceof Float64Array ? v : sortedCopy(v));
  const realSorted = sorted(realValues);
  const simSorted = sorted(simValues);
  const real = summarizeSorted(realSorted);
  const sim = summarizeSorted(simSorted);
  const ci = (p: number, k: number): CiRow => {
    const c = bootstrapQuantileRelErrorCi(realSorted, simSorted, p, options.bootstrapReplicates, options.seed + k, options.ciLevel);
    return { low: nn(c.low), high: nn(c.high) };
  };
  let pairedResult: PairedResult | null = null;
  if (paired) {
    const rel: number[] = [];
    const diffs = new Float64Array(realValues.length);
    let zero = 0;
    for (let i = 0; i < realValues.length; i++) {
      const r = realValues[i] as number;
      const s = simValues[i] as number;
      diffs[i] = s - r;
      if (r === 0) zero++;
      else rel.push((s - r) / r);
    }
    const relSorted = sortedCopy(rel);
    const diffSorted = diffs.sort();
    let absSum = 0;
    let within = 0;
    for (const d of rel) {
      absSum += Math.abs(d);
      if (Math.abs(d) <= options.marginRel) within++;
    }
    const q = (p: number) => nn(quantileR7(relSorted, p));
    pairedResult = {
      n: rel.length,
      zeroRealExcluded: zero,
      relDiff: {
        mean: nn(mean(rel)),
        sd: nn(sampleSd(rel)),
        p5: q(0.05),
        p25: q(0.25),
        p50: q(0.5),
        p75: q(0.75),
        p95: q(0.95),
        meanAbs: rel.length > 0 ? absSum / rel.length : null,
        withinMarginFrac: rel.length > 0 ? within / rel.length : null,
      },
      diffS: { mean: nn(mean(diffSorted)), p50: nn(quantileR7(diffSorted, 0.5)), p95: nn(quantileR7(diffSorted, 0.95)) },
      tost: tostPaired(rel, options.marginRel, options.alpha),
    };
  }
  const result: MetricResult = {
    label,
    unit: "s",
    nReal: realSorted.length,
    nSim: simSorted.length,
    real,
    sim,
    diff: statRow(real, sim, (r, s) => s - r),
    absErr: statRow(real, sim, (r, s) => Math.abs(s - r)),
    relErr: statRow(real, sim, relOf),
    relErrCi: { p50: ci(0.5, 0), p90: ci(0.9, 1), p95: ci(0.95, 2), p99: ci(0.99, 3) },
    ks: ksTwoSampleSorted(realSorted, simSorted),
    w1: wasserstein1Sorted(realSorted, simSorted),
    paired: pairedResult,
  };
  return { result, realSorted, simSorted };
}

function stepSide(rows: Iteration[]): StepSide {
  let total = 0;
  let tokens = 0;
  let batch = 0;
  let withGpu = 0;
  let hostTotal = 0;
  let wallWithGpu = 0;
  const tok = new Float64Array(rows.length);
  rows.forEach((r, i) => {
    const wall = r.end - r.start;
    total += wall;
    tok[i] = r.num_prefill_tokens + r.num_decode_tokens;
    tokens += tok[i] as number;
    batch += r.batch_size;
    if (r.gpu_time !== null) {
      withGpu++;
      hostTotal += wall - r.gpu_time;
      wallWithGpu += wall;
    }
  });
  const n = rows.length;
  return {
    steps: n,
    totalTimeS: total,
    meanStepTimeS: n > 0 ? total / n : Number.NaN,
    meanTokens: n > 0 ? tokens / n : Number.NaN,
    p50Tokens: quantileR7(tok.sort(), 0.5),
    meanBatchSize: n > 0 ? batch / n : Number.NaN,
    hostOverhead: {
      stepsWithGpuTime: withGpu,
      totalS: withGpu > 0 ? hostTotal : null,
      fracOfWall: withGpu > 0 && wallWithGpu > 0 ? hostTotal / wallWithGpu : null,
      meanPerStepS: withGpu > 0 ? hostTotal / withGpu : null,
    },
  };
}

/** Bin index of a step with `tokens` tokens: [0,1), [1,2), [2,4), [4,8), ... */
export function stepBinIndex(tokens: number): number {
  return tokens < 1 ? 0 : 1 + Math.floor(Math.log2(tokens));
}

function binBounds(index: number): [number, number] {
  return index === 0 ? [0, 1] : [2 ** (index - 1), 2 ** index];
}

/** Step time vs step tokens and the split of total busy-time error into execution and scheduling parts. */
export function analyzeSteps(real: Iteration[], sim: Iteration[]): StepAnalysis {
  let maxBin = 0;
  for (const rows of [real, sim]) {
    for (const r of rows) maxBin = Math.max(maxBin, stepBinIndex(r.num_prefill_tokens + r.num_decode_tokens));
  }
  const nBins = maxBin + 1;
  const times = (rows: Iteration[]) => {
    const per: number[][] = Array.from({ length: nBins }, () => []);
    for (const r of rows) per[stepBinIndex(r.num_prefill_tokens + r.num_decode_tokens)]?.push(r.end - r.start);
    return per.map((v) => sortedCopy(v));
  };
  const realBins = times(real);
  const simBins = times(sim);
  const bins: StepBin[] = [];
  for (let b = 0; b < nBins; b++) {
    const rb = realBins[b] as Float64Array;
    const sb = simBins[b] as Float64Array;
    if (rb.length === 0 && sb.length === 0) continue;
    const [lo, hi] = binBounds(b);
    const rm = nn(mean(rb));
    const sm = nn(mean(sb));
    bins.push({
      lo,
      hi,
      realN: rb.length,
      simN: sb.length,
      realMeanS: rm,
      simMeanS: sm,
      realMedianS: nn(quantileR7(rb, 0.5)),
      simMedianS: nn(quantileR7(sb, 0.5)),
      relErrMean: rm !== null && sm !== null && rm !== 0 ? (sm - rm) / rm : null,
    });
  }
  // Counterfactual: the simulator's mean step time per bin applied to the real run's step composition.
  const simMeans = simBins.map((v) => (v.length > 0 ? mean(v) : Number.NaN));
  const nearestSim = (b: number): number => {
    for (let d = 1; d < nBins; d++) {
      const lo = simMeans[b - d];
      if (lo !== undefined && Number.isFinite(lo)) return lo;
      const hi = simMeans[b + d];
      if (hi !== undefined && Number.isFinite(hi)) return hi;
    }
    return Number.NaN;
  };
  let counterfactual = 0;
  let fallback = 0;
  for (const r of real) {
    const b = stepBinIndex(r.num_prefill_tokens + r.num_decode_tokens);
    const m = simMeans[b] as number;
    if (Number.isFinite(m)) counterfactual += m;
    else {
      fallback++;
      counterfactual += nearestSim(b);
    }
  }
  const realSide = stepSide(real);
  const simSide = stepSide(sim);
  const tokensOf = (rows: Iteration[]) => sortedCopy(rows.map((r) => r.num_prefill_tokens + r.num_decode_tokens));
  const batchOf = (rows: Iteration[]) => sortedCopy(rows.map((r) => r.batch_size));
  const rt = tokensOf(real);
  const st = tokensOf(sim);
  return {
    real: realSide,
    sim: simSide,
    bins,
    decomposition: {
      realTotalS: realSide.totalTimeS,
      simTotalS: simSide.totalTimeS,
      counterfactualS: counterfactual,
      executionS: counterfactual - realSide.totalTimeS,
      schedulingS: simSide.totalTimeS - counterfactual,
      totalDiffS: simSide.totalTimeS - realSide.totalTimeS,
      fallbackSteps: fallback,
    },
    composition: {
      ksTokens: ksTwoSampleSorted(rt, st),
      w1Tokens: wasserstein1Sorted(rt, st),
      ksBatchSize: ksTwoSampleSorted(batchOf(real), batchOf(sim)),
    },
  };
}

/** Parses options at the boundary (COMPARATOR_INVALID_OPTIONS names the field). */
export function parseCompareOptions(input: CompareOptionsInput | undefined): CompareOptions {
  const parsed = CompareOptionsSchema.safeParse(input ?? {});
  if (!parsed.success) {
    throw new ComparatorError("COMPARATOR_INVALID_OPTIONS", `compare options: ${formatIssues(parsed.error)}`);
  }
  return parsed.data;
}

function metricValue(row: RequestMetric, key: "ttft" | "tpot" | "e2e"): number | null {
  return row[key];
}

/** Loads both run dirs and computes the comparison (no files written). */
export async function analyzeRuns(args: {
  realDir: string;
  simDir: string;
  comparisonId: string;
  options?: CompareOptionsInput;
}): Promise<{ comparison: Comparison; plotData: PlotData }> {
  const options = parseCompareOptions(args.options);
  const [real, sim] = await Promise.all([loadRun(args.realDir), loadRun(args.simDir)]);
  return analyzeLoaded(real, sim, options.comparisonId ?? args.comparisonId, options);
}

/** The comparison of two already-loaded runs. */
export async function analyzeLoaded(
  real: LoadedRun,
  sim: LoadedRun,
  comparisonId: string,
  options: CompareOptions,
): Promise<{ comparison: Comparison; plotData: PlotData }> {
  const wr = real.manifest.workload_id;
  const ws = sim.manifest.workload_id;
  const match = wr !== null && wr === ws;
  const notes: string[] = [];
  if (!match) {
    if (!options.allowWorkloadMismatch) {
      throw new ComparatorError(
        "COMPARATOR_WORKLOAD_MISMATCH",
        `workload_id differs: ${real.dir}/run.json has ${JSON.stringify(wr)}, ${sim.dir}/run.json has ${JSON.stringify(ws)}; expected the same workload on both sides (set allowWorkloadMismatch to compare anyway)`,
      );
    }
    notes.push(`WARNING: workload ids differ (real ${JSON.stringify(wr)}, sim ${JSON.stringify(ws)}); requests are joined on request_id anyway (allowWorkloadMismatch).`);
  }

  // Exclusion rule: present on both sides and ok on both.
  const max = options.maxListedIds;
  const missingInSim: number[] = [];
  const missingInReal: number[] = [];
  const failedReal: number[] = [];
  const failedSim: number[] = [];
  const shortReal: number[] = [];
  const shortSim: number[] = [];
  const lengthMismatch: number[] = [];
  const compared: number[] = [];
  for (const [id, r] of real.byId) {
    if (r.status === "failed") failedReal.push(id);
    if (r.status === "short") shortReal.push(id);
    const s = sim.byId.get(id);
    if (s === undefined) {
      missingInSim.push(id);
      continue;
    }
    if (r.status === "ok" && s.status === "ok") {
      compared.push(id);
      if (r.num_output_tokens !== s.num_output_tokens) lengthMismatch.push(id);
    }
  }
  for (const [id, s] of sim.byId) {
    if (s.status === "failed") failedSim.push(id);
    if (s.status === "short") shortSim.push(id);
    if (!real.byId.has(id)) missingInReal.push(id);
  }
  compared.sort((a, b) => a - b);
  if (compared.length === 0) {
    throw new ComparatorError(
      "COMPARATOR_NO_COMMON_REQUESTS",
      `no request is present with status ok in both ${real.dir}/request_metrics.csv (${real.byId.size} rows) and ${sim.dir}/request_metrics.csv (${sim.byId.size} rows)`,
    );
  }

  const sampleOpts = options;
  const metrics: Record<MetricKey, MetricResult | null> = { ttft: null, tbt: null, tbt_mean: null, tpot: null, e2e: null };
  const plotData: PlotData = { sorted: {}, pairs: {}, steps: null };
  for (const key of ["ttft", "tpot", "e2e"] as const) {
    const rv: number[] = [];
    const sv: number[] = [];
    for (const id of compared) {
      const a = metricValue(real.byId.get(id) as RequestMetric, key);
      const b = metricValue(sim.byId.get(id) as RequestMetric, key);
      if (a !== null && b !== null) {
        rv.push(a);
        sv.push(b);
      }
    }
    if (rv.length === 0) continue;
    const out = compareSamples(METRIC_LABELS[key], rv, sv, sampleOpts, true);
    metrics[key] = out.result;
    plotData.sorted[key] = { real: out.realSorted, sim: out.simSorted };
    if (key === "ttft" || key === "e2e") plotData.pairs[key] = { real: Float64Array.from(rv), sim: Float64Array.from(sv) };
  }

  // Token gaps: streamed, restricted to compared requests.
  let maxId = 0;
  for (const id of compared) if (id > maxId) maxId = id;
  const include = new Uint8Array(maxId + 1);
  for (const id of compared) include[id] = 1;
  let realRows: number | null = null;
  let simRows: number | null = null;
  if (real.tokenPath !== null && sim.tokenPath !== null) {
    // Expected gap count (sum of n_out - 1 over compared requests) sizes the buffers once.
    const hint = (run: LoadedRun) => compared.reduce((acc, id) => acc + Math.max(0, (run.byId.get(id)?.num_output_tokens ?? 0) - 1), 0);
    // One worker per side: both files are scanned and their gaps sorted in parallel.
    const [rg, sg] = await Promise.all([
      readTokenGapsSorted(real.tokenPath, include, hint(real)),
      readTokenGapsSorted(sim.tokenPath, include, hint(sim)),
    ]);
    realRows = rg.rows;
    simRows = sg.rows;
    const pooled = compareSamples(METRIC_LABELS.tbt, rg.pooled, sg.pooled, sampleOpts, false, true);
    metrics.tbt = pooled.result;
    plotData.sorted.tbt = { real: pooled.realSorted, sim: pooled.simSorted };
    const rv: number[] = [];
    const sv: number[] = [];
    for (const id of compared) {
      const rc = rg.gapCount[id] as number;
      const sc = sg.gapCount[id] as number;
      if (rc > 0 && sc > 0) {
        rv.push((rg.gapSum[id] as number) / rc);
        sv.push((sg.gapSum[id] as number) / sc);
      }
    }
    if (rv.length > 0) {
      const perReq = compareSamples(METRIC_LABELS.tbt_mean, rv, sv, sampleOpts, true);
      metrics.tbt_mean = perReq.result;
      plotData.sorted.tbt_mean = { real: perReq.realSorted, sim: perReq.simSorted };
    }
  } else {
    const missing = [real.tokenPath === null ? "real" : null, sim.tokenPath === null ? "sim" : null].filter((x) => x !== null);
    notes.push(`TBT not compared: token_timestamps.csv missing on the ${missing.join(" and ")} side.`);
  }

  const engineClock =
    real.serverTokenPath !== null && plotData.sorted.ttft !== undefined && plotData.sorted.tbt !== undefined
      ? await analyzeEngineClock(real, real.serverTokenPath, compared, include, plotData.sorted.ttft.sim, plotData.sorted.tbt.sim)
      : null;

  let steps: StepAnalysis | null = null;
  if (real.iterations !== null && sim.iterations !== null && real.iterations.length > 0 && sim.iterations.length > 0) {
    steps = analyzeSteps(real.iterations, sim.iterations);
    plotData.steps = { real: real.iterations, sim: sim.iterations };
  }

  const side = (run: LoadedRun) =>
    sustainedThroughput(
      compared.flatMap((id) => {
        const r = run.byId.get(id) as RequestMetric;
        return r.completed_at === null ? [] : [{ completedAt: r.completed_at, outputTokens: r.num_output_tokens }];
      }),
    );
  const tReal = side(real);
  const tSim = side(sim);
  const relOf = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : (a - b) / b);
  const throughput = {
    real: tReal,
    sim: tSim,
    relErr: { requestsPerS: relOf(tSim.requestsPerS, tReal.requestsPerS), outputTokensPerS: relOf(tSim.outputTokensPerS, tReal.outputTokensPerS) },
  };

  const { createdAt: _c, gitSha: _g, command: _m, comparisonId: _i, ...reportOptions } = options;
  const comparison: Comparison = {
    schemaVersion: 1,
    comparisonId,
    workloadId: { real: wr, sim: ws, match },
    weights: typeof real.manifest.weights === "string" ? real.manifest.weights : "unknown",
    runs: {
      real: { dirName: basename(real.dir), manifest: real.manifest },
      sim: { dirName: basename(sim.dir), manifest: sim.manifest },
    },
    options: reportOptions,
    definitions: DEFINITIONS,
    requests: {
      real: real.byId.size,
      sim: sim.byId.size,
      compared: compared.length,
      missingInSim: idList(missingInSim, max),
      missingInReal: idList(missingInReal, max),
      failedReal: idList(failedReal, max),
      failedSim: idList(failedSim, max),
      shortReal: idList(shortReal, max),
      shortSim: idList(shortSim, max),
      outputLengthMismatch: idList(lengthMismatch, max),
      rule: DEFINITIONS.exclusion as string,
    },
    tokens: { real: real.tokenPath !== null, sim: sim.tokenPath !== null, realRows, simRows },
    metrics,
    throughput,
    steps,
    ...(engineClock !== null ? { engineClock } : {}),
    notes,
  };
  comparison.notes.push(...discrepancyNotes(comparison, options));
  return { comparison, plotData };
}

function q3(sorted: ArrayLike<number>): Quantiles3 {
  if (sorted.length === 0) return { p50: null, p90: null, p99: null };
  return { p50: quantileR7(sorted, 0.5), p90: quantileR7(sorted, 0.9), p99: quantileR7(sorted, 0.99) };
}

function relQ3(sim: Quantiles3, real: Quantiles3): Quantiles3 {
  const r = (s: number | null, x: number | null) => (s === null || x === null || x === 0 ? null : (s - x) / x);
  return { p50: r(sim.p50, real.p50), p90: r(sim.p90, real.p90), p99: r(sim.p99, real.p99) };
}

/** The engine-clock view (see EngineClock) of the compared requests; sim samples already sorted. */
export async function analyzeEngineClock(
  real: LoadedRun,
  serverTokenPath: string,
  compared: number[],
  include: Uint8Array,
  simTtftSorted: ArrayLike<number>,
  simTbtSorted: ArrayLike<number>,
): Promise<EngineClock> {
  const first = new Map<number, number>();
  try {
    for await (const row of readTokenTimestamps(serverTokenPath)) {
      if (row.token_index === 0 && include[row.request_id] === 1) first.set(row.request_id, row.t);
    }
  } catch (cause) {
    throw new ComparatorError("COMPARATOR_READ_FAILED", `${serverTokenPath}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  const ttft: number[] = [];
  const delivery: number[] = [];
  for (const id of compared) {
    const r = real.byId.get(id) as RequestMetric;
    const f = first.get(id);
    if (f === undefined) continue;
    ttft.push(f - r.arrived_at);
    if (r.first_token_at !== null) delivery.push(r.first_token_at - f);
  }
  const hint = compared.reduce((acc, id) => acc + Math.max(0, (real.byId.get(id)?.num_output_tokens ?? 0) - 1), 0);
  const gaps = await readTokenGapsSorted(serverTokenPath, include, hint);
  const realTtft = q3(sortedCopy(ttft));
  const realTbt = q3(gaps.pooled);
  const simTtft = q3(simTtftSorted);
  const simTbt = q3(simTbtSorted);
  return {
    definition:
      "real side on the engine's clock (server_token_timestamps.csv): TTFT = engine first-token time - arrival, TBT = pooled gaps of the engine's token times; delivery = client first-token receive - engine first-token time",
    ttft: { n: ttft.length, real: realTtft, sim: simTtft, relErr: relQ3(simTtft, realTtft) },
    tbt: { n: gaps.pooled.length, real: realTbt, sim: simTbt, relErr: relQ3(simTbt, realTbt) },
    deliveryFirstToken: { n: delivery.length, ...q3(sortedCopy(delivery)) },
  };
}

/** Formats seconds for prose: s, ms or µs with 4 significant digits. */
export function formatSeconds(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return "n/a";
  const a = Math.abs(x);
  if (a >= 1) return `${x.toPrecision(4)} s`;
  if (a >= 1e-3) return `${(x * 1e3).toPrecision(4)} ms`;
  if (a === 0) return "0 s";
  return `${(x * 1e6).toPrecision(4)} µs`;
}

/** Formats a fraction as a signed percentage with one decimal. */
export function formatPct(x: number | null, signed = true): string {
  if (x === null || !Number.isFinite(x)) return "n/a";
  const s = `${(x * 100).toFixed(1)}%`;
  return signed && x >= 0 ? `+${s}` : s;
}

function formatP(p: number): string {
  return p < 1e-4 ? p.toExponential(1) : p.toPrecision(2);
}

/** Short evidence-based notes, each citing the numbers it rests on. */
export function discrepancyNotes(c: Comparison, options: CompareOptions): string[] {
  const notes: string[] = [];
  const rq = c.requests;
  const excluded = [
    ["missing in sim", rq.missingInSim],
    ["missing in real", rq.missingInReal],
    ["failed (real)", rq.failedReal],
    ["failed (sim)", rq.failedSim],
    ["short (real)", rq.shortReal],
    ["short (sim)", rq.shortSim],
  ] as const;
  const parts = excluded.filter(([, l]) => l.count > 0).map(([n, l]) => `${l.count} ${n}`);
  if (parts.length > 0) notes.push(`Excluded requests: ${parts.join(", ")}; ${rq.compared} of ${rq.real} real requests compared.`);
  if (rq.outputLengthMismatch.count > 0) {
    notes.push(`${rq.outputLengthMismatch.count} compared requests have different output token counts on the two sides (first ids: ${rq.outputLengthMismatch.ids.slice(0, 5).join(", ")}); their E2E and TBT are not like for like.`);
  }
  for (const key of METRIC_KEYS) {
    const m = c.metrics[key];
    if (m === null) continue;
    const p50 = m.relErr.p50;
    if (p50 !== null && Math.abs(p50) > options.marginRel) {
      notes.push(`${m.label}: simulated P50 is ${formatPct(p50)} vs real (${formatSeconds(m.sim.p50)} vs ${formatSeconds(m.real.p50)}), outside ±${formatPct(options.marginRel, false)}.`);
    }
    const p99 = m.relErr.p99;
    if (p99 !== null && Math.abs(p99) > options.marginRel) {
      notes.push(`${m.label}: simulated P99 is ${formatPct(p99)} vs real (${formatSeconds(m.sim.p99)} vs ${formatSeconds(m.real.p99)}).`);
    }
    if (m.paired !== null && m.paired.n >= 2) {
      const t = m.paired.tost;
      notes.push(
        `${m.label}: ${t.equivalent ? "equivalent" : "not equivalent"} within ±${formatPct(options.marginRel, false)} (TOST p = ${formatP(t.p)}; mean paired rel. diff ${formatPct(t.meanDiff)}, ${formatPct(1 - 2 * options.alpha, false)} CI [${formatPct(t.ciLow)}, ${formatPct(t.ciHigh)}], n = ${t.n}).`,
      );
    }
    if (Number.isFinite(m.ks.pValue) && m.ks.pValue < options.alpha) {
      notes.push(`${m.label}: distributions differ (KS D = ${m.ks.statistic.toFixed(3)}, p = ${formatP(m.ks.pValue)}; W1 = ${formatSeconds(m.w1)}).`);
    }
  }
  const s = c.steps;
  if (s !== null) {
    const d = s.decomposition;
    const execRel = d.realTotalS > 0 ? d.executionS / d.realTotalS : Number.NaN;
    notes.push(
      `Execution-time prediction: at the real run's step composition the simulator's per-bin step times sum to ${formatSeconds(d.counterfactualS)} vs ${formatSeconds(d.realTotalS)} real (${formatPct(execRel)}${d.fallbackSteps > 0 ? `; ${d.fallbackSteps} real steps used the nearest populated bin` : ""}).`,
    );
    notes.push(
      `Scheduling: the simulator ran ${s.sim.steps} steps vs ${s.real.steps} real (mean tokens/step ${s.sim.meanTokens.toFixed(1)} vs ${s.real.meanTokens.toFixed(1)}, mean batch size ${s.sim.meanBatchSize.toFixed(2)} vs ${s.real.meanBatchSize.toFixed(2)}; KS D on tokens/step = ${s.composition.ksTokens.statistic.toFixed(3)}), contributing ${formatSeconds(d.schedulingS)} of the ${formatSeconds(d.totalDiffS)} busy-time difference.`,
    );
    const h = s.real.hostOverhead;
    if (h.totalS !== null && h.fracOfWall !== null) {
      let line = `Host overhead: real steps spend ${formatPct(h.fracOfWall, false)} of wall time outside GPU time (mean ${formatSeconds(h.meanPerStepS)} per step over ${h.stepsWithGpuTime} steps, total ${formatSeconds(h.totalS)}); Vidur models none by default.`;
      if (d.executionS < 0 && h.totalS > 0) {
        line += ` It equals ${formatPct(h.totalS / -d.executionS, false)} of the execution-time shortfall (${formatSeconds(-d.executionS)}).`;
      }
      notes.push(line);
    } else {
      notes.push("Host overhead: not measured (the real iterations.csv has no gpu_time).");
    }
  }
  return notes;
}

/**
 * Statistics on timing samples: R-7 quantiles, summaries, the two-sample Kolmogorov-Smirnov test, the
 * Wasserstein-1 distance, paired TOST equivalence and bootstrap CIs for quantile relative errors.
 * Inputs are plain or typed arrays of seconds; functions named *Sorted expect ascending input and do not sort.
 */
import { quantileSorted } from "d3-array";
import { beta, createRng } from "./rng.js";
import { kolmogorovSurvival, studentTCdf } from "./special.js";

/** The percentiles every report shows (fractions). */
export const REPORT_PERCENTILES = [0.5, 0.9, 0.95, 0.99] as const;

/** Ascending Float64Array copy of `values` (numeric sort, NaN-free input expected). */
export function sortedCopy(values: ArrayLike<number>): Float64Array {
  const out = new Float64Array(values.length);
  out.set(values);
  out.sort();
  return out;
}

/** Quantile p in [0, 1] of an ascending sample by linear interpolation (Hyndman-Fan R-7, d3.quantileSorted). */
export function quantileR7(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return quantileSorted(sorted as unknown as number[], p) ?? Number.NaN;
}

/** Arithmetic mean (NaN for an empty sample); Kahan-compensated so 50M-sample sums stay exact enough. */
export function mean(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return Number.NaN;
  let sum = 0;
  let comp = 0;
  for (let i = 0; i < n; i++) {
    const y = (values[i] as number) - comp;
    const t = sum + y;
    comp = t - sum - y;
    sum = t;
  }
  return sum / n;
}

/** Sample standard deviation (n - 1 denominator); NaN below two values. */
export function sampleSd(values: ArrayLike<number>): number {
  const n = values.length;
  if (n < 2) return Number.NaN;
  const m = mean(values);
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = (values[i] as number) - m;
    ss += d * d;
  }
  return Math.sqrt(ss / (n - 1));
}

/** Summary of one sample (seconds): count, mean, P50/P90/P95/P99, min, max. */
export interface SampleSummary {
  n: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  min: number;
  max: number;
}

/** Summarize an ascending sample. */
export function summarizeSorted(sorted: ArrayLike<number>): SampleSummary {
  const n = sorted.length;
  return {
    n,
    mean: mean(sorted),
    p50: quantileR7(sorted, 0.5),
    p90: quantileR7(sorted, 0.9),
    p95: quantileR7(sorted, 0.95),
    p99: quantileR7(sorted, 0.99),
    min: n > 0 ? (sorted[0] as number) : Number.NaN,
    max: n > 0 ? (sorted[n - 1] as number) : Number.NaN,
  };
}

/** Result of a two-sample Kolmogorov-Smirnov test. */
export interface KsResult {
  /** D = sup_x |F_a(x) - F_b(x)|. */
  statistic: number;
  /** Asymptotic p-value Q_KS((√ne + 0.12 + 0.11/√ne)·D), ne = n·m/(n+m) (Stephens' small-sample correction). */
  pValue: number;
  nEffective: number;
}

/** Two-sample KS on ascending samples; ties are stepped over together so D is exact. */
export function ksTwoSampleSorted(a: ArrayLike<number>, b: ArrayLike<number>): KsResult {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return { statistic: Number.NaN, pValue: Number.NaN, nEffective: 0 };
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n && j < m) {
    const x = Math.min(a[i] as number, b[j] as number);
    while (i < n && (a[i] as number) <= x) i++;
    while (j < m && (b[j] as number) <= x) j++;
    const diff = Math.abs(i / n - j / m);
    if (diff > d) d = diff;
  }
  const ne = (n * m) / (n + m);
  const sq = Math.sqrt(ne);
  const pValue = kolmogorovSurvival((sq + 0.12 + 0.11 / sq) * d);
  return { statistic: d, pValue, nEffective: ne };
}

/** Wasserstein-1 distance ∫|F_a - F_b| dx between two ascending empirical samples (same unit as the data). */
export function wasserstein1Sorted(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return Number.NaN;
  let i = 0;
  let j = 0;
  let prev = Math.min(a[0] as number, b[0] as number);
  let area = 0;
  while (i < n || j < m) {
    const xa = i < n ? (a[i] as number) : Number.POSITIVE_INFINITY;
    const xb = j < m ? (b[j] as number) : Number.POSITIVE_INFINITY;
    const x = Math.min(xa, xb);
    // On [prev, x) both CDFs are constant at i/n and j/m.
    area += Math.abs(i / n - j / m) * (x - prev);
    while (i < n && (a[i] as number) <= x) i++;
    while (j < m && (b[j] as number) <= x) j++;
    prev = x;
  }
  return area;
}

/** Inverse of Student's t CDF by bisection (enough for CI bounds; 200 halvings). */
export function studentTQuantile(p: number, df: number): number {
  let lo = -1e6;
  let hi = 1e6;
  for (let k = 0; k < 200; k++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Two one-sided t-tests (TOST) on paired differences, equivalence margin ±margin (same unit as the data). */
export interface TostResult {
  n: number;
  margin: number;
  alpha: number;
  meanDiff: number;
  sd: number;
  /** H0: mean <= -margin. */
  tLower: number;
  pLower: number;
  /** H0: mean >= +margin. */
  tUpper: number;
  pUpper: number;
  /** max(pLower, pUpper): equivalence is concluded when p < alpha. */
  p: number;
  /** The (1 - 2α) confidence interval of the mean; equivalent iff it lies inside (-margin, +margin). */
  ciLow: number;
  ciHigh: number;
  equivalent: boolean;
}

/** TOST on paired differences `diffs` (e.g. per-request relative errors) with margin and alpha (default 0.05). */
export function tostPaired(diffs: ArrayLike<number>, margin: number, alpha = 0.05): TostResult {
  const n = diffs.length;
  const m = mean(diffs);
  const sd = sampleSd(diffs);
  if (n < 2 || !Number.isFinite(sd)) {
    return {
      n,
      margin,
      alpha,
      meanDiff: m,
      sd,
      tLower: Number.NaN,
      pLower: Number.NaN,
      tUpper: Number.NaN,
      pUpper: Number.NaN,
      p: Number.NaN,
      ciLow: Number.NaN,
      ciHigh: Number.NaN,
      equivalent: false,
    };
  }
  const df = n - 1;
  const se = sd / Math.sqrt(n);
  if (se === 0) {
    // A constant difference: the test degenerates to comparing it with the margin.
    const inside = Math.abs(m) < margin;
    const sign = (v: number) => (v > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY);
    const tLower = sign(m + margin);
    const tUpper = sign(m - margin);
    const pLower = m + margin > 0 ? 0 : 1;
    const pUpper = m - margin < 0 ? 0 : 1;
    return { n, margin, alpha, meanDiff: m, sd, tLower, pLower, tUpper, pUpper, p: Math.max(pLower, pUpper), ciLow: m, ciHigh: m, equivalent: inside };
  }
  const tLower = (m + margin) / se;
  const tUpper = (m - margin) / se;
  const pLower = 1 - studentTCdf(tLower, df);
  const pUpper = studentTCdf(tUpper, df);
  const tCrit = studentTQuantile(1 - alpha, df);
  const p = Math.max(pLower, pUpper);
  return {
    n,
    margin,
    alpha,
    meanDiff: m,
    sd,
    tLower,
    pLower,
    tUpper,
    pUpper,
    p,
    ciLow: m - tCrit * se,
    ciHigh: m + tCrit * se,
    equivalent: p < alpha,
  };
}

/**
 * One bootstrap replicate of the R-7 quantile p of a resample (with replacement, same size) of an ascending
 * sample, drawn exactly in O(1): the k-th order statistic of n uniforms is Beta(k, n-k+1) and the next one
 * is that plus (1 - U_k)·Beta(1, n-k); mapping through the empirical inverse CDF gives the resample's order
 * statistics with the same law as sorting a full resample.
 */
export function bootstrapQuantileReplicate(sorted: ArrayLike<number>, p: number, rng: () => number): number {
  const n = sorted.length;
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const frac = h - lo;
  const k = lo + 1; // 1-based rank of the lower order statistic
  const uK = beta(rng, k, n - k + 1);
  const at = (u: number) => sorted[Math.min(n - 1, Math.floor(n * u))] as number;
  const xK = at(uK);
  if (frac === 0 || k >= n) return xK;
  const uNext = uK + (1 - uK) * beta(rng, 1, n - k);
  return xK + frac * (at(uNext) - xK);
}

/** Percentile-bootstrap CI of the relative error (q_sim - q_real)/q_real at quantile p. */
export interface BootstrapCi {
  low: number;
  high: number;
  level: number;
  replicates: number;
}

/**
 * Bootstrap CI for the relative quantile error. Real and simulated samples are resampled independently
 * (quantiles are marginal statistics, and pooled TBT has no pairing); `seed` makes it reproducible.
 */
export function bootstrapQuantileRelErrorCi(
  realSorted: ArrayLike<number>,
  simSorted: ArrayLike<number>,
  p: number,
  replicates: number,
  seed: number,
  level = 0.95,
): BootstrapCi {
  if (realSorted.length === 0 || simSorted.length === 0 || replicates < 1) {
    return { low: Number.NaN, high: Number.NaN, level, replicates };
  }
  const rng = createRng(seed);
  const values = new Float64Array(replicates);
  let count = 0;
  for (let b = 0; b < replicates; b++) {
    const qr = bootstrapQuantileReplicate(realSorted, p, rng);
    const qs = bootstrapQuantileReplicate(simSorted, p, rng);
    if (qr !== 0) values[count++] = (qs - qr) / qr;
  }
  const kept = values.subarray(0, count).sort();
  const tail = (1 - level) / 2;
  return { low: quantileR7(kept, tail), high: quantileR7(kept, 1 - tail), level, replicates };
}

/** Evenly spaced ECDF points (x, F(x)) of an ascending sample, at most `maxPoints` (for plots). */
export function ecdfPoints(sorted: ArrayLike<number>, maxPoints: number): Array<{ x: number; f: number }> {
  const n = sorted.length;
  const out: Array<{ x: number; f: number }> = [];
  if (n === 0) return out;
  const step = Math.max(1, Math.ceil(n / maxPoints));
  for (let i = 0; i < n; i += step) out.push({ x: sorted[i] as number, f: (i + 1) / n });
  if ((n - 1) % step !== 0) out.push({ x: sorted[n - 1] as number, f: 1 });
  return out;
}

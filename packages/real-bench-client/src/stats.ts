/** Small order statistics used by the run-health summary (no interpolation surprises: linear, like numpy). */

/** Linear-interpolated quantile (q in [0,1]) of an ascending-sorted array; null when empty. */
export function quantileSorted(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (pos - lo);
}

/** p50/p99/max/mean of values (copied and sorted); nulls when empty. */
export function summarize(values: readonly number[]): {
  p50: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
  count: number;
} {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((s, v) => s + v, 0);
  return {
    p50: quantileSorted(sorted, 0.5),
    p99: quantileSorted(sorted, 0.99),
    max: sorted.length > 0 ? (sorted[sorted.length - 1] as number) : null,
    mean: sorted.length > 0 ? sum / sorted.length : null,
    count: sorted.length,
  };
}

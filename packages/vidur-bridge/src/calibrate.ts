/**
 * CPU-overhead calibration: derives a `cpu_overheads.csv` (the table the sidecar adds to every predicted batch)
 * from a real run's engine steps and a simulated run of the same workload. It fits nothing inside Vidur: the
 * simulator's own per-step prediction is read back from the simulated run's iterations.csv, and the overhead is
 * what the real engine spends beyond it. It does not run Vidur or compare runs (the runner does).
 */
import { join } from "node:path";
import { atomicWriteFile, type Iteration, readIterations, readTokenTimestampsGrouped } from "@vf/metrics-io";
import { VidurBridgeError } from "./errors.js";

/** Vidur's per-step time as a linear function of the step's composition (ms), fitted on simulated steps. */
export interface StepTimeModel {
  interceptMs: number;
  perPrefillTokenMs: number;
  perDecodeTokenMs: number;
  /** Simulated steps it was fitted on. */
  steps: number;
}

/** One batch-size bin of the derivation (bins: 1, 2, 3-4, 5-8, ... requests). */
export interface OverheadBin {
  minBatchSize: number;
  maxBatchSize: number;
  /** Knot of the interpolation: the median batch size of the real steps in the bin. */
  batchSize: number;
  decodeSteps: number;
  mixedSteps: number;
  /** Median (real wall − predicted) of decode-only / mixed steps, ms; null when the bin has none. */
  decodeResidualMs: number | null;
  mixedResidualMs: number | null;
}

/** One row of the written table (ms). */
export interface OverheadRow {
  batchSize: number;
  /** Added to every batch of this size (`schedule_median` column). */
  overheadMs: number;
  /** Added on top to batches carrying prefill tokens (`prefill_extra_median` column); 0 in single-curve mode. */
  prefillExtraMs: number;
}

/** The derived table and how it was obtained. */
export interface CpuOverheadTable {
  /** "split": decode-only curve + prefill extra; "single": one curve over all steps (plain Vidur schema). */
  mode: "split" | "single";
  model: StepTimeModel;
  bins: OverheadBin[];
  rows: OverheadRow[];
  realSteps: number;
}

/** Options of deriveCpuOverheads. */
export interface DeriveCpuOverheadsOptions {
  /** Default "split". */
  mode?: "split" | "single";
  /**
   * A bin's median of one step kind counts only with at least this many steps (default 5); thinner bins are
   * filled by interpolation like empty ones (a median of one or two steps is noise, not an overhead).
   */
  minStepsPerBin?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Least squares on the columns that vary; a constant column gets coefficient 0 (the intercept absorbs it). */
export function fitStepTimeModel(sim: readonly Iteration[]): StepTimeModel {
  if (sim.length < 2) throw new VidurBridgeError("VIDUR_CALIBRATION_INPUT", `simulated run has ${sim.length} steps; need at least 2 to fit the per-step time`);
  const ys = sim.map((it) => (it.gpu_time ?? it.end - it.start) * 1e3);
  const features = [sim.map((it) => it.num_prefill_tokens), sim.map((it) => it.num_decode_tokens)];
  const used = features.map((f) => Math.max(...f) > Math.min(...f));
  const cols: number[][] = [sim.map(() => 1), ...features.filter((_, i) => used[i])];
  const k = cols.length;
  // Normal equations A x = b, solved by Gaussian elimination with partial pivoting (k <= 3).
  const a = cols.map((ci) => cols.map((cj) => ci.reduce((s, v, n) => s + v * cj[n]!, 0)));
  const b = cols.map((ci) => ci.reduce((s, v, n) => s + v * ys[n]!, 0));
  for (let p = 0; p < k; p++) {
    let best = p;
    for (let r = p + 1; r < k; r++) if (Math.abs(a[r]![p]!) > Math.abs(a[best]![p]!)) best = r;
    [a[p], a[best]] = [a[best]!, a[p]!];
    [b[p], b[best]] = [b[best]!, b[p]!];
    const pivot = a[p]![p]!;
    if (Math.abs(pivot) < 1e-12) throw new VidurBridgeError("VIDUR_CALIBRATION_INPUT", "simulated steps' prefill and decode token counts are collinear; cannot fit the per-step time");
    for (let r = p + 1; r < k; r++) {
      const f = a[r]![p]! / pivot;
      for (let c = p; c < k; c++) a[r]![c]! -= f * a[p]![c]!;
      b[r]! -= f * b[p]!;
    }
  }
  const x = new Array<number>(k).fill(0);
  for (let p = k - 1; p >= 0; p--) {
    let s = b[p]!;
    for (let c = p + 1; c < k; c++) s -= a[p]![c]! * x[c]!;
    x[p] = s / a[p]![p]!;
  }
  let next = 1;
  const coef = used.map((u) => (u ? x[next++]! : 0));
  return { interceptMs: x[0]!, perPrefillTokenMs: coef[0]!, perDecodeTokenMs: coef[1]!, steps: sim.length };
}

/** The model's predicted time of a step (ms). */
export function predictStepMs(model: StepTimeModel, step: Pick<Iteration, "num_prefill_tokens" | "num_decode_tokens">): number {
  return model.interceptMs + model.perPrefillTokenMs * step.num_prefill_tokens + model.perDecodeTokenMs * step.num_decode_tokens;
}

/** Power-of-two bin of a batch size: 1 -> [1,1], 2 -> [2,2], 3..4 -> [3,4], 5..8 -> [5,8], ... */
function binOf(batchSize: number): [number, number] {
  if (batchSize <= 2) return [batchSize, batchSize];
  const hi = 2 ** Math.ceil(Math.log2(batchSize));
  return [hi / 2 + 1, hi];
}

/** Fills nulls by linear interpolation between known knots, clamped at the ends; all-null gives all `empty`. */
function fillByInterpolation(xs: number[], ys: (number | null)[], empty: number): number[] {
  const known = xs.flatMap((x, i) => (ys[i] === null ? [] : [[x, ys[i] as number] as const]));
  if (known.length === 0) return xs.map(() => empty);
  return xs.map((x, i) => {
    const y = ys[i];
    if (y !== null && y !== undefined) return y;
    const after = known.findIndex(([kx]) => kx >= x);
    if (after === -1) return known.at(-1)![1];
    if (after === 0) return known[0]![1];
    const [x0, y0] = known[after - 1]!;
    const [x1, y1] = known[after]!;
    return y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
  });
}

/**
 * overhead(batch) = median over real steps in the batch-size bin of (real wall time − the simulator's predicted
 * time for a step of that composition), signed: positive is host time the per-op profile does not see, negative
 * is step time it over-predicts (ops timed one at a time from a cold cache, an engine that fuses what the profile
 * times apart); the sidecar floors a corrected step at 10 % of its predicted time. "split" derives it from
 * decode-only steps and adds a `prefill_extra` = median over mixed steps minus that; "single" uses every step for
 * one curve.
 * Bins are powers of two (1, 2, 3-4, 5-8, ...); a bin's knot is the median batch size of its real steps.
 */
export function deriveCpuOverheads(real: readonly Iteration[], sim: readonly Iteration[], options: DeriveCpuOverheadsOptions = {}): CpuOverheadTable {
  const mode = options.mode ?? "split";
  const minSteps = options.minStepsPerBin ?? 5;
  if (!Number.isInteger(minSteps) || minSteps < 1) throw new VidurBridgeError("VIDUR_BAD_OPTION", `minStepsPerBin ${minSteps}: expected an integer >= 1`);
  const steps = real.filter((it) => it.batch_size > 0);
  if (steps.length === 0) throw new VidurBridgeError("VIDUR_CALIBRATION_INPUT", "real run has no engine steps with batch_size > 0 in iterations.csv");
  const model = fitStepTimeModel(sim);
  const byBin = new Map<number, { lo: number; hi: number; sizes: number[]; decode: number[]; mixed: number[] }>();
  for (const it of steps) {
    const [lo, hi] = binOf(it.batch_size);
    const bin = byBin.get(hi) ?? { lo, hi, sizes: [], decode: [], mixed: [] };
    byBin.set(hi, bin);
    bin.sizes.push(it.batch_size);
    const residual = (it.end - it.start) * 1e3 - predictStepMs(model, it);
    (it.num_prefill_tokens > 0 ? bin.mixed : bin.decode).push(residual);
  }
  const bins: OverheadBin[] = [...byBin.values()]
    .sort((x, y) => x.hi - y.hi)
    .map((b) => ({
      minBatchSize: b.lo,
      maxBatchSize: b.hi,
      batchSize: median(b.sizes),
      decodeSteps: b.decode.length,
      mixedSteps: b.mixed.length,
      decodeResidualMs: b.decode.length >= minSteps ? median(b.decode) : null,
      mixedResidualMs: b.mixed.length >= minSteps ? median(b.mixed) : null,
    }));
  const knots = bins.map((b) => b.batchSize);
  let rows: OverheadRow[];
  if (mode === "single") {
    const all = [...byBin.values()].sort((x, y) => x.hi - y.hi).map((b) => [...b.decode, ...b.mixed]);
    const curve = fillByInterpolation(knots, all.map((r) => (r.length >= minSteps ? median(r) : null)), 0);
    rows = knots.map((k, i) => ({ batchSize: k, overheadMs: curve[i]!, prefillExtraMs: 0 }));
  } else {
    const decode = fillByInterpolation(knots, bins.map((b) => b.decodeResidualMs), 0);
    const mixed = fillByInterpolation(knots, bins.map((b) => b.mixedResidualMs), Number.NaN);
    rows = knots.map((k, i) => ({
      batchSize: k,
      overheadMs: decode[i]!,
      prefillExtraMs: Number.isNaN(mixed[i]!) ? 0 : mixed[i]! - decode[i]!,
    }));
  }
  return { mode, model, bins, rows, realSteps: steps.length };
}

/** The table as cpu_overheads.csv text (ms, the sidecar's schema; `prefill_extra_median` only in split mode). */
export function formatCpuOverheadsCsv(table: CpuOverheadTable, id: { modelName: string; tensorParallelSize?: number }): string {
  const tp = id.tensorParallelSize ?? 1;
  const split = table.mode === "split";
  const header = `model_name,tensor_parallel_degree,batch_size,schedule_median${split ? ",prefill_extra_median" : ""}`;
  const num = (v: number) => String(Number(v.toFixed(6)));
  const lines = table.rows.map((r) => `${id.modelName},${tp},${num(r.batchSize)},${num(r.overheadMs)}${split ? `,${num(r.prefillExtraMs)}` : ""}`);
  return `${[header, ...lines].join("\n")}\n`;
}

/**
 * Reads `<realDir>/iterations.csv` and `<simDir>/iterations.csv`, derives the table and writes it to `outPath`
 * (atomic). Several loads at once: give arrays of the same length (real run i with its simulation i); their steps
 * are pooled, so the batch sizes of every load inform the table.
 */
export async function writeCpuOverheadsFromRuns(args: {
  realDir: string | string[];
  simDir: string | string[];
  outPath: string;
  modelName: string;
  tensorParallelSize?: number;
  mode?: "split" | "single";
  minStepsPerBin?: number;
}): Promise<CpuOverheadTable> {
  const read = async (dir: string, side: string) => {
    try {
      return await readIterations(join(dir, "iterations.csv"));
    } catch (e) {
      throw new VidurBridgeError("VIDUR_CALIBRATION_INPUT", `${side} run ${join(dir, "iterations.csv")}: ${(e as Error).message}`, { cause: e });
    }
  };
  const realDirs = typeof args.realDir === "string" ? [args.realDir] : args.realDir;
  const simDirs = typeof args.simDir === "string" ? [args.simDir] : args.simDir;
  if (realDirs.length === 0 || realDirs.length !== simDirs.length) {
    throw new VidurBridgeError("VIDUR_BAD_OPTION", `calibration needs one simulated run per real run (got ${realDirs.length} real, ${simDirs.length} simulated)`);
  }
  const real: Iteration[] = [];
  const sim: Iteration[] = [];
  for (let i = 0; i < realDirs.length; i++) {
    real.push(...(await read(realDirs[i]!, "real")));
    sim.push(...(await read(simDirs[i]!, "simulated")));
  }
  const table = deriveCpuOverheads(real, sim, {
    ...(args.mode !== undefined ? { mode: args.mode } : {}),
    ...(args.minStepsPerBin !== undefined ? { minStepsPerBin: args.minStepsPerBin } : {}),
  });
  const id = { modelName: args.modelName, ...(args.tensorParallelSize !== undefined ? { tensorParallelSize: args.tensorParallelSize } : {}) };
  await atomicWriteFile(args.outPath, formatCpuOverheadsCsv(table, id));
  return table;
}

/**
 * The serving path's delivery delay (engine token time -> client receive), which Vidur does not model: per token,
 * a function of the batch size of the engine step that produced it (the server serializes and writes one SSE event
 * per token of a step; on the H200 runs the median is ~0.55 ms at <= 8 requests, ~1 ms at 9-32, ~1.8 at 33-64,
 * ~3.3 at 65-128, the same at every load and workload), plus an extra for a request's first token (the response's
 * first flush). `batchSizes` are knots (median batch size of a power-of-two bin), `delaysS` the bin's median delay;
 * interpolated linearly, clamped at the ends.
 */
export interface DeliveryDelayTable {
  batchSizes: number[];
  delaysS: number[];
  firstTokenExtraS: number;
  tokens: number;
}

/** Linear interpolation over sorted knots, clamped at the ends. */
export function interpolate(xs: readonly number[], ys: readonly number[], x: number): number {
  if (x <= xs[0]!) return ys[0]!;
  for (let i = 1; i < xs.length; i++) {
    if (x <= xs[i]!) return ys[i - 1]! + ((ys[i]! - ys[i - 1]!) * (x - xs[i - 1]!)) / (xs[i]! - xs[i - 1]!);
  }
  return ys.at(-1)!;
}

/** The batch size of the step whose end is the first at or after t (steps sorted by end); null past the last. */
export function stepBatchAt(ends: readonly number[], sizes: readonly number[], t: number): number | null {
  let lo = 0;
  let hi = ends.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ends[mid]! < t - 1e-9) lo = mid + 1;
    else hi = mid;
  }
  return lo < ends.length ? sizes[lo]! : null;
}

/** Derives the delivery-delay table from real runs' engine token times, client token times and steps. */
export function deriveDeliveryDelay(
  runs: readonly { engine: Map<number, number[]>; client: Map<number, number[]>; steps: readonly Iteration[] }[],
  minTokensPerBin = 20,
): DeliveryDelayTable {
  const byBin = new Map<number, { sizes: number[]; delays: number[] }>();
  const firsts: { batch: number; delay: number }[] = [];
  let tokens = 0;
  for (const run of runs) {
    const steps = [...run.steps].sort((a, b) => a.end - b.end);
    const ends = steps.map((s) => s.end);
    const sizes = steps.map((s) => s.batch_size);
    for (const [id, engineTimes] of run.engine) {
      const clientTimes = run.client.get(id);
      if (clientTimes === undefined) continue;
      for (let k = 0; k < Math.min(engineTimes.length, clientTimes.length); k++) {
        const batch = stepBatchAt(ends, sizes, engineTimes[k]!);
        if (batch === null || batch < 1) continue;
        const delay = clientTimes[k]! - engineTimes[k]!;
        const [, hi] = binOf(batch);
        const bin = byBin.get(hi) ?? { sizes: [], delays: [] };
        byBin.set(hi, bin);
        bin.sizes.push(batch);
        bin.delays.push(delay);
        if (k === 0) firsts.push({ batch, delay });
        tokens += 1;
      }
    }
  }
  const bins = [...byBin.entries()].sort((a, b) => a[0] - b[0]).filter(([, b]) => b.delays.length >= minTokensPerBin);
  if (bins.length === 0) {
    throw new VidurBridgeError("VIDUR_CALIBRATION_INPUT", `no batch-size bin has ${minTokensPerBin} tokens with both engine and client times`);
  }
  const batchSizes = bins.map(([, b]) => median(b.sizes));
  const delaysS = bins.map(([, b]) => Math.max(0, median(b.delays)));
  const firstTokenExtraS = firsts.length === 0 ? 0 : median(firsts.map((f) => f.delay - interpolate(batchSizes, delaysS, f.batch)));
  return { batchSizes, delaysS, firstTokenExtraS, tokens };
}

/** deriveDeliveryDelay over run dirs that hold server_token_timestamps.csv, token_timestamps.csv and iterations.csv. */
export async function deliveryDelayFromRuns(realDirs: readonly string[]): Promise<DeliveryDelayTable> {
  const runs = [];
  for (const dir of realDirs) {
    const path = (f: string) => join(dir, f);
    try {
      runs.push({
        engine: await readTokenTimestampsGrouped(path("server_token_timestamps.csv")),
        client: await readTokenTimestampsGrouped(path("token_timestamps.csv")),
        steps: await readIterations(path("iterations.csv")),
      });
    } catch (e) {
      throw new VidurBridgeError("VIDUR_CALIBRATION_INPUT", `real run ${dir}: ${(e as Error).message} (the delivery delay needs the engine's token times: bench --engine-timeline)`, { cause: e });
    }
  }
  return deriveDeliveryDelay(runs);
}

/**
 * CPU-overhead calibration: derives a `cpu_overheads.csv` (the table the sidecar adds to every predicted batch)
 * from a real run's engine steps and a simulated run of the same workload. It fits nothing inside Vidur: the
 * simulator's own per-step prediction is read back from the simulated run's iterations.csv, and the overhead is
 * what the real engine spends beyond it. It does not run Vidur or compare runs (the runner does).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { atomicWriteFile, type Iteration, type MachineProbe, type RequestMetric, readIterations, readRequestMetrics, readTokenTimestampsGrouped } from "@vf/metrics-io";
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
  /**
   * Mean or median (`statistic`) of (real wall − predicted) of decode-only / mixed steps, ms, less the bin's misfit
   * (below) where known; null when the bin has too few real steps.
   */
  decodeResidualMs: number | null;
  mixedResidualMs: number | null;
  /**
   * The simulator's own gap from the linear model in this bin (mean of its predicted − the model's time over the
   * simulated steps of that kind and bin, by `statistic`, ms): what the residual above has been corrected by. Null when the
   * simulation has too few such steps (then interpolated between bins for the correction, 0 with none anywhere), or
   * when the correction is off (`binMisfit: false`). Absent in tables written before it existed.
   */
  decodeMisfitMs?: number | null;
  mixedMisfitMs?: number | null;
  /**
   * The real engine's own step phases in this bin (ms; `statistic` of each phase over the bin's decode-only / mixed
   * steps): the scheduler choosing the batch, the host building the step's inputs and launching it, the host
   * waiting on the device for the sampled ids, the host handing out the tokens (iterations.csv `schedule_time`,
   * `prepare_time`, `wait_time`, `process_time`). Null when the bin has fewer than `minStepsPerBin` steps of that
   * kind; absent when any real step lacks a phase (older runs), and in tables written before it existed.
   */
  decodePhasesMs?: StepPhasesMs | null;
  mixedPhasesMs?: StepPhasesMs | null;
}

/** The four measured phases of a real engine step (ms); they add up to its wall time. */
export interface StepPhasesMs {
  schedule: number;
  prepare: number;
  wait: number;
  process: number;
}

/** A row's host phases (ms): the measured decode-only phases in Vidur's own cpu_overheads.csv columns. */
export interface HostPhasesMs {
  /** `schedule_median`: the scheduler choosing the batch. */
  schedule: number;
  /** `prepare_inputs_e2e_median`: building the step's inputs and launching it (the GPU idle meanwhile). */
  prepare: number;
  /** `process_model_outputs_median`: appending the tokens, handing them to the requests, finishing the batch. */
  process: number;
}

/** One row of the written table (ms). */
export interface OverheadRow {
  batchSize: number;
  /**
   * Added to every batch of this size (`schedule_median` column; with the phase split, the sum of that,
   * `prepare_inputs_e2e_median`, `process_model_outputs_median` and `model_time_bias_median`).
   */
  overheadMs: number;
  /** Added on top to batches carrying prefill tokens (`prefill_extra_median` column); 0 in single-curve mode. */
  prefillExtraMs: number;
  /**
   * Step-time jitter: quantiles (at JITTER_LEVELS) of the fit load's decode-only residuals minus the bin's
   * overhead, ms (`jitter_qNN` columns); the sidecar draws one per simulated step (seeded) from them. Null without.
   */
  jitterMs: number[] | null;
  /**
   * `overheadMs` split by the real engine's measured phases (decode-only steps, filled across bins like the
   * overhead; tail rows continue each phase along its own line in batch size). The rest, `overheadMs` − schedule −
   * prepare − process, is the device-side bias (`model_time_bias_median`): the host's wait on the device beyond
   * Vidur's predicted model time, signed. Null when no bin had enough decode-only steps; absent when the real run
   * has no phases (older runs).
   */
  hostPhasesMs?: HostPhasesMs | null;
}

/** Quantile levels of the jitter columns (`jitter_q02` ... `jitter_q98`). */
export const JITTER_LEVELS = [0.02, 0.1, 0.25, 0.5, 0.75, 0.9, 0.98] as const;

/** R-7 quantile of sorted values. */
function quantileSorted(s: readonly number[], q: number): number {
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo]! + (h - lo) * (s[hi]! - s[lo]!);
}

/** The derived table and how it was obtained. */
export interface CpuOverheadTable {
  /** "split": decode-only curve + prefill extra; "single": one curve over all steps (plain Vidur schema). */
  mode: "split" | "single";
  /** How each bin's residuals were summarized (absent in tables written before the option existed: median). */
  statistic?: "mean" | "median";
  model: StepTimeModel;
  bins: OverheadBin[];
  /** One row per bin (same order), then the tail rows past the fit load's largest batch (see `tail`). */
  rows: OverheadRow[];
  /**
   * How the table reaches batch sizes the fit load never ran (option `extendToBatchSize`): the real engine's host
   * time per step (wall − GPU time, measured on every step that records its GPU time) grows linearly with the batch
   * (per-request input and output work), so the rows past the last knot continue the last knot's overhead along
   * that line; the GPU-time part of the residual stays as at the last knot. When the real steps carry their phases,
   * the line is the host phases' (schedule + prepare + process; `hostSlopeFrom: "phases"`), since the server's GPU-time
   * window also holds the input preparation. Null when not extended.
   */
  tail: {
    /**
     * The slope the tail rows follow (ms per request): from the phases, the sum of the three host phases' slopes
     * (each clamped at 0); else the wall - gpu_time line's slope (clamped at 0 when applied).
     */
    hostMsPerRequest: number;
    /** The wall - gpu_time line's intercept (ms; NaN when no step has gpu_time). */
    hostInterceptMs: number;
    /** Where the slope came from (absent in tables written before the phases: "gpu_time"). */
    hostSlopeFrom?: "phases" | "gpu_time";
    stepsWithGpuTime: number;
    rows: number;
    /**
     * With the phase split: each host phase's least-squares slope on batch size over the decode-only real steps (ms
     * per request, before clamping at 0), along which the tail rows' phases continue from the last knot's.
     */
    phaseMsPerRequest?: HostPhasesMs;
    /**
     * The smallest batch size of the decode-only steps the slopes were fitted on: 1 with `tailSlope` "all" (every
     * decode-only step); with "upper", the lower bound of the second-largest batch-size bin. Absent in older tables (1).
     */
    slopeFromBatchSize?: number;
    /** True with `tailSlope` "flat": every tail row holds the last knot's values (no slope fitted). */
    flat?: boolean;
    /**
     * True with `tailSlope` "level": every tail row holds the last knot's overhead, its host phases grow along
     * `phaseMsPerRequest` and its model-time bias takes the difference.
     */
    level?: boolean;
    /** With `tailFrom`: the measured tail (`MeasuredTail`). */
    measured?: MeasuredTail;
  } | null;
  /**
   * Whether the rows carry the phase split (`OverheadRow.hostPhasesMs`) and the CSV writes it as Vidur's columns
   * (`schedule_median`, `prepare_inputs_e2e_median`, `process_model_outputs_median`) plus `model_time_bias_median`:
   * true when every real step has its four phases and some bin has `minStepsPerBin` decode-only steps; false when
   * the steps have phases but no bin has enough; absent when the real run has no phases (older runs).
   */
  phases?: boolean;
  /** Whether the bins were corrected by the linear model's misfit (`binMisfit`; absent in older tables: false). */
  binMisfit?: boolean;
  /** Whether that misfit was taken at the fit's real batch sizes (`misfitBySize`; absent: at the simulation's own). */
  misfitBySize?: boolean;
  /**
   * The prefill-prefix term (option `prefixWork`): how much a step's time grows per million (chunk token, earlier
   * prompt token) pairs of its prefill chunks, on the real engine and in Vidur (least-squares slopes of the mixed
   * steps' residuals within batch-size bins, 1 % trimmed at each end of each bin), and their difference, which the
   * sidecar adds per simulated step times that step's pairs (`prefix_ms_per_mpair`); the prefill extras are then
   * at zero prefix. Null when not identified (fewer than PREFIX_MIN_STEPS mixed steps on either side had a chunk
   * with a prefix); absent when off (and in older tables).
   */
  prefix?: PrefixTerm | null;
  /**
   * The step-size term (option `stepSizeTerm`): how a mixed step's time departs by the class of its token count
   * (prefill + decode tokens; `stepClassBounds`), on the real engine and in Vidur, relative to the class with the
   * most real steps, and the difference, which the sidecar adds to every simulated step carrying prefill by its class
   * (`step_tokens_le_N` columns); the prefill extras are then at the reference class. Null when fewer than two classes have
   * STEP_CLASS_MIN_STEPS mixed steps on each side; absent when off (and in older tables).
   */
  stepSize?: StepSizeTerm | null;
  /**
   * The engine loop's time between steps (`foldInterStepGaps`), folded into the real steps before the fit: how many
   * gaps, and their mean and median (ms). Absent when off (and in older tables).
   */
  interStepGap?: InterStepGap;
  /**
   * The real steps' host phases taken at one host speed before the fit (`normalizeHostSpeed`): the reference probe
   * level and how far the steps were scaled. Absent when off (and in older tables).
   */
  hostSpeed?: HostSpeedSummary;
  /**
   * The decode KV term (option `decodeKvTerm`): both sides' within-batch-size slopes of a decode-only step on the KV
   * it reads and their difference, which the sidecar adds per 1,000 KV tokens of every decode-only batch
   * (`decode_kv_ms_per_ktoken`); the decode-only residuals are at zero KV. Null when not identified (fewer than
   * DECODE_KV_MIN_STEPS such steps on either side); absent when off (and in older tables).
   */
  decodeKv?: DecodeKvTerm | null;
  /**
   * The engine's measured decode-only step (option `decodeGrid`): the decode-only residuals were taken against it,
   * not against Vidur's prediction, and every simulation of the table takes a decode-only batch's time from it (the
   * sidecar's `decode_grid`, written beside the table as decode_grid.csv). Absent when off (and in older tables).
   */
  decodeGrid?: DecodeGrid;
  realSteps: number;
}

/**
 * The engine's decode-only step measured on a grid of batch size x KV (scripts/gpu/decode_grid.py on the GPU): the
 * served step's shape across batch size and context, which Vidur's per-op sum misses (a served step's device wait
 * less Vidur's prediction runs from -0.6 to -1.2 ms across them, the same on every workload and machine; less the
 * grid's step it stays within ~0.1 ms).
 */
export interface DecodeGrid {
  /** The file it was read from, as given. */
  source: string;
  /** Each measured point: requests in the step, KV tokens they hold in all, the step (ms). */
  points: { batch: number; kvTokens: number; stepMs: number }[];
}

/** The columns of a decode grid CSV. */
export const DECODE_GRID_COLUMNS = ["batch", "kv_tokens", "step_ms"] as const;

/** Reads a decode grid CSV (columns batch, kv_tokens, step_ms; others ignored); errors name the file and line. */
export async function readDecodeGrid(path: string): Promise<DecodeGrid> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new VidurBridgeError("VIDUR_PROFILE_MISSING", `decode grid ${path} cannot be read (${(e as Error).message})`, { cause: e });
  }
  const lines = text.replace(/\r\n/g, "\n").split("\n").filter((l) => l.trim() !== "");
  const head = (lines[0] ?? "").split(",").map((c) => c.trim());
  const at = DECODE_GRID_COLUMNS.map((c) => head.indexOf(c));
  if (at.some((i) => i < 0)) {
    throw new VidurBridgeError("VIDUR_PROFILE_INVALID", `${path}:1: expected a header with columns ${DECODE_GRID_COLUMNS.join(", ")} (got ${head.join(", ") || "nothing"})`);
  }
  const points = lines.slice(1).map((line, i) => {
    const cells = line.split(",");
    const [batch, kvTokens, stepMs] = at.map((k) => Number(cells[k]));
    if (!(Number.isInteger(batch) && batch! >= 1 && Number.isFinite(kvTokens) && kvTokens! >= batch! && Number.isFinite(stepMs) && stepMs! > 0)) {
      throw new VidurBridgeError("VIDUR_PROFILE_INVALID", `${path}:${i + 2}: expected an integer batch >= 1, kv_tokens >= batch and step_ms > 0 (got ${line.trim()})`);
    }
    return { batch: batch!, kvTokens: kvTokens!, stepMs: stepMs! };
  });
  if (points.length === 0) throw new VidurBridgeError("VIDUR_PROFILE_INVALID", `${path}: no rows after the header`);
  return { source: path, points };
}

/** A decode grid as the CSV the sidecar reads (batch, kv_tokens, step_ms). */
export function formatDecodeGridCsv(grid: DecodeGrid): string {
  return `${DECODE_GRID_COLUMNS.join(",")}\n${grid.points.map((p) => `${p.batch},${p.kvTokens},${p.stepMs}`).join("\n")}\n`;
}

/**
 * The grid's decode step (ms) at `batch` requests holding `kvTokens` in all: linear in the mean KV per request within
 * each measured batch size, linear between the two sizes around `batch`, clamped at every edge (the sidecar's
 * `decode_grid_ms`, the same arithmetic).
 */
export function decodeGridLookup(grid: DecodeGrid): (batch: number, kvTokens: number) => number {
  const byBatch = new Map<number, [number, number][]>();
  for (const p of grid.points) {
    const list = byBatch.get(p.batch) ?? [];
    byBatch.set(p.batch, list);
    list.push([p.kvTokens / p.batch, p.stepMs]);
  }
  const batches = [...byBatch.keys()].sort((a, b) => a - b);
  const rows = batches.map((b) => {
    const list = byBatch.get(b)!.sort((x, y) => x[0] - y[0]);
    return { xs: list.map((v) => v[0]), ys: list.map((v) => v[1]) };
  });
  const at = (i: number, meanKv: number) => interpolate(rows[i]!.xs, rows[i]!.ys, meanKv);
  return (batch, kvTokens) => {
    const meanKv = kvTokens / batch;
    if (batch <= batches[0]!) return at(0, meanKv);
    if (batch >= batches.at(-1)!) return at(batches.length - 1, meanKv);
    const j = batches.findIndex((b) => b >= batch);
    if (batches[j] === batch) return at(j, meanKv);
    const lo = batches[j - 1]!;
    const hi = batches[j]!;
    return at(j - 1, meanKv) + ((at(j, meanKv) - at(j - 1, meanKv)) * (batch - lo)) / (hi - lo);
  };
}

/** CpuOverheadTable.tail.measured: the tail rows measured on other runs' decode-only steps (`tailFrom`). */
export interface MeasuredTail {
  /** Decode-only steps of the tail runs (those with a batch size). */
  steps: number;
  /** The anchor: the fit's last knot, the batch sizes around it, their steps' mean batch size, residual and host time (ms). */
  anchor: { knot: number; minBatchSize: number; maxBatchSize: number; steps: number; meanBatchSize: number; residualMs: number; hostMs: number };
  /** Each bin that gave a row: its batch sizes, steps and their mean batch size, its row's batch size (that mean, rounded), growth over the anchor (ms). */
  bins: { minBatchSize: number; maxBatchSize: number; steps: number; meanBatchSize: number; batchSize: number; residualGrowthMs: number; hostGrowthMs: number }[];
}

/** CpuOverheadTable.hostSpeed. */
export interface HostSpeedSummary {
  /** The probe level (ms) every step's host phases were taken at: the fit's host reference (`hostReference`). */
  referenceProbeMs: number;
  /** Steps on each side of a step whose probes' median is that step's host speed. */
  halfWindowSteps: number;
  /** Steps scaled (those with a probe in their window and recorded phases) and steps left as measured. */
  scaledSteps: number;
  unscaledSteps: number;
  /** Quantiles of the factor the host phases were multiplied by (reference / the step's probe median). */
  factorQ10: number;
  factorQ50: number;
  factorQ90: number;
  /** True when the jitter columns keep the host time the scaling took out (`hostSpeed.jitter`); absent otherwise. */
  jitter?: true;
}

/** CpuOverheadTable.interStepGap. */
export interface InterStepGap {
  /** Busy gaps folded (steps that followed a step with requests still in the engine). */
  gaps: number;
  meanMs: number;
  medianMs: number;
}

/** CpuOverheadTable.stepSize (ms; one entry per class, ascending). */
export interface StepSizeTerm {
  /** Upper bound of each class (tokens per step); the last class also takes every larger step. */
  boundsTokens: number[];
  /** The reference class's bound (its offsets are 0). */
  referenceTokens: number;
  realSteps: number[];
  simSteps: number[];
  /** The real engine's / Vidur's offset per class; null where the class was not identified. */
  realMs: (number | null)[];
  simMs: (number | null)[];
  /** real − simulated (interpolated between identified classes, clamped at the ends): what the sidecar adds. */
  correctionMs: number[];
}

/** CpuOverheadTable.prefix. */
export interface PrefixTerm {
  realMsPerMPair: number;
  realStandardErrorMsPerMPair: number;
  simMsPerMPair: number;
  /** real − simulated: what the sidecar adds per million pairs. */
  msPerMPair: number;
  /** Real mixed steps the real slope was fitted on. */
  mixedSteps: number;
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
  /**
   * Extend the table to this batch size (the scheduler's batch cap) past the fit load's largest batch, along the
   * host-time line (`CpuOverheadTable.tail`); the sidecar clamps past the last row, so without it a load with
   * larger batches than the fit load gets the last knot's overhead. Needs real steps with gpu_time.
   */
  extendToBatchSize?: number;
  /**
   * How a bin's residuals become its overhead (default "mean": the 1 %-trimmed mean). Step times are right-skewed
   * (host pauses, slow launches), and the queue drains at the mean step time, so a median-based table leaves the
   * simulated steps a few percent fast even on the fit load; "median" is the robust alternative.
   */
  statistic?: "mean" | "median";
  /**
   * Write the step-time jitter columns (default true): the real engine's step time varies by +-10-15 % at one
   * composition (host work, launches, clocks) while Vidur predicts one value, so without it the simulated TBT
   * distribution is too narrow (its P90 too low) even where its median is right.
   */
  jitter?: boolean;
  /**
   * Per real step (aligned with `real`), ms added to its decode-only residual for the jitter columns only, centred
   * per bin (the spread, not the level): the host time `normalizeHostSpeed` took out of the step, so the jitter keeps
   * the CPU's slow and fast stretches that the table's level is cleaned of (writeCpuOverheadsFromRuns'
   * `hostSpeed.jitter`). Without it, none.
   */
  jitterExtraMs?: readonly number[];
  /**
   * Correct each bin by the linear model's misfit there (default true). The residual of a real step is taken against
   * the linear model of Vidur's step time (its composition may differ from any simulated step), but the sidecar adds
   * the correction to Vidur's actual prediction, which departs from that line by step kind and batch size (on Azure
   * conv 60 %: mixed steps of 5-16 requests +0.22..+0.25 ms, lone mixed steps -0.67 ms). Subtracting the simulated
   * steps' mean departure per bin and kind makes the corrected simulation reproduce the fit load's per-bin step
   * times instead of carrying the line's misfit into every other load.
   */
  binMisfit?: boolean;
  /**
   * Take each bin's misfit at the fit's real batch sizes (default false): the simulated steps' departure from the line
   * per exact batch size (filled between sizes, clamped at the ends), averaged over the bin's real steps of that kind,
   * instead of over the bin's simulated steps. The line's slope per decode token (~49 us on the H200, Vidur's growth
   * along the fit load's batches, KV included) is far steeper than Vidur's step grows with one more request at a
   * given KV, so the departure falls across a bin; the uncalibrated simulation, whose steps are slower, runs larger
   * batches in a bin than the real engine (Azure conv 60 %: 27.4 against 25.5 requests in the 17-32 bin) and its
   * misfit came out ~0.1 ms low there, which left the calibrated decode steps of 13-32 requests 0.08-0.13 ms longer
   * than the fit load's own.
   */
  misfitBySize?: boolean;
  /**
   * Take the decode-only residuals against the engine's measured decode step (`DecodeGrid`) instead of Vidur's
   * prediction (default none): residual = the real step's wall time − the grid's step at its batch size and KV
   * (every decode-only real step needs its kv_tokens_in_use), no misfit for them (the simulation takes a decode-only
   * batch's time from the grid too), so the table's decode rows hold only what the grid does not: the host phases
   * and the served step's difference from the isolated one. Not with `decodeKvTerm` (the grid holds the KV shape).
   */
  decodeGrid?: DecodeGrid;
  /**
   * Each step's prefill-prefix work (`prefillPrefixWork`, millions of pairs), aligned with the `real` and `sim`
   * arrays: turns on the prefill-prefix term (`CpuOverheadTable.prefix`). A chunk of c prompt tokens after k of
   * its prompt's tokens attends over k + c keys; the per-op profile times that attention at a prefix k, but the
   * engine's chunk steps grow faster with k than Vidur's prediction of them (on the H200 runs ~2.7 ms per million
   * pairs against Vidur's ~1.6: a 4k-token prompt's last 512-token chunk 8.3 ms real, 7.0 simulated), so long
   * prompts' TTFT comes out short without it.
   */
  prefixWork?: { real: readonly number[]; sim: readonly number[] };
  /**
   * Fit the step-size term (`CpuOverheadTable.stepSize`; default false). One prefill extra per batch size averages
   * the fit load's mixed steps, but a mixed step's error depends on its size: the engine passes its varlen attention
   * call the step's padded token count as max_q, and the kernel launches a 128-row query block per 128 of it for
   * every padded sequence, so on the H200 a step's time jumps where its token bucket passes 384 (one chunk after 2,048
   * prompt tokens beside 16 decode rows: 4.69 -> 5.95 ms from 384 to 400 step tokens; scripts/gpu/chunk_ab.py), while
   * a per-op profile keys chunk attention on the chunk alone. A fit on the 512-token budget, most of whose mixed steps
   * are past 384 tokens (79 % on Azure conv 60 %), carried their correction to the 256-token budget's steps, which
   * never are.
   */
  stepSizeTerm?: boolean;
  /**
   * Which decode-only steps the tail's host slopes are fitted on (default "all"). The engine's host time per step is
   * concave in the batch size: on the H200 runs it grows 5-8 us per request up to about 30 requests and 3-4 past 40
   * (saturated runs with 128 requests a step), so a line through every step of a light fit load continues too steeply.
   * "upper" fits the slopes on the steps of the two largest batch-size bins only (on Azure conv 60 %: 17-48
   * requests), the growth where the table ends. "flat" holds every column at the last knot's value: the step's whole
   * correction stops growing. On the H200 runs it does past about 20 requests (Q1's Azure conv 85 % fit, steps of up
   * to 77 requests: -0.48 ms at 22 and 57 requests, -0.42 at 68), because the host work the server hands over while
   * the next step computes hides under the device time as the batch grows. "level" holds the overhead as "flat"
   * does but grows its host phases along the "all" slopes, the model-time bias taking the difference: the level at
   * the fit's host speed is the flat tail's, while a load at another host speed (`scaleHostPhases`) scales the host
   * time the larger steps really carry. On the H200 runs the decode host phases at 48-96 requests follow the in-band
   * probe across machines (about 0.79 ms at Q1's probe level against the flat tail's 0.58), so with the flat tail each
   * machine's host scale moved too little of its large steps.
   */
  tailSlope?: "all" | "upper" | "flat" | "level";
  /**
   * The tail measured instead of continued (default none): the decode-only steps of other real runs on the fit's
   * server whose batches reach past the fit load's (another workload, e.g. one at 85 % of its capacity; each run's
   * steps in its order, taken like the fit's: host speed, inter-step gap). Needs `decodeGrid` (their residuals are
   * taken against it, so no simulation of them is needed) and `extendToBatchSize`; `tailSlope` is then unused. Their
   * residuals and host phases are summarized around the fit's last knot (`TAIL_ANCHOR_HALF_WIDTH` either side) and
   * in bins of `TAIL_BIN_WIDTH` requests above it up to the cap; each bin with `TAIL_MIN_STEPS` steps gives a row at
   * its mean batch size: the last knot's overhead and host phases plus the bin's growth over the anchor (the prefill
   * extra and jitter held at the last knot's), and the cap holds the last measured row. On the H200 runs a light fit
   * load's table ends near 34 requests, where the host time per step keeps growing (about +0.32 ms to 109 requests at
   * the fit's probe level, 4 us a request, less steeply than a line through the fit's own bins) while the served
   * step's departure from the grid falls by ~0.12 ms: the flat tail left slow machines' large steps 0.3-0.45 ms short,
   * the fitted slopes overshot.
   */
  tailFrom?: readonly Iteration[];
  /**
   * Fit the decode KV term (`CpuOverheadTable.decodeKv`; default false). A decode-only step's device time grows with
   * the KV it reads, and the per-op profile makes Vidur's step grow faster than the engine's (H200, Q1's Azure conv
   * 60 %: 35.4 against 29.3 us per 1,000 KV tokens at one batch size). Fitted at the fit load's contexts, each bin's
   * correction takes that excess at the fit's KV and applies it to every other workload's: a workload of shorter
   * contexts (ShareGPT) came out fast, one of longer (Mooncake) slow. The term is the difference of the two slopes,
   * each fitted within exact batch sizes on the decode-only steps (real: the host's wait on the device, the step's
   * device side; without phases the residual; simulated: Vidur's predicted step); the decode-only residuals are then
   * taken at zero KV and the sidecar adds the term times each decode-only batch's KV.
   */
  decodeKvTerm?: boolean;
}

/** The decode KV term needs at least this many decode-only steps with a KV count, in groups of DECODE_KV_MIN_GROUP or more, on each side. */
export const DECODE_KV_MIN_STEPS = 100;
/** Smallest group of decode-only steps of one exact batch size the decode KV term's slopes use. */
export const DECODE_KV_MIN_GROUP = 10;

/** CpuOverheadTable.decodeKv (ms per 1,000 KV tokens). */
export interface DecodeKvTerm {
  realMsPerKToken: number;
  realStandardErrorMsPerKToken: number;
  /** What the real slope was fitted on: "wait" (the host's wait on the device) or "residual" (runs without phases). */
  realFrom: "wait" | "residual";
  simMsPerKToken: number;
  /** real − simulated: what the sidecar adds per 1,000 KV tokens of a decode-only batch. */
  msPerKToken: number;
  realSteps: number;
  simSteps: number;
}

/** A gap longer than this after a step that left requests in the engine is not loop time (clock trouble): left alone. */
export const INTER_STEP_GAP_MAX_S = 0.005;

/**
 * The engine loop's own time between steps, folded into the next step. A real run's steps are not back to back: after
 * a step, the server's loop hands the step's tokens to the HTTP side, takes in new requests and cancellations, and
 * only then starts the next step (0.02-0.09 ms a step on the H200 runs, growing with the batch). Vidur's steps are
 * back to back, and a residual taken over end - start alone would leave that time out of every simulated step. A gap
 * counts when the step before it left requests in the engine (kv_tokens_in_use > 0; with no count, when it is at most
 * INTER_STEP_GAP_MAX_S): the engine went straight on, so the gap is loop time, not idling for an arrival. Each such
 * step starts at the previous step's end, its schedule phase (when recorded) longer by the gap: the loop's work
 * between steps is the next step's scheduling. Steps must be in the run's order (iterations.csv's).
 */
export function foldInterStepGaps(steps: readonly Iteration[]): { steps: Iteration[]; gapsMs: number[] } {
  const gapsMs: number[] = [];
  const out = steps.map((it, i) => {
    if (i === 0) return it;
    const prev = steps[i - 1]!;
    const gap = it.start - prev.end;
    const busy = prev.kv_tokens_in_use === null ? gap <= INTER_STEP_GAP_MAX_S : prev.kv_tokens_in_use > 0;
    if (!busy || gap <= 0 || gap > INTER_STEP_GAP_MAX_S) return it;
    gapsMs.push(gap * 1e3);
    const schedule = it.schedule_time === null || it.schedule_time === undefined ? it.schedule_time : it.schedule_time + gap;
    return { ...it, start: prev.end, ...(schedule !== undefined ? { schedule_time: schedule } : {}) };
  });
  return { steps: out, gapsMs };
}

/** Steps on each side of a step whose in-band probes' median is taken as that step's host speed (`normalizeHostSpeed`). */
export const HOST_SPEED_HALF_WINDOW = 50;

/** `tailFrom`: the anchor takes the tail runs' decode-only steps within this many requests of the fit's last knot. */
export const TAIL_ANCHOR_HALF_WIDTH = 4;
/** `tailFrom`: the width (requests) of the bins above the anchor. */
export const TAIL_BIN_WIDTH = 16;
/** `tailFrom`: the anchor and each bin count with at least this many decode-only steps. */
export const TAIL_MIN_STEPS = 20;

/**
 * Each real step's host phases taken at one host speed, the `referenceProbeMs` probe level. The lent machines' CPUs
 * run at two speeds in stretches of seconds (the fourteenth session: the slow one 1.7-1.8x as long), and a step's
 * host phases are pure Python, so a fit load's bins mix the two in whatever share the run happened to hit at each
 * batch size: the largest batches of a light load come in its busiest, often slowest, seconds, which steepens the
 * table and its tail. A step's speed is the median in-band probe (`host_probe_time`) of the steps within
 * `halfWindow` on either side of it (the probe times one fixed piece of host work every step; the median over about a
 * third of a second follows the CPU's stretches, not a single slow probe). Its schedule, prepare and process phases
 * are multiplied by reference / that median and its end moves by the host time so removed (the wait, the device's
 * side, stays). A step without phases, or with no probe in its window, is left as measured. Steps must be in the
 * run's order; normalize each run on its own.
 */
export function normalizeHostSpeed(
  steps: readonly Iteration[],
  referenceProbeMs: number,
  halfWindow = HOST_SPEED_HALF_WINDOW,
): { steps: Iteration[]; factors: (number | null)[] } {
  if (!(Number.isFinite(referenceProbeMs) && referenceProbeMs > 0)) throw new VidurBridgeError("VIDUR_BAD_OPTION", `host speed: reference probe ${referenceProbeMs} ms, expected a number > 0`);
  if (!Number.isInteger(halfWindow) || halfWindow < 0) throw new VidurBridgeError("VIDUR_BAD_OPTION", `host speed: half window ${halfWindow}, expected an integer >= 0`);
  const probes = steps.map((s) => (s.host_probe_time == null || !(s.host_probe_time > 0) ? null : s.host_probe_time * 1e3));
  const factors: (number | null)[] = [];
  const out = steps.map((s, i) => {
    const window = probes.slice(Math.max(0, i - halfWindow), i + halfWindow + 1).filter((p): p is number => p !== null);
    const phases = [s.schedule_time, s.prepare_time, s.process_time];
    if (window.length === 0 || phases.some((v) => v == null)) {
      factors.push(null);
      return { ...s };
    }
    const f = referenceProbeMs / median(window);
    factors.push(f);
    const [schedule, prepare, process] = phases as number[];
    const removed = (1 - f) * (schedule! + prepare! + process!);
    return { ...s, schedule_time: schedule! * f, prepare_time: prepare! * f, process_time: process! * f, end: s.end - removed };
  });
  return { steps: out, factors };
}

/** The summary of `normalizeHostSpeed`'s factors over every run (CpuOverheadTable.hostSpeed). */
export function summarizeHostSpeed(referenceProbeMs: number, halfWindowSteps: number, factors: readonly (number | null)[]): HostSpeedSummary {
  const known = factors.filter((f): f is number => f !== null).sort((a, b) => a - b);
  const q = (p: number) => (known.length === 0 ? 1 : quantileSorted(known, p));
  return {
    referenceProbeMs,
    halfWindowSteps,
    scaledSteps: known.length,
    unscaledSteps: factors.length - known.length,
    factorQ10: q(0.1),
    factorQ50: q(0.5),
    factorQ90: q(0.9),
  };
}

/** The prefill-prefix term needs at least this many mixed steps with a prefix on each side (real, simulated). */
export const PREFIX_MIN_STEPS = 20;

/** Mean of the values left after dropping `trim` of them at each end (at least one value is kept). */
export function trimmedMean(xs: readonly number[], trim = 0.01): number {
  const kept = trimmedOrder(xs, trim).map((i) => xs[i]!);
  return kept.reduce((acc, v) => acc + v, 0) / kept.length;
}

/** Indices of `xs` in ascending order of value, less `trim` of them at each end (at least one is kept). */
function trimmedOrder(xs: readonly number[], trim: number): number[] {
  const order = xs.map((_, i) => i).sort((a, b) => xs[a]! - xs[b]!);
  const cut = Math.min(Math.floor(order.length * trim), Math.floor((order.length - 1) / 2));
  return order.slice(cut, order.length - cut);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Solves A x = b (A square, small) by Gaussian elimination with partial pivoting; null when A is singular. */
export function solveLinear(a: readonly (readonly number[])[], b: readonly number[]): number[] | null {
  const k = b.length;
  const m = a.map((row) => [...row]);
  const v = [...b];
  for (let p = 0; p < k; p++) {
    let best = p;
    for (let r = p + 1; r < k; r++) if (Math.abs(m[r]![p]!) > Math.abs(m[best]![p]!)) best = r;
    [m[p], m[best]] = [m[best]!, m[p]!];
    [v[p], v[best]] = [v[best]!, v[p]!];
    const pivot = m[p]![p]!;
    if (Math.abs(pivot) < 1e-12) return null;
    for (let r = p + 1; r < k; r++) {
      const f = m[r]![p]! / pivot;
      for (let c = p; c < k; c++) m[r]![c]! -= f * m[p]![c]!;
      v[r]! -= f * v[p]!;
    }
  }
  const x = new Array<number>(k).fill(0);
  for (let p = k - 1; p >= 0; p--) {
    let s = v[p]!;
    for (let c = p + 1; c < k; c++) s -= m[p]![c]! * x[c]!;
    x[p] = s / m[p]![p]!;
  }
  return x;
}

/** Least squares on the columns that vary; a constant column gets coefficient 0 (the intercept absorbs it). */
export function fitStepTimeModel(sim: readonly Iteration[]): StepTimeModel {
  if (sim.length < 2) throw new VidurBridgeError("VIDUR_CALIBRATION_INPUT", `simulated run has ${sim.length} steps; need at least 2 to fit the per-step time`);
  const ys = sim.map((it) => (it.gpu_time ?? it.end - it.start) * 1e3);
  const features = [sim.map((it) => it.num_prefill_tokens), sim.map((it) => it.num_decode_tokens)];
  const used = features.map((f) => Math.max(...f) > Math.min(...f));
  const cols: number[][] = [sim.map(() => 1), ...features.filter((_, i) => used[i])];
  // Normal equations A x = b.
  const a = cols.map((ci) => cols.map((cj) => ci.reduce((s, v, n) => s + v * cj[n]!, 0)));
  const b = cols.map((ci) => ci.reduce((s, v, n) => s + v * ys[n]!, 0));
  const x = solveLinear(a, b);
  if (x === null) throw new VidurBridgeError("VIDUR_CALIBRATION_INPUT", "simulated steps' prefill and decode token counts are collinear; cannot fit the per-step time");
  let next = 1;
  const coef = used.map((u) => (u ? x[next++]! : 0));
  return { interceptMs: x[0]!, perPrefillTokenMs: coef[0]!, perDecodeTokenMs: coef[1]!, steps: sim.length };
}

/** The model's predicted time of a step (ms). */
export function predictStepMs(model: StepTimeModel, step: Pick<Iteration, "num_prefill_tokens" | "num_decode_tokens">): number {
  return model.interceptMs + model.perPrefillTokenMs * step.num_prefill_tokens + model.perDecodeTokenMs * step.num_decode_tokens;
}

/** Least-squares line y = a + b x (b = 0 when x does not vary). */
export function fitLine(xs: readonly number[], ys: readonly number[]): { intercept: number; slope: number } {
  const n = xs.length;
  const mx = xs.reduce((s, v) => s + v, 0) / n;
  const my = ys.reduce((s, v) => s + v, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i]! - mx) ** 2;
    sxy += (xs[i]! - mx) * (ys[i]! - my);
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  return { intercept: my - slope * mx, slope };
}

/**
 * Knots past the last one (x = `lastX`, value `lastY`) up to `cap` (powers of two, then the cap itself), continuing
 * the value along `slope` per unit of x: how both the overhead table and the delivery delay reach batch sizes the
 * fit load never ran.
 */
function tailAlongLine(lastX: number, lastY: number, slope: number, cap: number): { x: number; y: number }[] {
  const xs: number[] = [];
  for (let k = 2 ** Math.ceil(Math.log2(lastX + 1)); k < cap; k *= 2) if (k > lastX) xs.push(k);
  if (cap > lastX) xs.push(cap);
  return xs.map((x) => ({ x, y: lastY + slope * (x - lastX) }));
}

/** Power-of-two bin of a batch size: 1 -> [1,1], 2 -> [2,2], 3..4 -> [3,4], 5..8 -> [5,8], ... */
function binOf(batchSize: number): [number, number] {
  if (batchSize <= 2) return [batchSize, batchSize];
  const hi = 2 ** Math.ceil(Math.log2(batchSize));
  return [hi / 2 + 1, hi];
}

/** The host phases a row is split into, in the order of their cpu_overheads.csv columns. */
const HOST_PHASES = ["schedule", "prepare", "process"] as const;

/** Host phases `dx` requests past `from`, each along its slope (a negative slope holds the phase). */
/**
 * `tailFrom`'s rows past the fit's last row: the tail runs' decode-only steps (residual = wall time − the grid's
 * step; host = schedule + prepare + process, each as recorded, the host speed already taken by the caller) around
 * the last knot and in `TAIL_BIN_WIDTH`-request bins above it; each bin's growth over the anchor added to the last
 * row. Errors name what is missing.
 */
/**
 * A decode-only real step's time on the decode grid (ms) at its batch size and KV; a step recorded after its requests'
 * KV was freed reads 0: at least one token a request. A step without `kv_tokens_in_use` is refused, named `what` + its step.
 */
function gridStepMs(grid: (batch: number, kvTokens: number) => number, it: Iteration, what: string): number {
  if (it.kv_tokens_in_use === null || it.kv_tokens_in_use === undefined) {
    throw new VidurBridgeError("VIDUR_CALIBRATION_INPUT", `${what} ${it.step} (decode-only, ${it.batch_size} requests) has no kv_tokens_in_use`);
  }
  return grid(it.batch_size, Math.max(it.kv_tokens_in_use, it.batch_size));
}

function measuredTail(
  last: OverheadRow,
  tailSteps: readonly Iteration[],
  grid: (batch: number, kvTokens: number) => number,
  cap: number,
  center: (xs: number[]) => number,
): { rows: OverheadRow[]; tail: MeasuredTail } {
  const decodeOnly = tailSteps.filter((it) => it.batch_size > 0 && it.num_prefill_tokens === 0);
  const values = decodeOnly.map((it) => {
    const gridMs = gridStepMs(grid, it, "tailFrom: step");
    const phases = [it.schedule_time, it.prepare_time, it.process_time];
    if (phases.some((v) => v === null || v === undefined)) {
      throw new VidurBridgeError("VIDUR_CALIBRATION_INPUT", `tailFrom: step ${it.step} has no schedule/prepare/process phases (record the runs with the lean engine's timeline)`);
    }
    const [schedule, prepare, process] = (phases as number[]).map((v) => v * 1e3) as [number, number, number];
    return {
      batch: it.batch_size,
      residual: (it.end - it.start) * 1e3 - gridMs,
      phases: { schedule, prepare, process },
    };
  });
  const summarize = (lo: number, hi: number) => {
    const v = values.filter((x) => x.batch >= lo && x.batch <= hi);
    if (v.length < TAIL_MIN_STEPS) return { steps: v.length, stats: null };
    const phases = Object.fromEntries(HOST_PHASES.map((k) => [k, center(v.map((x) => x.phases[k]))])) as unknown as HostPhasesMs;
    return { steps: v.length, stats: { steps: v.length, batch: v.reduce((a, x) => a + x.batch, 0) / v.length, residual: center(v.map((x) => x.residual)), phases } };
  };
  const knot = last.batchSize;
  const lo = Math.max(1, Math.round(knot) - TAIL_ANCHOR_HALF_WIDTH);
  const hi = Math.round(knot) + TAIL_ANCHOR_HALF_WIDTH;
  const anchor = summarize(lo, hi);
  if (anchor.stats === null) {
    throw new VidurBridgeError(
      "VIDUR_CALIBRATION_INPUT",
      `tailFrom: the tail runs have ${anchor.steps} decode-only steps of ${lo}-${hi} requests around the fit's last knot (${knot}); need ${TAIL_MIN_STEPS} to anchor the tail`,
    );
  }
  const a = anchor.stats;
  const hostOf = (p: HostPhasesMs) => p.schedule + p.prepare + p.process;
  const rows: OverheadRow[] = [];
  const bins: MeasuredTail["bins"] = [];
  for (let from = hi + 1; from <= cap; from += TAIL_BIN_WIDTH) {
    const to = Math.min(from + TAIL_BIN_WIDTH - 1, cap);
    const b = summarize(from, to).stats;
    if (b === null) continue;
    const batchSize = Math.round(b.batch);
    if (batchSize <= (rows.at(-1)?.batchSize ?? knot)) continue;
    const growth = b.residual - a.residual;
    const lastPhases = last.hostPhasesMs ?? null;
    rows.push({
      batchSize,
      overheadMs: last.overheadMs + growth,
      prefillExtraMs: last.prefillExtraMs,
      jitterMs: last.jitterMs,
      ...(last.hostPhasesMs === undefined
        ? {}
        : { hostPhasesMs: lastPhases === null ? null : { schedule: lastPhases.schedule + b.phases.schedule - a.phases.schedule, prepare: lastPhases.prepare + b.phases.prepare - a.phases.prepare, process: lastPhases.process + b.phases.process - a.phases.process } }),
    });
    bins.push({ minBatchSize: from, maxBatchSize: to, steps: b.steps, meanBatchSize: b.batch, batchSize, residualGrowthMs: growth, hostGrowthMs: hostOf(b.phases) - hostOf(a.phases) });
  }
  if (rows.length === 0) {
    throw new VidurBridgeError("VIDUR_CALIBRATION_INPUT", `tailFrom: no bin of ${TAIL_BIN_WIDTH} requests between ${hi + 1} and ${cap} has ${TAIL_MIN_STEPS} decode-only steps in the tail runs; give runs whose batches reach past the fit's`);
  }
  if (rows.at(-1)!.batchSize < cap) rows.push({ ...rows.at(-1)!, batchSize: cap });
  return { rows, tail: { steps: values.length, anchor: { knot, minBatchSize: lo, maxBatchSize: hi, steps: anchor.steps, meanBatchSize: a.batch, residualMs: a.residual, hostMs: hostOf(a.phases) }, bins } };
}

function alongSlopes(from: HostPhasesMs, slopes: HostPhasesMs, dx: number): HostPhasesMs {
  const at = (k: (typeof HOST_PHASES)[number]) => from[k] + Math.max(0, slopes[k]) * dx;
  return { schedule: at("schedule"), prepare: at("prepare"), process: at("process") };
}

/** A row's model-time bias (`model_time_bias_median`, ms): its overhead less its host phases; null without the split. */
export function modelTimeBiasMs(row: OverheadRow): number | null {
  const h = row.hostPhasesMs ?? null;
  return h === null ? null : row.overheadMs - h.schedule - h.prepare - h.process;
}

/**
 * The simulated steps' misfit of one kind as a function of batch size: `center` of each exact size's values (as the
 * bins hold them: at zero KV and the reference step class when those terms are on), linear between sizes, clamped
 * past the smallest and largest.
 */
function misfitBySizeOf(
  bins: readonly { decode: number[]; decodeSizes: number[]; mixed: number[]; mixedSizes: number[] }[],
  kind: "decode" | "mixed",
  center: (xs: number[]) => number,
): (size: number) => number {
  const bySize = new Map<number, number[]>();
  for (const b of bins) {
    const values = kind === "decode" ? b.decode : b.mixed;
    const sizes = kind === "decode" ? b.decodeSizes : b.mixedSizes;
    values.forEach((v, j) => {
      const list = bySize.get(sizes[j]!) ?? [];
      bySize.set(sizes[j]!, list);
      list.push(v);
    });
  }
  const xs = [...bySize.keys()].sort((a, b) => a - b);
  const ys = xs.map((x) => center(bySize.get(x)!));
  return (size) => interpolate(xs, ys, size);
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
 * When every real step records its phases (`schedule_time`, `prepare_time`, `wait_time`, `process_time`), each bin
 * also gets their summary (`decodePhasesMs`, `mixedPhasesMs`) and each row the split of its overhead into host phases
 * (`hostPhasesMs`); the overhead itself is the same as without them.
 */
export function deriveCpuOverheads(real: readonly Iteration[], sim: readonly Iteration[], options: DeriveCpuOverheadsOptions = {}): CpuOverheadTable {
  const mode = options.mode ?? "split";
  const center = (options.statistic ?? "mean") === "mean" ? trimmedMean : median;
  const minSteps = options.minStepsPerBin ?? 5;
  if (!Number.isInteger(minSteps) || minSteps < 1) throw new VidurBridgeError("VIDUR_BAD_OPTION", `minStepsPerBin ${minSteps}: expected an integer >= 1`);
  const steps = real.filter((it) => it.batch_size > 0);
  if (steps.length === 0) throw new VidurBridgeError("VIDUR_CALIBRATION_INPUT", "real run has no engine steps with batch_size > 0 in iterations.csv");
  // The measured step phases (ms: schedule, prepare, wait, process), used only when every step has all four.
  const phasesOf = (it: Iteration) => [it.schedule_time, it.prepare_time, it.wait_time, it.process_time];
  const phasesAvailable = steps.every((it) => phasesOf(it).every((v) => v !== null && v !== undefined));
  const model = fitStepTimeModel(sim);
  const grid = options.decodeGrid === undefined ? null : decodeGridLookup(options.decodeGrid);
  if (grid !== null && options.decodeKvTerm === true) {
    throw new VidurBridgeError("VIDUR_BAD_OPTION", "decodeGrid and decodeKvTerm: the grid holds the decode step's growth with KV; give one of them");
  }
  const misfitOn = options.binMisfit ?? true;
  const work = options.prefixWork;
  if (work !== undefined && (work.real.length !== real.length || work.sim.length !== sim.length)) {
    throw new VidurBridgeError(
      "VIDUR_BAD_OPTION",
      `prefixWork: expected one value per step (real ${real.length}, simulated ${sim.length}; got ${work.real.length}, ${work.sim.length})`,
    );
  }
  // Per bin: decode-only and mixed values, and the mixed steps' prefix work (0 without the term).
  type Side = { decode: number[]; decodeKv: (number | null)[]; decodeSizes: number[]; mixed: number[]; mixedWork: number[]; mixedTokens: number[]; mixedSizes: number[] };
  const simByBin = new Map<number, Side>();
  sim.forEach((it, i) => {
    if (it.batch_size <= 0) return;
    const hi = binOf(it.batch_size)[1];
    const bin = simByBin.get(hi) ?? { decode: [], decodeKv: [], decodeSizes: [], mixed: [], mixedWork: [], mixedTokens: [], mixedSizes: [] };
    simByBin.set(hi, bin);
    const gap = (it.gpu_time ?? it.end - it.start) * 1e3 - predictStepMs(model, it);
    if (it.num_prefill_tokens > 0) {
      bin.mixed.push(gap);
      bin.mixedWork.push(work?.sim[i] ?? 0);
      bin.mixedTokens.push(it.num_prefill_tokens + it.num_decode_tokens);
      bin.mixedSizes.push(it.batch_size);
    } else {
      bin.decode.push(gap);
      bin.decodeKv.push(it.kv_tokens_in_use ?? null);
      bin.decodeSizes.push(it.batch_size);
    }
  });
  const extra = options.jitterExtraMs;
  if (extra !== undefined && extra.length !== real.length) {
    throw new VidurBridgeError("VIDUR_BAD_OPTION", `jitterExtraMs: expected one value per real step (${real.length}), got ${extra.length}`);
  }
  const byBin = new Map<number, Side & { lo: number; hi: number; sizes: number[]; decodePhases: number[][]; mixedPhases: number[][]; decodeJitterExtra: number[] }>();
  real.forEach((it, i) => {
    if (it.batch_size <= 0) return;
    const [lo, hi] = binOf(it.batch_size);
    const bin = byBin.get(hi) ?? { lo, hi, sizes: [], decode: [], decodeKv: [], decodeSizes: [], mixed: [], mixedWork: [], mixedTokens: [], mixedSizes: [], decodePhases: [], mixedPhases: [], decodeJitterExtra: [] };
    byBin.set(hi, bin);
    bin.sizes.push(it.batch_size);
    if (phasesAvailable) (it.num_prefill_tokens > 0 ? bin.mixedPhases : bin.decodePhases).push(phasesOf(it).map((v) => v! * 1e3));
    const decodeOnly = it.num_prefill_tokens === 0;
    const residual = (it.end - it.start) * 1e3 - (grid !== null && decodeOnly ? gridStepMs(grid, it, "decode grid: real step") : predictStepMs(model, it));
    if (it.num_prefill_tokens > 0) {
      bin.mixed.push(residual);
      bin.mixedWork.push(work?.real[i] ?? 0);
      bin.mixedTokens.push(it.num_prefill_tokens + it.num_decode_tokens);
      bin.mixedSizes.push(it.batch_size);
    } else {
      bin.decode.push(residual);
      bin.decodeKv.push(it.kv_tokens_in_use ?? null);
      bin.decodeSizes.push(it.batch_size);
      bin.decodeJitterExtra.push(extra?.[i] ?? 0);
    }
  });
  // The decode KV term: each side's slope on KV within exact batch sizes, then the decode-only values at zero KV.
  let decodeKv: DecodeKvTerm | null = null;
  if (options.decodeKvTerm === true) {
    const realY = (it: Iteration) => (phasesAvailable ? it.wait_time! * 1e3 : (it.end - it.start) * 1e3);
    const realFit = decodeKvSlope(real, realY);
    const simFit = decodeKvSlope(sim, (it) => (it.gpu_time ?? it.end - it.start) * 1e3);
    if (realFit !== null && simFit !== null) {
      decodeKv = {
        realMsPerKToken: realFit.slope,
        realStandardErrorMsPerKToken: realFit.standardError,
        realFrom: phasesAvailable ? "wait" : "residual",
        simMsPerKToken: simFit.slope,
        msPerKToken: realFit.slope - simFit.slope,
        realSteps: realFit.n,
        simSteps: simFit.n,
      };
      const atZeroKv = (b: Side, slope: number) => {
        b.decode = b.decode.map((r, j) => r - slope * ((b.decodeKv[j] ?? 0) / 1e3));
      };
      for (const b of byBin.values()) atZeroKv(b, realFit.slope);
      for (const b of simByBin.values()) atZeroKv(b, simFit.slope);
    }
  }
  const sorted = [...byBin.values()].sort((x, y) => x.hi - y.hi);
  // The step-size classes (identified where both sides have STEP_CLASS_MIN_STEPS mixed steps) and whether the
  // prefill-prefix term is identified; then each side's within-bin fit of its mixed values on them, and every mixed
  // value taken at the reference class and zero prefix.
  const simBins = [...simByBin.values()];
  const classes = options.stepSizeTerm === true ? stepClasses(sorted, simBins) : null;
  const withPrefix = (bins: Iterable<Side>) => [...bins].reduce((n, b) => n + b.mixedWork.filter((x) => x > 0).length, 0);
  const prefixOn = work !== undefined && withPrefix(sorted) >= PREFIX_MIN_STEPS && withPrefix(simBins) >= PREFIX_MIN_STEPS;
  let prefix: PrefixTerm | null = null;
  let stepSize: StepSizeTerm | null = null;
  if (prefixOn || classes !== null) {
    const realFit = fitMixedTerms(sorted, classes, prefixOn);
    const simFit = fitMixedTerms(simBins, classes, prefixOn);
    if (realFit !== null && simFit !== null) {
      if (prefixOn) {
        prefix = {
          realMsPerMPair: realFit.prefixSlope,
          realStandardErrorMsPerMPair: realFit.prefixStandardError,
          simMsPerMPair: simFit.prefixSlope,
          msPerMPair: realFit.prefixSlope - simFit.prefixSlope,
          mixedSteps: realFit.n,
        };
      }
      if (classes !== null) {
        const known = (offsets: number[]) => classes.bounds.map((_, j) => (classes.identified[j] ? offsets[j]! : null));
        stepSize = {
          boundsTokens: classes.bounds,
          referenceTokens: classes.bounds[classes.reference]!,
          realSteps: classes.realSteps,
          simSteps: classes.simSteps,
          realMs: known(realFit.classOffsets),
          simMs: known(simFit.classOffsets),
          correctionMs: realFit.classOffsets.map((v, j) => v - simFit.classOffsets[j]!),
        };
      }
      const classOf = (p: number) => (classes === null ? -1 : classIndex(classes.bounds, p));
      const atReference = (b: Side, fit: MixedTermsFit) => {
        b.mixed = b.mixed.map((r, j) => r - (classes === null ? 0 : fit.classOffsets[classOf(b.mixedTokens[j]!)]!) - fit.prefixSlope * b.mixedWork[j]!);
      };
      for (const b of sorted) atReference(b, realFit);
      for (const b of simBins) atReference(b, simFit);
    }
  }
  const knots = sorted.map((b) => median(b.sizes));
  // The simulator's misfit per bin and kind (null without enough simulated steps), then filled between bins; with
  // misfitBySize, taken at the bin's real batch sizes from the simulated steps' misfit per exact size.
  const bySize = misfitOn && options.misfitBySize === true;
  const misfitOf = (kind: "decode" | "mixed") => {
    const at = bySize ? misfitBySizeOf(simBins, kind, center) : null;
    const known = sorted.map((b) => {
      const gaps = simByBin.get(b.hi)?.[kind] ?? [];
      if (!misfitOn || gaps.length < minSteps) return null;
      const realSizes = kind === "decode" ? b.decodeSizes : b.mixedSizes;
      if (at === null || realSizes.length === 0) return center(gaps);
      return realSizes.reduce((acc, size) => acc + at(size), 0) / realSizes.length;
    });
    return { known, filled: misfitOn ? fillByInterpolation(knots, known, 0) : knots.map(() => 0) };
  };
  // With a decode grid the simulation's decode-only steps are the grid's, so their misfit is none.
  const misfit = { decode: grid !== null ? { known: knots.map(() => null), filled: knots.map(() => 0) } : misfitOf("decode"), mixed: misfitOf("mixed") };
  // Each phase of a bin's steps of one kind, summarized like the residuals (null below minStepsPerBin steps).
  const phasesMs = (xs: number[][]): StepPhasesMs | null => {
    if (xs.length < minSteps) return null;
    const [schedule, prepare, wait, process] = [0, 1, 2, 3].map((k) => center(xs.map((x) => x[k]!)));
    return { schedule: schedule!, prepare: prepare!, wait: wait!, process: process! };
  };
  const bins: OverheadBin[] = sorted.map((b, i) => ({
    minBatchSize: b.lo,
    maxBatchSize: b.hi,
    batchSize: knots[i]!,
    decodeSteps: b.decode.length,
    mixedSteps: b.mixed.length,
    decodeResidualMs: b.decode.length >= minSteps ? center(b.decode) - misfit.decode.filled[i]! : null,
    mixedResidualMs: b.mixed.length >= minSteps ? center(b.mixed) - misfit.mixed.filled[i]! : null,
    decodeMisfitMs: misfit.decode.known[i]!,
    mixedMisfitMs: misfit.mixed.known[i]!,
    ...(phasesAvailable ? { decodePhasesMs: phasesMs(b.decodePhases), mixedPhasesMs: phasesMs(b.mixedPhases) } : {}),
  }));
  let rows: OverheadRow[];
  if (mode === "single") {
    // One curve: each step's residual less its own kind's misfit in its bin.
    const all = sorted.map((b, i) => [...b.decode.map((r) => r - misfit.decode.filled[i]!), ...b.mixed.map((r) => r - misfit.mixed.filled[i]!)]);
    const curve = fillByInterpolation(knots, all.map((r) => (r.length >= minSteps ? center(r) : null)), 0);
    rows = knots.map((k, i) => ({ batchSize: k, overheadMs: curve[i]!, prefillExtraMs: 0, jitterMs: null }));
  } else {
    const decode = fillByInterpolation(knots, bins.map((b) => b.decodeResidualMs), 0);
    const mixed = fillByInterpolation(knots, bins.map((b) => b.mixedResidualMs), Number.NaN);
    rows = knots.map((k, i) => ({
      batchSize: k,
      overheadMs: decode[i]!,
      prefillExtraMs: Number.isNaN(mixed[i]!) ? 0 : mixed[i]! - decode[i]!,
      jitterMs: null,
    }));
  }
  if (options.jitter ?? true) {
    // Per level, the bins with enough decode-only steps (4x minStepsPerBin, at least 20) give a value; the others
    // are filled by the same clamped interpolation as the overhead.
    const enough = Math.max(20, 4 * minSteps);
    const perBin = sorted.map((b, i) => {
        if (b.decode.length < enough) return null;
        // Deviations from the bin's own centre (the misfit shifts the centre, not the spread), plus each step's
        // jitterExtraMs less the bin's centre of them.
        const extraCentre = extra === undefined ? 0 : center(b.decodeJitterExtra);
        const dev = b.decode.map((r, j) => r - misfit.decode.filled[i]! - rows[i]!.overheadMs + (b.decodeJitterExtra[j]! - extraCentre)).sort((x, y) => x - y);
        return JITTER_LEVELS.map((q) => quantileSorted(dev, q));
      });
    if (perBin.some((v) => v !== null)) {
      const levels = JITTER_LEVELS.map((_, j) => fillByInterpolation(knots, perBin.map((v) => (v === null ? null : v[j]!)), 0));
      rows = rows.map((r, i) => ({ ...r, jitterMs: levels.map((l) => l[i]!) }));
    }
  }
  // The phase split of each row's overhead: the decode-only host phases, filled across bins like the overhead (the
  // rest of the overhead is the device-side bias, written as its own column).
  const phases = phasesAvailable ? bins.some((b) => b.decodePhasesMs !== null && b.decodePhasesMs !== undefined) : undefined;
  if (phases === true) {
    const [schedule, prepare, process] = HOST_PHASES.map((k) => fillByInterpolation(knots, bins.map((b) => b.decodePhasesMs?.[k] ?? null), 0));
    rows = rows.map((r, i) => ({ ...r, hostPhasesMs: { schedule: schedule![i]!, prepare: prepare![i]!, process: process![i]! } }));
  } else if (phases === false) rows = rows.map((r) => ({ ...r, hostPhasesMs: null }));
  let tail: CpuOverheadTable["tail"] = null;
  const cap = options.extendToBatchSize;
  if (cap !== undefined) {
    if (!Number.isInteger(cap) || cap < 1) throw new VidurBridgeError("VIDUR_BAD_OPTION", `extendToBatchSize ${cap}: expected an integer >= 1`);
    const timed = steps.filter((it) => it.gpu_time !== null && it.gpu_time !== undefined);
    const line = timed.length >= 2
      ? fitLine(
          timed.map((it) => it.batch_size),
          timed.map((it) => (it.end - it.start - it.gpu_time!) * 1e3),
        )
      : { intercept: Number.NaN, slope: Number.NaN };
    if (options.tailFrom !== undefined) {
      if (grid === null) throw new VidurBridgeError("VIDUR_BAD_OPTION", "tailFrom: needs decodeGrid (the tail runs' decode-only residuals are taken against it)");
      const measured = measuredTail(rows.at(-1)!, options.tailFrom, grid, cap, center);
      rows = [...rows, ...measured.rows];
      tail = {
        // The host's growth per request from the anchor to the last measured bin.
        hostMsPerRequest: measured.tail.bins.at(-1)!.hostGrowthMs / (measured.tail.bins.at(-1)!.meanBatchSize - measured.tail.anchor.meanBatchSize),
        hostInterceptMs: line.intercept,
        hostSlopeFrom: "phases",
        stepsWithGpuTime: timed.length,
        rows: measured.rows.length,
        measured: measured.tail,
      };
    } else {
      // "upper": the slopes over the two largest bins' decode-only steps (the growth where the table ends).
      const tailSlope = options.tailSlope ?? "all";
      const slopeFrom = tailSlope === "upper" && sorted.length >= 2 ? sorted.at(-2)!.lo : 1;
      // "flat": no growth past the last knot (every column held). "level": the overhead held, its host phases grown.
      const flat = tailSlope === "flat";
      const level = tailSlope === "level";
      if (level && phases !== true) {
        throw new VidurBridgeError("VIDUR_CALIBRATION_INPUT", "host tail level: grows the tail rows' host phases, but the real runs carry no step phases (schedule/prepare/process) or no bin had enough decode-only steps to split them");
      }
      // With the phase split, each host phase continues from the last knot along its own line over the decode-only
      // steps, and the overhead along their sum: the measured host time per request. (wall - gpu_time misses the input
      // preparation, which the server's GPU-time window holds.) Without phases, the wall - gpu_time line.
      let phaseSlopes: HostPhasesMs | undefined;
      if (phases === true && flat) {
        phaseSlopes = { schedule: 0, prepare: 0, process: 0 };
      } else if (phases === true) {
        const decodeOnly = steps.filter((it) => it.num_prefill_tokens === 0 && it.batch_size >= slopeFrom);
        const sizes = decodeOnly.map((it) => it.batch_size);
        const slopeOf = (k: number) => (decodeOnly.length >= 2 ? fitLine(sizes, decodeOnly.map((it) => phasesOf(it)[k]! * 1e3)).slope : 0);
        phaseSlopes = { schedule: slopeOf(0), prepare: slopeOf(1), process: slopeOf(3) };
      } else if (timed.length < 2 && !flat) {
        throw new VidurBridgeError("VIDUR_CALIBRATION_INPUT", `extending the overhead table to batch ${cap} needs the real steps' gpu_time or step phases (${timed.length} of ${steps.length} steps have gpu_time)`);
      }
      const slope = flat ? 0 : phaseSlopes !== undefined ? HOST_PHASES.reduce((acc, k) => acc + Math.max(0, phaseSlopes![k]), 0) : Math.max(0, line.slope);
      const last = rows.at(-1)!;
      const lastPhases = last.hostPhasesMs;
      const extra = tailAlongLine(last.batchSize, last.overheadMs, level ? 0 : slope, cap).map(({ x, y }): OverheadRow => ({
        batchSize: x,
        overheadMs: y,
        prefillExtraMs: last.prefillExtraMs,
        jitterMs: last.jitterMs,
        ...(lastPhases === undefined
          ? {}
          : {
              hostPhasesMs:
                lastPhases === null || phaseSlopes === undefined
                  ? null
                  : alongSlopes(lastPhases, phaseSlopes, x - last.batchSize),
            }),
      }));
      rows = [...rows, ...extra];
      tail = {
        hostMsPerRequest: phaseSlopes !== undefined || flat ? slope : line.slope,
        hostInterceptMs: line.intercept,
        hostSlopeFrom: phaseSlopes !== undefined ? "phases" : "gpu_time",
        stepsWithGpuTime: timed.length,
        rows: extra.length,
        ...(phaseSlopes !== undefined ? { phaseMsPerRequest: phaseSlopes, slopeFromBatchSize: slopeFrom } : {}),
        ...(flat ? { flat: true } : {}),
        ...(level ? { level: true } : {}),
      };
    }
  } else if (options.tailFrom !== undefined) {
    throw new VidurBridgeError("VIDUR_BAD_OPTION", "tailFrom: needs extendToBatchSize (the batch cap the tail reaches)");
  }
  return {
    mode,
    statistic: options.statistic ?? "mean",
    model,
    bins,
    rows,
    tail,
    binMisfit: misfitOn,
    ...(bySize ? { misfitBySize: true } : {}),
    ...(options.decodeGrid !== undefined ? { decodeGrid: options.decodeGrid } : {}),
    ...(work !== undefined ? { prefix } : {}),
    ...(options.stepSizeTerm === true ? { stepSize } : {}),
    ...(options.decodeKvTerm === true ? { decodeKv } : {}),
    ...(phases !== undefined ? { phases } : {}),
    realSteps: steps.length,
  };
}

/**
 * The slope (ms per 1,000 KV tokens) of `y` on a decode-only step's KV in use within exact batch sizes (groups of
 * DECODE_KV_MIN_GROUP steps or more, 1 % trimmed at each end), with its standard error; null below DECODE_KV_MIN_STEPS
 * steps or when the KV does not vary within the groups.
 */
function decodeKvSlope(steps: readonly Iteration[], y: (it: Iteration) => number): { slope: number; standardError: number; n: number } | null {
  const groups = new Map<number, { y: number[]; kv: number[] }>();
  for (const it of steps) {
    if (it.batch_size <= 0 || it.num_prefill_tokens > 0 || it.kv_tokens_in_use == null) continue;
    const v = y(it);
    if (!Number.isFinite(v)) continue;
    const g = groups.get(it.batch_size) ?? { y: [], kv: [] };
    groups.set(it.batch_size, g);
    g.y.push(v);
    g.kv.push(it.kv_tokens_in_use / 1e3);
  }
  const used = [...groups.values()].filter((g) => g.y.length >= DECODE_KV_MIN_GROUP).map((g) => ({ y: g.y, x: [g.kv] }));
  if (used.reduce((n, g) => n + g.y.length, 0) < DECODE_KV_MIN_STEPS) return null;
  const fit = leastSquaresWithinGroups(used);
  return fit === null ? null : { slope: fit.coef[0]!, standardError: fit.standardErrors[0]!, n: fit.n };
}

/**
 * Least squares of y on the columns `x` (one array per column) pooled within groups (each group's deviations from
 * its own means), after dropping 1 % of each group's y at each end: the coefficients, their standard errors and the
 * values used; null when the columns do not vary independently within the groups.
 */
function leastSquaresWithinGroups(
  groups: readonly { y: readonly number[]; x: readonly (readonly number[])[] }[],
): { coef: number[]; standardErrors: number[]; n: number } | null {
  const k = groups[0]?.x.length ?? 0;
  if (k === 0) return null;
  const a = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const b = new Array<number>(k).fill(0);
  let n = 0;
  let groupsUsed = 0;
  const dev: { dx: number[][]; dy: number[] }[] = [];
  for (const g of groups) {
    const idx = trimmedOrder(g.y, 0.01);
    if (idx.length === 0) continue;
    groupsUsed++;
    const mean = (v: readonly number[]) => idx.reduce((acc, i) => acc + v[i]!, 0) / idx.length;
    const my = mean(g.y);
    const mx = g.x.map(mean);
    const d = { dx: idx.map((i) => g.x.map((col, c) => col[i]! - mx[c]!)), dy: idx.map((i) => g.y[i]! - my) };
    d.dx.forEach((row, r) => {
      for (let c = 0; c < k; c++) {
        for (let e = 0; e < k; e++) a[c]![e]! += row[c]! * row[e]!;
        b[c]! += row[c]! * d.dy[r]!;
      }
    });
    n += idx.length;
    dev.push(d);
  }
  if (a.some((row, c) => !(row[c]! > 1e-12))) return null;
  const coef = solveLinear(a, b);
  if (coef === null) return null;
  let sse = 0;
  for (const d of dev) {
    d.dx.forEach((row, r) => {
      sse += (d.dy[r]! - row.reduce((acc, v, c) => acc + v * coef[c]!, 0)) ** 2;
    });
  }
  const s2 = sse / Math.max(1, n - groupsUsed - k);
  const standardErrors = coef.map((_, c) => {
    const unit = solveLinear(a, a.map((_, e) => (e === c ? 1 : 0)));
    return Math.sqrt(s2 * Math.max(0, unit?.[c] ?? 0));
  });
  return { coef, standardErrors, n };
}

/** The mixed steps' step-size classes of a fit (`stepClasses`). */
interface StepClasses {
  /** Upper bounds (tokens per step) of the classes, ascending; class j holds (bounds[j-1], bounds[j]]. */
  bounds: number[];
  realSteps: number[];
  simSteps: number[];
  /** Both sides have STEP_CLASS_MIN_STEPS mixed steps in the class. */
  identified: boolean[];
  /** The identified class with the most real steps: offsets are relative to it. */
  reference: number;
}

/** The step-size term needs at least this many mixed steps in a class on each side (real, simulated). */
export const STEP_CLASS_MIN_STEPS = 20;

/**
 * Class bounds of a mixed step's token count up to `maxTokens`: 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, ...
 * (powers of two and halfway between, the last one >= maxTokens). The engine's attention launches 128-row query
 * blocks per padded step, and at 256-512 tokens, where most mixed steps lie, these classes are those blocks.
 */
export function stepClassBounds(maxTokens: number): number[] {
  const out: number[] = [];
  for (let b = 32; ; b *= 2) {
    out.push(b);
    if (b >= maxTokens) return out;
    out.push(b * 1.5);
    if (b * 1.5 >= maxTokens) return out;
  }
}

/** Index of the class holding a step of `tokens` prefill tokens (the last class past the last bound). */
function classIndex(bounds: readonly number[], tokens: number): number {
  const j = bounds.findIndex((b) => tokens <= b);
  return j === -1 ? bounds.length - 1 : j;
}

/** The classes of the fit's mixed steps; null when fewer than two are identified (no class effect to fit). */
function stepClasses(real: readonly { mixedTokens: readonly number[] }[], sim: readonly { mixedTokens: readonly number[] }[]): StepClasses | null {
  const all = [...real, ...sim].flatMap((b) => b.mixedTokens);
  if (all.length === 0) return null;
  const bounds = stepClassBounds(Math.max(...all));
  const count = (side: readonly { mixedTokens: readonly number[] }[]) => {
    const n = bounds.map(() => 0);
    for (const b of side) for (const p of b.mixedTokens) n[classIndex(bounds, p)]!++;
    return n;
  };
  const realSteps = count(real);
  const simSteps = count(sim);
  const identified = bounds.map((_, j) => realSteps[j]! >= STEP_CLASS_MIN_STEPS && simSteps[j]! >= STEP_CLASS_MIN_STEPS);
  if (identified.filter(Boolean).length < 2) return null;
  const reference = identified.reduce((best, ok, j) => (ok && (best === -1 || realSteps[j]! > realSteps[best]!) ? j : best), -1);
  return { bounds, realSteps, simSteps, identified, reference };
}

/** One side's fit of its mixed values (`fitMixedTerms`). */
interface MixedTermsFit {
  /** Per class (ms, 0 at the reference); classes not identified are interpolated between identified ones. */
  classOffsets: number[];
  /** ms per million prefix pairs (0 without the prefix term). */
  prefixSlope: number;
  prefixStandardError: number;
  /** Mixed steps fitted on. */
  n: number;
}

/**
 * One side's mixed values (real residuals or simulated gaps) fitted within batch-size bins on the step-size classes
 * (an indicator per identified class but the reference; steps of other classes left out) and, with `prefix`, on the
 * steps' prefix work; null when the fit is singular.
 */
function fitMixedTerms(
  bins: readonly { mixed: readonly number[]; mixedWork: readonly number[]; mixedTokens: readonly number[] }[],
  classes: StepClasses | null,
  prefix: boolean,
): MixedTermsFit | null {
  const dummies = classes === null ? [] : classes.bounds.flatMap((_, j) => (classes.identified[j] && j !== classes.reference ? [j] : []));
  const groups = bins.map((b) => {
    const keep = b.mixed.flatMap((_, i) => (classes === null || classes.identified[classIndex(classes.bounds, b.mixedTokens[i]!)] ? [i] : []));
    const cls = keep.map((i) => (classes === null ? -1 : classIndex(classes.bounds, b.mixedTokens[i]!)));
    const x: number[][] = dummies.map((j) => cls.map((c) => (c === j ? 1 : 0)));
    if (prefix) x.push(keep.map((i) => b.mixedWork[i]!));
    return { y: keep.map((i) => b.mixed[i]!), x };
  });
  const fit = leastSquaresWithinGroups(groups);
  if (fit === null) return null;
  let classOffsets: number[] = [];
  if (classes !== null) {
    const known = classes.bounds.map((_, j) => (j === classes.reference ? 0 : classes.identified[j] ? fit.coef[dummies.indexOf(j)]! : null));
    classOffsets = fillByInterpolation(classes.bounds, known, 0);
  }
  return {
    classOffsets,
    prefixSlope: prefix ? fit.coef[dummies.length]! : 0,
    prefixStandardError: prefix ? fit.standardErrors[dummies.length]! : 0,
    n: fit.n,
  };
}

/**
 * Each step's prefill-prefix work: the sum over its prefill chunks of (chunk tokens x tokens of that prompt already
 * in KV before the chunk), in millions of pairs. Reconstructed from the steps' prefill token counts alone: the
 * engine's scheduler and Vidur's sarathi both hand prefill tokens out first come first served, so the steps
 * consume the prompts in arrival order (`promptsInArrivalOrder`: prompt tokens per request, sorted by arrival).
 * On the H200 runs each request's last chunk so found ends within 0.03-0.13 ms (median) of its first token's
 * engine time. Prefill tokens past the prompts (recomputes after a preemption) count with prefix 0
 * (`unmatchedTokens`).
 */
export function prefillPrefixWork(
  steps: readonly Pick<Iteration, "num_prefill_tokens">[],
  promptsInArrivalOrder: readonly number[],
): { work: number[]; unmatchedTokens: number } {
  let next = 0;
  let done = 0;
  let unmatched = 0;
  const work = steps.map((it) => {
    let left = it.num_prefill_tokens;
    let pairs = 0;
    while (left > 0 && next < promptsInArrivalOrder.length) {
      const chunk = Math.min(left, promptsInArrivalOrder[next]! - done);
      pairs += chunk * done;
      done += chunk;
      left -= chunk;
      if (done >= promptsInArrivalOrder[next]!) {
        next++;
        done = 0;
      }
    }
    unmatched += left;
    return pairs / 1e6;
  });
  return { work, unmatchedTokens: unmatched };
}

/**
 * The table as cpu_overheads.csv text (ms, the sidecar's schema; `prefill_extra_median` only in split mode). With
 * the phase split (`table.phases`), the overhead is written as `schedule_median`, `prepare_inputs_e2e_median`,
 * `process_model_outputs_median` (the measured host phases) and `model_time_bias_median` (ours: the rest, so the four
 * add up to the overhead) instead of one `schedule_median`. No `sampler_e2e_median`: the engine samples (argmax)
 * inside its CUDA graph, so sampling is device time, in the wait, not a host phase.
 */
export function formatCpuOverheadsCsv(table: CpuOverheadTable, id: { modelName: string; tensorParallelSize?: number }): string {
  const tp = id.tensorParallelSize ?? 1;
  const split = table.mode === "split";
  const num = (v: number) => String(Number(v.toFixed(6)));
  const phases = table.phases === true && table.rows.length > 0 && table.rows.every((r) => r.hostPhasesMs !== null && r.hostPhasesMs !== undefined);
  const overheadCols = phases ? "schedule_median,prepare_inputs_e2e_median,process_model_outputs_median,model_time_bias_median" : "schedule_median";
  const overheadVals = (r: OverheadRow) => {
    if (!phases) return num(r.overheadMs);
    const h = r.hostPhasesMs!;
    return [h.schedule, h.prepare, h.process, modelTimeBiasMs(r)!].map(num).join(",");
  };
  const jitter = table.rows.length > 0 && table.rows.every((r) => r.jitterMs !== null && r.jitterMs !== undefined);
  const jitterCols = JITTER_LEVELS.map((q) => `,jitter_q${String(Math.round(q * 100)).padStart(2, "0")}`).join("");
  const prefix = table.prefix ?? null;
  const classes = table.stepSize ?? null;
  const classCols = classes === null ? "" : classes.boundsTokens.map((b) => `,step_tokens_le_${b}`).join("");
  const classVals = classes === null ? "" : classes.correctionMs.map((v) => `,${num(v)}`).join("");
  const kv = table.decodeKv ?? null;
  const header = `model_name,tensor_parallel_degree,batch_size,${overheadCols}${split ? ",prefill_extra_median" : ""}${prefix ? ",prefix_ms_per_mpair" : ""}${classCols}${kv ? ",decode_kv_ms_per_ktoken" : ""}${jitter ? jitterCols : ""}`;
  const lines = table.rows.map(
    (r) =>
      `${id.modelName},${tp},${num(r.batchSize)},${overheadVals(r)}${split ? `,${num(r.prefillExtraMs)}` : ""}${prefix ? `,${num(prefix.msPerMPair)}` : ""}${classVals}${kv ? `,${num(kv.msPerKToken)}` : ""}${jitter ? r.jitterMs!.map((v) => `,${num(v)}`).join("") : ""}`,
  );
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
  statistic?: "mean" | "median";
  jitter?: boolean;
  binMisfit?: boolean;
  /** `DeriveCpuOverheadsOptions.misfitBySize`. */
  misfitBySize?: boolean;
  /** `DeriveCpuOverheadsOptions.decodeGrid`. */
  decodeGrid?: DecodeGrid;
  /**
   * Fit the prefill-prefix term (default false): each run's steps get their prefix work from its own
   * request_metrics.csv (prompts in arrival order; a real request counts only if its first token came, i.e. its
   * prefill ran).
   */
  prefixTerm?: boolean;
  /** Fit the step-size term (default false; `DeriveCpuOverheadsOptions.stepSizeTerm`). */
  stepSizeTerm?: boolean;
  /** Fold each real run's inter-step gaps into its steps first (default false; `foldInterStepGaps`). */
  interStepGap?: boolean;
  minStepsPerBin?: number;
  extendToBatchSize?: number;
  /** Take each real run's host phases at this probe level first (default off; `normalizeHostSpeed`). */
  hostSpeed?: {
    referenceProbeMs: number;
    halfWindowSteps?: number;
    /**
     * Keep in the jitter columns the host time each fit step's scaling took out (default false; `jitterExtraMs`): the
     * table's level is at one host speed, while a simulated load runs at its one host scale, so without it the
     * simulated steps lack the stretches of a real run's CPU and their spread (TBT P90) comes out narrow.
     */
    jitter?: boolean;
  };
  /** `DeriveCpuOverheadsOptions.tailSlope`. */
  tailSlope?: "all" | "upper" | "flat" | "level";
  /**
   * Real run dirs whose decode-only steps measure the tail (`DeriveCpuOverheadsOptions.tailFrom`): each read, its
   * inter-step gaps folded and its host speed taken like the fit runs'.
   */
  tailFrom?: string[];
  /** `DeriveCpuOverheadsOptions.decodeKvTerm`. */
  decodeKvTerm?: boolean;
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
  const work = { real: [] as number[], sim: [] as number[] };
  const gapsMs: number[] = [];
  const speedFactors: (number | null)[] = [];
  const jitterExtra: number[] = [];
  const halfWindow = args.hostSpeed?.halfWindowSteps ?? HOST_SPEED_HALF_WINDOW;
  // A real run's steps as the fit takes them: inter-step gaps folded, host phases at the reference speed.
  const prepared = async (dir: string, side: string, fit: boolean): Promise<Iteration[]> => {
    let r = await read(dir, side);
    if (args.interStepGap === true) {
      const folded = foldInterStepGaps(r);
      r = folded.steps;
      if (fit) gapsMs.push(...folded.gapsMs);
    }
    if (args.hostSpeed !== undefined) {
      const normalized = normalizeHostSpeed(r, args.hostSpeed.referenceProbeMs, halfWindow);
      if (normalized.factors.every((f) => f === null)) {
        throw new VidurBridgeError(
          "VIDUR_CALIBRATION_INPUT",
          `${side} run ${join(dir, "iterations.csv")}: no step has both a host_probe_time and its host phases, so its host speed per step is unknown; record it with a gpu-harness server of the fifteenth session or later (lean engine)`,
        );
      }
      if (fit) {
        speedFactors.push(...normalized.factors);
        // The host time the scaling took out of each step (its end moved by it), ms.
        jitterExtra.push(...normalized.steps.map((s, k) => (r[k]!.end - s.end) * 1e3));
      }
      r = normalized.steps;
    }
    return r;
  };
  for (let i = 0; i < realDirs.length; i++) {
    const r = await prepared(realDirs[i]!, "real", true);
    const m = await read(simDirs[i]!, "simulated");
    real.push(...r);
    sim.push(...m);
    if (args.prefixTerm === true) {
      work.real.push(...prefillPrefixWork(r, await promptsInArrivalOrder(realDirs[i]!, "real")).work);
      work.sim.push(...prefillPrefixWork(m, await promptsInArrivalOrder(simDirs[i]!, "simulated")).work);
    }
  }
  const tailSteps: Iteration[] = [];
  for (const dir of args.tailFrom ?? []) tailSteps.push(...(await prepared(dir, "tail", false)));
  const table = deriveCpuOverheads(real, sim, {
    ...(args.tailFrom !== undefined ? { tailFrom: tailSteps } : {}),
    ...(args.mode !== undefined ? { mode: args.mode } : {}),
    ...(args.minStepsPerBin !== undefined ? { minStepsPerBin: args.minStepsPerBin } : {}),
    ...(args.extendToBatchSize !== undefined ? { extendToBatchSize: args.extendToBatchSize } : {}),
    ...(args.statistic !== undefined ? { statistic: args.statistic } : {}),
    ...(args.jitter !== undefined ? { jitter: args.jitter } : {}),
    ...(args.hostSpeed?.jitter === true ? { jitterExtraMs: jitterExtra } : {}),
    ...(args.binMisfit !== undefined ? { binMisfit: args.binMisfit } : {}),
    ...(args.misfitBySize === true ? { misfitBySize: true } : {}),
    ...(args.decodeGrid !== undefined ? { decodeGrid: args.decodeGrid } : {}),
    ...(args.prefixTerm === true ? { prefixWork: work } : {}),
    ...(args.stepSizeTerm === true ? { stepSizeTerm: true } : {}),
    ...(args.tailSlope !== undefined ? { tailSlope: args.tailSlope } : {}),
    ...(args.decodeKvTerm === true ? { decodeKvTerm: true } : {}),
  });
  if (args.hostSpeed !== undefined) {
    table.hostSpeed = { ...summarizeHostSpeed(args.hostSpeed.referenceProbeMs, halfWindow, speedFactors), ...(args.hostSpeed.jitter === true ? { jitter: true as const } : {}) };
  }
  if (args.interStepGap === true) {
    const mean = gapsMs.length === 0 ? 0 : gapsMs.reduce((a, b) => a + b, 0) / gapsMs.length;
    table.interStepGap = { gaps: gapsMs.length, meanMs: mean, medianMs: gapsMs.length === 0 ? 0 : median([...gapsMs]) };
  }
  const id = { modelName: args.modelName, ...(args.tensorParallelSize !== undefined ? { tensorParallelSize: args.tensorParallelSize } : {}) };
  await atomicWriteFile(args.outPath, formatCpuOverheadsCsv(table, id));
  return table;
}

/** Prompt tokens of `<dir>/request_metrics.csv`'s requests whose prefill ran (first token came), by arrival. */
async function promptsInArrivalOrder(dir: string, side: string): Promise<number[]> {
  const path = join(dir, "request_metrics.csv");
  let rows: Awaited<ReturnType<typeof readRequestMetrics>>;
  try {
    rows = await readRequestMetrics(path);
  } catch (e) {
    throw new VidurBridgeError("VIDUR_CALIBRATION_INPUT", `${side} run ${path}: ${(e as Error).message}`, { cause: e });
  }
  return rows
    .filter((r) => r.first_token_at !== null && r.first_token_at !== undefined)
    .sort((a, b) => a.arrived_at - b.arrived_at || a.request_id - b.request_id)
    .map((r) => r.num_prefill_tokens);
}

/**
 * The serving path's delivery delay (engine token time -> client receive), which Vidur does not model: per token,
 * a function of the batch size of the engine step that produced it (the server serializes and writes one SSE event
 * per token of a step; on the H200 runs the median is ~0.55 ms at <= 8 requests, ~1 ms at 9-32, ~1.8 at 33-64,
 * ~3.3 at 65-128, the same at every load and workload), plus an extra for a request's first token (the response's
 * first flush). `batchSizes` are knots (median batch size of a power-of-two bin), `delaysS` the bin's median delay;
 * interpolated linearly, clamped at the ends. With `extendToBatchSize`, knots past the fit load's largest batch
 * continue the last knot along the least-squares line of delay on batch size over every token (`tailSPerRequest`).
 */
export interface DeliveryDelayTable {
  batchSizes: number[];
  delaysS: number[];
  firstTokenExtraS: number;
  tokens: number;
  /** Slope (s per request in the step) of the tail knots; absent when not extended. */
  tailSPerRequest?: number;
  /**
   * The admission delay (deriveAdmissionDelay), added to every token time: absent (0) in tables made without it
   * (before it existed, or `--no-admission-delay`).
   */
  admissionS?: number;
  /** Requests the admission delay was read from, and the share of them whose interval holds it. */
  admissionRequests?: number;
  admissionConsistent?: number;
  /**
   * `--admission-backlog` (frontWorker): the server's front as one worker serving every token at this many seconds,
   * in the engine's emit order; a request's admission delay is then `admissionS - admissionBacklogMeanS` plus the
   * worker's backlog at its arrival. Absent: the constant admissionS.
   */
  frontSPerToken?: number;
  /**
   * `--front-per-step`: the worker also pays this many seconds once per engine step (the hand-over of the step's
   * tokens: one wakeup, one message), before the step's first token; absent (0): every token alike.
   */
  frontSPerStep?: number;
  /** The worker's mean backlog at the fit runs' arrivals (s), which admissionS already holds. */
  admissionBacklogMeanS?: number;
  /**
   * `--admission-in-sim`: the admission delay moves each arrival inside the simulation (the sidecar's front gate)
   * instead of the token times after it; admissionS is then the front-free constant (fitted with each fit request's
   * backlog taken out) and admissionBacklogMeanS 0.
   */
  admissionInSimulation?: boolean;
  /** The front takes a step's tokens this long after the step ends (the fit runs' median end -> next launch). */
  frontHandoffS?: number;
}

/** Linear interpolation over sorted knots, clamped at the ends. */
export function interpolate(xs: readonly number[], ys: readonly number[], x: number): number {
  if (x <= xs[0]!) return ys[0]!;
  for (let i = 1; i < xs.length; i++) {
    if (x <= xs[i]!) return ys[i - 1]! + ((ys[i]! - ys[i - 1]!) * (x - xs[i - 1]!)) / (xs[i]! - xs[i - 1]!);
  }
  return ys.at(-1)!;
}

/** Index of the step whose end is the first at or after t (steps sorted by end); ends.length past the last. */
export function stepIndexAt(ends: readonly number[], t: number): number {
  let lo = 0;
  let hi = ends.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ends[mid]! < t - 1e-9) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The batch size of the step whose end is the first at or after t (steps sorted by end); null past the last. */
export function stepBatchAt(ends: readonly number[], sizes: readonly number[], t: number): number | null {
  const i = stepIndexAt(ends, t);
  return i < ends.length ? sizes[i]! : null;
}

/** Every token both sides timed, as (its index in the request, engine emit time, client receive - emit), in map order. */
function tokenDelays(engine: Map<number, number[]>, client: Map<number, number[]>): { k: number; emitS: number; delayS: number }[] {
  const out: { k: number; emitS: number; delayS: number }[] = [];
  for (const [id, engineTimes] of engine) {
    const clientTimes = client.get(id) ?? [];
    for (let k = 0; k < Math.min(engineTimes.length, clientTimes.length); k++) {
      out.push({ k, emitS: engineTimes[k]!, delayS: clientTimes[k]! - engineTimes[k]! });
    }
  }
  return out;
}

/** Derives the delivery-delay table from real runs' engine token times, client token times and steps. */
export function deriveDeliveryDelay(
  runs: readonly { engine: Map<number, number[]>; client: Map<number, number[]>; steps: readonly Iteration[] }[],
  minTokensPerBin = 20,
  extendToBatchSize?: number,
): DeliveryDelayTable {
  const byBin = new Map<number, { sizes: number[]; delays: number[] }>();
  const firsts: { batch: number; delay: number }[] = [];
  const allSizes: number[] = [];
  const allDelays: number[] = [];
  let tokens = 0;
  for (const run of runs) {
    const steps = [...run.steps].sort((a, b) => a.end - b.end);
    const ends = steps.map((s) => s.end);
    const sizes = steps.map((s) => s.batch_size);
    for (const { k, emitS, delayS: delay } of tokenDelays(run.engine, run.client)) {
      const batch = stepBatchAt(ends, sizes, emitS);
      if (batch === null || batch < 1) continue;
      const [, hi] = binOf(batch);
      const bin = byBin.get(hi) ?? { sizes: [], delays: [] };
      byBin.set(hi, bin);
      bin.sizes.push(batch);
      bin.delays.push(delay);
      if (k === 0) firsts.push({ batch, delay });
      else {
        allSizes.push(batch);
        allDelays.push(delay);
      }
      tokens += 1;
    }
  }
  const bins = [...byBin.entries()].sort((a, b) => a[0] - b[0]).filter(([, b]) => b.delays.length >= minTokensPerBin);
  if (bins.length === 0) {
    throw new VidurBridgeError("VIDUR_CALIBRATION_INPUT", `no batch-size bin has ${minTokensPerBin} tokens with both engine and client times`);
  }
  const batchSizes = bins.map(([, b]) => median(b.sizes));
  const delaysS = bins.map(([, b]) => Math.max(0, median(b.delays)));
  const firstTokenExtraS = firsts.length === 0 ? 0 : median(firsts.map((f) => f.delay - interpolate(batchSizes, delaysS, f.batch)));
  if (extendToBatchSize === undefined) return { batchSizes, delaysS, firstTokenExtraS, tokens };
  const slope = allSizes.length >= 2 ? Math.max(0, fitLine(allSizes, allDelays).slope) : 0;
  for (const { x, y } of tailAlongLine(batchSizes.at(-1)!, delaysS.at(-1)!, slope, extendToBatchSize)) {
    batchSizes.push(x);
    delaysS.push(y);
  }
  return { batchSizes, delaysS, firstTokenExtraS, tokens, tailSPerRequest: slope };
}

/**
 * The serving path's admission delay: from a request's arrival (`arrived_at`, its scheduled send) to the engine
 * taking it in (the client's send, the server's receive and parse, the hand-over to the engine thread), which
 * Vidur does not model: there a request can join the first step that starts after it arrives. The server does not
 * log it; it is read off the timeline. A short request (prompt <= `maxPromptTokens`, so one step prefills it) whose
 * first token came from step i was taken in at step i's start and not at step i-1's, so its delay lies in
 * (start[i-1] - arrived, start[i] - arrived]. The estimate is the delay the most requests' intervals hold, on a
 * grid of `gridS` up to `maxS` (the middle of the first best stretch of grid points). Requests that waited in the
 * queue for other reasons fall outside and do not move it. A constant delay on every arrival shifts the whole
 * simulated schedule by that constant, so it is modelled by adding it to every simulated token time.
 */
export interface AdmissionDelay {
  admissionS: number;
  /** Requests with an interval (short prompt, first token from a step after the run's first). */
  requests: number;
  /** Share of them whose interval holds admissionS. */
  consistent: number;
}

export function deriveAdmissionDelay(
  runs: readonly {
    steps: readonly Iteration[];
    /** offsetS: a known part of the request's own delay (e.g. the front's backlog at its arrival), taken out first. */
    requests: readonly { arrivedS: number; promptTokens: number; firstEngineTokenS: number; offsetS?: number }[];
  }[],
  maxPromptTokens: number,
  maxS = 0.005,
  gridS = 0.00001,
): AdmissionDelay {
  const points = Math.round(maxS / gridS) + 1;
  const diff = new Float64Array(points + 1);
  let requests = 0;
  for (const run of runs) {
    const steps = [...run.steps].sort((a, b) => a.start - b.start);
    const ends = steps.map((s) => s.end);
    const starts = steps.map((s) => s.start);
    for (const r of run.requests) {
      if (r.promptTokens > maxPromptTokens) continue;
      const i = stepIndexAt(ends, r.firstEngineTokenS);
      if (i === 0 || i >= steps.length) continue;
      requests += 1;
      // Grid points k with lo < k * gridS <= hi.
      const lo = starts[i - 1]! - r.arrivedS - (r.offsetS ?? 0);
      const up = starts[i]! - r.arrivedS - (r.offsetS ?? 0);
      const from = Math.max(0, Math.floor(lo / gridS + 1e-9) + 1);
      const to = Math.min(points - 1, Math.floor(up / gridS + 1e-9));
      if (from > to) continue;
      diff[from]! += 1;
      diff[to + 1]! -= 1;
    }
  }
  if (requests === 0) return { admissionS: 0, requests: 0, consistent: 0 };
  // The first stretch of consecutive grid points with the highest count: its middle.
  let best = -1;
  let bestFrom = 0;
  let bestTo = 0;
  let inBest = false;
  let count = 0;
  for (let k = 0; k < points; k++) {
    count += diff[k]!;
    if (count > best) {
      best = count;
      bestFrom = k;
      bestTo = k;
      inBest = true;
    } else if (count === best && inBest) {
      bestTo = k;
    } else {
      inBest = false;
    }
  }
  return { admissionS: ((bestFrom + bestTo) / 2) * gridS, requests, consistent: best / requests };
}

/**
 * Finish times of one worker serving tokens in emit order (`emitS` sorted ascending), `perTokenS` each: the server's
 * front (its one thread parses requests and writes every token's SSE event) as a queue. With `perStepS`, a token
 * emitted at another time than the one before it opens a step (the engine hands a step's tokens over at once) and
 * costs that much more.
 */
export function frontWorkerDone(emitS: readonly number[], perTokenS: number, perStepS = 0): number[] {
  const done: number[] = [];
  let last = Number.NEGATIVE_INFINITY;
  let previous = Number.NaN;
  for (const t of emitS) {
    last = Math.max(t, last) + perTokenS + (t === previous ? 0 : perStepS);
    previous = t;
    done.push(last);
  }
  return done;
}

/**
 * The admission delay's constant part (s): `admissionS` less the fit runs' mean front backlog it already holds (at
 * least 0); each request's delay is this plus the front's backlog at its arrival (after the simulation, or through
 * the sidecar's front gate with `admissionInSimulation`).
 */
export function admissionConstantS(d: { admissionS?: number; admissionBacklogMeanS?: number }): number {
  return Math.max(0, (d.admissionS ?? 0) - (d.admissionBacklogMeanS ?? 0));
}

/** The worker's remaining work (s) at each time of `atS`, its tokens emitted at `emitS` (sorted ascending). */
export function frontBacklog(emitS: readonly number[], perTokenS: number, atS: readonly number[], perStepS = 0): number[] {
  const done = frontWorkerDone(emitS, perTokenS, perStepS);
  return atS.map((t) => {
    // The last token emitted at or before t (binary search).
    let lo = 0;
    let hi = emitS.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (emitS[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? 0 : Math.max(0, done[lo - 1]! - t);
  });
}

/**
 * The front's time per token read off its steps' spread: the engine emits a step's tokens at one time and the front
 * writes them one after another, so the client receives a step's last token later than its first by about that time
 * per token after the first. The least-squares slope of (last receive - first receive) on (tokens - 1) over every
 * step of two or more tokens (at least 0); null with fewer than `minSteps` such steps.
 */
export function frontTokenSpread(runs: readonly { emitS: readonly number[]; delayS: readonly number[] }[], minSteps = 20): { perTokenS: number; steps: number } | null {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const run of runs) {
    const byStep = new Map<number, { lo: number; hi: number; n: number }>();
    for (const [i, t] of run.emitS.entries()) {
      const received = t + run.delayS[i]!;
      const step = byStep.get(t);
      if (step === undefined) byStep.set(t, { lo: received, hi: received, n: 1 });
      else {
        step.lo = Math.min(step.lo, received);
        step.hi = Math.max(step.hi, received);
        step.n += 1;
      }
    }
    for (const { lo, hi, n } of byStep.values()) {
      if (n < 2) continue;
      xs.push(n - 1);
      ys.push(hi - lo);
    }
  }
  if (xs.length < minSteps) return null;
  return { perTokenS: Math.max(0, fitLine(xs, ys).slope), steps: xs.length };
}

/**
 * The front's per-token time from real runs' delivery delays (client receive - engine emit, every token): the
 * worker model plus a fixed latency, on a grid (10-70 us a token by 2.5, 0.2-1.6 ms fixed by 0.02), matching the
 * pooled delays' P50 and P90 (sum of their relative misses). Each run is queued on its own. With `perTokenS` given
 * (`frontTokenSpread`'s), the grid is over a time per step instead (0-1 ms by 10 us) at that per-token time.
 */
export function fitFrontWorker(
  runs: readonly { emitS: number[]; delayS: number[] }[],
  perTokenS?: number,
): { perTokenS: number; perStepS: number; latencyS: number } {
  const ordered = runs.map((r) => {
    const idx = r.emitS.map((_, i) => i).sort((a, b) => r.emitS[a]! - r.emitS[b]!);
    return { emitS: idx.map((i) => r.emitS[i]!), delayS: idx.map((i) => r.delayS[i]!) };
  });
  const all = ordered.flatMap((r) => r.delayS).sort((a, b) => a - b);
  if (all.length === 0) throw new VidurBridgeError("VIDUR_CALIBRATION_INPUT", "the front's per-token time needs tokens with both engine and client times (got none)");
  const p50 = quantileSorted(all, 0.5);
  const p90 = quantileSorted(all, 0.9);
  const candidates =
    perTokenS === undefined
      ? Array.from({ length: 24 }, (_, k) => ({ perTokenS: 10e-6 + k * 2.5e-6, perStepS: 0 }))
      : Array.from({ length: 101 }, (_, k) => ({ perTokenS, perStepS: k * 10e-6 }));
  let best = { err: Number.POSITIVE_INFINITY, perTokenS: 0, perStepS: 0, latencyS: 0 };
  for (const c of candidates) {
    const queued = ordered.flatMap((r) => frontWorkerDone(r.emitS, c.perTokenS, c.perStepS).map((d, i) => d - r.emitS[i]!)).sort((a, b) => a - b);
    const q50 = quantileSorted(queued, 0.5);
    const q90 = quantileSorted(queued, 0.9);
    for (let j = 0; j < 70; j++) {
      const latencyS = 0.2e-3 + j * 0.02e-3;
      const err = Math.abs(q50 + latencyS - p50) / p50 + Math.abs(q90 + latencyS - p90) / p90;
      if (err < best.err) best = { err, ...c, latencyS };
    }
  }
  return { perTokenS: best.perTokenS, perStepS: best.perStepS, latencyS: best.latencyS };
}

/**
 * When the server's front takes a step's tokens, after the step ends: with the engine's steps back to back (the
 * next starts within 0.2 ms), the median time from a step's end to the next step's launch (its start plus its
 * schedule and prepare phases: the server hands the tokens over once the next step runs on the device); 0 where the
 * steps carry no phases or never follow one another.
 */
export function frontHandoff(runs: readonly (readonly Iteration[])[]): number {
  const gaps: number[] = [];
  for (const steps of runs) {
    const sorted = [...steps].sort((a, b) => a.start - b.start);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      const next = sorted[i]!;
      if (next.start - prev.end > 2e-4 || next.schedule_time == null || next.prepare_time == null) continue;
      gaps.push(next.start + next.schedule_time + next.prepare_time - prev.end);
    }
  }
  return gaps.length === 0 ? 0 : Math.max(0, median(gaps));
}

/** One fit run as deliveryDelayFromRuns reads it: engine and client token times, steps, requests. */
interface FitRun {
  engine: Map<number, number[]>;
  client: Map<number, number[]>;
  steps: Iteration[];
  metrics: RequestMetric[];
}

/**
 * deriveDeliveryDelay over run dirs that hold server_token_timestamps.csv, token_timestamps.csv and iterations.csv;
 * with `admissionMaxPromptTokens`, their admission delay too (deriveAdmissionDelay; request_metrics.csv as well).
 */
export async function deliveryDelayFromRuns(
  realDirs: readonly string[],
  extendToBatchSize?: number,
  admissionMaxPromptTokens?: number,
  admissionBacklog: boolean | "step" = false,
  inSimulation = false,
): Promise<DeliveryDelayTable> {
  if (inSimulation && admissionBacklog === false) {
    throw new VidurBridgeError("VIDUR_CALIBRATION_INPUT", "the admission inside the simulation needs the front's backlog (admissionBacklog)");
  }
  const runs: FitRun[] = [];
  for (const dir of realDirs) {
    const path = (f: string) => join(dir, f);
    try {
      runs.push({
        engine: await readTokenTimestampsGrouped(path("server_token_timestamps.csv")),
        client: await readTokenTimestampsGrouped(path("token_timestamps.csv")),
        steps: await readIterations(path("iterations.csv")),
        metrics: admissionMaxPromptTokens === undefined ? [] : await readRequestMetrics(path("request_metrics.csv")),
      });
    } catch (e) {
      throw new VidurBridgeError("VIDUR_CALIBRATION_INPUT", `real run ${dir}: ${(e as Error).message} (the delivery delay needs the engine's token times: bench --engine-timeline)`, { cause: e });
    }
  }
  const table = deriveDeliveryDelay(runs, 20, extendToBatchSize);
  if (admissionMaxPromptTokens === undefined) return table;
  // The engine's token times, sorted, later by shiftS (the front's hand-over).
  const emitsOf = (run: FitRun, shiftS = 0) => [...run.engine.values()].flat().sort((a, b) => a - b).map((t) => t + shiftS);
  // The admission constant over the fit runs' requests that one step prefills, each less its offset (none: 0).
  const withAdmission = (offsets?: (run: FitRun) => readonly number[]) => {
    const admission = deriveAdmissionDelay(
      runs.map((run) => {
        const offsetS = offsets?.(run);
        return {
          steps: run.steps,
          requests: run.metrics.flatMap((m, i) => {
            const first = run.engine.get(m.request_id)?.[0];
            return m.status === "ok" && first !== undefined
              ? [{ arrivedS: m.arrived_at, promptTokens: m.num_prefill_tokens, firstEngineTokenS: first, offsetS: offsetS?.[i] ?? 0 }]
              : [];
          }),
        };
      }),
      admissionMaxPromptTokens,
    );
    return { ...table, admissionS: admission.admissionS, admissionRequests: admission.requests, admissionConsistent: admission.consistent };
  };
  if (admissionBacklog === false) return withAdmission();
  // --admission-backlog: the front's per-token time from the fit runs' delivery delays, and its mean backlog at their
  // arrivals (which the constant already holds). "step" (--front-per-step): the per-token time from the steps'
  // spread (frontTokenSpread), and a time per step fitted on the delays instead.
  const queued = runs.map((run) => {
    const tokens = tokenDelays(run.engine, run.client);
    return { emitS: tokens.map((t) => t.emitS), delayS: tokens.map((t) => t.delayS) };
  });
  let spread: number | undefined;
  if (admissionBacklog === "step") {
    const read = frontTokenSpread(queued);
    if (read === null) {
      throw new VidurBridgeError("VIDUR_CALIBRATION_INPUT", `--front-per-step: the fit runs (${realDirs.join(", ")}) have fewer than 20 steps of two or more tokens with engine and client times`);
    }
    spread = read.perTokenS;
  }
  const { perTokenS, perStepS } = fitFrontWorker(queued, spread);
  const front = { frontSPerToken: perTokenS, ...(admissionBacklog === "step" ? { frontSPerStep: perStepS } : {}) };
  const backlogAt = (run: FitRun, shiftS: number) => frontBacklog(emitsOf(run, shiftS), perTokenS, run.metrics.map((m) => m.arrived_at), perStepS);
  if (inSimulation) {
    // The constant is fitted with each request's own backlog taken out (the front taking each step's tokens at the
    // next step's launch, as the gate will), so the gate adds back the backlog the simulation makes.
    const handoffS = frontHandoff(runs.map((r) => r.steps));
    return { ...withAdmission((run) => backlogAt(run, handoffS)), ...front, admissionBacklogMeanS: 0, admissionInSimulation: true, frontHandoffS: handoffS };
  }
  const backlogs = runs.flatMap((run) => backlogAt(run, 0));
  const admissionBacklogMeanS = backlogs.length === 0 ? 0 : backlogs.reduce((a, b) => a + b, 0) / backlogs.length;
  return { ...withAdmission(), ...front, admissionBacklogMeanS };
}


/**
 * Machine probes (gpu-harness `serve --probe-repeats`, read by @vf/metrics-io's readMachineProbe) pooled into one:
 * per composition key, the median over the probes of its p50_ms (ms). A key counts when any probe timed it.
 */
export function poolMachineProbes(probes: readonly MachineProbe[]): Record<string, number> {
  if (probes.length === 0) throw new VidurBridgeError("VIDUR_CALIBRATION_INPUT", "pooling machine probes needs at least one probe (got none)");
  const byKey = new Map<string, number[]>();
  for (const probe of probes) {
    for (const p of probe.points) {
      const values = byKey.get(p.key) ?? [];
      byKey.set(p.key, values);
      values.push(p.p50_ms);
    }
  }
  const pooled: Record<string, number> = {};
  for (const [key, values] of byKey) pooled[key] = median(values);
  return pooled;
}

/** How a load's machine differs from the fit runs' (machineProbeRatio). */
export interface MachineProbeRatio {
  /** Median over the shared compositions of target p50 / fit p50: the step-time scale. */
  ratio: number;
  /** Compositions both probes timed. */
  compositions: number;
  /** Smallest and largest per-composition ratio. */
  min: number;
  max: number;
}

/** "a, b, c, ... (+N more)": a key list for an error message. */
function listKeys(keys: readonly string[], max = 6): string {
  if (keys.length === 0) return "none";
  const shown = keys.slice(0, max).join(", ");
  return keys.length > max ? `${shown}, ... (+${keys.length - max} more)` : shown;
}

/**
 * The step-time ratio of a target machine to the fit one: over the composition keys both probes timed, target
 * p50_ms / fit[key]; `ratio` is their median (one odd composition does not move it), `min`/`max` their range.
 * Keys only one side has (another batch cap or token budget times other compositions) are ignored; none shared
 * is an error.
 */
export function machineProbeRatio(fit: Readonly<Record<string, number>>, target: MachineProbe): MachineProbeRatio {
  const ratios: number[] = [];
  for (const p of target.points) {
    if (!Object.hasOwn(fit, p.key)) continue;
    const base = fit[p.key]!;
    if (!(Number.isFinite(base) && base > 0)) {
      throw new VidurBridgeError("VIDUR_CALIBRATION_INPUT", `fit machine probe: ${JSON.stringify(p.key)} = ${base} ms, expected a finite number > 0`);
    }
    ratios.push(p.p50_ms / base);
  }
  if (ratios.length === 0) {
    const fitKeys = Object.keys(fit);
    const targetKeys = target.points.map((p) => p.key);
    throw new VidurBridgeError(
      "VIDUR_CALIBRATION_INPUT",
      `the machine probes share no step composition: fit probe has ${fitKeys.length} (${listKeys(fitKeys)}), target probe has ${targetKeys.length} (${listKeys(targetKeys)})`,
    );
  }
  return { ratio: median(ratios), compositions: ratios.length, min: Math.min(...ratios), max: Math.max(...ratios) };
}

/**
 * The host's speed during a real run, for `runner calibrate --host-scale` (a prediction conditioned on how fast the
 * serving machine's CPU was, not a blind one). Two sources:
 * - "probe": the in-band host probe (iterations.csv `host_probe_time`, gpu-harness since the fifteenth session): a
 *   fixed piece of host work timed in every step, whatever the batch; the level is its 5 %-trimmed mean (ms) over the
 *   run's steps that carry it, so a run's mix of the CPU's fast and slow stretches sets it.
 * - "phases": the run's own measured host phases (schedule + prepare + process) of its decode-only steps, per batch
 *   size. This one reads the very host time the simulation is to predict, so it is attribution (what is left once
 *   the host's speed is known exactly), never a prediction.
 */
export type HostScaleSource = "probe" | "phases";

/** A batch size counts towards the "phases" index when the reference has this many decode-only steps at it. */
export const HOST_INDEX_MIN_REF_STEPS = 20;

/**
 * A fit's host level (`HostScaleSource`): the probe's level (ms), or the host phases' median per batch size (ms).
 * probeInts: the probe's size (ints in the list it times; @vf/metrics-io `readHostProbeSize`), when the fit's server
 * recorded it: the level grows with it, so levels of probes of other sizes mix the host's speed with the size.
 */
export type HostReference = { source: "probe"; probeMs: number; steps: number; probeInts?: number } | { source: "phases"; medianMsByBatch: Record<string, number>; steps: number };

/**
 * How one run's host compares with the fit's: `ratio` scales the table's host phases, and `prepareShiftMs` (when
 * set) is added to every row's input preparation after that.
 */
export interface HostScale {
  source: HostScaleSource;
  ratio: number;
  /** Steps of the run that informed it (probe: steps with a probe; phases: decode-only steps at reference sizes). */
  steps: number;
  /** probe: the run's probe size and the reference's, each when known (`HostReference`). */
  probeInts?: number;
  referenceProbeInts?: number;
  /**
   * probe, sizes known and different, size-aware (`hostScale`): the run's own list conversion (its probe level, ms)
   * less the fit's scaled one (ratio x the fit's level), so the simulated preparation carries this configuration's
   * list instead of the fit's.
   */
  prepareShiftMs?: number;
}

/**
 * True when a probe scale compares probes of two known, different sizes (another token budget or batch cap): a
 * plain level ratio then mixes the host's speed with the probe's size, and with the preparation work that grows
 * with the same step token limit, so it is not the host's speed alone (`hostScale`'s size-aware scale separates
 * them).
 */
export function probeSizeDiffers(scale: HostScale): boolean {
  return scale.probeInts !== undefined && scale.referenceProbeInts !== undefined && scale.probeInts !== scale.referenceProbeInts;
}

/** Decode-only steps (batch > 0, no prefill tokens) with all three host phases, as (batch size, host ms). */
function decodeHostMs(steps: readonly Iteration[]): { batch: number; ms: number }[] {
  const out: { batch: number; ms: number }[] = [];
  for (const s of steps) {
    if (s.batch_size < 1 || s.num_prefill_tokens !== 0) continue;
    const { schedule_time: a, prepare_time: b, process_time: c } = s;
    if (a == null || b == null || c == null) continue;
    out.push({ batch: s.batch_size, ms: (a + b + c) * 1e3 });
  }
  return out;
}

/** The steps' in-band probe times (ms), in order; `what` names the runs in the error when none has one. */
function probeMs(steps: readonly Iteration[], what: string): number[] {
  const out = steps.flatMap((s) => (s.host_probe_time == null ? [] : [s.host_probe_time * 1e3]));
  if (out.length === 0) {
    throw new VidurBridgeError(
      "VIDUR_CALIBRATION_INPUT",
      `${what}: no step has a host_probe_time (iterations.csv); record the run with a gpu-harness server of the fifteenth session or later (lean engine), or use --host-scale phases`,
    );
  }
  return out;
}

/**
 * The fit's host reference from its real runs' steps (pooled); `what` names them in errors. probeInts: the fit
 * servers' probe size, when all recorded the same one (kept with a probe reference).
 */
export function hostReference(source: HostScaleSource, fitSteps: readonly Iteration[], what: string, probeInts?: number): HostReference {
  if (source === "probe") {
    const ms = probeMs(fitSteps, what);
    return { source, probeMs: trimmedMean(ms, 0.05), steps: ms.length, ...(probeInts !== undefined ? { probeInts } : {}) };
  }
  const byBatch = new Map<number, number[]>();
  for (const { batch, ms } of decodeHostMs(fitSteps)) {
    const list = byBatch.get(batch) ?? [];
    byBatch.set(batch, list);
    list.push(ms);
  }
  const medianMsByBatch: Record<string, number> = {};
  let steps = 0;
  for (const [batch, list] of [...byBatch].sort((a, b) => a[0] - b[0])) {
    if (list.length < HOST_INDEX_MIN_REF_STEPS) continue;
    medianMsByBatch[String(batch)] = median(list);
    steps += list.length;
  }
  if (byBatch.size === 0) {
    throw new VidurBridgeError(
      "VIDUR_CALIBRATION_INPUT",
      `${what}: no decode-only step has the three host phases (iterations.csv schedule_time, prepare_time, process_time: recorded by gpu-harness servers since the twelfth session)`,
    );
  }
  if (steps === 0) {
    throw new VidurBridgeError(
      "VIDUR_CALIBRATION_INPUT",
      `${what}: no batch size has ${HOST_INDEX_MIN_REF_STEPS} decode-only steps with the three host phases (the most at one size: ${Math.max(...[...byBatch.values()].map((l) => l.length))})`,
    );
  }
  return { source, medianMsByBatch, steps };
}

/**
 * One run's host against the fit's reference. `what` names the run.
 * - probe: the run's probe level over the fit's (probeInts: the run's probe size, when its server recorded it). When
 *   both sizes are known and differ (another token budget or batch cap; `probeSizeDiffers`) and `sizeAware` is on
 *   (the default), the probe is read as what it is, the conversion of the step's whole input list: the host's speed
 *   is the ratio of the two levels per int, and the run's own level replaces the fit's (scaled) list conversion in
 *   the preparation (`prepareShiftMs` = level - ratio x fit level; 0 at equal sizes, so one formula covers both).
 *   sizeAware false keeps the plain level ratio (the eighteenth session's scale).
 * - phases: each of the run's decode-only steps at a batch size the reference has, its host time over the reference
 *   median there; the ratio is their mean (each step weighs one, so the run's own mix of batch sizes sets it).
 */
export function hostScale(ref: HostReference, steps: readonly Iteration[], what: string, probeInts?: number, sizeAware = true): HostScale {
  if (ref.source === "probe") {
    const ms = probeMs(steps, what);
    const level = trimmedMean(ms, 0.05);
    const sizes = {
      ...(probeInts !== undefined ? { probeInts } : {}),
      ...(ref.probeInts !== undefined ? { referenceProbeInts: ref.probeInts } : {}),
    };
    const scale: HostScale = { source: "probe", ratio: level / ref.probeMs, steps: ms.length, ...sizes };
    if (!sizeAware || !probeSizeDiffers(scale)) return scale;
    const ratio = (level / probeInts!) / (ref.probeMs / ref.probeInts!);
    return { ...scale, ratio, prepareShiftMs: level - ratio * ref.probeMs };
  }
  const ratios = decodeHostMs(steps).flatMap(({ batch, ms }) => {
    const base = ref.medianMsByBatch[String(batch)];
    return base === undefined ? [] : [ms / base];
  });
  if (ratios.length === 0) {
    throw new VidurBridgeError(
      "VIDUR_CALIBRATION_INPUT",
      `${what}: no decode-only step with its host phases at a batch size the fit measured (${Object.keys(ref.medianMsByBatch).length} sizes with ${HOST_INDEX_MIN_REF_STEPS}+ steps)`,
    );
  }
  return { source: "phases", ratio: ratios.reduce((a, b) => a + b, 0) / ratios.length, steps: ratios.length };
}

/**
 * The serving path outside the engine at another host speed: every time of a delivery-delay table (the delivery
 * delays and their tail slope, the first token's extra, the admission constant, the front's per-token and per-step
 * times, its mean backlog at the fit and the hand-over) times `ratio`. All of it is CPU work on the server's host (the
 * engine's hand-over, the HTTP front, the loopback and the client beside it), fitted at the fit runs' host speed, so a
 * load whose host is `ratio` times slower (`hostScale`'s probe ratio) pays it that much longer. Counts stay as they are.
 */
export function scaleServingPath(delay: DeliveryDelayTable, ratio: number): DeliveryDelayTable {
  if (!(Number.isFinite(ratio) && ratio > 0)) {
    throw new VidurBridgeError("VIDUR_CALIBRATION_INPUT", `serving-path scale ${ratio}: expected a finite number > 0`);
  }
  const times = ["tailSPerRequest", "admissionS", "frontSPerToken", "frontSPerStep", "admissionBacklogMeanS", "frontHandoffS"] as const;
  const out: DeliveryDelayTable = { ...delay, delaysS: delay.delaysS.map((d) => d * ratio), firstTokenExtraS: delay.firstTokenExtraS * ratio };
  for (const k of times) {
    const v = delay[k];
    if (v !== undefined) out[k] = v * ratio;
  }
  return out;
}

/**
 * The table with every row's host phases (schedule, prepare, process) times `ratio`, `prepareShiftMs` added to its
 * preparation (not below 0; `HostScale`), and its overhead moved by the same amount, so its model-time bias, prefill
 * extra, jitter and terms stay as fitted. Needs the phase split (`table.phases`): without it there is no host part
 * to scale.
 */
export function scaleHostPhases(table: CpuOverheadTable, ratio: number, prepareShiftMs = 0): CpuOverheadTable {
  if (!(Number.isFinite(ratio) && ratio > 0)) {
    throw new VidurBridgeError("VIDUR_CALIBRATION_INPUT", `host scale ${ratio}: expected a finite number > 0`);
  }
  if (!Number.isFinite(prepareShiftMs)) {
    throw new VidurBridgeError("VIDUR_CALIBRATION_INPUT", `preparation shift ${prepareShiftMs} ms: expected a finite number`);
  }
  if (table.phases !== true || table.rows.some((r) => r.hostPhasesMs == null)) {
    throw new VidurBridgeError(
      "VIDUR_CALIBRATION_INPUT",
      "the overhead table has no host-phase split (its real runs carry no schedule/prepare/process phases, or no bin had enough decode-only steps): there is no host time to scale",
    );
  }
  const rows = table.rows.map((r) => {
    const h = r.hostPhasesMs!;
    const scaled = { schedule: h.schedule * ratio, prepare: Math.max(0, h.prepare * ratio + prepareShiftMs), process: h.process * ratio };
    const moved = scaled.schedule + scaled.prepare + scaled.process - (h.schedule + h.prepare + h.process);
    return { ...r, overheadMs: r.overheadMs + moved, hostPhasesMs: scaled };
  });
  return { ...table, rows };
}

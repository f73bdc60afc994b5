/**
 * `runner calibrate EXPERIMENT --fit LOAD`: the uncalibrated experiment (every load), a CPU-overhead table derived
 * from the fit load's real and simulated engine steps (@vf/vidur-bridge), every load re-simulated with it into
 * `<name>-<load>-cal` dirs, compared again, and the before/after P50/P90 TTFT and TBT errors written to
 * `tmp/comparisons/<name>-calibration/calibration.{md,json}` with the fit load marked apart from the held-out ones.
 */
import { copyFile, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { atomicWriteFile, gitSha, type Iteration, type MachineProbe, readHostProbeSize, readIterations, readMachineProbe, runDirPath } from "@vf/metrics-io";
import {
  DECODE_KV_MIN_STEPS,
  STEP_CLASS_MIN_STEPS,
  type CpuOverheadTable,
  type DecodeGrid,
  type DeliveryDelayTable,
  deliveryDelayFromRuns,
  formatCpuOverheadsCsv,
  formatDecodeGridCsv,
  type HostReference,
  type HostScale,
  type HostScaleSource,
  hostReference,
  hostScale,
  isVidurBridgeError,
  JITTER_LEVELS,
  type MachineProbeRatio,
  machineProbeRatio,
  modelTimeBiasMs,
  poolMachineProbes,
  probeSizeDiffers,
  readDecodeGrid,
  scaleHostPhases,
  scaleServingPath,
  writeCpuOverheadsFromRuns,
} from "@vf/vidur-bridge";
import { z } from "zod";
import { UsageError } from "../errors.js";
import type { Experiment } from "../experiment.js";
import { resolveFrom } from "../experiment.js";
import type { ProjectPaths } from "../paths.js";
import { log } from "../progress.js";
import { compare } from "./compare.js";
import { checkRealRuns, checkSameWorkload, runExperiment, simulationSettings } from "./run.js";
import { simulate } from "./simulate.js";
import { type CellSpread, ComparisonSpreadSchema, cellSpread, describeTally, type Tally, tally } from "./spread.js";

/** The percentiles of comparison.json this report reads (seconds). */
const Quantiles = z.object({ p50: z.number().nullable(), p90: z.number().nullable() }).passthrough();
const ComparisonMetrics = z
  .object({ metrics: z.record(z.string(), z.object({ real: Quantiles, sim: Quantiles }).passthrough()), spread: ComparisonSpreadSchema.optional() })
  .passthrough();
type ComparisonMetrics = z.infer<typeof ComparisonMetrics>;

/** One metric quantile of one load: seconds and relative error (sim − real) / real. */
export interface CalibrationCell {
  realS: number | null;
  beforeS: number | null;
  afterS: number | null;
  beforeRelErr: number | null;
  afterRelErr: number | null;
  /** With loads[].realRepeatDirs: every real run's percentile, both simulations' errors and verdicts (./spread.ts). */
  spread?: CellSpread;
}

/** One load of the report. */
export interface CalibrationLoad {
  name: string;
  role: "fit" | "held-out" | "predicted";
  realDir: string;
  /** loads[].realRepeatDirs, resolved: more recorded runs of the load, for the run-to-run spread. */
  realRepeatDirs?: string[];
  before: { simDir: string; comparisonDir: string };
  after: { simDir: string; comparisonDir: string };
  /** metric (ttft, tbt) -> quantile (p50, p90) -> cell. */
  metrics: Record<"ttft" | "tbt", Record<"p50" | "p90", CalibrationCell>>;
  /**
   * --machine-probe: the calibrated simulation's step times x `ratio`, the median over the step compositions both
   * probes timed of (this load's real-run probe p50 / the fit runs' pooled probe). Absent without the flag.
   */
  machineScale?: MachineProbeRatio;
  /**
   * --host-scale: the host phases (schedule, prepare, process) of the table this load was simulated with x `ratio`,
   * its real run's host speed over the fit's (the in-band probe, or the measured phases). Absent without the flag.
   */
  hostScale?: HostScale;
  /**
   * --path-host-scale: the delivery-delay table this load was simulated with x this (its host scale's ratio, or with
   * "slower" at least 1): the serving path outside the engine at the load's host speed. Absent without the flag.
   */
  servingPathScale?: number;
}

/** What calibrate wrote. */
export interface CalibrationOutcome {
  dir: string;
  markdownPath: string;
  jsonPath: string;
  cpuOverheadsPath: string;
  table: CpuOverheadTable;
  /** The delivery delay added to simulated token times (null: none modelled). */
  deliveryDelay: DeliveryDelayTable | null;
  loads: CalibrationLoad[];
  /** By role, the uncalibrated (before) and calibrated (after) verdicts of the cells with a spread; {} without repeats. */
  verdicts: Partial<Record<CalibrationLoad["role"], { before: Tally; after: Tally }>>;
}

/** Each role's tallies of the before and after verdicts over the cells that have a spread. */
export function verdictTallies(loads: readonly CalibrationLoad[]): CalibrationOutcome["verdicts"] {
  const out: CalibrationOutcome["verdicts"] = {};
  for (const role of ["fit", "held-out", "predicted"] as const) {
    const spreads = loads
      .filter((l) => l.role === role)
      .flatMap((l) => (["ttft", "tbt"] as const).flatMap((m) => (["p50", "p90"] as const).map((q) => l.metrics[m][q].spread)))
      .filter((c): c is CellSpread => c !== undefined);
    if (spreads.length > 0) out[role] = { before: tally(spreads.map((c) => c.beforeVerdict)), after: tally(spreads.map((c) => c.afterVerdict)) };
  }
  return out;
}

/**
 * Each cell of a load given the uncalibrated and the calibrated comparisons' spreads over its repeats (both
 * comparisons made with the load's realRepeatDirs).
 */
function withSpread(load: CalibrationLoad, before: ComparisonMetrics, after: ComparisonMetrics): void {
  const spreadOf = (c: ComparisonMetrics, dir: string) => {
    if (c.spread === undefined) throw new UsageError(`${join(dir, "comparison.json")}: no spread (the comparison was made without the load's realRepeatDirs; run calibrate again with --force)`);
    return c.spread;
  };
  const b = spreadOf(before, load.before.comparisonDir);
  const a = spreadOf(after, load.after.comparisonDir);
  for (const metric of ["ttft", "tbt"] as const) {
    for (const q of ["p50", "p90"] as const) {
      const spread = cellSpread(b, a, metric, q, load.realRepeatDirs ?? []);
      if (spread !== null) load.metrics[metric][q].spread = spread;
    }
  }
}

/**
 * The longest prompt the admission delay is read from: one that a single step prefills (half the token budget of a
 * chunking scheduler; any prompt for orca, which prefills whole prompts).
 */
export function onePrefillStep(scheduler: Experiment["scheduler"]): number {
  if (scheduler.kind === "sarathi") return Math.floor(scheduler.chunkSize / 2);
  if (scheduler.kind === "vllm") return Math.floor(scheduler.maxTokensInBatch / 2);
  return Number.POSITIVE_INFINITY;
}

/** "0.55 ms at 3 requests, ..., 3.35 ms at 116; first token +0.42 ms (from N tokens); admission 0.60 ms (...)". */
export function describeDelay(d: DeliveryDelayTable): string {
  const knots = d.batchSizes.map((b, i) => `${(d.delaysS[i]! * 1e3).toFixed(2)} ms at ${b}`).join(", ");
  const extra = d.firstTokenExtraS * 1e3;
  const tail = d.tailSPerRequest === undefined ? "" : `; past the fit load's largest batch +${(d.tailSPerRequest * 1e6).toFixed(1)} us per request (least-squares slope)`;
  const admission =
    d.admissionS === undefined
      ? ""
      : `; admission delay ${(d.admissionS * 1e3).toFixed(2)} ms on every token (held by ${(100 * (d.admissionConsistent ?? 0)).toFixed(0)} % of ${d.admissionRequests ?? 0} short requests' intervals)`;
  const backlog =
    d.frontSPerToken === undefined
      ? ""
      : d.admissionInSimulation === true
        ? `, moving each arrival inside the simulation with the front's backlog at it (--admission-in-sim: one worker serving every token at ${(d.frontSPerToken * 1e6).toFixed(1)} us${d.frontSPerStep === undefined ? "" : ` and every step at ${(d.frontSPerStep * 1e6).toFixed(0)} us`}, a step's tokens handed to it ${((d.frontHandoffS ?? 0) * 1e3).toFixed(2)} ms after the step ends)`
        : `, less the fit runs' mean front backlog ${((d.admissionBacklogMeanS ?? 0) * 1e3).toFixed(2)} ms plus each request's front backlog at its arrival (--admission-backlog: one worker serving every token at ${(d.frontSPerToken * 1e6).toFixed(1)} us${d.frontSPerStep === undefined ? "" : ` and every step at ${(d.frontSPerStep * 1e6).toFixed(0)} us, --front-per-step`})`;
  return `${knots} requests; first token ${extra >= 0 ? "+" : ""}${extra.toFixed(2)} ms (from ${d.tokens} tokens of the fit load${tail})${admission}${backlog}`;
}

const rel = (sim: number | null, real: number | null) => (sim === null || real === null || real === 0 ? null : (sim - real) / real);

/** Before/after cells from the two comparison files of one load. */
export function calibrationCells(before: ComparisonMetrics, after: ComparisonMetrics): CalibrationLoad["metrics"] {
  const cells = {} as CalibrationLoad["metrics"];
  for (const metric of ["ttft", "tbt"] as const) {
    const b = before.metrics[metric];
    const a = after.metrics[metric];
    if (b === undefined || a === undefined) throw new UsageError(`comparison.json has no "${metric}" metric (was the comparator version changed?)`);
    cells[metric] = { p50: cell(b, a, "p50"), p90: cell(b, a, "p90") };
  }
  return cells;
}

function cell(b: { real: z.infer<typeof Quantiles>; sim: z.infer<typeof Quantiles> }, a: typeof b, q: "p50" | "p90"): CalibrationCell {
  const realS = b.real[q];
  return { realS, beforeS: b.sim[q], afterS: a.sim[q], beforeRelErr: rel(b.sim[q], realS), afterRelErr: rel(a.sim[q], realS) };
}

const ms = (s: number | null) => (s === null ? "–" : (s * 1e3).toFixed(2));
const pct = (r: number | null) => (r === null ? "–" : `${r >= 0 ? "+" : ""}${(r * 100).toFixed(1)}%`);

/** The Markdown report: the before/after table (fit load first, held-out after) and the derived overhead table. */
export function formatCalibrationMd(args: {
  experiment: string;
  fitLoad: string;
  command: string;
  table: CpuOverheadTable;
  loads: CalibrationLoad[];
  frozenFrom?: string;
  deliveryDelay?: DeliveryDelayTable | null;
  /** More real runs of the fit load pooled with its own (--fit-also). */
  fitAlso?: string[];
}): string {
  const lines = [
    args.frozenFrom === undefined
      ? `# Calibration of ${args.experiment}: per-step correction and delivery delay fitted on load ${args.fitLoad}`
      : `# Prediction of ${args.experiment} with the calibration frozen from ${args.frozenFrom} (fit on its load ${args.fitLoad})`,
    "",
    `Command: \`${args.command}\``,
    "",
    ...(args.fitAlso !== undefined && args.fitAlso.length > 0
      ? [`Fit on ${args.fitAlso.length + 1} real runs of load ${args.fitLoad}, steps pooled: its own and ${args.fitAlso.join(", ")}.`, ""]
      : []),
    "Relative error = (sim − real) / real of the percentile; target |error| ≤ 5% on held-out loads (issue 10).",
    "",
    "| load | role | metric | real ms | uncalibrated ms | error | calibrated ms | error |",
    "|---|---|---|---|---|---|---|---|",
  ];
  const ordered = [...args.loads.filter((l) => l.role === "fit"), ...args.loads.filter((l) => l.role !== "fit")];
  for (const l of ordered) {
    for (const metric of ["ttft", "tbt"] as const) {
      for (const q of ["p50", "p90"] as const) {
        const c = l.metrics[metric][q];
        lines.push(`| ${l.name} | ${l.role} | ${metric.toUpperCase()} ${q.toUpperCase()} | ${ms(c.realS)} | ${ms(c.beforeS)} | ${pct(c.beforeRelErr)} | ${ms(c.afterS)} | ${pct(c.afterRelErr)} |`);
      }
    }
  }
  lines.push(...describeSpread(ordered));
  const scaled = ordered.filter((l) => l.machineScale !== undefined);
  if (scaled.length > 0) {
    lines.push(
      "",
      "Machine probe (--machine-probe): every simulated step of a load x the median ratio of its real run's probe to the fit runs' pooled probe (step compositions both timed).",
      "",
      "| load | compositions | step-time scale | range |",
      "|---|---|---|---|",
      ...scaled.map((l) => {
        const m = l.machineScale!;
        return `| ${l.name} | ${m.compositions} | ${m.ratio.toFixed(4)} | ${m.min.toFixed(3)}-${m.max.toFixed(3)} |`;
      }),
    );
  }
  const hosted = ordered.filter((l) => l.hostScale !== undefined);
  if (hosted.length > 0) {
    const source = hosted[0]!.hostScale!.source;
    lines.push(
      "",
      source === "probe"
        ? "Host scale (--host-scale probe): each load simulated with the table's host phases (schedule, prepare, process) x its real run's in-band host probe level over the fit's: a prediction conditioned on how fast the host's CPU was during the run."
        : "Host scale (--host-scale phases): each load simulated with the table's host phases x its real run's own measured host time over the fit's at the same batch sizes. This reads the very host time being predicted: attribution (what is left once the host's speed is known), not a prediction.",
      "",
    );
    // The preparation shift's column only where a size-aware scale set one (another configuration's probe).
    const withShift = hosted.some((l) => l.hostScale!.prepareShiftMs !== undefined);
    lines.push(
      `| load | steps | host scale |${withShift ? " preparation shift (ms) |" : ""}`,
      withShift ? "|---|---|---|---|" : "|---|---|---|",
      ...hosted.map((l) => {
        const h = l.hostScale!;
        return `| ${l.name} | ${h.steps} | ${h.ratio.toFixed(4)} |${withShift ? ` ${(h.prepareShiftMs ?? 0).toFixed(4)} |` : ""}`;
      }),
    );
    if (hosted.some((l) => l.servingPathScale !== undefined)) {
      lines.push(
        "",
        "Serving path at the host's speed (--path-host-scale): each load's delivery delays, admission constant, the front's per-token and per-step times and the hand-over x the same host scale (all of it CPU work on the server's host, fitted at the fit runs' speed), or x 1 where that scale is below 1 with `slower`:",
        "",
        "| load | serving path x |",
        "|---|---|",
        ...hosted.filter((l) => l.servingPathScale !== undefined).map((l) => `| ${l.name} | ${l.servingPathScale!.toFixed(4)} |`),
      );
    }
    const differ = hosted.filter((l) => probeSizeDiffers(l.hostScale!));
    const shifted = differ.filter((l) => l.hostScale!.prepareShiftMs !== undefined);
    const plain = differ.filter((l) => l.hostScale!.prepareShiftMs === undefined);
    if (shifted.length > 0) {
      const sizes = shifted.map((l) => `${l.name} ${l.hostScale!.probeInts}`).join(", ");
      lines.push(
        "",
        `The probe's size differs from the fit's (${shifted[0]!.hostScale!.referenceProbeInts} ints: 3 x the step token limit + the slots) on ${sizes}: another token budget or batch cap. The probe times the conversion of the step's whole input list, so those loads' host scale is the ratio of the two levels per int (the host's speed), and their preparation carries their own list's conversion (their probe level) in place of the fit's scaled one: the shift column (--no-probe-size: the plain level ratio).`,
      );
    }
    if (plain.length > 0) {
      const sizes = plain.map((l) => `${l.name} ${l.hostScale!.probeInts}`).join(", ");
      lines.push(
        "",
        `Warning: the probe's size differs from the fit's (${plain[0]!.hostScale!.referenceProbeInts} ints: 3 x the step token limit + the slots) on ${sizes}: another token budget or batch cap. The probe's time grows with its size, and so does part of the step's input preparation, so these plain level ratios (--no-probe-size) mix the host's speed with the configuration; leave the flag out to read the probe per int.`,
      );
    }
  }
  const t = args.table;
  const delay = args.deliveryDelay ?? null;
  lines.push(
    "",
    delay !== null
      ? `Delivery delay added to every simulated token time (Vidur models no HTTP/SSE path), by the batch size of the step that produced the token: ${describeDelay(delay)}.`
      : "Delivery delay: none modelled.",
    "",
    `## Derived per-step correction (${t.mode} mode, from ${t.realSteps} real steps; signed: positive = host overhead the profile does not see, negative = step time the profile over-predicts)`,
    "",
    `Vidur per-step time fitted on ${t.model.steps} simulated steps: ${t.model.interceptMs.toFixed(3)} ms + ${t.model.perPrefillTokenMs.toFixed(5)} ms/prefill token + ${t.model.perDecodeTokenMs.toFixed(5)} ms/decode token.`,
    "",
    describePrefix(t.prefix),
    "",
    describeStepSize(t.stepSize),
    "",
    describeInterStepGap(t.interStepGap),
    "",
    describeHostSpeed(t.hostSpeed),
    "",
    describeDecodeKv(t.decodeKv),
    "",
    describeDecodeGrid(t.decodeGrid),
    "",
    t.binMisfit === true
      ? t.misfitBySize === true
        ? "Each bin's residual is corrected by the model's misfit there, taken at the fit's real batch sizes (--misfit-by-size): (Vidur's own prediction − the line) over the simulated steps of that kind per exact batch size, summarized like the residuals, filled between sizes and averaged over the bin's real steps of that kind (the sidecar adds the correction to Vidur's prediction, not to the line)."
        : "Each bin's residual is corrected by the model's misfit there: (Vidur's own prediction − the line) over the simulated steps of that kind and bin, summarized like the residuals (the sidecar adds the correction to Vidur's prediction, not to the line)."
      : "Residuals against the line alone (no per-bin misfit correction).",
    "",
    `| batch sizes | knot | decode-only steps | ${t.statistic ?? "median"} residual ms | misfit ms | mixed steps | ${t.statistic ?? "median"} residual ms | misfit ms | overhead ms | prefill extra ms |`,
    "|---|---|---|---|---|---|---|---|---|---|",
  );
  t.bins.forEach((b, i) => {
    const r = t.rows[i]!;
    const f = (v: number | null | undefined) => (v === null || v === undefined ? "–" : v.toFixed(2));
    lines.push(
      `| ${b.minBatchSize}-${b.maxBatchSize} | ${b.batchSize} | ${b.decodeSteps} | ${f(b.decodeResidualMs)} | ${f(b.decodeMisfitMs)} | ${b.mixedSteps} | ${f(b.mixedResidualMs)} | ${f(b.mixedMisfitMs)} | ${r.overheadMs.toFixed(2)} | ${r.prefillExtraMs.toFixed(2)} |`,
    );
  });
  for (const r of t.rows.slice(t.bins.length)) {
    lines.push(`| tail | ${r.batchSize} | – | – | – | – | – | – | ${r.overheadMs.toFixed(2)} | ${r.prefillExtraMs.toFixed(2)} |`);
  }
  const phases = describePhases(t);
  if (phases.length > 0) lines.push("", ...phases);
  const j = t.rows.find((r) => r.jitterMs !== null && r.jitterMs !== undefined);
  if (j !== undefined) {
    const mid = t.rows[Math.floor(t.bins.length / 2)]!;
    lines.push(
      "",
      `Step-time jitter written (one seeded draw per simulated step from the fit load's decode-only residuals around each bin's overhead): at batch ${mid.batchSize}, quantiles ${JITTER_LEVELS.map((q, i) => `q${Math.round(q * 100)} ${mid.jitterMs![i]!.toFixed(2)}`).join(", ")} ms.`,
    );
  }
  const tail = describeTail(t);
  if (tail !== null) lines.push("", tail);
  return `${lines.join("\n")}\n`;
}

/**
 * calibration.md's run-to-run section (loads with realRepeatDirs): every cell's real runs, their spread, both
 * simulations' errors against the load's own run and the range against all runs, the verdicts, and each role's tally.
 */
export function describeSpread(loads: readonly CalibrationLoad[]): string[] {
  const rows: string[] = [];
  const runsOf = new Set<number>();
  for (const l of loads) {
    for (const metric of ["ttft", "tbt"] as const) {
      for (const q of ["p50", "p90"] as const) {
        const c = l.metrics[metric][q];
        const s = c.spread;
        if (s === undefined) continue;
        runsOf.add(s.runs);
        const errs = (own: number | null, key: "beforeRelErr" | "afterRelErr") => {
          const all = [own, ...s.repeats.map((r) => r[key])].filter((e): e is number => e !== null);
          return all.length === 0 ? "–" : `${pct(own)} (${pct(Math.min(...all))}..${pct(Math.max(...all))})`;
        };
        rows.push(
          `| ${l.name} | ${l.role} | ${metric.toUpperCase()} ${q.toUpperCase()} | ${s.runs} | ${ms(s.minS)}-${ms(s.maxS)} | ${(100 * s.rel).toFixed(1)}% | ${errs(c.beforeRelErr, "beforeRelErr")} | ${s.beforeVerdict ?? "–"} | ${errs(c.afterRelErr, "afterRelErr")} | ${s.afterVerdict ?? "–"} |`,
        );
      }
    }
  }
  if (rows.length === 0) return [];
  const tallies = verdictTallies(loads);
  return [
    "",
    `Run-to-run spread (loads[].realRepeatDirs: ${[...runsOf].sort((a, b) => a - b).join(" or ")} recorded real runs of a load, its own first): each cell's real percentile over the runs (min-max, and (max − min) / mean), both simulations' error against the load's own run with the range against every run in brackets, and a verdict: 5% = within 5 % of the load's own run, band = inside the runs' range widened by 5 % on either side (an error inside the noise), off = neither.`,
    "",
    "| load | role | metric | real runs | real ms (min-max) | spread | uncalibrated error (range) | verdict | calibrated error (range) | verdict |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...rows,
    "",
    ...Object.entries(tallies).map(([role, t]) => `- ${role} cells: calibrated ${describeTally(t.after)}; uncalibrated ${describeTally(t.before)}.`),
  ];
}

/** calibration.md's sentence on the tail rows past the fit load's largest batch; null when not extended. */
export function describeTail(t: CpuOverheadTable): string | null {
  if (t.tail === null || t.tail === undefined) return null;
  const perRequest = `${(t.tail.hostMsPerRequest * 1e3).toFixed(1)} us`;
  const m = t.tail.measured;
  if (m !== undefined) {
    const sign = (v: number) => `${v >= 0 ? "+" : ""}${v.toFixed(3)}`;
    const bins = m.bins.map((b) => `${b.minBatchSize}-${b.maxBatchSize} (${b.steps} steps, row at ${b.batchSize}): ${sign(b.residualGrowthMs)} ms, host ${sign(b.hostGrowthMs)}`);
    return `Tail rows (past the fit load's largest batch, up to the scheduler's batch cap) measured on the --tail-from runs' ${m.steps} decode-only steps against the decode grid, their host phases taken like the fit's: the last knot's overhead and host phases plus each bin's growth over the steps of ${m.anchor.minBatchSize}-${m.anchor.maxBatchSize} requests around the last knot (${m.anchor.steps} steps: residual ${m.anchor.residualMs.toFixed(3)} ms, host ${m.anchor.hostMs.toFixed(3)} ms); ${bins.join("; ")}; the prefill extra and jitter held at the last knot's, the cap at the last measured row.`;
  }
  if (t.tail.level === true) {
    return `Tail rows (past the fit load's largest batch, up to the scheduler's batch cap): the overhead held at the last knot's (--host-tail level), its host phases growing by ${perRequest} per request (each phase's slope on batch size over the decode-only steps, held at 0 when negative) and the model-time bias taking the difference: the level at the fit's host speed is the flat tail's, a load at another host speed scales the grown host part.`;
  }
  if (t.tail.flat === true) {
    return "Tail rows (past the fit load's largest batch, up to the scheduler's batch cap): every column held at the last knot's value (--host-tail flat): the step's whole correction stops growing past the fit's batches.";
  }
  return t.tail.hostSlopeFrom === "phases"

        ? `Tail rows (past the fit load's largest batch, up to the scheduler's batch cap): the last knot's overhead plus the real engine's host time per request, ${perRequest} (the sum of the schedule, prepare and process phases' slopes on batch size over the decode-only steps${(t.tail.slopeFromBatchSize ?? 1) > 1 ? ` of ${t.tail.slopeFromBatchSize} requests or more` : ""}, each held at 0 when negative; wall - GPU time would miss the input preparation, which the server's GPU-time window holds); the model-time bias stays at the last knot's.`
        : `Tail rows (past the fit load's largest batch, up to the scheduler's batch cap): the last knot's overhead plus the real engine's host time per request, ${perRequest} (least-squares line of wall - GPU time on batch size over ${t.tail.stepsWithGpuTime} steps: ${t.tail.hostInterceptMs.toFixed(3)} ms + ${perRequest} per request).`;
}

/**
 * calibration.md's phase section: where the fit load's real steps spent their wall time, per bin (the engine's
 * recorded phases), and how each row's overhead is written as Vidur's columns. Empty when the real run has no phases.
 */
export function describePhases(t: CpuOverheadTable): string[] {
  if (t.phases === undefined) return [];
  if (!t.phases) return ["Step phases: recorded, but no batch-size bin had enough decode-only steps to split the overhead; written as one schedule_median column."];
  const f = (v: number | null | undefined) => (v === null || v === undefined ? "–" : v.toFixed(3));
  const lines = [
    "Step phases (the real engine's own timeline, ms per step, summarized like the residuals): schedule = the scheduler choosing the batch, prepare = the host building the step's inputs and launching it (the GPU idle meanwhile), wait = the host waiting on the device for the sampled ids, process = handing out the tokens. Each row's overhead is written as Vidur's `schedule_median`, `prepare_inputs_e2e_median` and `process_model_outputs_median` (these three measured on decode-only steps) plus `model_time_bias_median`, the rest (the wait beyond Vidur's predicted model time); no `sampler_e2e_median`: the engine samples inside its CUDA graph, so sampling is in the wait.",
    "",
    "| batch sizes | decode-only: schedule | prepare | wait | process | mixed: schedule | prepare | wait | process | written: schedule | prepare_inputs | process_outputs | model-time bias |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  t.bins.forEach((b, i) => {
    const d = b.decodePhasesMs ?? null;
    const m = b.mixedPhasesMs ?? null;
    const r = t.rows[i]!;
    const h = r.hostPhasesMs ?? null;
    const bias = modelTimeBiasMs(r);
    lines.push(
      `| ${b.minBatchSize}-${b.maxBatchSize} | ${f(d?.schedule)} | ${f(d?.prepare)} | ${f(d?.wait)} | ${f(d?.process)} | ${f(m?.schedule)} | ${f(m?.prepare)} | ${f(m?.wait)} | ${f(m?.process)} | ${f(h?.schedule)} | ${f(h?.prepare)} | ${f(h?.process)} | ${f(bias)} |`,
    );
  });
  const slopes = t.tail?.phaseMsPerRequest;
  if (slopes !== undefined && t.tail?.flat !== true) {
    const us = (v: number) => `${(v * 1e3).toFixed(1)} us`;
    const from = t.tail?.slopeFromBatchSize ?? 1;
    const over = from > 1 ? `the decode-only steps of ${from} requests or more (the two largest bins; --host-tail upper)` : "the decode-only steps";
    const bias = t.tail?.level === true ? "; their overhead held at the last knot's, so the model-time bias falls by as much (--host-tail level)" : "";
    lines.push("", `Tail rows continue each host phase along its own line on batch size over ${over}: schedule ${us(slopes.schedule)}, prepare ${us(slopes.prepare)}, process ${us(slopes.process)} per request (negative slopes held at the last knot)${bias}.`);
  }
  return lines;
}

/** The step-size term's line of calibration.md. */
export function describeStepSize(c: CpuOverheadTable["stepSize"]): string {
  if (c === undefined) return "Step-size term: off (runner calibrate --step-size-term fits it).";
  if (c === null) return `Step-size term: not identified (fewer than two classes of tokens per mixed step had ${STEP_CLASS_MIN_STEPS} mixed steps of the fit load, real and simulated).`;
  const sign = (v: number) => `${v >= 0 ? "+" : ""}${v.toFixed(2)}`;
  const classes = c.boundsTokens.flatMap((b, j) => {
    const r = c.realMs[j];
    const s = c.simMs[j];
    if (r === null || r === undefined || s === null || s === undefined) return [];
    return [`<= ${b} tokens (${c.realSteps[j]} real steps): real ${sign(r)}, Vidur ${sign(s)}, added ${sign(c.correctionMs[j]!)}`];
  });
  return `Step-size term: a mixed step's departure by the class of its token count (prefill + decode), relative to the class <= ${c.referenceTokens} tokens (within batch-size bins jointly with the prefix term), in ms: ${classes.join("; ")}; the classes without ${STEP_CLASS_MIN_STEPS} steps on both sides take the nearest identified values (interpolated between them), and the prefill extras below are at the reference class.`;
}

/** The inter-step gap's line of calibration.md. */
export function describeInterStepGap(g: CpuOverheadTable["interStepGap"]): string {
  if (g === undefined) return "Inter-step gap: off (runner calibrate --inter-step-gap folds the engine loop's time between steps into the real steps): the residuals take each real step's end - start alone.";
  return `Inter-step gap: the engine loop's time between a step and the next while requests remain (handing out the step's tokens, taking in new requests), ${g.meanMs.toFixed(3)} ms mean, ${g.medianMs.toFixed(3)} ms median over ${g.gaps} gaps, is folded into the next step (its start moved back, its schedule phase longer) before the residuals: Vidur's steps run back to back.`;
}

/** The per-step host speed's line of calibration.md. */
export function describeHostSpeed(h: CpuOverheadTable["hostSpeed"]): string {
  if (h === undefined) return "Host speed per step: off (runner calibrate --step-host-speed takes every fit step's host phases at one speed): each bin holds its steps' host phases at whatever speed the CPU ran then.";
  return `Host speed per step: every fit step's schedule, prepare and process phases taken at the probe level ${h.referenceProbeMs.toFixed(4)} ms, multiplied by it over the median in-band probe of the ${h.halfWindowSteps} steps on either side (the CPU's speed then), the step's end moved by the host time removed: factors ${h.factorQ10.toFixed(3)} / ${h.factorQ50.toFixed(3)} / ${h.factorQ90.toFixed(3)} (10th / 50th / 90th percentile) over ${h.scaledSteps} steps${h.unscaledSteps > 0 ? `, ${h.unscaledSteps} left as measured (no phases or no probe near them)` : ""}.${h.jitter === true ? " The jitter columns keep the host time so removed (each step's, less its bin's centre: --speed-jitter), so the simulated steps vary with the CPU's stretches as the fit's did." : ""}`;
}

/** The decode KV term's line of calibration.md. */
export function describeDecodeKv(k: CpuOverheadTable["decodeKv"]): string {
  if (k === undefined) return "Decode KV term: off (runner calibrate --decode-kv-term fits it).";
  if (k === null) return `Decode KV term: not identified (fewer than ${DECODE_KV_MIN_STEPS} decode-only steps with a KV count in groups of one batch size, real or simulated).`;
  const us = (v: number) => `${v >= 0 ? "+" : ""}${(v * 1e3).toFixed(1)} us`;
  return `Decode KV term: at one batch size a decode-only step's ${k.realFrom === "wait" ? "wait on the device" : "time"} grows ${us(k.realMsPerKToken)} (± ${(k.realStandardErrorMsPerKToken * 1e3).toFixed(1)}) per 1,000 KV tokens on the real engine (${k.realSteps} steps) and Vidur's predicted step ${us(k.simMsPerKToken)} (${k.simSteps} steps; slopes within exact batch sizes); the difference, ${us(k.msPerKToken)} per 1,000 KV tokens, is added to every simulated decode-only step times its KV, and the decode-only corrections below are at zero KV.`;
}

/** The decode grid's line of calibration.md. */
export function describeDecodeGrid(g: CpuOverheadTable["decodeGrid"]): string {
  if (g === undefined) return "Decode grid: off (runner calibrate --decode-grid FILE takes the decode-only steps from the engine's measured decode step).";
  const batches = [...new Set(g.points.map((p) => p.batch))].sort((a, b) => a - b);
  const means = g.points.map((p) => p.kvTokens / p.batch);
  return `Decode grid: every decode-only step's residual taken against the engine's measured decode step (${g.source}: ${g.points.length} points, batches ${batches[0]}-${batches.at(-1)}, ${Math.round(Math.min(...means))}-${Math.round(Math.max(...means))} KV tokens a request), not Vidur's prediction; every simulation of this table takes a decode-only step's time from that grid (decode_grid.csv beside it) plus the decode rows below, so those hold only the host phases and the served step's difference from the isolated one.`;
}

/** The prefill-prefix term's line of calibration.md. */
export function describePrefix(p: CpuOverheadTable["prefix"]): string {
  if (p === undefined) return "Prefill-prefix term: off (--no-prefix-term).";
  if (p === null) return "Prefill-prefix term: not identified (fewer than 20 mixed steps of the fit load, real or simulated, had a chunk after part of its prompt).";
  const sign = (v: number) => `${v >= 0 ? "+" : ""}${v.toFixed(2)}`;
  return `Prefill-prefix term: a chunk step's time grows by ${sign(p.realMsPerMPair)} ms (± ${p.realStandardErrorMsPerMPair.toFixed(2)}) per million (chunk token, earlier prompt token) pairs on the real engine and by ${sign(p.simMsPerMPair)} ms in Vidur (slopes of ${p.mixedSteps} mixed steps' residuals within batch-size bins; each step's chunks reconstructed first come first served from its prefill tokens); the difference, ${sign(p.msPerMPair)} ms per million pairs, is added to every simulated step times its pairs, and the prefill extras below are at zero prefix.`;
}

async function readComparison(dir: string): Promise<ComparisonMetrics> {
  const path = join(dir, "comparison.json");
  const parsed = ComparisonMetrics.safeParse(JSON.parse(await readFile(path, "utf8")));
  if (!parsed.success) throw new UsageError(`${path}: unexpected comparison.json (${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")})`);
  return parsed.data;
}

/** Runs the calibration; `force` also redoes the uncalibrated steps (the calibrated ones are always redone). */
export async function calibrate(
  experiment: Experiment,
  ctx: {
    baseDir: string;
    paths: ProjectPaths;
    /** The load to fit on; or frozenDir: an earlier calibration dir whose overhead table is applied unchanged. */
    fitLoad?: string;
    /** More recorded real runs of the (single) fit load, e.g. repeats and other server starts: pooled with its own. */
    fitAlso?: string[];
    frozenDir?: string;
    mode?: "split" | "single";
    statistic?: "mean" | "median";
    /** Write the step-time jitter columns (default true). */
    jitter?: boolean;
    /** Correct each bin by the linear model's misfit to Vidur's own predictions there (default true). */
    binMisfit?: boolean;
    /** Take that misfit at the fit's real batch sizes (default false; @vf/vidur-bridge's `misfitBySize`). --fit only. */
    misfitBySize?: boolean;
    /** The engine's measured decode step (a decode grid CSV; @vf/vidur-bridge's `decodeGrid`). --fit only. */
    decodeGrid?: string;
    /** Fit the prefill-prefix term (default true; @vf/vidur-bridge's `prefixTerm`). */
    prefixTerm?: boolean;
    /** Fit the step-size term (default false; @vf/vidur-bridge's `stepSizeTerm`). */
    stepSizeTerm?: boolean;
    /** Fold the real runs' inter-step gaps into their steps before the fit (default false; @vf/vidur-bridge's `interStepGap`). */
    interStepGap?: boolean;
    /**
     * Take every fit step's host phases at the fit's host reference speed before the fit, by the in-band probes around
     * it (default false; @vf/vidur-bridge's `normalizeHostSpeed`). --fit only.
     */
    stepHostSpeed?: boolean;
    /** With stepHostSpeed: keep in the jitter the host time each fit step's scaling took out (bridge `hostSpeed.jitter`). --fit only. */
    speedJitter?: boolean;
    /** Which decode-only steps the tail's host slopes are fitted on (default "all"; @vf/vidur-bridge's `tailSlope`). --fit only. */
    hostTail?: "all" | "upper" | "flat" | "level";
    /**
     * Real runs on the fit's server whose batches reach past the fit load's: the table's tail measured on their
     * decode-only steps against the decode grid (@vf/vidur-bridge's `tailFrom`). --fit with decodeGrid only.
     */
    tailFrom?: string[];
    /** Fit the decode KV term (default false; @vf/vidur-bridge's `decodeKvTerm`). --fit only. */
    decodeKvTerm?: boolean;
    minStepsPerBin?: number;
    /** Model the fit load's delivery delay (default true); a frozen fit keeps the one it was made with. */
    deliveryDelay?: boolean;
    /** With the delivery delay, model the fit load's admission delay too (default true). */
    admissionDelay?: boolean;
    /**
     * Make the admission delay grow with the server front's backlog (default false; @vf/vidur-bridge's
     * `deliveryDelayFromRuns` `admissionBacklog`); a frozen fit keeps what its calibration recorded.
     */
    admissionBacklog?: boolean;
    /**
     * With admissionBacklog, the front's worker pays a time per step as well as per token: the per-token time from the
     * fit runs' steps' spread, the per-step time fitted on their delays (@vf/vidur-bridge's `frontTokenSpread`). --fit only.
     */
    frontPerStep?: boolean;
    /**
     * With admissionBacklog, the admission delay moves each arrival inside the simulation (the sidecar's front gate)
     * instead of the token times after it (@vf/vidur-bridge `deliveryDelayFromRuns` inSimulation). --fit only.
     */
    admissionInSim?: boolean;
    /**
     * Scale each load's calibrated step times by its real run's machine probe over the fit runs' pooled probe
     * (server_run.json's machine_probe; a frozen fit uses the pooled probe its calibration.json recorded).
     */
    machineProbe?: boolean;
    /**
     * Scale each load's table's host phases by its real run's host speed over the fit runs' (`HostScaleSource`:
     * "probe", the in-band probe; "phases", the run's own host phases, attribution only). A frozen fit uses the
     * reference its calibration.json recorded.
     */
    hostScale?: HostScaleSource;
    /**
     * With --host-scale probe, read a probe of another size than the fit's as the conversion of that configuration's
     * input list (default true; @vf/vidur-bridge `hostScale`'s sizeAware); false: the plain level ratio.
     */
    probeSize?: boolean;
    /**
     * With hostScale, each load's delivery-delay table (delivery delays, admission constant, the front's times, the
     * hand-over) x its host scale's ratio (@vf/vidur-bridge `scaleServingPath`): the serving path at the load's host
     * speed; "slower": x max(1, ratio), only a host slower than the fit's.
     */
    pathHostScale?: "ratio" | "slower";
    force?: boolean;
    signal?: AbortSignal;
    command: string;
  },
): Promise<CalibrationOutcome> {
  const { paths } = ctx;
  if ((ctx.fitLoad === undefined) === (ctx.frozenDir === undefined)) throw new UsageError("calibrate: give exactly one of --fit <load> and --frozen <dir>");
  const fitNames = ctx.fitLoad === undefined ? [] : ctx.fitLoad.split(",").map((n) => n.trim());
  for (const name of fitNames) {
    if (!experiment.loads.some((l) => l.name === name)) {
      throw new UsageError(`--fit ${ctx.fitLoad}: ${JSON.stringify(name)} is not a load of experiment ${experiment.name} (loads: ${experiment.loads.map((l) => l.name).join(", ")})`);
    }
  }
  if (fitNames.length >= experiment.loads.length && experiment.loads.length > 1) {
    throw new UsageError(`--fit ${ctx.fitLoad}: every load is a fit load; leave at least one held out`);
  }
  const fitAlso = ctx.fitAlso ?? [];
  if (fitAlso.length > 0 && (ctx.frozenDir !== undefined || fitNames.length !== 1)) {
    throw new UsageError("--fit-also: give it with exactly one --fit load (the runs are more recordings of that load)");
  }
  if (ctx.frozenDir !== undefined) {
    const shaping = [ctx.stepHostSpeed === true ? "--step-host-speed" : null, ctx.speedJitter === true ? "--speed-jitter" : null, ctx.hostTail !== undefined ? "--host-tail" : null, ctx.decodeKvTerm === true ? "--decode-kv-term" : null].filter((f) => f !== null);
    if (ctx.frontPerStep === true) shaping.push("--front-per-step");
    if (ctx.admissionInSim === true) shaping.push("--admission-in-sim");
    if (ctx.misfitBySize === true) shaping.push("--misfit-by-size");
    if (ctx.decodeGrid !== undefined) shaping.push("--decode-grid");
    if (ctx.tailFrom !== undefined) shaping.push("--tail-from");
    if (shaping.length > 0) throw new UsageError(`${shaping[0]}: shapes the table a fit writes; with --frozen the frozen table is used as is (give it to the --fit that made it)`);
  }
  if (ctx.speedJitter === true && ctx.frozenDir === undefined && ctx.stepHostSpeed !== true) {
    throw new UsageError("--speed-jitter: keeps in the jitter the host time --step-host-speed takes out of the fit's steps; give it with --step-host-speed");
  }
  if (ctx.speedJitter === true && ctx.jitter === false) throw new UsageError("--speed-jitter: widens the jitter columns; leave out --no-jitter");
  if (ctx.decodeGrid !== undefined && ctx.decodeKvTerm === true) {
    throw new UsageError("--decode-grid: not with --decode-kv-term (the grid holds the decode step's growth with KV)");
  }
  if (ctx.tailFrom !== undefined && ctx.frozenDir === undefined) {
    if (ctx.decodeGrid === undefined) throw new UsageError("--tail-from: takes the tail runs' decode-only steps against the engine's decode grid; give it with --decode-grid");
    if (ctx.hostTail !== undefined) throw new UsageError(`--tail-from: measures the tail; not with --host-tail ${ctx.hostTail}`);
    if (ctx.tailFrom.length === 0) throw new UsageError("--tail-from: give at least one real run dir");
    await checkRealRuns("--tail-from", ctx.tailFrom);
  }
  let decodeGrid: DecodeGrid | undefined;
  if (ctx.decodeGrid !== undefined) {
    try {
      decodeGrid = await readDecodeGrid(ctx.decodeGrid);
    } catch (err) {
      if (isVidurBridgeError(err)) throw new UsageError(`--decode-grid: ${err.message}`);
      throw err;
    }
  }
  const frozen = ctx.frozenDir === undefined ? undefined : await readFrozen(ctx.frozenDir);
  const machineProbe = ctx.machineProbe === true;
  if (machineProbe && frozen !== undefined && frozen.machineProbe === null) {
    throw new UsageError(
      `--machine-probe: the frozen calibration ${ctx.frozenDir} was made without --machine-probe (its calibration.json has no machine_probe); recalibrate it with --fit ... --machine-probe or leave the flag out`,
    );
  }
  const hostSource = ctx.hostScale;
  if (hostSource !== undefined && frozen !== undefined && frozen.hostReference?.source !== hostSource) {
    throw new UsageError(
      `--host-scale ${hostSource}: the frozen calibration ${ctx.frozenDir} was made ${frozen.hostReference === null ? "without --host-scale" : `with --host-scale ${frozen.hostReference.source}`} (its calibration.json's host_reference); recalibrate it with --fit ... --host-scale ${hostSource} or leave the flag out`,
    );
  }
  if (ctx.pathHostScale !== undefined && (hostSource === undefined || ctx.deliveryDelay === false || (frozen !== undefined && frozen.deliveryDelay === null))) {
    throw new UsageError(
      hostSource === undefined
        ? "--path-host-scale: scales the serving path by each load's host scale; give it with --host-scale"
        : ctx.deliveryDelay === false
          ? "--path-host-scale: scales the delivery delay; leave out --no-delivery-delay"
          : `--path-host-scale: the frozen calibration ${ctx.frozenDir} has no delivery delay to scale (made with --no-delivery-delay)`,
    );
  }
  if (ctx.frontPerStep === true && ctx.admissionBacklog !== true) {
    throw new UsageError("--front-per-step: shapes the front's backlog; give it with --admission-backlog");
  }
  if (ctx.admissionInSim === true && ctx.admissionBacklog !== true) {
    throw new UsageError("--admission-in-sim: moves the front's backlog into the simulation; give it with --admission-backlog");
  }
  if (ctx.admissionBacklog === true) {
    if (ctx.deliveryDelay === false || ctx.admissionDelay === false) {
      throw new UsageError("--admission-backlog: needs the delivery and admission delays (leave out --no-delivery-delay and --no-admission-delay)");
    }
    if (frozen !== undefined && frozen.deliveryDelay?.frontSPerToken === undefined) {
      throw new UsageError(
        `--admission-backlog: the frozen calibration ${ctx.frozenDir} was made without it (its calibration.json's delivery_delay has no frontSPerToken); recalibrate it with --fit ... --admission-backlog or leave the flag out`,
      );
    }
  }
  log("calibrate: uncalibrated experiment");
  const before = await runExperiment(experiment, {
    baseDir: ctx.baseDir,
    paths,
    command: ctx.command,
    ...(ctx.force !== undefined ? { force: ctx.force } : {}),
    ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
  });
  if (before.loads.length !== experiment.loads.length) throw new UsageError("calibrate: the uncalibrated experiment stopped early (interrupted?)");
  const dir = runDirPath(paths.root, "comparison", `${experiment.name}-${frozen === undefined ? "calibration" : "prediction"}`);
  const cpuOverheadsPath = join(dir, "cpu_overheads.csv");
  let table: CpuOverheadTable;
  let deliveryDelay: DeliveryDelayTable | null = frozen?.deliveryDelay ?? null;
  // The fit loads' real runs and the --fit-also ones (none with --frozen).
  const fits = before.loads.filter((l) => fitNames.includes(l.name));
  if (fitAlso.length > 0) await checkSameWorkload(fits[0]!, fitAlso);
  // Each load's repeats (the run-to-run spread; runExperiment checked them before the load ran).
  const repeatDirs = new Map<string, string[]>();
  for (const spec of experiment.loads) {
    if (spec.realRepeatDirs !== undefined) repeatDirs.set(spec.name, spec.realRepeatDirs.map((d) => resolveFrom(ctx.baseDir, d)));
  }
  const fitReal = [...fits.map((f) => f.realDir), ...fitAlso];
  // --machine-probe: the fit probe and every load's scale, read before anything is written (a missing probe is a usage error).
  let fitProbe: Record<string, number> | null = null;
  const scales = new Map<string, MachineProbeRatio>();
  if (machineProbe) {
    if (frozen !== undefined) {
      fitProbe = frozen.machineProbe!;
      log(`calibrate: machine probe: the frozen calibration's pooled fit probe (${Object.keys(fitProbe).length} compositions)`);
    } else {
      fitProbe = await fitProbeOf(fitReal);
      log(`calibrate: machine probe: fit probe pooled from ${fitReal.length} real run${fitReal.length === 1 ? "" : "s"} (${Object.keys(fitProbe).length} compositions)`);
    }
    for (const l of before.loads) scales.set(l.name, await machineScaleOf(fitProbe, l.name, l.realDir));
  }
  // --host-scale: the fit's host reference and every load's ratio to it, read before anything is written.
  let hostRef: HostReference | null = null;
  const hostScales = new Map<string, HostScale>();
  if (hostSource !== undefined) {
    hostRef = frozen !== undefined ? frozen.hostReference! : await hostReferenceOf(hostSource, fitReal);
    for (const l of before.loads) {
      const scale = await hostScaleOf(hostRef, l.realDir, `--host-scale ${hostSource}: load ${l.name} (${join(l.realDir, "iterations.csv")})`, ctx.probeSize !== false);
      hostScales.set(l.name, scale);
      if (scale.prepareShiftMs !== undefined) {
        log(`calibrate: --host-scale probe: load ${l.name}'s server times a ${scale.probeInts}-int probe, the fit's a ${scale.referenceProbeInts}-int one: host scale ${scale.ratio.toFixed(4)} per int, preparation ${scale.prepareShiftMs >= 0 ? "+" : ""}${scale.prepareShiftMs.toFixed(4)} ms (its own list's conversion)`);
      } else if (probeSizeDiffers(scale)) {
        log(`calibrate: warning: --host-scale probe: load ${l.name}'s server times a ${scale.probeInts}-int probe, the fit's a ${scale.referenceProbeInts}-int one (another token budget or batch cap): its scale mixes the host's speed with the probe's size`);
      }
    }
  }
  if (frozen === undefined) {
    // --step-host-speed: every fit step at the fit's probe level (the --host-scale probe reference when given).
    const speedRef = ctx.stepHostSpeed !== true ? undefined : hostRef?.source === "probe" ? hostRef : await hostReferenceOf("probe", fitReal);
    if (speedRef !== undefined && speedRef.source === "probe") log(`calibrate: --step-host-speed: the fit's steps' host phases taken at its probe level ${speedRef.probeMs.toFixed(4)} ms`);
    table = await writeCpuOverheadsFromRuns({
      realDir: fitReal,
      simDir: [...fits.map((f) => f.simDir), ...fitAlso.map(() => fits[0]!.simDir)],
      outPath: cpuOverheadsPath,
      modelName: experiment.model.name,
      ...(ctx.mode !== undefined ? { mode: ctx.mode } : {}),
      ...(ctx.statistic !== undefined ? { statistic: ctx.statistic } : {}),
      ...(ctx.jitter !== undefined ? { jitter: ctx.jitter } : {}),
      ...(ctx.binMisfit !== undefined ? { binMisfit: ctx.binMisfit } : {}),
      ...(ctx.misfitBySize === true ? { misfitBySize: true } : {}),
      ...(decodeGrid !== undefined ? { decodeGrid } : {}),
      prefixTerm: ctx.prefixTerm ?? true,
      stepSizeTerm: ctx.stepSizeTerm ?? false,
      interStepGap: ctx.interStepGap ?? false,
      ...(ctx.minStepsPerBin !== undefined ? { minStepsPerBin: ctx.minStepsPerBin } : {}),
      extendToBatchSize: experiment.scheduler.batchSizeCap,
      ...(speedRef !== undefined && speedRef.source === "probe" ? { hostSpeed: { referenceProbeMs: speedRef.probeMs, ...(ctx.speedJitter === true ? { jitter: true } : {}) } } : {}),
      ...(ctx.hostTail !== undefined ? { tailSlope: ctx.hostTail } : {}),
      ...(ctx.tailFrom !== undefined ? { tailFrom: ctx.tailFrom } : {}),
      ...(ctx.decodeKvTerm === true ? { decodeKvTerm: true } : {}),
    });
    log(`calibrate: ${table.rows.length} overhead rows from load ${fitNames.join(" + ")}${fitAlso.length > 0 ? ` (${fitReal.length} real runs)` : ""} -> ${cpuOverheadsPath}`);
    deliveryDelay =
      ctx.deliveryDelay === false
        ? null
        : await deliveryDelayFromRuns(
            fitReal,
            experiment.scheduler.batchSizeCap,
            ctx.admissionDelay === false ? undefined : onePrefillStep(experiment.scheduler),
            ctx.admissionBacklog === true ? (ctx.frontPerStep === true ? "step" : true) : false,
            ctx.admissionInSim === true,
          );
    log(deliveryDelay === null ? "calibrate: --no-delivery-delay: no delivery delay modelled" : `calibrate: delivery delay ${describeDelay(deliveryDelay)}`);
  } else {
    await mkdir(dir, { recursive: true });
    await copyFile(frozen.cpuOverheadsPath, cpuOverheadsPath);
    table = frozen.table;
    log(`calibrate: frozen overhead table of ${frozen.experiment} (fit on ${frozen.fitLoad}) -> ${cpuOverheadsPath}`);
  }

  // The table's decode grid (a fit's --decode-grid, or the frozen calibration's) beside it, for every simulation.
  let decodeGridPath: string | undefined;
  if (table.decodeGrid !== undefined) {
    decodeGridPath = join(dir, "decode_grid.csv");
    await atomicWriteFile(decodeGridPath, formatDecodeGridCsv(table.decodeGrid));
    log(`calibrate: decode grid of ${table.decodeGrid.points.length} points (${table.decodeGrid.source}) -> ${decodeGridPath}`);
  }
  const configPath = resolveFrom(ctx.baseDir, experiment.model.config);
  const profileRoot = experiment.profileRoot === undefined ? paths.h200ProfileRoot : resolveFrom(ctx.baseDir, experiment.profileRoot);
  const sha = gitSha(paths.root);
  const loads: CalibrationLoad[] = [];
  for (const l of before.loads) {
    if (ctx.signal?.aborted === true) throw new UsageError("calibrate: interrupted");
    const id = `${experiment.name}-${l.name}-cal`;
    log(`== ${id}`);
    const simDir = runDirPath(paths.root, "vidur", id);
    const machineScale = scales.get(l.name);
    const host = hostScales.get(l.name);
    let overheads = cpuOverheadsPath;
    if (host !== undefined) {
      overheads = join(dir, `cpu_overheads-host-${l.name}.csv`);
      await atomicWriteFile(overheads, formatCpuOverheadsCsv(hostScaled(table, host, l.name), { modelName: experiment.model.name }));
      log(`calibrate: host scale (${host.source}): ${l.name} x ${host.ratio.toFixed(4)} over ${host.steps} steps -> ${overheads}`);
    }
    if (machineScale !== undefined) {
      log(
        `calibrate: machine probe: ${l.name} x ${machineScale.ratio.toFixed(4)} (${machineScale.compositions} compositions, ${machineScale.min.toFixed(4)}-${machineScale.max.toFixed(4)})`,
      );
    }
    const pathScale =
      ctx.pathHostScale === undefined || host === undefined || deliveryDelay === null ? undefined : ctx.pathHostScale === "slower" ? Math.max(1, host.ratio) : host.ratio;
    const loadDelay = pathScale !== undefined ? bridgeUsage(() => scaleServingPath(deliveryDelay!, pathScale), `--path-host-scale: load ${l.name}: `) : deliveryDelay;
    if (pathScale !== undefined) log(`calibrate: --path-host-scale: ${l.name}'s serving path x ${pathScale.toFixed(4)}`);
    await simulate({
      ...simulationSettings(experiment, { paths, profileRoot, configPath }),
      ...(machineScale !== undefined ? { stepTimeScale: (experiment.simulate.stepTimeScale ?? 1) * machineScale.ratio } : {}),
      workloadDir: l.workloadDir,
      ...(l.admissionOrder !== undefined ? { admissionOrder: l.admissionOrder } : {}),
      runDir: simDir,
      cpuOverhead: overheads,
      ...(decodeGridPath !== undefined ? { decodeGrid: decodeGridPath } : {}),
      ...(loadDelay !== null ? { deliveryDelay: loadDelay } : {}),
      runId: id,
      workloadId: l.workloadId,
      command: ctx.command,
      gitSha: sha,
    });
    const comparisonDir = runDirPath(paths.root, "comparison", id);
    const repeats = repeatDirs.get(l.name);
    await compare({
      realDir: l.realDir,
      simDir,
      outDir: comparisonDir,
      options: { marginRel: experiment.compare.marginRel, bootstrapReplicates: experiment.compare.bootstrapReplicates, command: ctx.command, gitSha: sha },
      ...(repeats !== undefined ? { repeatDirs: repeats } : {}),
    });
    const [beforeComparison, afterComparison] = [await readComparison(l.comparisonDir), await readComparison(comparisonDir)];
    const load: CalibrationLoad = {
      name: l.name,
      role: frozen !== undefined ? "predicted" : fitNames.includes(l.name) ? "fit" : "held-out",
      realDir: l.realDir,
      ...(repeats !== undefined ? { realRepeatDirs: repeats } : {}),
      before: { simDir: l.simDir, comparisonDir: l.comparisonDir },
      after: { simDir, comparisonDir },
      metrics: calibrationCells(beforeComparison, afterComparison),
      ...(machineScale !== undefined ? { machineScale } : {}),
      ...(host !== undefined ? { hostScale: host } : {}),
      ...(pathScale !== undefined ? { servingPathScale: pathScale } : {}),
    };
    if (repeats !== undefined) withSpread(load, beforeComparison, afterComparison);
    loads.push(load);
  }
  const verdicts = verdictTallies(loads);
  for (const [role, t] of Object.entries(verdicts)) {
    log(`calibrate: ${role} cells against their real runs' spread: calibrated ${describeTally(t.after)}; uncalibrated ${describeTally(t.before)}`);
  }

  const markdownPath = join(dir, "calibration.md");
  const jsonPath = join(dir, "calibration.json");
  const fitLoad = frozen?.fitLoad ?? ctx.fitLoad!;
  await atomicWriteFile(
    markdownPath,
    formatCalibrationMd({
      experiment: experiment.name,
      fitLoad,
      command: ctx.command,
      table,
      loads,
      deliveryDelay,
      ...(frozen !== undefined ? { frozenFrom: frozen.experiment } : {}),
      ...(fitAlso.length > 0 ? { fitAlso } : {}),
    }),
  );
  const json = {
    schema_version: 1,
    kind: "calibration",
    experiment: experiment.name,
    created_at: new Date().toISOString(),
    command: ctx.command,
    git_sha: sha,
    fit_load: fitLoad,
    fit_also: fitAlso,
    tail_from: frozen === undefined ? (ctx.tailFrom ?? []) : [],
    frozen_from: frozen === undefined ? null : { experiment: frozen.experiment, dir: ctx.frozenDir },
    cpu_overheads: cpuOverheadsPath,
    delivery_delay: deliveryDelay,
    machine_probe: fitProbe,
    host_reference: hostRef,
    table,
    loads,
    verdicts,
  };
  await atomicWriteFile(jsonPath, `${JSON.stringify(json, null, 2)}\n`);
  return { dir, markdownPath, jsonPath, cpuOverheadsPath, table, deliveryDelay, loads, verdicts };
}

/** The machine probe of a real run dir (its server_run.json's machine_probe); a UsageError naming the file without one. */
export async function probeOf(dir: string): Promise<MachineProbe> {
  let probe: MachineProbe | null;
  try {
    probe = await readMachineProbe(dir);
  } catch (err) {
    throw new UsageError(`--machine-probe: ${(err as Error).message}`);
  }
  if (probe === null) {
    throw new UsageError(
      `--machine-probe: ${join(dir, "server_run.json")} has no machine_probe (record the run with a gpu-harness server that probes: serve --probe-repeats, default on cuda)`,
    );
  }
  return probe;
}

/** The fit runs' probes pooled: per composition key, the median p50 (ms) over the runs (poolMachineProbes). */
export async function fitProbeOf(dirs: readonly string[]): Promise<Record<string, number>> {
  const probes: MachineProbe[] = [];
  for (const dir of dirs) probes.push(await probeOf(dir));
  return poolMachineProbes(probes);
}

/** One load's step-time scale: its real run's probe over the fit probe (machineProbeRatio); a UsageError naming the load otherwise. */
export async function machineScaleOf(fitProbe: Readonly<Record<string, number>>, load: string, realDir: string): Promise<MachineProbeRatio> {
  const target = await probeOf(realDir);
  try {
    return machineProbeRatio(fitProbe, target);
  } catch (err) {
    throw new UsageError(`--machine-probe: load ${load} (${join(realDir, "server_run.json")}): ${(err as Error).message}`);
  }
}

const FrozenCalibration = z
  .object({
    kind: z.literal("calibration"),
    experiment: z.string(),
    fit_load: z.string(),
    table: z.unknown(),
    cpu_overheads: z.string(),
    machine_probe: z.record(z.string(), z.number().positive()).nullable().optional(),
    host_reference: z
      .discriminatedUnion("source", [
        z.object({ source: z.literal("probe"), probeMs: z.number().positive(), steps: z.number().int().positive(), probeInts: z.number().int().positive().optional() }),
        z.object({ source: z.literal("phases"), medianMsByBatch: z.record(z.string(), z.number().positive()), steps: z.number().int().positive() }),
      ])
      .nullable()
      .optional(),
  })
  .passthrough();

/** An earlier calibration's overhead table and CSV (its calibration.json names them). */
async function readFrozen(
  dir: string,
): Promise<{
  experiment: string;
  fitLoad: string;
  table: CpuOverheadTable;
  cpuOverheadsPath: string;
  deliveryDelay: DeliveryDelayTable | null;
  /** The pooled fit probe it was made with (--machine-probe); null without. */
  machineProbe: Record<string, number> | null;
  /** The fit's host reference it was made with (--host-scale); null without. */
  hostReference: HostReference | null;
}> {
  const path = join(dir, "calibration.json");
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, "utf8"));
  } catch (err) {
    throw new UsageError(`--frozen ${dir}: cannot read ${path} (${(err as Error).message}); run runner calibrate --fit first`);
  }
  const parsed = FrozenCalibration.safeParse(raw);
  if (!parsed.success) throw new UsageError(`--frozen ${dir}: ${path} is not a calibration.json (${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")})`);
  if (parsed.data.frozen_from !== undefined && parsed.data.frozen_from !== null) {
    throw new UsageError(`--frozen ${dir}: that is itself a prediction; freeze a calibration made with --fit`);
  }
  const delay = (parsed.data as { delivery_delay?: DeliveryDelayTable | null }).delivery_delay ?? null;
  return {
    experiment: parsed.data.experiment,
    fitLoad: parsed.data.fit_load,
    table: parsed.data.table as CpuOverheadTable,
    cpuOverheadsPath: join(dir, "cpu_overheads.csv"),
    deliveryDelay: delay,
    machineProbe: parsed.data.machine_probe ?? null,
    hostReference: (parsed.data.host_reference ?? null) as HostReference | null, // zod's optional key reads as `| undefined`
  };
}

/** The real runs' engine steps, pooled; a UsageError naming the file that cannot be read. */
async function stepsOf(dirs: readonly string[], flag: string): Promise<Iteration[]> {
  const out: Iteration[] = [];
  for (const dir of dirs) {
    try {
      out.push(...(await readIterations(join(dir, "iterations.csv"))));
    } catch (err) {
      throw new UsageError(`${flag}: ${(err as Error).message}; expected a recorded real run dir with the engine timeline`);
    }
  }
  return out;
}

/** The fit runs' host reference (hostReference), bridge errors as UsageErrors naming the flag. */
async function hostReferenceOf(source: HostScaleSource, fitReal: readonly string[]): Promise<HostReference> {
  const steps = await stepsOf(fitReal, `--host-scale ${source}`);
  // The probe's size when every fit run's server recorded one and the same.
  const sizes = new Set<number | undefined>();
  for (const dir of fitReal) sizes.add(await probeIntsOf(dir, `--host-scale ${source}`));
  const probeInts = sizes.size === 1 ? [...sizes][0] : undefined;
  return bridgeUsage(() => hostReference(source, steps, `--host-scale ${source}: the fit's real runs (${fitReal.join(", ")})`, probeInts));
}

/** One load's host scale against the reference (hostScale); `what` names the load and its file. */
async function hostScaleOf(ref: HostReference, realDir: string, what: string, sizeAware: boolean): Promise<HostScale> {
  const steps = await stepsOf([realDir], `--host-scale ${ref.source}`);
  const probeInts = ref.source === "probe" ? await probeIntsOf(realDir, `--host-scale ${ref.source}`) : undefined;
  return bridgeUsage(() => hostScale(ref, steps, what, probeInts, sizeAware));
}

/** A real run's host probe size (readHostProbeSize's ints; undefined when its server did not record it). */
async function probeIntsOf(dir: string, flag: string): Promise<number | undefined> {
  try {
    return (await readHostProbeSize(dir))?.ints;
  } catch (err) {
    throw new UsageError(`${flag}: ${(err as Error).message}`);
  }
}

/** The table with its host phases scaled for one load (scaleHostPhases), its error naming the load. */
function hostScaled(table: CpuOverheadTable, host: HostScale, load: string): CpuOverheadTable {
  return bridgeUsage(() => scaleHostPhases(table, host.ratio, host.prepareShiftMs ?? 0), `--host-scale ${host.source}: load ${load}: `);
}

/** Runs `f`, turning a @vf/vidur-bridge input error into a UsageError (with `prefix`). */
function bridgeUsage<T>(f: () => T, prefix = ""): T {
  try {
    return f();
  } catch (err) {
    if (isVidurBridgeError(err)) throw new UsageError(`${prefix}${err.message}`);
    throw err;
  }
}

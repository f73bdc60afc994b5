/**
 * `runner calibrate --step-host-speed --host-tail upper|flat|level --decode-kv-term` end to end: the built CLI, the real Vidur and Q1's committed
 * Azure conv runs (seventeenth session, every step with its phases and the in-band host probe). The fit load is the
 * 60 % run, whose largest batches (about 38 requests) came in stretches where the CPU ran slow. Calibrated as before
 * first, then with each fit step's host phases taken at the fit's probe level and the tail's slopes fitted on the two
 * largest bins: the table past the fit's batches grows less per request; with the flat tail it holds the last knot's
 * values; with the level tail it holds the last knot's overhead while its host phases grow (a load's host scale moves them). The decode KV term (Vidur's decode step grows
 * faster with the KV it reads than the engine's device wait) reaches every calibrated simulation. With
 * --misfit-by-size the fit load's own calibrated decode steps of 13-40 requests come out closer to its real ones; with
 * --decode-grid (the engine's decode step measured on the H200, committed) the decode-only residuals are taken
 * against that grid and every simulation of the table, a frozen prediction's too, takes its decode steps from it. A
 * frozen calibration refuses the flags.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { calibrationOutputs, type CliResult, committedExperimentFile, makeTempDir, meanDecodeStepMs, repoRoot, runCli } from "./helpers.js";

const NAME = "test-host-speed";
const LOADS = ["load30", "load60"];
const RUNS: Record<string, string> = { load30: "q1/runs/azure-r12.987-rep0", load60: "q1/runs/azure-r25.974-rep0" };
const tmp = makeTempDir("host-speed");
const comparisons = join(repoRoot, "tmp", "comparisons");
const calDir = join(comparisons, `${NAME}-calibration`);
const removeOutputs = calibrationOutputs([NAME], LOADS).remove;

type Tail = { hostMsPerRequest: number; slopeFromBatchSize?: number; phaseMsPerRequest: Record<string, number> };
type HostSpeed = { referenceProbeMs: number; halfWindowSteps: number; scaledSteps: number; unscaledSteps: number; factorQ10: number; factorQ50: number; factorQ90: number; jitter?: true };
type DecodeKv = { realMsPerKToken: number; simMsPerKToken: number; msPerKToken: number; realFrom: string; realSteps: number };
type Snapshot = {
  result: CliResult;
  cal: {
    host_reference: { probeMs: number };
    table: {
      tail: Tail;
      hostSpeed?: HostSpeed;
      decodeKv?: DecodeKv | null;
      realSteps: number;
      misfitBySize?: boolean;
      decodeGrid?: { source: string; points: unknown[] };
      bins: { maxBatchSize: number; decodeSteps: number; decodeMisfitMs: number | null; decodeResidualMs: number | null; decodePhasesMs?: { schedule: number; prepare: number; process: number } | null }[];
    };
  };
  /** Mean decode-only step (ms, end - start) of the fit load's calibrated simulation, by the bins of `STEP_BINS`. */
  simSteps: number[];
  rows: Record<string, number>[];
  md: string;
};

/** The calibration's outputs right after a run (the next run overwrites them). */
function snapshot(result: CliResult): Snapshot {
  return {
    result,
    cal: JSON.parse(readFileSync(join(calDir, "calibration.json"), "utf8")),
    rows: csvRows(join(calDir, "cpu_overheads.csv")),
    md: readFileSync(join(calDir, "calibration.md"), "utf8"),
    simSteps: meanDecodeSteps(join(repoRoot, "tmp", "vidur_runs", `${NAME}-load60-cal`, "iterations.csv")),
  };
}

/** A cpu_overheads.csv's rows, every column but the model name as a number. */
function csvRows(path: string): Record<string, number>[] {
  const [head, ...lines] = readFileSync(path, "utf8").trimEnd().split("\n");
  const cols = head!.split(",");
  return lines.map((r) => Object.fromEntries(r.split(",").flatMap((v, i) => (i === 0 ? [] : [[cols[i]!, Number(v)]]))));
}

/** Batch-size bins of the fit load's busiest decode-only steps. */
const STEP_BINS: [number, number][] = [
  [13, 20],
  [21, 28],
  [29, 40],
];

/** Mean decode-only step (ms, end - start) of an iterations.csv, per bin of `STEP_BINS`. */
function meanDecodeSteps(path: string): number[] {
  return STEP_BINS.map(([lo, hi]) => meanDecodeStepMs(path, lo, hi));
}

/** A row's host phases (ms): what the tail continues. */
const host = (r: Record<string, number>) => r.schedule_median! + r.prepare_inputs_e2e_median! + r.process_model_outputs_median!;
/** A row's whole overhead (ms): its host phases plus its model-time bias. */
const overhead = (r: Record<string, number>) => host(r) + r.model_time_bias_median!;

let before: Snapshot;
let after: Snapshot;
let flat: Snapshot;
let level: Snapshot;
let bySize: Snapshot;
let jittered: Snapshot;
let jitterErrors: CliResult[];
let frozen: CliResult;
let frozenBySize: CliResult;
let realSteps: number[];
let grid: Snapshot;
let gridRun: { config: { decode_grid: { points: number; batches: number[] } | null } };
let gridPredicted: { config: { decode_grid: { points: number } | null } };
let gridCsv: string;
let gridErrors: CliResult[];
const GRID = join(repoRoot, "data", "h200-qwen3-0.6b", "engine", "decode_grid.csv");
beforeAll(async () => {
  removeOutputs();
  const { path } = committedExperimentFile({
    committed: "azure-conv-q1",
    name: NAME,
    dir: tmp.dir,
    runs: { tarball: "data/h200-qwen3-0.6b/runs-s17/q1.tar.xz", members: Object.values(RUNS) },
    loads: (loads) => loads.filter((l) => LOADS.includes(l.name)).map((l) => ({ ...l, realRunDir: join(tmp.dir, RUNS[l.name]!) })),
  });
  const fit = ["calibrate", path, "--fit", "load60", "--host-scale", "probe"];
  before = snapshot(await runCli(fit));
  // The flat tail before the decode KV term's fit: the calibrated simulations' run.json files are the last fit's.
  flat = snapshot(await runCli([...fit, "--step-host-speed", "--host-tail", "flat"]));
  level = snapshot(await runCli([...fit, "--step-host-speed", "--host-tail", "level"]));
  jittered = snapshot(await runCli([...fit, "--step-host-speed", "--host-tail", "flat", "--speed-jitter"]));
  bySize = snapshot(await runCli([...fit, "--step-host-speed", "--host-tail", "flat", "--misfit-by-size"]));
  grid = snapshot(await runCli([...fit, "--step-host-speed", "--host-tail", "flat", "--decode-grid", GRID]));
  gridRun = JSON.parse(readFileSync(join(repoRoot, "tmp", "vidur_runs", `${NAME}-load60-cal`, "run.json"), "utf8"));
  gridCsv = readFileSync(join(calDir, "decode_grid.csv"), "utf8");
  const predicted = await runCli(["calibrate", path, "--frozen", calDir]);
  expect(predicted.code).toBe(0);
  gridPredicted = JSON.parse(readFileSync(join(repoRoot, "tmp", "vidur_runs", `${NAME}-load30-cal`, "run.json"), "utf8"));
  const badGrid = join(tmp.dir, "bad_grid.csv");
  writeFileSync(badGrid, "batch,kv_tokens,step_ms\n1,17,1.6\n4,2,1.7\n");
  gridErrors = [
    await runCli([...fit, "--decode-grid", GRID, "--decode-kv-term"]),
    await runCli(["calibrate", path, "--frozen", calDir, "--decode-grid", GRID]),
    await runCli([...fit, "--decode-grid", badGrid]),
  ];
  after = snapshot(await runCli([...fit, "--step-host-speed", "--host-tail", "upper", "--decode-kv-term"]));
  frozen = await runCli(["calibrate", path, "--frozen", calDir, "--host-scale", "probe", "--step-host-speed"]);
  frozenBySize = await runCli(["calibrate", path, "--frozen", calDir, "--misfit-by-size"]);
  jitterErrors = [await runCli([...fit, "--speed-jitter"]), await runCli(["calibrate", path, "--frozen", calDir, "--speed-jitter"])];
  realSteps = meanDecodeSteps(join(tmp.dir, RUNS.load60!, "iterations.csv"));
}, 600_000);
afterAll(() => {
  removeOutputs();
  tmp.remove();
});

describe("runner calibrate --step-host-speed --host-tail upper", () => {
  it("takes every fit step's host phases at the fit's probe level, and says how far it scaled them", () => {
    expect(before.result.code, before.result.stderr).toBe(0);
    expect(after.result.code, after.result.stderr).toBe(0);
    expect(before.cal.table.hostSpeed).toBeUndefined();
    const h = after.cal.table.hostSpeed!;
    expect(h.referenceProbeMs).toBe(after.cal.host_reference.probeMs);
    expect(h.halfWindowSteps).toBe(50);
    expect(h.scaledSteps + h.unscaledSteps).toBe(after.cal.table.realSteps);
    expect(h.scaledSteps).toBeGreaterThan(0.99 * after.cal.table.realSteps);
    // Q1's 60 % ran in both of the CPU's speeds: some stretches scaled down, most up to the mean level.
    expect(h.factorQ10).toBeLessThan(0.9);
    expect(h.factorQ90).toBeGreaterThan(1.05);
    expect(after.result.stderr).toContain(`calibrate: --step-host-speed: the fit's steps' host phases taken at its probe level ${h.referenceProbeMs.toFixed(4)} ms`);
    expect(after.md).toContain("Host speed per step: every fit step's schedule, prepare and process phases taken at the probe level");
    expect(before.md).toContain("Host speed per step: off (runner calibrate --step-host-speed");
  });

  it("continues the table past the fit's batches along the growth of its two largest bins, less steeply", () => {
    const [b, a] = [before.cal.table.tail, after.cal.table.tail];
    expect(b.slopeFromBatchSize).toBe(1);
    expect(a.slopeFromBatchSize).toBe(17);
    expect(a.hostMsPerRequest).toBeLessThan(b.hostMsPerRequest - 0.001);
    expect(after.md).toContain("over the decode-only steps of 17 requests or more (the two largest bins; --host-tail upper)");
    // Same rows; at the batch cap the host phases sit lower, as far as the slopes and the last knot's host differ.
    expect(after.rows.map((r) => r.batch_size)).toEqual(before.rows.map((r) => r.batch_size));
    const last = (s: Snapshot) => s.rows.at(-1)!;
    expect(last(after).batch_size).toBe(128);
    expect(host(last(after))).toBeLessThan(host(last(before)) - 0.1);
    // Inside the fit's range the knots move too: the slow stretches' steps no longer lift their bins.
    const moved = after.rows.filter((r, i) => r.batch_size! <= 34 && Math.abs(host(r) - host(before.rows[i]!)) > 0.01);
    expect(moved.length).toBeGreaterThan(0);
  });

  it("--host-tail flat: every row past the fit's batches holds the last knot's columns", () => {
    expect(flat.result.code, flat.result.stderr).toBe(0);
    const knots = flat.rows.filter((r) => r.batch_size! <= 34);
    const tail = flat.rows.slice(knots.length);
    expect(tail.map((r) => r.batch_size)).toEqual([64, 128]);
    for (const r of tail) expect({ ...r, batch_size: 0 }).toEqual({ ...knots.at(-1)!, batch_size: 0 });
    // Below the cap the upper tail grows; the flat one sits lower by that growth.
    expect(host(after.rows.at(-1)!)).toBeGreaterThan(host(flat.rows.at(-1)!) + 0.1);
    expect(flat.cal.table.tail.hostMsPerRequest).toBe(0);
    expect(flat.md).toContain("every column held at the last knot's value (--host-tail flat)");
  });

  it("--host-tail level: the tail holds flat's overhead and grows its host phases, the model-time bias taking the difference", () => {
    expect(level.result.code, level.result.stderr).toBe(0);
    const knots = level.rows.filter((r) => r.batch_size! <= 34);
    expect(knots).toEqual(flat.rows.slice(0, knots.length));
    const knot = knots.at(-1)!;
    const tail = level.rows.slice(knots.length);
    expect(tail.map((r) => r.batch_size)).toEqual([64, 128]);
    const perRequest = level.cal.table.tail.hostMsPerRequest;
    expect(perRequest).toBeGreaterThan(0.001);
    for (const r of tail) {
      expect(overhead(r)).toBeCloseTo(overhead(knot), 5);
      expect(host(r) - host(knot)).toBeCloseTo(perRequest * (r.batch_size! - knot.batch_size!), 4);
      expect(r.model_time_bias_median!).toBeLessThan(knot.model_time_bias_median! - 0.02);
    }
    expect(level.cal.table.tail).toMatchObject({ level: true, slopeFromBatchSize: 1 });
    expect(level.md).toContain("(--host-tail level)");
  });

  it("--decode-kv-term: fits both sides' KV slopes and hands their difference to every calibrated simulation", () => {
    expect(before.cal.table.decodeKv).toBeUndefined();
    expect(before.md).toContain("Decode KV term: off");
    const k = after.cal.table.decodeKv!;
    expect(k.realFrom).toBe("wait");
    expect(k.realSteps).toBeGreaterThan(1000);
    // The engine's device wait grows 25-35 us per 1,000 KV tokens at one batch size, Vidur's step faster.
    expect(k.realMsPerKToken).toBeGreaterThan(0.025);
    expect(k.realMsPerKToken).toBeLessThan(0.035);
    expect(k.simMsPerKToken).toBeGreaterThan(k.realMsPerKToken);
    expect(k.msPerKToken).toBeCloseTo(k.realMsPerKToken - k.simMsPerKToken, 12);
    for (const r of after.rows) expect(r.decode_kv_ms_per_ktoken).toBeCloseTo(k.msPerKToken, 6);
    expect(before.rows[0]!.decode_kv_ms_per_ktoken).toBeUndefined();
    expect(after.md).toContain("Decode KV term: at one batch size a decode-only step's wait on the device grows");
    for (const load of LOADS) {
      const run = JSON.parse(readFileSync(join(repoRoot, "tmp", "vidur_runs", `${NAME}-${load}-cal`, "run.json"), "utf8"));
      expect(run.config.cpu_overhead_decode_kv_ms_per_ktoken).toBeCloseTo(k.msPerKToken, 6);
    }
  });

  it("--misfit-by-size: the fit load's own decode steps come out closer to its real ones", () => {
    expect(flat.cal.table.misfitBySize).toBeUndefined();
    expect(bySize.cal.table.misfitBySize).toBe(true);
    expect(bySize.md).toContain("taken at the fit's real batch sizes (--misfit-by-size)");
    // The uncalibrated simulation runs the 17-32 bin's batches larger than the real engine, so its misfit there,
    // taken at the real sizes, moves.
    const misfit = (s: Snapshot) => s.cal.table.bins.find((b) => b.maxBatchSize === 32)!.decodeMisfitMs!;
    expect(Math.abs(misfit(bySize) - misfit(flat))).toBeGreaterThan(0.005);
    // Summed over the busiest bins, the calibrated simulation's mean decode step moves towards the real run's.
    const off = (s: Snapshot) => s.simSteps.reduce((acc, v, i) => acc + Math.abs(v - realSteps[i]!), 0);
    expect(off(bySize)).toBeLessThan(off(flat));
  });

  it("--decode-grid: the decode-only residuals against the engine's measured step, which every simulation then takes", () => {
    const g = grid.cal.table.decodeGrid!;
    const rows = readFileSync(GRID, "utf8").trimEnd().split("\n").length - 1;
    expect(g.points).toHaveLength(rows);
    expect(g.source).toBe(GRID);
    expect(gridCsv.split("\n")[0]).toBe("batch,kv_tokens,step_ms");
    expect(gridCsv.trimEnd().split("\n")).toHaveLength(rows + 1);
    expect(grid.md).toContain("Decode grid: every decode-only step's residual taken against the engine's measured decode step");
    expect(flat.md).toContain("Decode grid: off");
    // Against Vidur every decode bin's residual is negative (the per-op sum over-predicts the graphed step); against
    // the grid it is positive and less than the bin's host phases (the served wait is a little under the isolated step).
    for (const b of grid.cal.table.bins.filter((x) => x.decodeSteps >= 50)) {
      const host = b.decodePhasesMs!.schedule + b.decodePhasesMs!.prepare + b.decodePhasesMs!.process;
      expect(b.decodeMisfitMs).toBeNull();
      expect(b.decodeResidualMs!).toBeGreaterThan(0);
      expect(b.decodeResidualMs!).toBeLessThan(host);
    }
    for (const b of flat.cal.table.bins.filter((x) => x.decodeSteps >= 50)) expect(b.decodeResidualMs!).toBeLessThan(0);
    // The fit's and a frozen prediction's simulations took the grid.
    expect(gridRun.config.decode_grid!.points).toBe(rows);
    expect(gridRun.config.decode_grid!.batches.at(-1)).toBe(128);
    expect(gridPredicted.config.decode_grid!.points).toBe(rows);
    // Its fit's decode steps come out closer to the real run's than the flat fit's.
    const off = (s: Snapshot) => s.simSteps.reduce((acc, v, i) => acc + Math.abs(v - realSteps[i]!), 0);
    expect(off(grid)).toBeLessThan(off(flat));
    const [withKv, frozenGrid, bad] = gridErrors as [CliResult, CliResult, CliResult];
    expect(withKv.code).toBe(2);
    expect(withKv.stderr).toContain("--decode-grid: not with --decode-kv-term");
    expect(frozenGrid.code).toBe(2);
    expect(frozenGrid.stderr).toContain("--decode-grid: shapes the table a fit writes");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("bad_grid.csv:3: expected an integer batch >= 1, kv_tokens >= batch and step_ms > 0");
  });

  it("--speed-jitter: the fit's stretches kept in the jitter columns, every overhead column as without it", () => {
    expect(jittered.result.code, jittered.result.stderr.slice(-2000)).toBe(0);
    expect(jittered.cal.table.hostSpeed?.jitter).toBe(true);
    expect(flat.cal.table.hostSpeed?.jitter).toBeUndefined();
    expect(jittered.md).toContain("The jitter columns keep the host time so removed");
    expect(jittered.rows).toHaveLength(flat.rows.length);
    const width = (r: Record<string, number>) => r.jitter_q90! - r.jitter_q10!;
    let wider = 0;
    jittered.rows.forEach((r, i) => {
      const f = flat.rows[i]!;
      for (const col of Object.keys(f).filter((c) => !c.startsWith("jitter_"))) expect(r[col], `row ${i} ${col}`).toBe(f[col]);
      if (width(r) > width(f) + 1e-6) wider += 1;
    });
    // Q1's fit ran through slow and fast stretches (factors 0.78-1.23): its rows' 10-90 % jitter widens.
    expect(wider).toBeGreaterThan(jittered.rows.length / 2);
  });

  it("refuses --speed-jitter without --step-host-speed and with --frozen", () => {
    const [alone, frozenJitter] = jitterErrors;
    expect(alone!.code).toBe(2);
    expect(alone!.stderr).toContain("--speed-jitter: keeps in the jitter the host time --step-host-speed takes out of the fit's steps; give it with --step-host-speed");
    expect(frozenJitter!.code).toBe(2);
    expect(frozenJitter!.stderr).toContain("--speed-jitter: shapes the table a fit writes");
  });

  it("refuses the flags with --frozen, whose table is used as is", () => {
    expect(frozen.code).toBe(2);
    expect(frozen.stderr).toContain("--step-host-speed: shapes the table a fit writes; with --frozen the frozen table is used as is");
    expect(frozenBySize.code).toBe(2);
    expect(frozenBySize.stderr).toContain("--misfit-by-size: shapes the table a fit writes");
  });
});

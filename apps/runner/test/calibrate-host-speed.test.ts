/**
 * `runner calibrate --step-host-speed --host-tail upper|flat --decode-kv-term` end to end: the built CLI, the real Vidur and Q1's committed
 * Azure conv runs (seventeenth session, every step with its phases and the in-band host probe). The fit load is the
 * 60 % run, whose largest batches (about 38 requests) came in stretches where the CPU ran slow. Calibrated as before
 * first, then with each fit step's host phases taken at the fit's probe level and the tail's slopes fitted on the two
 * largest bins: the table past the fit's batches grows less per request; with the flat tail it holds the last knot's
 * values. The decode KV term (Vidur's decode step grows
 * faster with the KV it reads than the engine's device wait) reaches every calibrated simulation. A frozen calibration
 * refuses the flags.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { calibrationOutputs, type CliResult, committedExperimentFile, makeTempDir, repoRoot, runCli } from "./helpers.js";

const NAME = "test-host-speed";
const LOADS = ["load30", "load60"];
const RUNS: Record<string, string> = { load30: "q1/runs/azure-r12.987-rep0", load60: "q1/runs/azure-r25.974-rep0" };
const tmp = makeTempDir("host-speed");
const comparisons = join(repoRoot, "tmp", "comparisons");
const calDir = join(comparisons, `${NAME}-calibration`);
const removeOutputs = calibrationOutputs([NAME], LOADS).remove;

type Tail = { hostMsPerRequest: number; slopeFromBatchSize?: number; phaseMsPerRequest: Record<string, number> };
type HostSpeed = { referenceProbeMs: number; halfWindowSteps: number; scaledSteps: number; unscaledSteps: number; factorQ10: number; factorQ50: number; factorQ90: number };
type DecodeKv = { realMsPerKToken: number; simMsPerKToken: number; msPerKToken: number; realFrom: string; realSteps: number };
type Snapshot = {
  result: CliResult;
  cal: { host_reference: { probeMs: number }; table: { tail: Tail; hostSpeed?: HostSpeed; decodeKv?: DecodeKv | null; realSteps: number } };
  rows: Record<string, number>[];
  md: string;
};

/** The calibration's outputs right after a run (the next run overwrites them). */
function snapshot(result: CliResult): Snapshot {
  const [head, ...lines] = readFileSync(join(calDir, "cpu_overheads.csv"), "utf8").trimEnd().split("\n");
  const cols = head!.split(",");
  return {
    result,
    cal: JSON.parse(readFileSync(join(calDir, "calibration.json"), "utf8")),
    rows: lines.map((r) => Object.fromEntries(r.split(",").flatMap((v, i) => (i === 0 ? [] : [[cols[i]!, Number(v)]])))),
    md: readFileSync(join(calDir, "calibration.md"), "utf8"),
  };
}

/** A row's host phases (ms): what the tail continues. */
const host = (r: Record<string, number>) => r.schedule_median! + r.prepare_inputs_e2e_median! + r.process_model_outputs_median!;

let before: Snapshot;
let after: Snapshot;
let flat: Snapshot;
let frozen: CliResult;
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
  after = snapshot(await runCli([...fit, "--step-host-speed", "--host-tail", "upper", "--decode-kv-term"]));
  frozen = await runCli(["calibrate", path, "--frozen", calDir, "--host-scale", "probe", "--step-host-speed"]);
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

  it("refuses the flags with --frozen, whose table is used as is", () => {
    expect(frozen.code).toBe(2);
    expect(frozen.stderr).toContain("--step-host-speed: shapes the table a fit writes; with --frozen the frozen table is used as is");
  });
});

/**
 * `runner calibrate --decode-grid FILE --tail-from DIR` end to end: the built CLI, the real Vidur and server Q29's
 * committed runs (twenty-sixth session, call 73). The fit load is Azure conv at 60 % of its capacity, whose steps end
 * near 34 requests; Self-Instruct at 85 %, recorded on the same server, reaches the 128-request cap. With the
 * engine's decode grid, the flat tail holds the fit's last knot to the cap; measured on Self-Instruct's decode-only
 * steps the tail grows with the host time the engine spends per request, and a frozen prediction of that load then
 * runs its large decode steps closer to its real ones. Misuse is refused before anything is written.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { calibrationOutputs, type CliResult, committedExperimentFile, dataRoot, makeTempDir, meanDecodeStepMs, repoRoot, runCli } from "./helpers.js";

const NAME = "test-tail-from";
const SI = "test-tail-from-si";
const TARBALL = "data/h200-qwen3-0.6b/runs-s26/q29.tar.xz";
const AZURE_RUN = "q29/runs/azure-r25.974-rep26";
const SI_RUN = "q29/runs/selfinstruct-r94.733-rep26";
const GRID = join(repoRoot, "data", "h200-qwen3-0.6b", "engine", "decode_grid.csv");
const tmp = makeTempDir("tail-from");
const removeOutputs = calibrationOutputs([NAME, SI], ["load60", "load85"]).remove;
const comparisons = join(repoRoot, "tmp", "comparisons");
const calDir = join(comparisons, `${NAME}-calibration`);

type Measured = {
  steps: number;
  anchor: { knot: number; minBatchSize: number; maxBatchSize: number; steps: number; meanBatchSize: number };
  bins: { minBatchSize: number; maxBatchSize: number; batchSize: number; steps: number; residualGrowthMs: number; hostGrowthMs: number }[];
};
type Row = { batchSize: number; overheadMs: number; hostPhasesMs: { schedule: number; prepare: number; process: number } };
type Snapshot = { result: CliResult; cal: { tail_from: string[]; table: { bins: unknown[]; rows: Row[]; tail: { flat?: boolean; measured?: Measured } } }; md: string };

function snapshot(result: CliResult): Snapshot {
  return { result, cal: JSON.parse(readFileSync(join(calDir, "calibration.json"), "utf8")), md: readFileSync(join(calDir, "calibration.md"), "utf8") };
}

/** Mean decode-only step (ms, end - start) of an iterations.csv over batches of 65 requests up to the cap. */
const meanLargeDecodeStep = (path: string) => meanDecodeStepMs(path, 65, 128);

/** Self-Instruct's user-oriented instructions as the prompts JSONL the GPU runs used (scripts/gpu/pack.sh). */
function writeSelfInstructPrompts(path: string): void {
  const src = readFileSync(join(dataRoot, "self-instruct-user-oriented", "user_oriented_instructions.jsonl"), "utf8");
  const lines = src
    .trimEnd()
    .split("\n")
    .map((line) => {
      const r = JSON.parse(line) as { id: string; instruction: string; instances: { input?: string }[] };
      const given = r.instances.length > 0 ? (r.instances[0]!.input ?? "").trim() : "";
      return JSON.stringify({ prompt_id: r.id, text: r.instruction.trim() + (given !== "" ? `\n\n${given}` : "") });
    });
  writeFileSync(path, `${lines.join("\n")}\n`);
}

let flat: Snapshot;
let measured: Snapshot;
let stepFlat: number;
let stepMeasured: number;
let stepReal: number;
let errors: CliResult[];
beforeAll(async () => {
  removeOutputs();
  const { path } = committedExperimentFile({
    committed: "azure-conv-q29",
    name: NAME,
    dir: tmp.dir,
    runs: { tarball: TARBALL, members: [AZURE_RUN, SI_RUN] },
    loads: (loads) => loads.map((l) => ({ ...l, realRunDir: join(tmp.dir, AZURE_RUN) })),
  });
  // Self-Instruct's experiment as committed, its prompts written from the public data, its run from the tarball.
  const prompts = join(tmp.dir, "self-instruct.jsonl");
  writeSelfInstructPrompts(prompts);
  const azure = JSON.parse(readFileSync(path, "utf8"));
  const si = JSON.parse(readFileSync(join(repoRoot, "experiments", "h200-qwen3-0.6b", "selfinstruct-q29.json"), "utf8"));
  const siPath = join(tmp.dir, `${SI}.json`);
  writeFileSync(
    siPath,
    JSON.stringify({
      ...si,
      name: SI,
      model: azure.model,
      profileRoot: azure.profileRoot,
      workload: { ...si.workload, source: { ...si.workload.source, path: prompts } },
      loads: si.loads.map((l: object) => ({ ...l, realRunDir: join(tmp.dir, SI_RUN) })),
    }),
  );
  const fit = ["calibrate", path, "--fit", "load60", "--host-scale", "probe", "--step-host-speed", "--decode-grid", GRID];
  const predictSi = async () => {
    const r = await runCli(["calibrate", siPath, "--frozen", calDir, "--host-scale", "probe"]);
    expect(r.code, r.stderr).toBe(0);
    return meanLargeDecodeStep(join(repoRoot, "tmp", "vidur_runs", `${SI}-load85-cal`, "iterations.csv"));
  };
  flat = snapshot(await runCli([...fit, "--host-tail", "flat"]));
  stepFlat = await predictSi();
  measured = snapshot(await runCli([...fit, "--tail-from", join(tmp.dir, SI_RUN)]));
  stepMeasured = await predictSi();
  stepReal = meanLargeDecodeStep(join(tmp.dir, SI_RUN, "iterations.csv"));
  const notRun = join(tmp.dir, "not-a-run");
  mkdirSync(notRun);
  errors = [
    await runCli(["calibrate", path, "--fit", "load60", "--tail-from", join(tmp.dir, SI_RUN)]),
    await runCli([...fit, "--host-tail", "upper", "--tail-from", join(tmp.dir, SI_RUN)]),
    await runCli(["calibrate", path, "--frozen", calDir, "--tail-from", join(tmp.dir, SI_RUN)]),
    await runCli([...fit, "--tail-from", notRun]),
  ];
}, 900_000);
afterAll(() => {
  removeOutputs();
  tmp.remove();
});

describe("runner calibrate --tail-from", () => {
  it("measures the table's rows past the fit's batches on the other load's decode-only steps, up to the cap", () => {
    expect(flat.result.code, flat.result.stderr).toBe(0);
    expect(measured.result.code, measured.result.stderr).toBe(0);
    expect(flat.cal.tail_from).toEqual([]);
    expect(measured.cal.tail_from).toEqual([join(tmp.dir, SI_RUN)]);
    expect(flat.cal.table.tail.flat).toBe(true);
    const m = measured.cal.table.tail.measured!;
    const knots = measured.cal.table.bins.length;
    const last = measured.cal.table.rows[knots - 1]!;
    // The fit's own bins are the flat fit's; its last knot (Azure conv 60 %: 33-64 requests, median ~34) anchors the tail.
    expect(measured.cal.table.rows.slice(0, knots)).toEqual(flat.cal.table.rows.slice(0, knots));
    expect(m.anchor.knot).toBe(last.batchSize);
    expect(last.batchSize).toBeGreaterThan(30);
    expect(last.batchSize).toBeLessThan(40);
    expect(m.anchor.steps).toBeGreaterThanOrEqual(20);
    // Self-Instruct 85 % fills the bins to within a bin of the cap; the host time per step grows with the batch there.
    expect(m.bins.length).toBeGreaterThanOrEqual(5);
    expect(m.bins.at(-1)!.maxBatchSize).toBeGreaterThan(128 - 16);
    const hostAt = (r: Row) => r.hostPhasesMs.schedule + r.hostPhasesMs.prepare + r.hostPhasesMs.process;
    const tail = measured.cal.table.rows.slice(knots);
    expect(tail.at(-1)!.batchSize).toBe(128);
    expect(hostAt(tail.at(-1)!)).toBeGreaterThan(hostAt(last) + 0.2);
    expect(m.bins.at(-1)!.hostGrowthMs).toBeGreaterThan(m.bins[0]!.hostGrowthMs + 0.15);
    // The flat tail keeps the last knot's host time to the cap.
    expect(hostAt(flat.cal.table.rows.at(-1)!)).toBeCloseTo(hostAt(last), 9);
    expect(measured.md).toContain("measured on the --tail-from runs'");
    expect(measured.md).toContain(`${m.bins[0]!.minBatchSize}-${m.bins[0]!.maxBatchSize} (${m.bins[0]!.steps} steps, row at ${m.bins[0]!.batchSize})`);
  });

  it("a frozen prediction of that load runs its large decode steps closer to the real ones", () => {
    // The flat tail leaves the decode-only steps of 65-128 requests short of the real run's.
    expect(stepFlat).toBeLessThan(stepReal - 0.05);
    expect(Math.abs(stepMeasured - stepReal)).toBeLessThan(Math.abs(stepFlat - stepReal) - 0.05);
  });

  it("refuses it without --decode-grid, with --host-tail, with --frozen, and a dir that is not a real run", () => {
    const [noGrid, withTail, frozen, notRun] = errors as [CliResult, CliResult, CliResult, CliResult];
    expect(noGrid.code).toBe(2);
    expect(noGrid.stderr).toContain("--tail-from: takes the tail runs' decode-only steps against the engine's decode grid; give it with --decode-grid");
    expect(withTail.code).toBe(2);
    expect(withTail.stderr).toContain("--tail-from: measures the tail; not with --host-tail upper");
    expect(frozen.code).toBe(2);
    expect(frozen.stderr).toContain("--tail-from: shapes the table a fit writes");
    expect(notRun.code).toBe(2);
    expect(notRun.stderr).toContain(`--tail-from: cannot read ${join(tmp.dir, "not-a-run", "run.json")}`);
  });
});

/**
 * `runner calibrate --host-scale probe` across a token budget, end to end: the built CLI, the real Vidur and two
 * committed H200 runs on one server layout (Q1's, seventeenth session) with different step token budgets: the fit is
 * Q1's Azure conv 30 % (512-token budget, a 2,048-int probe), frozen onto R1's Azure conv 30 % (256-token budget, a
 * 1,280-int probe: 3 x (budget + slots) + slots). By default the probe is read per int and the run's own list
 * conversion replaces the fit's in the preparation; --no-probe-size keeps the plain level ratio.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { calibrationOutputs, type CliResult, committedExperimentFile, makeTempDir, repoRoot, runCli } from "./helpers.js";

const FIT = "test-probe-size-fit";
const TARGET = "test-probe-size-b256";
const tmp = makeTempDir("probe-size");
const comparisons = join(repoRoot, "tmp", "comparisons");
const fitCal = join(comparisons, `${FIT}-calibration`);
const prediction = join(comparisons, `${TARGET}-prediction`);
const removeOutputs = calibrationOutputs([FIT, TARGET], ["load30"]).remove;

/** A one-load experiment from a committed one: its load30 on the run `member` of `tarball`, paths made absolute. */
function experimentFile(name: string, committed: string, tarball: string, member: string): string {
  const { path, experiment } = committedExperimentFile({
    committed,
    name,
    dir: tmp.dir,
    runs: { tarball, members: [member] },
    loads: (loads) => loads.filter((l) => l.name === "load30").map((l) => ({ ...l, realRunDir: join(tmp.dir, member) })),
  });
  expect(experiment.loads).toHaveLength(1);
  return path;
}

type Scale = { source: string; ratio: number; steps: number; probeInts?: number; referenceProbeInts?: number; prepareShiftMs?: number };
type Snapshot = { result: CliResult; cal: { host_reference: { probeMs: number; probeInts?: number }; loads: { name: string; hostScale: Scale }[] }; csv: string; md: string };

/** The frozen prediction's outputs right after a run (the next run overwrites them). */
function snapshot(result: CliResult): Snapshot {
  return {
    result,
    cal: JSON.parse(readFileSync(join(prediction, "calibration.json"), "utf8")),
    csv: readFileSync(join(prediction, "cpu_overheads-host-load30.csv"), "utf8"),
    md: readFileSync(join(prediction, "calibration.md"), "utf8"),
  };
}

/** The CSV's column `col` as numbers. */
function column(csv: string, col: string): number[] {
  const [head, ...rows] = csv.trimEnd().split("\n");
  const i = head!.split(",").indexOf(col);
  expect(i).toBeGreaterThan(0);
  return rows.map((r) => Number(r.split(",")[i]));
}

let fit: CliResult;
let aware: Snapshot;
let plain: Snapshot;
beforeAll(async () => {
  removeOutputs();
  const fitExp = experimentFile(FIT, "azure-conv-q1", "data/h200-qwen3-0.6b/runs-s17/q1.tar.xz", "q1/runs/azure-r12.987-rep0");
  const target = experimentFile(TARGET, "azure-conv-b256-r1", "data/h200-qwen3-0.6b/runs-s18/r1.tar.xz", "r1/runs/azure-load30-rep0");
  fit = await runCli(["calibrate", fitExp, "--fit", "load30", "--host-scale", "probe"]);
  aware = snapshot(await runCli(["calibrate", target, "--frozen", fitCal, "--host-scale", "probe"]));
  plain = snapshot(await runCli(["calibrate", target, "--frozen", fitCal, "--host-scale", "probe", "--no-probe-size"]));
}, 900_000);
afterAll(() => {
  removeOutputs();
  tmp.remove();
});

describe("runner calibrate --host-scale probe onto another token budget", () => {
  it("records both probe sizes, and by default reads the probe per int with the run's own list in the preparation", () => {
    expect(fit.code, fit.stderr).toBe(0);
    expect(aware.result.code, aware.result.stderr).toBe(0);
    expect(plain.result.code, plain.result.stderr).toBe(0);
    const ref = aware.cal.host_reference;
    expect(ref.probeInts).toBe(2048);
    const a = aware.cal.loads[0]!.hostScale;
    const p = plain.cal.loads[0]!.hostScale;
    expect([a.probeInts, a.referenceProbeInts, p.probeInts, p.referenceProbeInts]).toEqual([1280, 2048, 1280, 2048]);
    // The plain ratio is level over level; the per-int one is that x 2048 / 1280; the shift is the run's own level
    // (plain ratio x the fit's level) less the per-int ratio x the fit's level.
    expect(p).not.toHaveProperty("prepareShiftMs");
    expect(a.ratio).toBeCloseTo((p.ratio * 2048) / 1280, 10);
    expect(a.prepareShiftMs!).toBeCloseTo((p.ratio - a.ratio) * ref.probeMs, 10);
    expect(a.prepareShiftMs!).toBeLessThan(0);
    expect(aware.result.stderr).toMatch(/load load30's server times a 1280-int probe, the fit's a 2048-int one: host scale \d\.\d{4} per int, preparation -0\.\d{4} ms/);
    expect(plain.result.stderr).toContain("calibrate: warning: --host-scale probe: load load30's server times a 1280-int probe");
  });

  it("writes the load's table with the shift in its preparation column only", () => {
    const a = aware.cal.loads[0]!.hostScale;
    const p = plain.cal.loads[0]!.hostScale;
    const prepA = column(aware.csv, "prepare_inputs_e2e_median");
    const prepP = column(plain.csv, "prepare_inputs_e2e_median");
    // Both tables come from the one frozen table: undo the plain ratio, apply the per-int one and the shift.
    prepP.forEach((v, i) => {
      expect(prepA[i]!).toBeCloseTo(Math.max(0, (v / p.ratio) * a.ratio + a.prepareShiftMs!), 4);
    });
    const schedA = column(aware.csv, "schedule_median");
    column(plain.csv, "schedule_median").forEach((v, i) => {
      expect(schedA[i]!).toBeCloseTo((v / p.ratio) * a.ratio, 4);
    });
    expect(aware.md).toContain("| load | steps | host scale | preparation shift (ms) |");
    expect(aware.md).toContain("ratio of the two levels per int");
    expect(plain.md).toContain("| load | steps | host scale |\n");
    expect(plain.md).toContain("Warning: the probe's size differs");
  });
});

/**
 * `runner calibrate --host-scale` end to end: the built CLI on two loads of the fifteenth session's 32-request-cap
 * family (server O4's committed H200 runs, which carry every step's phases but not yet the in-band host probe), the
 * real Vidur, the real comparator. With `phases` each load is simulated with the table's host phases x its real
 * run's host speed over the fit's; `probe` must refuse these runs by name; a frozen calibration only takes the source
 * it was made with. The `phases` run also takes `--admission-backlog --front-per-step` (the front's per-token time
 * read off the fit runs' steps, its per-step time and mean backlog recorded with the delivery delay), which needs the
 * admission delay; --front-per-step needs --admission-backlog and is a fit's flag only. A second fit of the same runs
 * takes `--admission-backlog --admission-in-sim` (the admission moved into the simulation: its constant fitted with
 * each request's backlog taken out, the front taking a step's tokens at the next step's launch), also a fit's flag;
 * that fit frozen with `--path-host-scale` simulates each load's serving path (delivery delays, admission constant,
 * the front's times, the hand-over) at the load's host scale (`ratio`; `slower`: never below the fit's), which needs
 * --host-scale.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { calibrationOutputs, type CliResult, committedExperimentFile, makeTempDir, repoRoot, runCli } from "./helpers.js";

const NAME = "test-host-scale";
const IN_SIM = "test-host-scale-in-sim";
const PATH = "test-host-scale-path";
const SLOWER = "test-host-scale-slower";
const NO_DELAY = "test-host-scale-no-delay";
const LOADS = ["load30", "load60"];
const tmp = makeTempDir("host-scale");
const comparisons = join(repoRoot, "tmp", "comparisons");
const calDir = join(comparisons, `${NAME}-calibration`);
const removeOutputs = calibrationOutputs([NAME, IN_SIM, PATH, SLOWER, NO_DELAY], LOADS).remove;

/** The committed experiment azure-conv-cap32-o, its paths made absolute, its first two loads on O4's runs unpacked here. */
function experimentFile(name = NAME): string {
  const { path, experiment } = committedExperimentFile({
    committed: "azure-conv-cap32-o",
    name,
    dir: tmp.dir,
    runs: { tarball: "data/h200-qwen3-0.6b/runs-s15/o4.tar.xz", members: LOADS.map((l) => `o4/runs/azure-${l}-rep0`) },
    loads: (loads) => loads.slice(0, 2).map((l) => ({ ...l, realRunDir: join(tmp.dir, "o4", "runs", `azure-${l.name}-rep0`) })),
  });
  expect(experiment.loads.map((l) => l.name)).toEqual(LOADS);
  expect(existsSync(dirname(experiment.workload.source.path))).toBe(true);
  return path;
}

/** The CSV's rows as numbers by column name (model_name left out). */
function readCsv(path: string): Record<string, number>[] {
  const [head, ...rows] = readFileSync(path, "utf8").trimEnd().split("\n");
  const cols = head!.split(",");
  return rows.map((r) => Object.fromEntries(r.split(",").flatMap((v, i) => (i === 0 ? [] : [[cols[i]!, Number(v)]]))));
}

let exp: string;
let phases: CliResult;
let probe: CliResult;
let frozenProbe: CliResult;
let backlogWithout: CliResult;
let stepWithout: CliResult;
let stepFrozen: CliResult;
let inSim: CliResult;
let inSimWithout: CliResult;
let inSimFrozen: CliResult;
let path: CliResult;
let pathWithout: CliResult;
let pathSlower: CliResult;
let pathNoDelay: CliResult;
beforeAll(async () => {
  removeOutputs();
  exp = experimentFile();
  backlogWithout = await runCli(["calibrate", exp, "--fit", "load30", "--admission-backlog", "--no-admission-delay"]);
  stepWithout = await runCli(["calibrate", exp, "--fit", "load30", "--front-per-step"]);
  phases = await runCli(["calibrate", exp, "--fit", "load30", "--host-scale", "phases", "--admission-backlog", "--front-per-step"]);
  stepFrozen = await runCli(["calibrate", exp, "--frozen", calDir, "--admission-backlog", "--front-per-step"]);
  probe = await runCli(["calibrate", exp, "--fit", "load30", "--host-scale", "probe"]);
  frozenProbe = await runCli(["calibrate", exp, "--frozen", calDir, "--host-scale", "probe"]);
  const inSimExp = experimentFile(IN_SIM);
  inSimWithout = await runCli(["calibrate", inSimExp, "--fit", "load30", "--admission-in-sim"]);
  inSimFrozen = await runCli(["calibrate", inSimExp, "--frozen", calDir, "--admission-backlog", "--admission-in-sim"]);
  inSim = await runCli(["calibrate", inSimExp, "--fit", "load30", "--host-scale", "phases", "--admission-backlog", "--admission-in-sim"]);
  const pathExp = experimentFile(PATH);
  const inSimCal = join(comparisons, `${IN_SIM}-calibration`);
  pathWithout = await runCli(["calibrate", pathExp, "--frozen", inSimCal, "--path-host-scale", "ratio"]);
  pathSlower = await runCli(["calibrate", experimentFile(SLOWER), "--frozen", inSimCal, "--host-scale", "phases", "--path-host-scale", "slower"]);
  path = await runCli(["calibrate", pathExp, "--frozen", inSimCal, "--host-scale", "phases", "--path-host-scale", "ratio"]);
  const noDelayExp = experimentFile(NO_DELAY);
  const noDelay = await runCli(["calibrate", noDelayExp, "--fit", "load30", "--host-scale", "phases", "--no-delivery-delay"]);
  expect(noDelay.code, noDelay.stderr).toBe(0);
  pathNoDelay = await runCli(["calibrate", noDelayExp, "--frozen", join(comparisons, `${NO_DELAY}-calibration`), "--host-scale", "phases", "--path-host-scale", "slower"]);
}, 900_000);
afterAll(() => {
  removeOutputs();
  tmp.remove();
});

describe("runner calibrate --host-scale", () => {
  it("phases: simulates each load with the host phases x its run's host speed and reports the scales", () => {
    expect(phases.code, phases.stderr).toBe(0);
    const cal = JSON.parse(readFileSync(join(calDir, "calibration.json"), "utf8"));
    expect(cal.host_reference.source).toBe("phases");
    expect(cal.host_reference.steps).toBeGreaterThan(100);
    expect(Object.keys(cal.host_reference.medianMsByBatch).length).toBeGreaterThan(3);
    const base = readCsv(join(calDir, "cpu_overheads.csv"));
    expect(cal.loads.map((l: { name: string }) => l.name)).toEqual(LOADS);
    for (const load of cal.loads as { name: string; hostScale: { source: string; ratio: number; steps: number } }[]) {
      expect(load.hostScale.source).toBe("phases");
      expect(load.hostScale.steps).toBeGreaterThan(100);
      expect(load.hostScale.ratio).toBeGreaterThan(0.5);
      expect(load.hostScale.ratio).toBeLessThan(2);
      // The load's own table: the three host columns x its ratio, every other column as fitted.
      const scaled = readCsv(join(calDir, `cpu_overheads-host-${load.name}.csv`));
      expect(scaled).toHaveLength(base.length);
      scaled.forEach((row, i) => {
        for (const [col, v] of Object.entries(base[i]!)) {
          const host = ["schedule_median", "prepare_inputs_e2e_median", "process_model_outputs_median"].includes(col);
          expect(row[col]).toBeCloseTo(host ? v * load.hostScale.ratio : v, 5);
        }
      });
      expect(phases.stderr).toContain(`calibrate: host scale (phases): ${load.name} x ${load.hostScale.ratio.toFixed(4)}`);
    }
    // The two loads ran at different host speeds (O4's 60 % sat in the fast mode more): the scales differ.
    expect(Math.abs(cal.loads[0].hostScale.ratio - cal.loads[1].hostScale.ratio)).toBeGreaterThan(0.001);
    const md = readFileSync(join(calDir, "calibration.md"), "utf8");
    expect(md).toContain("Host scale (--host-scale phases)");
    expect(md).toContain("attribution (what is left once the host's speed is known), not a prediction");
    expect(md).toMatch(/\| load60 \| \d+ \| \d\.\d{4} \|/);
  });

  it("--admission-backlog --front-per-step: records the front's per-token and per-step times and mean backlog, and needs the admission delay", () => {
    expect(backlogWithout.code).toBe(2);
    expect(backlogWithout.stderr).toContain("--admission-backlog: needs the delivery and admission delays");
    expect(stepWithout.code).toBe(2);
    expect(stepWithout.stderr).toContain("--front-per-step: shapes the front's backlog; give it with --admission-backlog");
    expect(stepFrozen.code).toBe(2);
    expect(stepFrozen.stderr).toContain("--front-per-step: shapes the table a fit writes");
    const cal = JSON.parse(readFileSync(join(calDir, "calibration.json"), "utf8"));
    const d = cal.delivery_delay as { admissionS: number; frontSPerToken: number; frontSPerStep: number; admissionBacklogMeanS: number };
    // O4's front writes a step's tokens one after another at some 20 us each (the steps' spread); the step's own
    // time comes off the grid (0-1 ms).
    expect(d.frontSPerToken).toBeGreaterThan(5e-6);
    expect(d.frontSPerToken).toBeLessThan(40e-6);
    expect(d.frontSPerStep).toBeGreaterThanOrEqual(0);
    expect(d.frontSPerStep).toBeLessThanOrEqual(1e-3);
    expect(d.admissionBacklogMeanS).toBeGreaterThanOrEqual(0);
    expect(d.admissionBacklogMeanS).toBeLessThan(d.admissionS + 0.01);
    // The simulations were given it: each run's manifest holds the same delivery delay.
    for (const load of LOADS) {
      const run = JSON.parse(readFileSync(join(repoRoot, "tmp", "vidur_runs", `${NAME}-${load}-cal`, "run.json"), "utf8"));
      expect(run.config.delivery_delay.frontSPerToken).toBe(d.frontSPerToken);
      expect(run.config.delivery_delay.frontSPerStep).toBe(d.frontSPerStep);
    }
    expect(phases.stderr).toContain("plus each request's front backlog at its arrival (--admission-backlog");
    expect(phases.stderr).toMatch(/and every step at \d+ us, --front-per-step\)/);
  });

  it("--admission-in-sim: moves the admission into the simulation (a front gate), a fit's flag that needs --admission-backlog", () => {
    expect(inSimWithout.code).toBe(2);
    expect(inSimWithout.stderr).toContain("--admission-in-sim: moves the front's backlog into the simulation; give it with --admission-backlog");
    expect(inSimFrozen.code).toBe(2);
    expect(inSimFrozen.stderr).toContain("--admission-in-sim: shapes the table a fit writes");
    expect(inSim.code, inSim.stderr).toBe(0);
    const cal = JSON.parse(readFileSync(join(comparisons, `${IN_SIM}-calibration`, "calibration.json"), "utf8"));
    const d = cal.delivery_delay as { admissionS: number; frontSPerToken: number; admissionBacklogMeanS: number; admissionInSimulation: boolean; frontHandoffS: number };
    expect(d.admissionInSimulation).toBe(true);
    // The constant holds no backlog (taken out per request); O4's steps carry their phases: the front takes a step's
    // tokens once the next step is launched, some tenths of a millisecond after the step ends.
    expect(d.admissionBacklogMeanS).toBe(0);
    expect(d.admissionS).toBeGreaterThan(0);
    expect(d.frontHandoffS).toBeGreaterThan(0.05e-3);
    expect(d.frontHandoffS).toBeLessThan(3e-3);
    expect(inSim.stderr).toContain("moving each arrival inside the simulation with the front's backlog at it (--admission-in-sim");
    for (const load of LOADS) {
      const simDir = join(repoRoot, "tmp", "vidur_runs", `${IN_SIM}-${load}-cal`);
      const spec = JSON.parse(readFileSync(join(simDir, "vidur", "sidecar_spec.json"), "utf8"));
      expect(spec.front_gate).toEqual({ constant_s: d.admissionS, per_token_s: d.frontSPerToken, per_step_s: 0, handoff_s: d.frontHandoffS });
      // Every request went through the gate: at least the constant, more where the front was busy at its arrival.
      const delays = readFileSync(join(simDir, "vidur", "bridge_admissions.csv"), "utf8").trim().split("\n").slice(1).map((l) => Number(l.split(",")[1]));
      expect(delays.length).toBeGreaterThan(100);
      expect(Math.min(...delays)).toBeCloseTo(d.admissionS, 9);
    }
  });

  it("--path-host-scale: each load's serving path x its host scale (the front gate's times and the delivery delays), with --host-scale only", () => {
    expect(pathWithout.code).toBe(2);
    expect(pathWithout.stderr).toContain("--path-host-scale: scales the serving path by each load's host scale; give it with --host-scale");
    expect(pathNoDelay.code).toBe(2);
    expect(pathNoDelay.stderr).toContain(`--path-host-scale: the frozen calibration ${join(comparisons, `${NO_DELAY}-calibration`)} has no delivery delay to scale`);
    expect(path.code, path.stderr).toBe(0);
    const fit = JSON.parse(readFileSync(join(comparisons, `${IN_SIM}-calibration`, "calibration.json"), "utf8"));
    const d = fit.delivery_delay as { delaysS: number[]; admissionS: number; frontSPerToken: number; frontHandoffS: number; firstTokenExtraS: number };
    const cal = JSON.parse(readFileSync(join(comparisons, `${PATH}-prediction`, "calibration.json"), "utf8"));
    // The calibration keeps the fit's table; each load's simulation took it scaled.
    expect(cal.delivery_delay).toEqual(fit.delivery_delay);
    for (const load of cal.loads as { name: string; hostScale: { ratio: number }; servingPathScale: number }[]) {
      const r = load.hostScale.ratio;
      expect(load.servingPathScale).toBe(r);
      const simDir = join(repoRoot, "tmp", "vidur_runs", `${PATH}-${load.name}-cal`);
      const spec = JSON.parse(readFileSync(join(simDir, "vidur", "sidecar_spec.json"), "utf8"));
      expect(spec.front_gate.constant_s).toBeCloseTo(d.admissionS * r, 12);
      expect(spec.front_gate.per_token_s).toBeCloseTo(d.frontSPerToken * r, 12);
      expect(spec.front_gate.handoff_s).toBeCloseTo(d.frontHandoffS * r, 12);
      const run = JSON.parse(readFileSync(join(simDir, "run.json"), "utf8"));
      const delays = run.config.delivery_delay.delaysS as number[];
      expect(delays).toHaveLength(d.delaysS.length);
      delays.forEach((v, i) => {
        expect(v).toBeCloseTo(d.delaysS[i]! * r, 12);
      });
      expect(run.config.delivery_delay.firstTokenExtraS).toBeCloseTo(d.firstTokenExtraS * r, 12);
      expect(path.stderr).toContain(`calibrate: --path-host-scale: ${load.name}'s serving path x ${r.toFixed(4)}`);
    }
    // The two loads' hosts differ, so their serving paths do too.
    expect(cal.loads[0].servingPathScale).not.toBe(cal.loads[1].servingPathScale);
    const md = readFileSync(join(comparisons, `${PATH}-prediction`, "calibration.md"), "utf8");
    expect(md).toContain("Serving path at the host's speed (--path-host-scale)");
    expect(md).toContain(`| load60 | ${cal.loads[1].servingPathScale.toFixed(4)} |`);
    // slower: the same scales, none below 1 (a host faster than the fit's keeps the fit's serving path).
    expect(pathSlower.code, pathSlower.stderr).toBe(0);
    const slower = JSON.parse(readFileSync(join(comparisons, `${SLOWER}-prediction`, "calibration.json"), "utf8"));
    (slower.loads as { hostScale: { ratio: number }; servingPathScale: number }[]).forEach((l, i) => {
      expect(l.hostScale.ratio).toBe(cal.loads[i].hostScale.ratio);
      expect(l.servingPathScale).toBe(Math.max(1, l.hostScale.ratio));
    });
  });

  it("probe: refuses runs recorded before the in-band probe, naming the flag and the fit's runs", () => {
    expect(probe.code).toBe(2);
    expect(probe.stderr).toContain("--host-scale probe: the fit's real runs");
    expect(probe.stderr).toContain("no step has a host_probe_time");
    expect(probe.stderr).toContain("or use --host-scale phases");
  });

  it("a frozen calibration takes only the source it was made with", () => {
    expect(frozenProbe.code).toBe(2);
    expect(frozenProbe.stderr).toContain(`--host-scale probe: the frozen calibration ${calDir} was made with --host-scale phases`);
    expect(existsSync(join(comparisons, `${NAME}-prediction`, "calibration.json"))).toBe(false);
  });
});

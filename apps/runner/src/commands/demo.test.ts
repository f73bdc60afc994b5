import { join } from "node:path";
import { existsSync } from "node:fs";
import { readIterations, readRunManifest } from "@vf/metrics-io";
import { describe, expect, it } from "vitest";
import { readExperiment, resolveFrom } from "../experiment.js";
import { checkSameWorkload } from "./run.js";
import { projectPaths } from "../paths.js";
import { demoCalibration, demoExperimentPath } from "./demo.js";

describe("demoCalibration", () => {
  const shape = { hostTail: "level", decodeKvTerm: true, misfitBySize: true };
  const host = { hostScale: "probe", pathHostScale: "slower", stepHostSpeed: true, speedJitter: true };
  const front = { admissionBacklog: true, frontPerStep: true, admissionInSim: true };
  it("is the recommended calibration unless a --no- flag takes out the probe's or the front's part", () => {
    expect(demoCalibration({})).toEqual({ ...shape, ...host, ...front });
    expect(demoCalibration({ hostScale: true, admissionBacklog: true })).toEqual({ ...shape, ...host, ...front });
    expect(demoCalibration({ hostScale: false })).toEqual({ ...shape, ...front });
    expect(demoCalibration({ admissionBacklog: false })).toEqual({ ...shape, ...host });
    expect(demoCalibration({ hostScale: false, admissionBacklog: false })).toEqual(shape);
  });
});

describe("the committed demo", () => {
  it("has three loads whose recorded runs carry the in-band host probe on every step the default calibration scales", async () => {
    const { experiment, baseDir } = await readExperiment(demoExperimentPath(projectPaths()));
    expect(experiment.loads.map((l) => l.name)).toHaveLength(3);
    for (const load of experiment.loads) {
      const steps = await readIterations(join(baseDir, load.realRunDir!, "iterations.csv"));
      expect(steps.length, load.name).toBeGreaterThan(100);
      const probed = steps.filter((s) => s.host_probe_time != null && s.host_probe_time > 0);
      expect(probed.length, load.name).toBe(steps.length);
    }
  });

  it("gives every load repeats of its own workload, so the calibration reports the run-to-run spread", async () => {
    const { experiment, baseDir } = await readExperiment(demoExperimentPath(projectPaths()));
    for (const load of experiment.loads) {
      const own = await readRunManifest(join(baseDir, load.realRunDir!));
      expect(load.realRepeatDirs?.length ?? 0, load.name).toBeGreaterThanOrEqual(2);
      const dirs = load.realRepeatDirs!.map((d) => resolveFrom(baseDir, d));
      await expect(checkSameWorkload({ name: load.name, workloadId: own.workload_id! }, dirs, "realRepeatDirs")).resolves.toBeUndefined();
      // The front's fit reads the engine's token times and admissions (--front-per-step, --admission-in-sim).
      for (const f of ["server_token_timestamps.csv", "server_admissions.csv"]) expect(existsSync(join(baseDir, load.realRunDir!, f)), `${load.name} ${f}`).toBe(true);
    }
  });
});

import { join } from "node:path";
import { readIterations } from "@vf/metrics-io";
import { describe, expect, it } from "vitest";
import { readExperiment } from "../experiment.js";
import { projectPaths } from "../paths.js";
import { demoCalibration, demoExperimentPath } from "./demo.js";

describe("demoCalibration", () => {
  it("calibrates with the host probe and the front's backlog unless a --no- flag turns either off", () => {
    expect(demoCalibration({})).toEqual({ hostScale: "probe", admissionBacklog: true });
    expect(demoCalibration({ hostScale: true, admissionBacklog: true })).toEqual({ hostScale: "probe", admissionBacklog: true });
    expect(demoCalibration({ hostScale: false })).toEqual({ admissionBacklog: true });
    expect(demoCalibration({ admissionBacklog: false })).toEqual({ hostScale: "probe" });
    expect(demoCalibration({ hostScale: false, admissionBacklog: false })).toEqual({});
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
});

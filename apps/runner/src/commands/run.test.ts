import { describe, expect, it } from "vitest";
import { parseExperiment } from "../experiment.js";
import { projectPaths } from "../paths.js";
import { simulationSettings } from "./run.js";

const experiment = (simulate?: Record<string, unknown>) =>
  parseExperiment(
    {
      name: "settings",
      model: { config: "c.json" },
      workload: { source: { kind: "synthetic", count: 2, prefill: { kind: "fixed", value: 8 }, decode: { kind: "fixed", value: 4 } }, seed: 0 },
      loads: [{ name: "low", arrivals: { kind: "poisson", rateRps: 1 } }],
      ...(simulate ? { simulate } : {}),
    },
    "settings.json",
  );
const where = { paths: projectPaths(), profileRoot: "/p", configPath: "/c.json" };

describe("simulationSettings", () => {
  it("passes the experiment's GQA decode batching overhead to Vidur only when the file sets it", () => {
    expect(simulationSettings(experiment(), where).predictor).toEqual({ grid: "pinned" });
    expect(simulationSettings(experiment({ attentionDecodeBatchingOverheadFraction: 0 }), where).predictor).toEqual({
      grid: "pinned",
      attentionDecodeBatchingOverheadFraction: 0,
    });
    expect(simulationSettings(experiment({ grid: "full", attentionDecodeBatchingOverheadFraction: 0.2 }), where).predictor).toEqual({
      grid: "full",
      attentionDecodeBatchingOverheadFraction: 0.2,
    });
  });

  it("passes the experiment's step-time scale only when the file sets it", () => {
    expect(simulationSettings(experiment(), where)).not.toHaveProperty("stepTimeScale");
    expect(simulationSettings(experiment({ stepTimeScale: 0.97 }), where).stepTimeScale).toBe(0.97);
  });
});

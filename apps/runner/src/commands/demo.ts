/**
 * `runner demo`: the embedded default. Builds the example workload, runs the real Vidur on the committed H200
 * Qwen3-0.6B profile and compares it with the committed real runs of the same workload recorded on the H200.
 * No GPU or server needed: the experiment file lives in data/h200-qwen3-0.6b/demo-experiment.json.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../errors.js";
import { readExperiment } from "../experiment.js";
import type { ProjectPaths } from "../paths.js";
import { type ExperimentOutcome, runExperiment } from "./run.js";

/** Path of the embedded demo experiment. */
export function demoExperimentPath(paths: ProjectPaths): string {
  return join(paths.h200Data, "demo-experiment.json");
}

/**
 * The demo's calibration flags: by default each load's host speed from its run's in-band probe (`runner calibrate
 * --host-scale probe`) and the admission delay grown by the server front's backlog (`--admission-backlog`); the
 * `--no-host-scale` and `--no-admission-backlog` flags (false here) leave either out.
 */
export function demoCalibration(o: { hostScale?: boolean; admissionBacklog?: boolean }): { hostScale?: "probe"; admissionBacklog?: true } {
  return { ...(o.hostScale !== false ? { hostScale: "probe" as const } : {}), ...(o.admissionBacklog !== false ? { admissionBacklog: true as const } : {}) };
}

/** Runs the demo experiment. */
export async function demo(paths: ProjectPaths, opts: { force?: boolean; signal?: AbortSignal; command: string }): Promise<ExperimentOutcome> {
  const path = demoExperimentPath(paths);
  if (!existsSync(path)) throw new UsageError(`${path} is missing: the demo needs the committed H200 data (see data/README.md)`);
  const { experiment, baseDir } = await readExperiment(path);
  return runExperiment(experiment, { baseDir, paths, command: opts.command, ...(opts.force !== undefined ? { force: opts.force } : {}), ...(opts.signal !== undefined ? { signal: opts.signal } : {}) });
}

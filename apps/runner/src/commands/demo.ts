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

/** The calibrate options the demo sets (a subset of `calibrate`'s context). */
export interface DemoCalibration {
  hostTail: "level";
  decodeKvTerm: true;
  misfitBySize: true;
  hostScale?: "probe";
  pathHostScale?: "slower";
  stepHostSpeed?: true;
  speedJitter?: true;
  admissionBacklog?: true;
  frontPerStep?: true;
  admissionInSim?: true;
}

/**
 * The demo's calibration: the recommended one (root README, "Which to use now": `runner calibrate --fit LOAD
 * --step-host-speed --speed-jitter --host-tail level --decode-kv-term --front-per-step --admission-in-sim
 * --misfit-by-size --admission-backlog --host-scale probe --path-host-scale slower`). `--no-host-scale` (hostScale
 * false) calibrates blind: no in-band probe anywhere (neither each load's host speed, the serving path at it, nor the
 * fit's steps taken at one speed with their stretches kept in the jitter); `--no-admission-backlog` (admissionBacklog false) keeps the admission delay constant (no front
 * backlog, per step or inside the simulation).
 */
export function demoCalibration(o: { hostScale?: boolean; admissionBacklog?: boolean }): DemoCalibration {
  return {
    hostTail: "level",
    decodeKvTerm: true,
    misfitBySize: true,
    ...(o.hostScale !== false ? { hostScale: "probe" as const, pathHostScale: "slower" as const, stepHostSpeed: true as const, speedJitter: true as const } : {}),
    ...(o.admissionBacklog !== false ? { admissionBacklog: true as const, frontPerStep: true as const, admissionInSim: true as const } : {}),
  };
}

/** Runs the demo experiment. */
export async function demo(paths: ProjectPaths, opts: { force?: boolean; signal?: AbortSignal; command: string }): Promise<ExperimentOutcome> {
  const path = demoExperimentPath(paths);
  if (!existsSync(path)) throw new UsageError(`${path} is missing: the demo needs the committed H200 data (see data/h200-qwen3-0.6b/MANIFEST.md)`);
  const { experiment, baseDir } = await readExperiment(path);
  return runExperiment(experiment, { baseDir, paths, command: opts.command, ...(opts.force !== undefined ? { force: opts.force } : {}), ...(opts.signal !== undefined ? { signal: opts.signal } : {}) });
}

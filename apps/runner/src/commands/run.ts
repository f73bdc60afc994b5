/**
 * `runner run`: every step of an experiment file — workload, bench (or a recorded real run), simulate, compare per
 * load, then the multi-load summary. Resumes: a bench whose output dir has its run.json is skipped; a simulation or
 * comparison is skipped only when its dir also holds the key of the inputs it was made from (`.inputs-key`: the
 * workload, settings and profile files; the real and simulated runs' manifests), so a re-recorded run or a new
 * profile is never compared from stale output.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { LoadPoint } from "@vf/comparator";
import { atomicWriteFile, gitSha, type RunManifest, readRunManifest, runDirPath } from "@vf/metrics-io";
import { hashFile, type RunVidurOptions } from "@vf/vidur-bridge";
import type { SourceSpec } from "@vf/workload-spec";
import { realAdmissionOrder } from "../admission-order.js";
import { UsageError } from "../errors.js";
import type { Experiment } from "../experiment.js";
import { resolveFrom } from "../experiment.js";
import type { ProjectPaths } from "../paths.js";
import { log } from "../progress.js";
import { bench, type Endpoint } from "./bench.js";
import { compare } from "./compare.js";
import { simulate } from "./simulate.js";
import { formatWorkloadSummary, makeWorkload } from "./workload.js";

/** The steps of an experiment. */
export type Step = "workload" | "bench" | "simulate" | "compare";
/** Every step, in order. */
export const STEPS: readonly Step[] = ["workload", "bench", "simulate", "compare"];

/** What a run produced, per load. */
export interface ExperimentOutcome {
  loads: {
    name: string;
    workloadDir: string;
    workloadId: string;
    realDir: string;
    simDir: string;
    comparisonDir: string;
    reportPath: string;
    /** The order the simulation took the requests in (load.admissionOrder "real"); absent: the workload's. */
    admissionOrder?: number[];
  }[];
  loadsDir: string | null;
}

const INPUTS_KEY = ".inputs-key";

/** sha256 (16 hex) of a JSON value. */
function keyOf(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 16);
}

/** Relative path -> sha256 of every file under dir (sorted; empty when dir is missing): the profile files Vidur
 * reads, wherever the bridge locates them under the root (compute, network, an "auto" cpu_overhead table). */
async function treeHashes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).sort();
  for (const f of files) out[f.slice(dir.length + 1)] = await hashFile(f);
  return out;
}

/** True when dir was completed (run.json) from inputs with this key. */
function madeFrom(dir: string, key: string): boolean {
  const keyPath = join(dir, INPUTS_KEY);
  return existsSync(join(dir, "run.json")) && existsSync(keyPath) && readFileSync(keyPath, "utf8").trim() === key;
}

function resolveSource(source: SourceSpec, baseDir: string): SourceSpec {
  return source.kind === "synthetic" ? source : { ...source, path: resolveFrom(baseDir, source.path) };
}

async function contextLimitOf(configPath: string): Promise<number> {
  let json: { max_position_embeddings?: unknown };
  try {
    json = JSON.parse(await readFile(configPath, "utf8")) as typeof json;
  } catch (e) {
    throw new UsageError(`model.config ${configPath}: cannot read a JSON config (${(e as Error).message})`);
  }
  if (typeof json.max_position_embeddings !== "number") {
    throw new UsageError(`model.config ${configPath}: max_position_embeddings missing; set model.contextLimit`);
  }
  return json.max_position_embeddings;
}

/** The Vidur settings an experiment fixes for every load (model, device, scheduler, KV, predictor, cache). */
export function simulationSettings(
  experiment: Experiment,
  where: { paths: ProjectPaths; profileRoot: string; configPath: string },
): Omit<RunVidurOptions, "workloadDir" | "runDir"> {
  return {
    python: where.paths.python,
    profilingRoot: where.profileRoot,
    device: experiment.device,
    modelName: experiment.model.name,
    modelConfigPath: where.configPath,
    scheduler: experiment.scheduler,
    kvCache: {
      ...(experiment.kvCache.blockSize !== undefined ? { blockSize: experiment.kvCache.blockSize } : {}),
      ...(experiment.kvCache.numBlocks !== undefined ? { numBlocks: experiment.kvCache.numBlocks } : {}),
    },
    seed: experiment.simulate.seed,
    predictor: {
      grid: experiment.simulate.grid,
      ...(experiment.simulate.attentionDecodeBatchingOverheadFraction !== undefined
        ? { attentionDecodeBatchingOverheadFraction: experiment.simulate.attentionDecodeBatchingOverheadFraction }
        : {}),
    },
    cacheDir: where.paths.vidurCache,
    ...(experiment.simulate.stepTimeScale !== undefined ? { stepTimeScale: experiment.simulate.stepTimeScale } : {}),
  };
}

/** The built-in server's scheduler flags, matched to the Vidur scheduler unless the experiment sets them. */
export function builtinServerArgs(experiment: Experiment, configPath: string): string[] {
  const extra = experiment.bench?.serverArgs ?? [];
  const args = ["serve", "--model-config", configPath, ...extra];
  const has = (flag: string) => extra.includes(flag);
  const s = experiment.scheduler;
  if (s.kind === "sarathi" && !has("--max-num-batched-tokens")) args.push("--max-num-batched-tokens", String(s.chunkSize));
  if (!has("--max-batch-size")) args.push("--max-batch-size", String(s.batchSizeCap));
  if (experiment.kvCache.blockSize !== undefined && !has("--block-size")) args.push("--block-size", String(experiment.kvCache.blockSize));
  return args;
}

/** Runs the experiment; `force` redoes completed steps. */
export async function runExperiment(
  experiment: Experiment,
  ctx: {
    baseDir: string;
    paths: ProjectPaths;
    force?: boolean;
    signal?: AbortSignal;
    command: string;
    apiKey?: string;
    /** Steps to run (default all); e.g. workload+bench on a GPU host without Vidur. */
    steps?: ReadonlySet<Step>;
  },
): Promise<ExperimentOutcome> {
  const { paths } = ctx;
  const configPath = resolveFrom(ctx.baseDir, experiment.model.config);
  const contextLimit = experiment.model.contextLimit ?? (await contextLimitOf(configPath));
  const profileRoot = experiment.profileRoot === undefined ? paths.h200ProfileRoot : resolveFrom(ctx.baseDir, experiment.profileRoot);
  const sha = gitSha(paths.root);
  const done = (dir: string) => ctx.force !== true && existsSync(join(dir, "run.json"));
  // Ctrl-C during a bench still writes run.json (with health.aborted): such a run is partial, not complete.
  const benchDone = async (dir: string): Promise<boolean> => {
    if (!done(dir)) return false;
    const manifest = JSON.parse(await readFile(join(dir, "run.json"), "utf8")) as { health?: { aborted?: unknown } };
    if (manifest.health?.aborted !== true) return true;
    log(`bench: ${dir} holds an interrupted run; benching again`);
    return false;
  };
  const outcome: ExperimentOutcome = { loads: [], loadsDir: null };
  const points: LoadPoint[] = [];
  const want = (step: Step) => ctx.steps === undefined || ctx.steps.has(step);

  for (const load of experiment.loads) {
    if (ctx.signal?.aborted === true) break;
    const id = `${experiment.name}-${load.name}`;
    log(`== ${id}`);
    const w = await makeWorkload(
      {
        source: resolveSource(experiment.workload.source, ctx.baseDir),
        arrivals: load.arrivals,
        seed: experiment.workload.seed,
        contextLimit,
        model: experiment.model.name,
        ...(experiment.workload.limit !== undefined ? { limit: experiment.workload.limit } : {}),
        ...(experiment.workload.overContext !== undefined ? { overContext: experiment.workload.overContext } : {}),
      },
      { workloadsRoot: paths.workloads },
    );
    log(formatWorkloadSummary(w.dir, w.summary));
    // The load's repeats (the run-to-run spread in its comparison), checked before anything runs.
    const repeatDirs = (load.realRepeatDirs ?? []).map((d) => resolveFrom(ctx.baseDir, d));
    await checkSameWorkload({ name: load.name, workloadId: w.workload.manifest.id }, repeatDirs, `loads.${load.name}.realRepeatDirs`);

    let realDir: string;
    if (load.realRunDir !== undefined) {
      realDir = resolveFrom(ctx.baseDir, load.realRunDir);
      if (!existsSync(join(realDir, "run.json"))) throw new UsageError(`loads.${load.name}.realRunDir ${realDir}: no run.json there`);
    } else {
      realDir = runDirPath(paths.root, "real", id);
      if (!want("bench")) log("bench: skipped (not in --steps)");
      else if (await benchDone(realDir)) log(`bench: ${realDir} already complete, skipped`);
      else {
        const b = experiment.bench;
        if (b === undefined) throw new UsageError(`load ${load.name}: neither bench.endpoint nor loads.${load.name}.realRunDir is set`);
        const endpoint: Endpoint =
          b.endpoint === "builtin"
            ? { kind: "builtin", command: paths.gpuHarness, args: builtinServerArgs(experiment, configPath) }
            : { kind: "url", url: b.endpoint, engineTimeline: b.engineTimeline };
        const result = await bench(endpoint, {
          model: b.servedModel ?? experiment.model.name,
          workloadDir: w.dir,
          outDir: realDir,
          runId: id,
          warmupRequests: b.warmupRequests,
          requestTimeoutS: b.requestTimeoutS,
          ...(b.maxConcurrency !== undefined ? { maxConcurrency: b.maxConcurrency } : {}),
          ...(ctx.apiKey !== undefined ? { apiKey: ctx.apiKey } : {}),
          ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
          command: ctx.command,
          gitSha: sha,
          manifestExtra: { experiment: experiment.name, load: load.name, weights: "random" },
        });
        if (result.aborted) break;
      }
    }

    const simDir = runDirPath(paths.root, "vidur", id);
    let admissionOrder: number[] | undefined;
    if (load.admissionOrder === "real" && want("simulate")) {
      if (!existsSync(join(realDir, "run.json"))) throw new UsageError(`loads.${load.name}.admissionOrder "real": no real run in ${realDir} to take the order from`);
      const o = await realAdmissionOrder(realDir, w.summary.requests);
      admissionOrder = o.order;
      log(`simulate: the real run's admission order (${o.source}), first ${o.order.slice(0, 8).join(", ")}, ...`);
    }
    const ordered = admissionOrder !== undefined ? { admissionOrder } : {};
    if (!want("simulate")) log("simulate: skipped (not in --steps)");
    else {
      const settings = { ...simulationSettings(experiment, { paths, profileRoot, configPath }), ...ordered };
      const simKey = keyOf({ workload: w.workload.manifest.id, settings, profiles: await treeHashes(profileRoot), config: await hashFile(configPath) });
      if (ctx.force !== true && madeFrom(simDir, simKey)) log(`simulate: ${simDir} already complete, skipped`);
      else {
        if (done(simDir)) log(`simulate: ${simDir} was made from other inputs; simulating again`);
        await simulate({ ...settings, workloadDir: w.dir, runDir: simDir, runId: id, workloadId: w.workload.manifest.id, command: ctx.command, gitSha: sha });
        await atomicWriteFile(join(simDir, INPUTS_KEY), `${simKey}\n`);
      }
    }

    const comparisonDir = runDirPath(paths.root, "comparison", id);
    const produced = { name: load.name, workloadDir: w.dir, workloadId: w.workload.manifest.id, realDir, simDir, comparisonDir, reportPath: join(comparisonDir, "report.html"), ...ordered };
    if (!want("compare")) {
      log("compare: skipped (not in --steps)");
      outcome.loads.push(produced);
      continue;
    }
    const compareOptions = { marginRel: experiment.compare.marginRel, bootstrapReplicates: experiment.compare.bootstrapReplicates };
    const manifestOf = async (dir: string) => (existsSync(join(dir, "run.json")) ? await readFile(join(dir, "run.json"), "utf8") : null);
    const repeats = repeatDirs.length > 0 ? { repeats: await Promise.all(repeatDirs.map(manifestOf)) } : {};
    const compareKey = keyOf({ real: await manifestOf(realDir), sim: await manifestOf(simDir), options: compareOptions, ...repeats });
    if (ctx.force !== true && madeFrom(comparisonDir, compareKey)) log(`compare: ${comparisonDir} already complete, skipped`);
    else {
      if (done(comparisonDir)) log(`compare: ${comparisonDir} was made from other runs; comparing again`);
      if (repeatDirs.length > 0) log(`compare: the real run-to-run spread over ${repeatDirs.length + 1} runs (loads.${load.name}.realRepeatDirs)`);
      await compare({ realDir, simDir, outDir: comparisonDir, options: { ...compareOptions, command: ctx.command, gitSha: sha }, ...(repeatDirs.length > 0 ? { repeatDirs } : {}) });
      await atomicWriteFile(join(comparisonDir, INPUTS_KEY), `${compareKey}\n`);
    }
    const rate = "rateRps" in load.arrivals && load.arrivals.rateRps !== undefined ? load.arrivals.rateRps : w.summary.meanRateRps ?? 0;
    points.push({ load: rate, dir: comparisonDir });
    outcome.loads.push(produced);
  }
  if (points.length > 1) {
    const loadsDir = runDirPath(paths.root, "comparison", `${experiment.name}-loads`);
    const { compareLoads } = await import("@vf/comparator");
    await compareLoads({ points, outDir: loadsDir, loadLabel: "arrival rate (requests/s)" });
    outcome.loadsDir = loadsDir;
  }
  return outcome;
}

/** Each dir must be a recorded real run (its run.json kind "real"); a UsageError naming the flag and dir otherwise. */
export async function checkRealRuns(flag: string, dirs: readonly string[]): Promise<RunManifest[]> {
  const out: RunManifest[] = [];
  for (const dir of dirs) {
    let manifest: RunManifest;
    try {
      manifest = await readRunManifest(dir);
    } catch (err) {
      throw new UsageError(`${flag}: ${(err as Error).message}; expected a recorded real run dir`);
    }
    if (manifest.kind !== "real") throw new UsageError(`${flag} ${dir}: a ${manifest.kind} run dir; expected a recorded real run`);
    out.push(manifest);
  }
  return out;
}

/**
 * More recordings of one load (--fit-also's of the fit load, a load's realRepeatDirs) must be real runs of its workload
 * (their run.json's workload id is the load's); `what` names the flag or field in the error.
 */
export async function checkSameWorkload(load: { name: string; workloadId: string }, dirs: readonly string[], what = "--fit-also"): Promise<void> {
  const want = load.workloadId;
  const manifests = await checkRealRuns(what, dirs);
  manifests.forEach((manifest, i) => {
    if (manifest.workload_id !== want) {
      throw new UsageError(`${what} ${dirs[i]}: workload ${manifest.workload_id}, but load ${load.name} is workload ${want}; give recordings of that load only`);
    }
  });
}

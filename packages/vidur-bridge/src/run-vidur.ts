/**
 * runVidur: one Vidur simulation of a workload in a subprocess (the Python sidecar run by the venv's
 * interpreter), then normalization of its output into the shared run-dir schema and a run.json manifest.
 * It does not create the venv (see checkVidurEnv) and never edits Vidur's installed files.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { atomicWriteFile, describeHost, writeRunManifest } from "@vf/metrics-io";
import { execa } from "execa";
import { buildVidurArgs } from "./args.js";
import { admissionConstantS } from "./calibrate.js";
import { checkVidurEnv, sidecarEnv } from "./env.js";
import { toErrorCode, VidurBridgeError } from "./errors.js";
import { deriveGridLimits } from "./limits.js";
import { type NormalizeSummary, normalizeVidurRun } from "./normalize.js";
import {
  BUILTIN_DEVICES,
  DEFAULT_SCHEDULER,
  type DeliveryDelayOption,
  type DeviceSpec,
  EXTRA_DEVICES,
  FULL_FOREST_GRID,
  type ForestGrid,
  type NodeSpec,
  PINNED_FOREST_GRID,
  type RunVidurOptions,
  type VidurProgress,
} from "./options.js";
import { hashFile, hashProfile, locateCpuOverhead, locateProfile, readProfilePredictorDefaults } from "./profile.js";
import { readVidurTrace, reorderTrace, writeVidur026Trace } from "./trace.js";

/** What runVidur produced. */
export interface RunVidurResult extends NormalizeSummary {
  runDir: string;
  vidurVersion: string;
  /** The predictor cache folder used (one per profile content + predictor settings). */
  cacheDir: string;
  /** The exact argv of the subprocess. */
  argv: string[];
  wallS: number;
}

const PROGRESS_PREFIX = "@@vidur-bridge ";
const PYTHON_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "python");

function badOption(message: string): never {
  throw new VidurBridgeError("VIDUR_BAD_OPTION", message);
}

function positiveInt(name: string, v: number | undefined, min = 1): void {
  if (v !== undefined && (!Number.isInteger(v) || v < min)) badOption(`option ${name} = ${v}, expected an integer >= ${min}`);
}

function resolveDevice(device: string | DeviceSpec): { name: string; spec: DeviceSpec | null; defaultNode: string } {
  if (typeof device !== "string") {
    if (!(device.memoryGb > 0) || !(device.fp16Tflops > 0)) badOption(`device ${device.name}: memoryGb and fp16Tflops must be > 0`);
    return { name: device.name, spec: device, defaultNode: `${device.name}_node` };
  }
  const builtin = BUILTIN_DEVICES[device];
  if (builtin) return { name: device, spec: null, defaultNode: builtin.node };
  const extra = EXTRA_DEVICES[device];
  if (extra) return { name: device, spec: extra, defaultNode: `${device}_dgx` };
  return badOption(
    `device ${JSON.stringify(device)} is unknown; use one of ${[...Object.keys(BUILTIN_DEVICES), ...Object.keys(EXTRA_DEVICES)].join(", ")} or give {name, memoryGb, fp16Tflops}`,
  );
}

function resolveNode(node: string | NodeSpec | undefined, defaultNode: string): { name: string; spec: NodeSpec | null } {
  if (node === undefined) {
    const builtin = Object.values(BUILTIN_DEVICES).some((d) => d.node === defaultNode);
    return { name: defaultNode, spec: builtin ? null : { name: defaultNode, devicesPerNode: 8 } };
  }
  if (typeof node === "string") return { name: node, spec: null };
  positiveInt("node.devicesPerNode", node.devicesPerNode);
  return { name: node.name, spec: node };
}

interface SidecarEvent {
  event: string;
  code?: string;
  message?: string;
  phase?: string;
  step?: string;
  done?: number;
  total?: number;
}

function parseEvent(line: string): SidecarEvent | null {
  if (!line.startsWith(PROGRESS_PREFIX)) return null;
  try {
    const v = JSON.parse(line.slice(PROGRESS_PREFIX.length)) as unknown;
    if (typeof v === "object" && v !== null && typeof (v as { event?: unknown }).event === "string") return v as SidecarEvent;
  } catch {
    // A torn line is treated as ordinary log output.
  }
  return null;
}

const PHASES = new Set(["load", "train", "predict", "simulate", "done"]);

/** The sidecar's front gate (deliveryDelay.admissionInSimulation), null when the admission is added afterwards. */
function frontGate(d: DeliveryDelayOption | null): Record<string, number> | null {
  if (d === null || d.admissionInSimulation !== true) return null;
  return {
    constant_s: admissionConstantS(d),
    per_token_s: d.frontSPerToken ?? 0,
    per_step_s: d.frontSPerStep ?? 0,
    handoff_s: d.frontHandoffS ?? 0,
  };
}

/** Simulates the workload with Vidur and writes the normalized run dir; see RunVidurOptions for defaults. */
export async function runVidur(options: RunVidurOptions): Promise<RunVidurResult> {
  const t0 = performance.now();
  const scheduler = options.scheduler ?? DEFAULT_SCHEDULER;
  const kvCache = options.kvCache ?? {};
  const tp = options.tensorParallelSize ?? 1;
  const pp = options.pipelineStages ?? 1;
  const seed = options.seed ?? 0;
  positiveInt("scheduler.batchSizeCap", scheduler.batchSizeCap);
  if (scheduler.kind === "sarathi") positiveInt("scheduler.chunkSize", scheduler.chunkSize);
  if (scheduler.kind === "vllm") positiveInt("scheduler.maxTokensInBatch", scheduler.maxTokensInBatch);
  positiveInt("kvCache.blockSize", kvCache.blockSize);
  positiveInt("kvCache.numBlocks", kvCache.numBlocks);
  positiveInt("tensorParallelSize", tp);
  positiveInt("pipelineStages", pp);
  positiveInt("seed", seed, 0);
  const predictor = options.predictor ?? {};
  const gridOpt = predictor.grid ?? "pinned";
  const grid: ForestGrid = gridOpt === "pinned" ? PINNED_FOREST_GRID : gridOpt === "full" ? FULL_FOREST_GRID : gridOpt;
  for (const [k, list] of Object.entries(grid)) {
    if (!Array.isArray(list) || list.length === 0) badOption(`predictor.grid.${k} must be a non-empty list of integers`);
    for (const v of list as number[]) positiveInt(`predictor.grid.${k}`, v, k === "minSamplesSplit" ? 2 : 1);
  }
  const kFold = predictor.kFoldCvSplits ?? (gridOpt === "full" ? 10 : 2);
  positiveInt("predictor.kFoldCvSplits", kFold, 2);
  const granularity = predictor.kvCachePredictionGranularity ?? 64;
  positiveInt("predictor.kvCachePredictionGranularity", granularity);
  const gqaOverhead = predictor.attentionDecodeBatchingOverheadFraction;
  if (gqaOverhead !== undefined && !(Number.isFinite(gqaOverhead) && gqaOverhead >= 0)) {
    badOption(`predictor.attentionDecodeBatchingOverheadFraction = ${gqaOverhead}, expected a finite number >= 0`);
  }
  const stepTimeScale = options.stepTimeScale ?? 1;
  if (!(Number.isFinite(stepTimeScale) && stepTimeScale > 0)) badOption(`stepTimeScale = ${options.stepTimeScale}, expected a finite number > 0`);
  const trainingJobs = predictor.trainingJobs ?? 1;
  if (!Number.isInteger(trainingJobs) || trainingJobs === 0 || trainingJobs < -1) badOption(`predictor.trainingJobs = ${trainingJobs}, expected -1 or >= 1`);

  const runDir = resolve(options.runDir);
  const workloadDir = resolve(options.workloadDir);
  const modelConfigPath = resolve(options.modelConfigPath);
  const device = resolveDevice(options.device);
  const node = resolveNode(options.node, device.defaultNode);

  const env = await checkVidurEnv(options.python);
  const workloadTrace = await readVidurTrace(workloadDir);
  const trace = options.admissionOrder === undefined ? workloadTrace : reorderTrace(workloadTrace, options.admissionOrder);
  const profile = await locateProfile(resolve(options.profilingRoot), device.name, options.modelName, node.name, tp, pp);
  const profileHashes = await hashProfile(profile);
  // Vidur's GQA decode extra: the option, else what the profile declares for its decode rows, else Vidur's default.
  const declared = await readProfilePredictorDefaults(profile);
  const gqaSource = gqaOverhead !== undefined ? "option" : declared.source !== null ? declared.source : "vidur default (0.1)";
  const gqaValue = gqaOverhead ?? declared.attentionDecodeBatchingOverheadFraction;
  const deliveryDelay = options.deliveryDelay ?? null;
  if (deliveryDelay !== null) {
    const {
      batchSizes: xs,
      delaysS: ys,
      firstTokenExtraS: extra = 0,
      admissionS = 0,
      frontSPerToken = 0,
      frontSPerStep = 0,
      admissionBacklogMeanS = 0,
      frontHandoffS = 0,
      admissionInSimulation = false,
    } = deliveryDelay;
    const finite = (v: number) => Number.isFinite(v);
    if (
      xs.length === 0 ||
      xs.length !== ys.length ||
      !xs.every(finite) ||
      !ys.every((y) => finite(y) && y >= 0) ||
      xs.some((x, i) => i > 0 && x <= xs[i - 1]!) ||
      !finite(extra) ||
      !(finite(admissionS) && admissionS >= 0) ||
      !(finite(frontSPerToken) && frontSPerToken >= 0) ||
      !(finite(frontSPerStep) && frontSPerStep >= 0) ||
      !(finite(admissionBacklogMeanS) && admissionBacklogMeanS >= 0) ||
      !(finite(frontHandoffS) && frontHandoffS >= 0) ||
      typeof admissionInSimulation !== "boolean"
    ) {
      throw new VidurBridgeError(
        "VIDUR_BAD_OPTION",
        `deliveryDelay ${JSON.stringify(deliveryDelay)}: expected batchSizes increasing, delaysS >= 0 of the same non-zero length, a finite firstTokenExtraS, admissionS, frontSPerToken, frontSPerStep, admissionBacklogMeanS and frontHandoffS >= 0 (seconds), and admissionInSimulation a boolean`,
      );
    }
  }
  const cpuOverheadChoice = options.cpuOverhead ?? "auto";
  const cpuOverheadFile = await locateCpuOverhead(
    resolve(options.profilingRoot),
    node.name,
    options.modelName,
    cpuOverheadChoice === "auto" || cpuOverheadChoice === "off" ? cpuOverheadChoice : resolve(cpuOverheadChoice),
  );
  if (cpuOverheadFile) profileHashes.cpu_overheads = await hashFile(cpuOverheadFile);
  const decodeGridFile = options.decodeGrid === undefined ? null : resolve(options.decodeGrid);
  if (decodeGridFile !== null) {
    if (!cpuOverheadFile) throw new VidurBridgeError("VIDUR_BAD_OPTION", `decodeGrid ${decodeGridFile}: needs a CPU overhead table (cpuOverhead)`);
    try {
      profileHashes.decode_grid = await hashFile(decodeGridFile);
    } catch (e) {
      throw new VidurBridgeError("VIDUR_PROFILE_MISSING", `decode grid ${decodeGridFile} cannot be read`, { cause: e });
    }
  }
  let modelConfigHash: string;
  try {
    modelConfigHash = await hashFile(modelConfigPath);
  } catch (e) {
    throw new VidurBridgeError("VIDUR_MODEL_CONFIG_INVALID", `cannot read model config ${modelConfigPath}`, { cause: e });
  }
  const limits = deriveGridLimits(trace, scheduler, granularity);

  // Vidur's own cache key ignores the training data, the model name and the grids: key a folder on them. The CPU
  // overhead is applied at run time on top of the predictions, so it stays out of the key (a new calibration
  // table must not retrain the forests).
  const opHashes = Object.fromEntries(Object.entries(profileHashes).filter(([k]) => k !== "cpu_overheads" && k !== "decode_grid"));
  const cacheKey = createHash("sha256")
    .update(JSON.stringify({ v: env.vidurVersion, profileHashes: opHashes, modelConfigHash, model: options.modelName, grid, kFold, granularity, seed, tp, pp, block: kvCache.blockSize ?? 16, device: device.name, node: node.name }))
    .digest("hex")
    .slice(0, 16);
  const cacheDir = join(resolve(options.cacheDir ?? join(runDir, "vidur", "cache")), cacheKey);

  const raw = join(runDir, "vidur");
  await rm(raw, { recursive: true, force: true });
  const tmp = join(raw, "tmp");
  await mkdir(tmp, { recursive: true });
  await mkdir(cacheDir, { recursive: true });
  const tracePath = join(raw, "trace.csv");
  await writeVidur026Trace(tracePath, trace);

  const argsInput = {
    seed,
    modelName: options.modelName,
    deviceName: device.name,
    nodeName: node.name,
    tensorParallelSize: tp,
    pipelineStages: pp,
    scheduler,
    kvCache,
    tracePath,
    limits,
    grid,
    kFoldCvSplits: kFold,
    trainingJobs,
    cacheDir,
    outputDir: join(raw, "out"),
    chromeTrace: options.chromeTrace ?? false,
  };
  const vidurArgs = buildVidurArgs(gqaValue === undefined ? argsInput : { ...argsInput, attentionDecodeBatchingOverheadFraction: gqaValue });
  const spec = {
    model: { name: options.modelName, hf_config: modelConfigPath },
    device_name: device.name,
    device: device.spec ? { memory_gb: device.spec.memoryGb, fp16_tflops: device.spec.fp16Tflops } : null,
    node_name: node.name,
    node: node.spec ? { devices_per_node: node.spec.devicesPerNode } : null,
    profile: { mlp: profile.mlp, attention: profile.attention, all_reduce: profile.allReduce, send_recv: profile.sendRecv },
    tp,
    pp,
    block_size: kvCache.blockSize ?? 16,
    auto_num_blocks: kvCache.numBlocks === undefined,
    memory_margin_fraction: kvCache.memoryMarginFraction ?? 0.1,
    needs: {
      max_batch_tokens: limits.needs.maxBatchTokens,
      max_prefill_chunk: limits.needs.maxPrefillChunk,
      max_request_tokens: limits.needs.maxRequestTokens,
      max_decode_batch: limits.needs.maxDecodeBatch,
    },
    allow_extrapolation: options.allowExtrapolation ?? false,
    cpu_overhead: cpuOverheadFile,
    decode_grid: decodeGridFile,
    front_gate: frontGate(deliveryDelay),
    step_time_scale: stepTimeScale,
    rf_random_state: seed,
    record_dir: raw,
    num_requests: trace.length,
    vidur_args: vidurArgs,
  };
  const specPath = join(raw, "sidecar_spec.json");
  await atomicWriteFile(specPath, `${JSON.stringify(spec, null, 2)}\n`);
  const argv = [options.python, "-m", "vidur_sidecar", "--spec", specPath];

  const child = execa(options.python, argv.slice(1), {
    cwd: raw,
    reject: false,
    stdin: "ignore",
    buffer: false,
    ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
    env: sidecarEnv({
      PYTHONPATH: PYTHON_DIR,
      TMPDIR: tmp,
      MPLCONFIGDIR: join(tmp, "matplotlib"),
      XDG_CACHE_HOME: join(tmp, "xdg-cache"),
      WANDB_DIR: tmp,
      HF_HOME: join(tmp, "hf"),
      JOBLIB_TEMP_FOLDER: tmp,
    }),
  });
  const log: string[] = [];
  const tail: string[] = [];
  let errorEvent: SidecarEvent | null = null;
  const onLine = (line: string): void => {
    log.push(line);
    const ev = parseEvent(line);
    if (ev === null) {
      tail.push(line.length > 400 ? `${line.slice(0, 400)} …` : line);
      if (tail.length > 40) tail.shift();
      return;
    }
    if (ev.event === "error") errorEvent = ev;
    if (ev.event === "progress" && options.onProgress && ev.phase && PHASES.has(ev.phase)) {
      const p: VidurProgress = { phase: ev.phase as VidurProgress["phase"], done: ev.done ?? 0, total: ev.total ?? 0 };
      if (ev.step !== undefined) p.step = ev.step;
      options.onProgress(p);
    }
  };
  const pump = async (stream: NodeJS.ReadableStream | null): Promise<void> => {
    if (!stream) return;
    let rest = "";
    for await (const chunk of stream) {
      rest += String(chunk);
      const lines = rest.split("\n");
      rest = lines.pop() ?? "";
      for (const l of lines) onLine(l);
    }
    if (rest !== "") onLine(rest);
  };
  const [result] = await Promise.all([child, pump(child.stderr), pump(child.stdout)]);
  await writeFile(join(raw, "sidecar.log"), `${log.join("\n")}\n`);
  if (result.exitCode !== 0 || result.timedOut) {
    const ev = errorEvent as SidecarEvent | null;
    const code = ev?.code ? toErrorCode(ev.code) : "VIDUR_EXIT_NONZERO";
    const reason = result.timedOut ? `timed out after ${options.timeoutMs} ms` : `exit code ${result.exitCode ?? result.signal}`;
    const message =
      code === "VIDUR_EXIT_NONZERO"
        ? `Vidur failed (${reason}): ${ev?.message ?? ""}\n--- stderr tail ---\n${tail.slice(-25).join("\n")}`
        : (ev?.message ?? reason);
    throw new VidurBridgeError(code, message);
  }
  const summary = await normalizeVidurRun(runDir, trace, deliveryDelay);
  let resolved: Record<string, unknown> = {};
  try {
    resolved = JSON.parse(await readFile(join(raw, "bridge_resolved.json"), "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new VidurBridgeError("VIDUR_OUTPUT_INVALID", `sidecar wrote no readable ${join(raw, "bridge_resolved.json")}`, { cause: e });
  }
  await rm(tmp, { recursive: true, force: true });
  const wallS = (performance.now() - t0) / 1000;
  const runId = options.runId ?? runDir.split("/").pop() ?? "vidur";
  const vidurArgv = Array.isArray(resolved.vidur_argv) ? (resolved.vidur_argv as string[]) : vidurArgs;
  await writeRunManifest(runDir, {
    schema_version: 1,
    kind: "vidur",
    run_id: runId,
    created_at: new Date().toISOString(),
    workload_id: options.workloadId ?? null,
    tool_versions: { vidur: env.vidurVersion, python: env.pythonVersion, "@vf/vidur-bridge": "0.1.0" },
    git_sha: options.gitSha ?? null,
    command: options.command ?? argv.join(" "),
    config: {
      workload_dir: workloadDir,
      // The order the simulation took the requests in, when it was given (null: the workload's own).
      admission_order:
        options.admissionOrder === undefined
          ? null
          : { requests: options.admissionOrder.length, sha256: createHash("sha256").update(options.admissionOrder.join(",")).digest("hex") },
      profiling_root: resolve(options.profilingRoot),
      model_name: options.modelName,
      model_config: modelConfigPath,
      model_config_sha256: modelConfigHash,
      device: device.spec ?? device.name,
      node: node.spec ?? node.name,
      scheduler,
      kv_cache: kvCache,
      tensor_parallel_size: tp,
      pipeline_stages: pp,
      seed,
      predictor: {
        grid,
        k_fold_cv_splits: kFold,
        training_jobs: trainingJobs,
        kv_cache_prediction_granularity: granularity,
        attention_decode_batching_overhead_fraction: gqaValue ?? 0.1,
        attention_decode_batching_overhead_fraction_from: gqaSource,
      },
      grid_limits: limits,
      cache_dir: cacheDir,
      cpu_overhead_file: cpuOverheadFile,
      cpu_overhead_ms_by_batch_size: resolved.cpu_overhead_ms_by_batch_size ?? null,
      cpu_overhead_prefill_extra_ms_by_batch_size: resolved.cpu_overhead_prefill_extra_ms_by_batch_size ?? null,
      cpu_overhead_prefix_ms_per_mpair_by_batch_size: resolved.cpu_overhead_prefix_ms_per_mpair_by_batch_size ?? null,
      cpu_overhead_jitter: resolved.cpu_overhead_jitter ?? null,
      cpu_overhead_step_classes_ms: resolved.cpu_overhead_step_classes_ms ?? null,
      cpu_overhead_decode_kv_ms_per_ktoken: resolved.cpu_overhead_decode_kv_ms_per_ktoken ?? null,
      decode_grid: resolved.decode_grid ?? null,
      delivery_delay: deliveryDelay,
      step_time_scale: stepTimeScale,
      vidur_argv: vidurArgv,
      sidecar_argv: argv,
      memory_plan: resolved.memory_plan ?? null,
      model_dims: resolved.model_dims ?? null,
      profile_coverage: resolved.profile_coverage ?? null,
    },
    host: describeHost(),
    profile_hashes: profileHashes,
    simulation: { wall_s: wallS, requests: summary.numRequests, completed: summary.numCompleted, tokens: summary.numTokens },
  });
  return { ...summary, runDir, vidurVersion: env.vidurVersion, cacheDir, argv: [...argv.slice(0, 1), "-m", "vidur_sidecar", ...vidurArgv], wallS };
}

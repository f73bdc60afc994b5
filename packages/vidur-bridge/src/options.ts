/** Options of runVidur and their defaults (units in names: S = seconds, Gb = GB of device memory). */

/** The replica scheduler Vidur simulates; match it to the real engine's. */
export type SchedulerOptions =
  | { kind: "sarathi"; /** token budget per iteration */ chunkSize: number; batchSizeCap: number }
  | { kind: "vllm"; batchSizeCap: number; /** padded tokens per prefill batch */ maxTokensInBatch: number }
  | { kind: "orca"; batchSizeCap: number };

/** Paged KV cache. numBlocks unset: computed by the sidecar from the model's real head_dim (see README). */
export interface KvCacheOptions {
  blockSize?: number;
  numBlocks?: number;
  watermarkBlocksFraction?: number;
  memoryMarginFraction?: number;
}

/** A device SKU (registered in Vidur when it lacks it). */
export interface DeviceSpec {
  name: string;
  memoryGb: number;
  fp16Tflops: number;
}

/** A node SKU (registered when Vidur lacks it). */
export interface NodeSpec {
  name: string;
  devicesPerNode: number;
}

/** Random-forest hyper-parameter grid; each list is searched by GridSearchCV. */
export interface ForestGrid {
  numEstimators: number[];
  maxDepth: number[];
  minSamplesSplit: number[];
}

/** Execution-time predictor settings. */
export interface PredictorOptions {
  /** "pinned" (default): one value each, seeded forests, 2-fold CV. "full": Vidur's 27-point grid, 10-fold CV. */
  grid?: "pinned" | "full" | ForestGrid;
  kFoldCvSplits?: number;
  /** sklearn n_jobs for training (-1 = all cores). Default 1. */
  trainingJobs?: number;
  /** KV-length step of the attention prediction grid (tokens). Default 64. */
  kvCachePredictionGranularity?: number;
  /**
   * Vidur multiplies the predicted decode attention of a batch of more than one request by (1 + this) on GQA
   * models (default 0.1, Vidur's own). A profile that times the serving engine's batched decode kernel at each
   * batch size already holds that cost: 0 there. Undefined: Vidur's default.
   */
  attentionDecodeBatchingOverheadFraction?: number;
}

/** A progress event parsed from the sidecar's stderr. phase: load | train | predict | simulate | done. */
export interface VidurProgress {
  phase: "load" | "train" | "predict" | "simulate" | "done";
  step?: string;
  done: number;
  total: number;
}

/** Everything runVidur needs. Paths may be relative to the process cwd; they are resolved first. */
export interface RunVidurOptions {
  /** Interpreter of the project venv, e.g. `<repo>/.venv/bin/python`. */
  python: string;
  /** Workload dir written by @vf/workload-spec (its vidur_trace.csv is replayed). */
  workloadDir: string;
  /**
   * The order in which the simulation takes the workload's requests (workload request ids, each once), the arrival
   * times staying in place (`reorderTrace`). Unset: the workload's own order. For a burst the real server admitted
   * in an order of its own.
   */
  admissionOrder?: readonly number[];
  /** Run dir to fill (e.g. `tmp/vidur_runs/<id>`); created when missing. */
  runDir: string;
  /** Profiling root: `<root>/compute/<device>/<org>/<model>/{mlp,attention}.csv`, `<root>/network/<node>/...`. */
  profilingRoot: string;
  /** A device name Vidur knows (a40, a100, h100, l40), `h200` (registered here), or a full spec. */
  device: string | DeviceSpec;
  /** Node SKU; defaults per device (h100 -> h100_dgx, h200 -> h200_dgx, custom -> `<device>_node` with 8 devices). */
  node?: string | NodeSpec;
  /** Model name as in the profile path, e.g. `Qwen/Qwen3-0.6B`. */
  modelName: string;
  /** Hugging Face config.json of the model. */
  modelConfigPath: string;
  scheduler?: SchedulerOptions;
  kvCache?: KvCacheOptions;
  tensorParallelSize?: number;
  pipelineStages?: number;
  /** Seeds Vidur's RNGs and the random forests. Default 0. */
  seed?: number;
  predictor?: PredictorOptions;
  /** Predictor cache root; a sub-folder per profile content + predictor settings is used. Default `<runDir>/vidur/cache`. */
  cacheDir?: string;
  /**
   * CPU overhead per batch (Vidur 0.0.26 has no model of it): "auto" (default) uses
   * `<profilingRoot>/cpu_overhead/<node>/<model>/cpu_overheads.csv` when that file exists; "off"; or a path.
   */
  cpuOverhead?: "auto" | "off" | string;
  /**
   * The engine's measured decode-only step on a grid (CSV: batch, kv_tokens, step_ms; `runner calibrate
   * --decode-grid`): every decode-only batch's predicted time becomes the grid's step at its batch size and mean KV
   * per request (the CPU overhead still added on top). Needs a CPU overhead table. Default none.
   */
  decodeGrid?: string;
  /**
   * The serving path's delivery delay (engine -> HTTP/SSE -> client), which Vidur does not model, added to every
   * simulated token time after the simulation: per token, interpolated (clamped) over `batchSizes` -> `delaysS` at
   * the batch size of the simulated step that produced it, plus `firstTokenExtraS` for a request's first token
   * (never below 0 in all), plus `admissionS` for every token (the serving path's admission delay: every arrival
   * later by one constant shifts the whole schedule by it). One knot is a constant delay. Default none.
   * `runner calibrate` derives it from the fit load (`deriveDeliveryDelay`, `deriveAdmissionDelay`). With
   * `frontSPerToken` (> 0) the admission delay grows with the server front's backlog: each request's is
   * `admissionS - admissionBacklogMeanS` (at least 0) plus the backlog, at its arrival, of one worker serving every
   * simulated token at `frontSPerToken` seconds in emit order (`frontBacklog`), and the request's tokens move by it;
   * with `frontSPerStep` the worker also pays that once per simulated step (before the step's first token).
   * With `admissionInSimulation` the admission delay moves each request's arrival inside the simulation instead
   * (the sidecar's front gate: it reaches Vidur's scheduler `admissionS - admissionBacklogMeanS` plus the front's
   * backlog later, the front taking each simulated step's tokens `frontHandoffS` after the step ends), so it
   * joins the step a real engine would take it into; the token times then move by the delivery delay only.
   */
  deliveryDelay?: DeliveryDelayOption;
  /**
   * Multiplies every simulated step's time (Vidur's prediction plus the CPU-overhead correction) by this factor
   * (default 1, no change): a measured ratio between the engine the profile timed and the server configuration or
   * machine being predicted, which the per-op profile does not see (e.g. `scripts/gpu/slot_ab.py`'s median step-time
   * ratio of a 32-slot to a 128-slot engine). Must be > 0.
   */
  stepTimeScale?: number;
  /** Run even when the workload leaves the profiled grid (the forest returns edge values). Default false. */
  allowExtrapolation?: boolean;
  /** Keep Vidur's chrome_trace.json (large). Default false. */
  chromeTrace?: boolean;
  onProgress?: (p: VidurProgress) => void;
  /** Recorded in run.json. */
  runId?: string;
  workloadId?: string;
  command?: string;
  gitSha?: string | null;
  /** Kill Vidur after this many ms. Default none. */
  timeoutMs?: number;
}

/** Devices Vidur 0.0.26 ships, and the ones this package registers. Memory in GB, fp16 dense TFLOPs. */
export const BUILTIN_DEVICES: Readonly<Record<string, { memoryGb: number; fp16Tflops: number; node: string }>> = {
  a40: { memoryGb: 45, fp16Tflops: 150, node: "a40_pairwise_nvlink" },
  a100: { memoryGb: 80, fp16Tflops: 312, node: "a100_dgx" },
  h100: { memoryGb: 80, fp16Tflops: 1000, node: "h100_dgx" },
  l40: { memoryGb: 48, fp16Tflops: 181, node: "l40_pcie" },
};

/** SKUs Vidur lacks that this package registers by name. */
export const EXTRA_DEVICES: Readonly<Record<string, DeviceSpec>> = {
  h200: { name: "h200", memoryGb: 141, fp16Tflops: 989 },
};

/** The pinned forest grid (one candidate: deterministic with a seed, no model selection). */
export const PINNED_FOREST_GRID: ForestGrid = { numEstimators: [250], maxDepth: [32], minSamplesSplit: [2] };
/** Vidur's own default grid (27 candidates). */
export const FULL_FOREST_GRID: ForestGrid = { numEstimators: [250, 500, 750], maxDepth: [8, 16, 32], minSamplesSplit: [2, 5, 10] };

/** Default scheduler: Sarathi with a 512-token chunk and 128 requests per batch (Vidur's defaults). */
export const DEFAULT_SCHEDULER: SchedulerOptions = { kind: "sarathi", chunkSize: 512, batchSizeCap: 128 };

/** RunVidurOptions.deliveryDelay (seconds). */
export interface DeliveryDelayOption {
  batchSizes: number[];
  delaysS: number[];
  firstTokenExtraS?: number;
  admissionS?: number;
  frontSPerToken?: number;
  frontSPerStep?: number;
  admissionBacklogMeanS?: number;
  admissionInSimulation?: boolean;
  frontHandoffS?: number;
}

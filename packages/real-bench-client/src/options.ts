/**
 * Options of runBench and their validation (BENCH_INVALID_OPTION naming the option and what was expected).
 * Defaults live here so the manifest can record the effective values.
 */
import { BenchError } from "./errors.js";
import type { BenchRequest } from "./schema.js";

/** Live progress figures passed to `onProgress`. */
export interface BenchProgress {
  /** Requests handed to the HTTP client so far. */
  sent: number;
  /** Requests finished (any status). */
  done: number;
  /** Requests finished as failed. */
  failed: number;
  /** Requests sent and not finished. */
  inFlight: number;
  /** Requests due but waiting for a concurrency slot. */
  queued: number;
  /** Sent requests per second since the schedule start. */
  rateRps: number;
  /** Estimated seconds until all requests finish (null when unknown). */
  etaS: number | null;
  /** Seconds since the schedule start. */
  elapsedS: number;
  /** Total requests in the workload. */
  total: number;
}

/** Options of runBench. Times in seconds unless the name says Ms. */
export interface RunBenchOptions {
  /** Server base URL, e.g. `http://127.0.0.1:8000` (credentials in the URL are rejected). */
  baseUrl: string;
  /** Path of the completions endpoint (default `/v1/completions`). */
  completionsPath?: string;
  /** `model` field of each request. */
  model: string;
  /** Workload dir holding `requests.jsonl` (give this or `requests`). */
  workloadDir?: string;
  /** Requests in memory (give this or `workloadDir`); request_id must equal the index. */
  requests?: readonly BenchRequest[];
  /** Workload id for the manifest (read from workload.json when `workloadDir` is given). */
  workloadId?: string;
  /** Run dir to write (`request_metrics.csv`, `token_timestamps.csv`, `run.json`, `bench_health.json`). */
  outDir: string;
  /** Run id for the manifest (default: the outDir's base name). */
  runId?: string;
  /** Bearer token; the caller reads it from the environment. Never logged or written. */
  apiKey?: string;
  /** `token_ids` (default) sends `prompt_token_ids`; `text` sends the request's `text` (every request must have one). */
  promptMode?: "token_ids" | "text";
  /** Max requests in flight; excess due requests wait FIFO and the wait is recorded as `queue_time`. */
  maxConcurrency?: number;
  /** Keep-alive connections in the pool (default: maxConcurrency, else the request count, at most 8192). */
  connections?: number;
  /** Warm-up requests sent one by one before the schedule starts, excluded from results (default 0). */
  warmupRequests?: number;
  /** max_tokens of each warm-up request (default 8). */
  warmupMaxTokens?: number;
  /**
   * Keep-alive connections opened before the schedule by concurrent `GET <base>/v1/models` requests
   * (default min(connections, 64)), so the first scheduled requests do not pay connection set-up. 0 = off.
   */
  preconnect?: number;
  /** Per-request limit from send to stream end, seconds (default 600). */
  requestTimeoutS?: number;
  /** Gap between the end of set-up and the schedule start (default 0.1 s) so the first request is not late. */
  startLeadS?: number;
  /** Last part of each wait done by setImmediate turns instead of a timer, ms (default 2). */
  spinWindowMs?: number;
  /** p99 schedule lag above which the run is flagged as fallen behind, ms (default 5). */
  lagWarnThresholdMs?: number;
  /** Also ask for `stream_options.continuous_usage_stats` (vLLM): per-chunk usage counts. */
  continuousUsageStats?: boolean;
  /** Extra JSON fields merged into each request body (e.g. `{ return_token_ids: true }` for vLLM). */
  extraBody?: Record<string, unknown>;
  /** Cancels the run: in-flight requests are aborted, unsent ones recorded as not sent, results written. */
  signal?: AbortSignal;
  /** Called every `progressIntervalMs` during the schedule and once at the end. */
  onProgress?: (progress: BenchProgress) => void;
  /** Progress period, ms (default 1000). */
  progressIntervalMs?: number;
  /** Command line recorded in run.json (default ""). */
  command?: string;
  /** Git sha recorded in run.json (default null). */
  gitSha?: string | null;
  /** Extra keys merged into run.json (e.g. `weights: "random"`, GPU description). */
  manifestExtra?: Record<string, unknown>;
}

/** Options with defaults applied. */
export interface ResolvedOptions {
  origin: string;
  endpointUrl: string;
  completionsPath: string;
  promptMode: "token_ids" | "text";
  maxConcurrency: number | null;
  connections: number;
  warmupRequests: number;
  warmupMaxTokens: number;
  preconnect: number;
  modelsPath: string;
  requestTimeoutS: number;
  startLeadS: number;
  spinWindowMs: number;
  lagWarnThresholdMs: number;
  progressIntervalMs: number;
  continuousUsageStats: boolean;
}

const MAX_DEFAULT_CONNECTIONS = 8192;

function invalid(name: string, expected: string, got: unknown): never {
  throw new BenchError(
    "BENCH_INVALID_OPTION",
    `option ${name}: expected ${expected}, got ${JSON.stringify(got)}`,
  );
}

function positiveInt(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 1) invalid(name, "an integer >= 1", v);
  return v;
}

function nonNegative(name: string, v: number | undefined, dflt: number, integer = false): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
    invalid(name, integer ? "an integer >= 0" : "a finite number >= 0", v);
  }
  return v;
}

/** Validates options against the loaded requests and applies defaults. */
export function resolveOptions(o: RunBenchOptions, requests: readonly BenchRequest[]): ResolvedOptions {
  let url: URL;
  try {
    url = new URL(o.baseUrl);
  } catch {
    invalid("baseUrl", "an absolute http(s) URL like http://127.0.0.1:8000", o.baseUrl);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") invalid("baseUrl", "an http: or https: URL", o.baseUrl);
  if (url.username !== "" || url.password !== "") {
    throw new BenchError(
      "BENCH_INVALID_OPTION",
      "option baseUrl: credentials in the URL are not accepted (pass apiKey instead)",
    );
  }
  if (typeof o.model !== "string" || o.model === "") invalid("model", "a non-empty model name", o.model);
  const completionsPath = o.completionsPath ?? "/v1/completions";
  if (!completionsPath.startsWith("/")) invalid("completionsPath", "a path starting with /", completionsPath);
  const basePath = url.pathname.replace(/\/+$/, "");
  const promptMode = o.promptMode ?? "token_ids";
  if (promptMode !== "token_ids" && promptMode !== "text") invalid("promptMode", '"token_ids" or "text"', promptMode);
  if (promptMode === "text") {
    const missing = requests.find((r) => r.text === undefined);
    if (missing) {
      throw new BenchError(
        "BENCH_INVALID_OPTION",
        `option promptMode: "text" needs a text on every request, request ${missing.request_id} has none`,
      );
    }
  }
  const maxConcurrency = o.maxConcurrency === undefined ? null : positiveInt("maxConcurrency", o.maxConcurrency, 1);
  const connections = positiveInt(
    "connections",
    o.connections,
    maxConcurrency ?? Math.min(Math.max(requests.length, 1), MAX_DEFAULT_CONNECTIONS),
  );
  const requestTimeoutS = nonNegative("requestTimeoutS", o.requestTimeoutS, 600);
  if (requestTimeoutS === 0) invalid("requestTimeoutS", "a number of seconds > 0", 0);
  return {
    origin: url.origin,
    endpointUrl: `${url.origin}${basePath}${completionsPath}`,
    completionsPath: `${basePath}${completionsPath}`,
    promptMode,
    maxConcurrency,
    connections,
    warmupRequests: nonNegative("warmupRequests", o.warmupRequests, 0, true),
    warmupMaxTokens: positiveInt("warmupMaxTokens", o.warmupMaxTokens, 8),
    preconnect: Math.min(nonNegative("preconnect", o.preconnect, Math.min(connections, 64), true), connections),
    modelsPath: `${basePath}/v1/models`,
    requestTimeoutS,
    startLeadS: nonNegative("startLeadS", o.startLeadS, 0.1),
    spinWindowMs: nonNegative("spinWindowMs", o.spinWindowMs, 2),
    lagWarnThresholdMs: nonNegative("lagWarnThresholdMs", o.lagWarnThresholdMs, 5),
    progressIntervalMs: positiveInt("progressIntervalMs", o.progressIntervalMs, 1000),
    continuousUsageStats: o.continuousUsageStats ?? false,
  };
}

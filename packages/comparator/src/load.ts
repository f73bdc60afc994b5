/**
 * Reading one run dir (real or simulated) through @vf/metrics-io: manifest, request metrics, optional
 * iterations, and where the token file is. metrics-io errors are wrapped once here. Token timestamps are
 * not read here (see token-gaps.ts: they are streamed later, once the included request set is known).
 */
import { join } from "node:path";
import {
  type Iteration,
  type RequestMetric,
  type RunManifest,
  fileExists,
  readIterations,
  readRequestMetrics,
  readRunManifest,
} from "@vf/metrics-io";
import { ComparatorError } from "./errors.js";

/** One run dir loaded for comparison. */
export interface LoadedRun {
  dir: string;
  manifest: RunManifest;
  /** Rows of request_metrics.csv indexed by request id. */
  byId: Map<number, RequestMetric>;
  iterations: Iteration[] | null;
  /** Path of token_timestamps.csv, or null when the run has none. */
  tokenPath: string | null;
  /** Path of server_token_timestamps.csv (the engine's own token times on the run clock), or null. */
  serverTokenPath: string | null;
}

async function wrap<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new ComparatorError("COMPARATOR_READ_FAILED", `${what}: ${message}`, { cause });
  }
}

/** Loads run.json, request_metrics.csv and (if present) iterations.csv of `dir`. */
export async function loadRun(dir: string): Promise<LoadedRun> {
  const manifest = await wrap(`run dir ${dir}`, () => readRunManifest(dir));
  const metricsPath = join(dir, "request_metrics.csv");
  const rows = await wrap(`run dir ${dir}`, () => readRequestMetrics(metricsPath));
  const byId = new Map<number, RequestMetric>();
  rows.forEach((row, index) => {
    if (byId.has(row.request_id)) {
      throw new ComparatorError(
        "COMPARATOR_DUPLICATE_REQUEST",
        `${metricsPath}:${index + 2}: request_id ${row.request_id} appears twice, expected one row per request`,
      );
    }
    byId.set(row.request_id, row);
  });
  const iterPath = join(dir, "iterations.csv");
  const iterations = (await fileExists(iterPath)) ? await wrap(`run dir ${dir}`, () => readIterations(iterPath)) : null;
  const tokenFile = join(dir, "token_timestamps.csv");
  const tokenPath = (await fileExists(tokenFile)) ? tokenFile : null;
  const serverTokenFile = join(dir, "server_token_timestamps.csv");
  const serverTokenPath = (await fileExists(serverTokenFile)) ? serverTokenFile : null;
  return { dir, manifest, byId, iterations, tokenPath, serverTokenPath };
}

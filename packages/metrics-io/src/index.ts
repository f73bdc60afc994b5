/** @vf/metrics-io: run-dir formats shared by real and simulated runs (explicit re-exports only). */

/** Writes a file atomically (temp + rename). */
export { atomicWriteFile, openAtomicLineWriter } from "./atomic.js";
export type { AtomicLineWriter } from "./atomic.js";
/** Byte-stable CSV number/text formatting (seconds rounded to 1 ns). */
export { formatNumber, formatText } from "./csv.js";
/** Moves a serving engine's own timeline (gpu-harness) onto a real run's clock; reads its machine probe (server_run.json). */
export { type HostProbeSize, importEngineTimeline, MachineProbe, MachineProbePoint, readHostProbeSize, readMachineProbe } from "./engine.js";
export type { EngineTimelineImport } from "./engine.js";
/** The error class of this package and its guard. */
export { MetricsIoError, isMetricsIoError } from "./errors.js";
export type { MetricsIoErrorCode } from "./errors.js";
/** Run-dir paths (`<root>/tmp/<kind>_runs/<id>`) and sortable run ids. */
export { newRunId, runDirPath } from "./layout.js";
export type { RunDirKind } from "./layout.js";
/** run.json read/write, host description and git sha. */
export { describeHost, gitSha, readRunManifest, writeRunManifest } from "./manifest.js";
/** TTFT / E2E / TPOT (seconds) of one request from its token times. */
export { computeRequestMetric } from "./metrics.js";
export type { RequestObservation } from "./metrics.js";
/** Record files: request_metrics.csv, token_timestamps.csv (streaming), iterations.csv. */
export {
  fileExists,
  formatRequestMetrics,
  readIterations,
  readRequestMetrics,
  readTokenTimestamps,
  readTokenTimestampsGrouped,
  writeIterations,
  writeRequestMetrics,
  writeTokenTimestamps,
} from "./records.js";
/** Zod schemas, column orders and inferred types of every record and the manifest. */
export {
  HostSchema,
  ITERATION_COLUMNS,
  ITERATION_PHASE_COLUMNS,
  ITERATION_PROBE_COLUMNS,
  IterationSchema,
  REQUEST_METRIC_COLUMNS,
  RequestMetricSchema,
  RunKindSchema,
  RunManifestSchema,
  TOKEN_TIMESTAMP_CHUNK_COLUMNS,
  TOKEN_TIMESTAMP_COLUMNS,
  TokenTimestampSchema,
} from "./schema.js";
export type { Host, Iteration, RequestMetric, RunKind, RunManifest, TokenTimestamp } from "./schema.js";

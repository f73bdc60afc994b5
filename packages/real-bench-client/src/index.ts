/** @vf/real-bench-client: open-loop replay with per-token timestamps (explicit re-exports only). */

/** Replays a workload open-loop against a streaming /v1/completions endpoint and writes the real run dir. */
export { CLIENT_VERSION, runBench } from "./run-bench.js";
export type { BenchResult } from "./run-bench.js";
/** Options (seconds unless named Ms) and the progress record passed to onProgress. */
export type { BenchProgress, RunBenchOptions } from "./options.js";
/** bench_health.json contents: schedule lag (ms), queue time (ms), rates (req/s), CPU per token (us). */
export type { BenchHealth, LagSummaryMs } from "./health.js";
/** One streaming exchange (seconds on the run clock) and its failure kinds. */
export { streamCompletion } from "./stream.js";
export type { FailureKind, StreamCompletionInput, StreamOutcome } from "./stream.js";
/** Monotonic run clock (0 = schedule start, seconds) with its wall-clock anchor, and the pacing wait. */
export { createRunClock, waitUntil } from "./clock.js";
export type { RunClock } from "./clock.js";
/** Workload dir reader (via @vf/workload-spec) and the stream chunk parser. */
export { parseCompletionChunk, readBenchWorkload } from "./parse.js";
/** Schema of a completions stream chunk; BenchRequest = @vf/workload-spec's WorkloadRequest. */
export { CompletionChunkSchema } from "./schema.js";
export type { BenchRequest, CompletionChunk } from "./schema.js";
/** Error class (codes BENCH_*) and its guard. */
export { BenchError, isBenchError } from "./errors.js";
export type { BenchErrorCode } from "./errors.js";

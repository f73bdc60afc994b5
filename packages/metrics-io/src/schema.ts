/**
 * Record schemas of a run dir (real and simulated runs share them) and the run manifest.
 * Times are float seconds on the run clock, where 0 is the workload's schedule start.
 */
import { z } from "zod";

const seconds = z.number().finite();
const count = z.number().int().nonnegative();

/** One row of request_metrics.csv. Null = empty cell (not measured / not applicable). */
export const RequestMetricSchema = z.object({
  request_id: count,
  arrived_at: seconds,
  sent_at: seconds.nullable(),
  first_token_at: seconds.nullable(),
  completed_at: seconds.nullable(),
  ttft: seconds.nullable(),
  e2e: seconds.nullable(),
  tpot: seconds.nullable(),
  queue_time: seconds.nullable(),
  num_prefill_tokens: count,
  num_decode_tokens: count,
  num_output_tokens: count,
  status: z.enum(["ok", "short", "failed"]),
  error: z.string(),
});
export type RequestMetric = z.infer<typeof RequestMetricSchema>;

/** Column order of request_metrics.csv. */
export const REQUEST_METRIC_COLUMNS = [
  "request_id",
  "arrived_at",
  "sent_at",
  "first_token_at",
  "completed_at",
  "ttft",
  "e2e",
  "tpot",
  "queue_time",
  "num_prefill_tokens",
  "num_decode_tokens",
  "num_output_tokens",
  "status",
  "error",
] as const satisfies readonly (keyof RequestMetric)[];

/** One row of token_timestamps.csv: output token `token_index` of a request observed at `t`. */
export const TokenTimestampSchema = z.object({
  request_id: count,
  token_index: count,
  t: seconds,
  chunk_index: count.nullable().optional(),
  chunk_tokens: count.nullable().optional(),
});
export type TokenTimestamp = z.infer<typeof TokenTimestampSchema>;

export const TOKEN_TIMESTAMP_COLUMNS = ["request_id", "token_index", "t"] as const;
export const TOKEN_TIMESTAMP_CHUNK_COLUMNS = ["chunk_index", "chunk_tokens"] as const;

/** One row of iterations.csv: one engine step (a batch stage). */
export const IterationSchema = z.object({
  step: count,
  start: seconds,
  end: seconds,
  gpu_time: seconds.nullable(),
  num_prefill_tokens: count,
  num_decode_tokens: count,
  batch_size: count,
  kv_tokens_in_use: count.nullable(),
  /**
   * Where the step's wall time went on the engine thread (s; gpu-harness since the twelfth session, absent in older
   * runs and in simulated ones): the scheduler choosing the batch, the host building its inputs and launching it,
   * the host waiting on the device for the sampled ids, and handing out the tokens. They add up to end - start.
   */
  schedule_time: seconds.nullable().optional(),
  prepare_time: seconds.nullable().optional(),
  wait_time: seconds.nullable().optional(),
  process_time: seconds.nullable().optional(),
  /**
   * A fixed piece of the step's host work timed in-band (s; gpu-harness since the fifteenth session, lean engine):
   * the engine CPU's speed at that step, whatever the batch. Not part of the phases' sum.
   */
  host_probe_time: seconds.nullable().optional(),
});
export type Iteration = z.infer<typeof IterationSchema>;

export const ITERATION_COLUMNS = [
  "step",
  "start",
  "end",
  "gpu_time",
  "num_prefill_tokens",
  "num_decode_tokens",
  "batch_size",
  "kv_tokens_in_use",
] as const satisfies readonly (keyof Iteration)[];

/** The optional per-step phase columns of iterations.csv (written when any row has them). */
export const ITERATION_PHASE_COLUMNS = [
  "schedule_time",
  "prepare_time",
  "wait_time",
  "process_time",
] as const satisfies readonly (keyof Iteration)[];

/** The optional in-band host-speed probe column of iterations.csv (written when any row has it). */
export const ITERATION_PROBE_COLUMNS = ["host_probe_time"] as const satisfies readonly (keyof Iteration)[];

/** Kinds of run dirs. */
export const RunKindSchema = z.enum(["real", "vidur", "comparison", "profile", "workload"]);
export type RunKind = z.infer<typeof RunKindSchema>;

/** Host description stored in every manifest. */
export const HostSchema = z
  .object({
    hostname: z.string(),
    platform: z.string(),
    arch: z.string(),
    cpus: z.number().int(),
    cpu_model: z.string(),
    memory_bytes: z.number(),
    node: z.string().optional(),
    gpu: z.string().optional(),
  })
  .passthrough();
export type Host = z.infer<typeof HostSchema>;

/** run.json: the manifest of a run dir. Extra keys are kept. */
export const RunManifestSchema = z
  .object({
    schema_version: z.literal(1),
    kind: RunKindSchema,
    run_id: z.string().min(1),
    created_at: z.string(),
    workload_id: z.string().nullable(),
    tool_versions: z.record(z.string(), z.string()),
    git_sha: z.string().nullable(),
    command: z.string(),
    config: z.record(z.string(), z.unknown()),
    host: HostSchema,
    weights: z.enum(["random", "real", "unknown"]).optional(),
  })
  .passthrough();
export type RunManifest = z.infer<typeof RunManifestSchema>;

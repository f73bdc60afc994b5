/**
 * Zod schemas of the workload spec (sources, decode policies, arrival processes) and of the workload dir files
 * (`workload.json`, one `requests.jsonl` line), with their inferred types side by side. The runner's experiment
 * file reuses the spec schemas. No I/O here.
 */
import { z } from "zod";

const positiveInt = z.number().int().min(1);
const nonNegativeInt = z.number().int().min(0);

/** A token-count distribution (integers >= 1). `lognormal` is parameterised by its median and log-space sigma. */
export const LengthDistributionSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("fixed"), value: positiveInt }),
  z
    .strictObject({ kind: z.literal("uniform"), min: positiveInt, max: positiveInt })
    .refine((d) => d.max >= d.min, { message: "max must be >= min", path: ["max"] }),
  z
    .strictObject({
      kind: z.literal("lognormal"),
      median: z.number().positive(),
      sigma: z.number().min(0),
      min: positiveInt.optional(),
      max: positiveInt.optional(),
    })
    .refine((d) => d.max === undefined || d.max >= (d.min ?? 1), { message: "max must be >= min", path: ["max"] }),
]);
/** A token-count distribution. */
export type LengthDistribution = z.infer<typeof LengthDistributionSchema>;

/** Every prompt gets `tokens` output tokens. */
const FixedDecodeSchema = z.strictObject({ kind: z.literal("fixed"), tokens: positiveInt });
/** Output tokens drawn from a distribution with the workload seed. */
const SampleDecodeSchema = z.strictObject({ kind: z.literal("sample"), distribution: LengthDistributionSchema });

/** How many output tokens each prompt asks for. */
export const DecodePolicySchema = z.discriminatedUnion("kind", [
  /** Every prompt gets `tokens`. */
  FixedDecodeSchema,
  /** Each prompt's own `num_decode_tokens`; prompts without one get `default` (or fail when it is absent). */
  z.strictObject({ kind: z.literal("per-prompt"), default: positiveInt.optional() }),
  /** Drawn from a distribution with the workload seed. */
  SampleDecodeSchema,
]);
/** How many output tokens each prompt asks for. */
export type DecodePolicy = z.infer<typeof DecodePolicySchema>;

/** The decode policy of a prompt that has no recorded response: fixed or sampled. */
export const FallbackDecodePolicySchema = z.discriminatedUnion("kind", [FixedDecodeSchema, SampleDecodeSchema]);
/** The decode policy of a prompt without a recorded response. */
export type FallbackDecodePolicy = z.infer<typeof FallbackDecodePolicySchema>;

/**
 * Decode lengths of a ShareGPT source: fixed, sampled, or `from-response` (the tokenized length of the gpt turn that
 * follows the prompt, capped at `max`; conversations without one use `fallback`, or fail when it is absent).
 */
export const ShareGptDecodePolicySchema = z.discriminatedUnion("kind", [
  FixedDecodeSchema,
  SampleDecodeSchema,
  z.strictObject({
    kind: z.literal("from-response"),
    fallback: FallbackDecodePolicySchema.optional(),
    /** Cap on a response's token count. */
    max: positiveInt.optional(),
  }),
]);
/** Decode lengths of a ShareGPT source. */
export type ShareGptDecodePolicy = z.infer<typeof ShareGptDecodePolicySchema>;

/** Where requests come from. `offset`/`limit` select trace rows (data rows, 0-based) before anything else. */
export const SourceSpecSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("prompts"),
    path: z.string().min(1),
    decode: DecodePolicySchema,
    /** Number of requests; prompts are reused in file order when it exceeds the prompt count. */
    count: positiveInt.optional(),
  }),
  z.strictObject({
    kind: z.literal("sharegpt"),
    path: z.string().min(1),
    decode: ShareGptDecodePolicySchema,
    /** First array entry to read (0-based). */
    offset: nonNegativeInt.optional(),
    /** Number of array entries to read (before empty prompts are skipped). */
    limit: positiveInt.optional(),
  }),
  z.strictObject({
    kind: z.literal("azure"),
    path: z.string().min(1),
    offset: nonNegativeInt.optional(),
    limit: positiveInt.optional(),
  }),
  z.strictObject({
    kind: z.literal("mooncake"),
    path: z.string().min(1),
    offset: nonNegativeInt.optional(),
    limit: positiveInt.optional(),
  }),
  z.strictObject({
    kind: z.literal("synthetic"),
    count: positiveInt,
    prefill: LengthDistributionSchema,
    decode: LengthDistributionSchema,
  }),
]);
/** Where requests come from. */
export type SourceSpec = z.infer<typeof SourceSpecSchema>;

/**
 * Arrival process. The first request arrives at t = 0 s. `gamma` has mean rate `rateRps` and coefficient of
 * variation `cv` of the gaps (cv = 1 is Poisson, > 1 burstier). `trace` keeps the source's timestamps, optionally
 * compressed by `timeScale` (offsets multiplied; 0.5 = twice the rate) or rescaled to a mean `rateRps`.
 */
export const ArrivalSpecSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("poisson"), rateRps: z.number().positive() }),
  z.strictObject({ kind: z.literal("gamma"), rateRps: z.number().positive(), cv: z.number().positive() }),
  z.strictObject({ kind: z.literal("constant"), rateRps: z.number().positive() }),
  z
    .strictObject({
      kind: z.literal("trace"),
      timeScale: z.number().positive().optional(),
      rateRps: z.number().positive().optional(),
    })
    .refine((a) => a.timeScale === undefined || a.rateRps === undefined, {
      message: "give timeScale or rateRps, not both",
      path: ["rateRps"],
    }),
]);
/** Arrival process. */
export type ArrivalSpec = z.infer<typeof ArrivalSpecSchema>;

/** What to do with a request whose prompt + decode tokens exceed the context limit. */
export const OverContextPolicySchema = z.enum(["error", "drop"]);
/** What to do with a request over the context limit. */
export type OverContextPolicy = z.infer<typeof OverContextPolicySchema>;

/** The fields of one requests.jsonl line, without the cross-field check (readers extend it). */
export const WorkloadRequestFieldsSchema = z.strictObject({
  request_id: nonNegativeInt,
  prompt_id: z.string().optional(),
  text: z.string().optional(),
  prompt_token_ids: z.array(nonNegativeInt),
  num_prefill_tokens: positiveInt,
  num_decode_tokens: positiveInt,
  arrived_at: z.number().min(0),
});

/** The serialisable build options (everything but the tokenizer): what an experiment file states. */
export const WorkloadOptionsSchema = z.strictObject({
  /** Seed of every random choice; integer >= 0. */
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /** Model context limit in tokens. */
  contextLimit: positiveInt,
  model: z.string().min(1).optional(),
  /** Keep at most this many requests. */
  limit: positiveInt.optional(),
  overContext: OverContextPolicySchema.optional(),
});
/** The serialisable build options. */
export type WorkloadOptions = z.infer<typeof WorkloadOptionsSchema>;

/** One line of requests.jsonl (times in seconds from the schedule start, microsecond precision). */
export const WorkloadRequestSchema = WorkloadRequestFieldsSchema.refine(
  (r) => r.prompt_token_ids.length === r.num_prefill_tokens,
  { message: "prompt_token_ids length must equal num_prefill_tokens", path: ["prompt_token_ids"] },
);
/** One request of a workload. */
export type WorkloadRequest = z.infer<typeof WorkloadRequestSchema>;

/** Summary statistics of one token-count column. */
export const TokenStatsSchema = z.strictObject({
  total: nonNegativeInt,
  min: nonNegativeInt,
  mean: z.number(),
  p50: nonNegativeInt,
  p99: nonNegativeInt,
  max: nonNegativeInt,
});
/** Summary statistics of one token-count column. */
export type TokenStats = z.infer<typeof TokenStatsSchema>;

/** workload.json: everything needed to know how the requests were made; no timestamps, no absolute paths. */
export const WorkloadManifestSchema = z.strictObject({
  schema_version: z.literal(1),
  /** First 16 hex digits of the sha256 of requests.jsonl. */
  id: z.string().regex(/^[0-9a-f]{16}$/),
  model: z.string().min(1),
  tokenizer: z.strictObject({ id: z.string().min(1), vocab_size: positiveInt }),
  source: z.strictObject({
    kind: z.enum(["prompts", "sharegpt", "azure", "mooncake", "synthetic"]),
    description: z.string(),
    /** Base name of the input file (never a path), null for synthetic sources. */
    file: z.string().nullable(),
    /** The source spec without its path. */
    options: z.record(z.string(), z.unknown()),
  }),
  arrivals: z.strictObject({ process: ArrivalSpecSchema, seed: nonNegativeInt, prng: z.string() }),
  context_limit: positiveInt,
  over_context: OverContextPolicySchema,
  counts: z.strictObject({
    requests: positiveInt,
    prefill_tokens: nonNegativeInt,
    decode_tokens: nonNegativeInt,
    dropped_over_context: nonNegativeInt,
    synthetic_prompts: nonNegativeInt,
    /** sharegpt: selected conversations skipped for having no non-empty first human turn. */
    skipped_empty_prompts: nonNegativeInt.optional(),
    /** sharegpt: requests whose decode length is their response's token count. */
    decode_from_response: nonNegativeInt.optional(),
  }),
  /** Arrival of the last request, seconds. */
  duration_s: z.number().min(0),
});
/** workload.json. */
export type WorkloadManifest = z.infer<typeof WorkloadManifestSchema>;

/** A workload in memory: the manifest and the requests in arrival order (request_id = index). */
export interface Workload {
  manifest: WorkloadManifest;
  requests: WorkloadRequest[];
}

/** @vf/workload-spec: prompts and traces -> tokenized lengths + a deterministic arrival schedule (workload dirs). */

/** Format integer microseconds as seconds with six decimals; seconds -> integer microseconds. */
export { formatMicros, generateArrivalsUs, secondsToMicros } from "./arrivals.js";
/** Coded error class of this package, its codes and guard. */
export {
  isWorkloadSpecError,
  WORKLOAD_ERROR_CODES,
  type WorkloadErrorCode,
  type WorkloadErrorLocation,
  WorkloadSpecError,
} from "./errors.js";
/** Absolute path of the example prompts JSONL. */
export { examplePromptsPath } from "./examples.js";
/** Input readers (prompts JSONL, Azure CSV, Mooncake JSONL); trace offsets in integer microseconds. */
export {
  type PromptRow,
  parseAzureTimestampTicks,
  readAzureTrace,
  readMooncakeTrace,
  readPromptsJsonl,
  type RowSelection,
  type TraceRow,
} from "./inputs.js";
/** The named seeded PRNG (xoshiro128** seeded by splitmix32) and its samplers. */
export {
  createRng,
  PRNG_NAME,
  type Rng,
  sampleExponential,
  sampleGamma,
  sampleIntInclusive,
  sampleStandardNormal,
} from "./prng.js";
/** Zod schemas of the spec and the workload files, with their types. */
export {
  type ArrivalSpec,
  ArrivalSpecSchema,
  type DecodePolicy,
  DecodePolicySchema,
  type FallbackDecodePolicy,
  FallbackDecodePolicySchema,
  type LengthDistribution,
  LengthDistributionSchema,
  type OverContextPolicy,
  OverContextPolicySchema,
  type ShareGptDecodePolicy,
  ShareGptDecodePolicySchema,
  type SourceSpec,
  SourceSpecSchema,
  type TokenStats,
  TokenStatsSchema,
  type Workload,
  type WorkloadManifest,
  WorkloadManifestSchema,
  type WorkloadOptions,
  WorkloadOptionsSchema,
  type WorkloadRequest,
  WorkloadRequestFieldsSchema,
  WorkloadRequestSchema,
} from "./schema.js";
/** ShareGPT JSON reader: first human turn = prompt, the following gpt turn = response; empty prompts skipped. */
export { readShareGpt, type ShareGptRead, type ShareGptRow } from "./sharegpt.js";
/** Pluggable tokenizer interface; tiktoken byte-level BPE from a HF tokenizer.json; Qwen3. */
export {
  createHfByteLevelBpeTokenizer,
  createQwen3Tokenizer,
  type HfByteLevelBpeOptions,
  qwen3TokenizerJsonPath,
  type Tokenizer,
} from "./tokenizer.js";
/** Build a workload in memory (times in seconds), its canonical serialisation, content id and summary. */
export {
  type BuildWorkloadOptions,
  buildWorkload,
  computeWorkloadId,
  DEFAULT_MODEL,
  serializeRequest,
  summarizeWorkload,
  syntheticPromptTokenIds,
  type WorkloadSummary,
} from "./workload.js";
/** Write (atomically) and read (validated) a workload dir. */
export {
  readWorkloadDir,
  WORKLOAD_FILES,
  type WriteWorkloadDirOptions,
  writeWorkloadDir,
} from "./workload-dir.js";

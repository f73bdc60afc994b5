/**
 * Zod schemas and their inferred types for what this package reads at its edge: the OpenAI-compatible
 * completions stream chunk. Workload rows are @vf/workload-spec's (read by its readWorkloadDir). A type is never written twice.
 */
import type { WorkloadRequest } from "@vf/workload-spec";
import { z } from "zod";

/** A workload request (the @vf/workload-spec row): ids, prompt, requested output tokens, arrival (s). */
export type BenchRequest = WorkloadRequest;

/** One `choices[]` entry of a streamed `text_completion` chunk (vLLM / SGLang / OpenAI shape). */
export const CompletionChoiceSchema = z.looseObject({
  index: z.number().int().optional(),
  text: z.string().nullish(),
  token_ids: z.array(z.number().int()).nullish(),
  finish_reason: z.string().nullish(),
});

/** `usage` object of a chunk (final one with include_usage; every chunk with continuous_usage_stats). */
export const UsageSchema = z.looseObject({
  prompt_tokens: z.number().int().nullish(),
  completion_tokens: z.number().int().nullish(),
  total_tokens: z.number().int().nullish(),
});

/** A streamed completions chunk: `data: {...}` of the SSE stream, or an in-stream `{error: ...}` event. */
export const CompletionChunkSchema = z.looseObject({
  choices: z.array(CompletionChoiceSchema).optional(),
  usage: UsageSchema.nullish(),
  error: z.unknown().optional(),
});
/** A parsed completions stream chunk. */
export type CompletionChunk = z.infer<typeof CompletionChunkSchema>;

/**
 * Zod schemas and their inferred types for what this package reads at its edges: workload request rows
 * (`requests.jsonl`) and the OpenAI-compatible completions stream chunk. A type is never written twice.
 */
import { z } from "zod";

/** One workload request as this client needs it (a subset of the workload-spec row; extra keys allowed). */
export const BenchRequestSchema = z.looseObject({
  request_id: z.number().int().nonnegative(),
  prompt_id: z.string().optional(),
  text: z.string().optional(),
  prompt_token_ids: z.array(z.number().int().nonnegative()),
  num_prefill_tokens: z.number().int().nonnegative(),
  num_decode_tokens: z.number().int().positive(),
  arrived_at: z.number().nonnegative().finite(),
});
/** A workload request: ids, prompt (token ids and optional text), requested output tokens, arrival (s). */
export type BenchRequest = z.infer<typeof BenchRequestSchema>;

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

/**
 * Boundary parsing: the workload dir (through @vf/workload-spec) and the per-event completions chunk
 * parser (zod issues flattened to `path: message` lines).
 */
import { readWorkloadDir } from "@vf/workload-spec";
import type { z } from "zod";
import { BenchError } from "./errors.js";
import { type BenchRequest, type CompletionChunk, CompletionChunkSchema } from "./schema.js";

/** Flattens zod issues to `path: message` lines joined by "; ". */
export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(root)"}: ${issue.message}`)
    .join("; ");
}

/**
 * Reads a workload dir with @vf/workload-spec's validated reader; its errors (file:line and field) are
 * wrapped once as BENCH_WORKLOAD_INVALID with the original as `cause`.
 */
export async function readBenchWorkload(
  workloadDir: string,
): Promise<{ requests: BenchRequest[]; workloadId: string | null }> {
  try {
    const workload = await readWorkloadDir(workloadDir);
    return { requests: workload.requests, workloadId: workload.manifest.id };
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new BenchError("BENCH_WORKLOAD_INVALID", `workload dir ${workloadDir}: ${detail}`, { cause });
  }
}

/** Result of parsing one SSE `data:` payload. */
export type ChunkParse =
  | { readonly ok: true; readonly chunk: CompletionChunk }
  | { readonly ok: false; readonly reason: string };

/**
 * Parses one SSE data payload (not `[DONE]`) as a completions chunk. A hand-written check of the same
 * shape runs first (zod costs ~6 us per event, as much as JSON.parse, on the hot path); zod runs only
 * to word the error when that check fails.
 */
export function parseCompletionChunk(data: string): ChunkParse {
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return { ok: false, reason: `not JSON: ${excerpt(data, 120)}` };
  }
  if (isCompletionChunkShape(raw)) return { ok: true, chunk: raw };
  const parsed = CompletionChunkSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: `${formatIssues(parsed.error)} in ${excerpt(data, 120)}` };
  return { ok: true, chunk: parsed.data };
}

/** First `max` characters of `s` with newlines flattened, "..." appended when cut. */
export function excerpt(s: string, max: number): string {
  const flat = s.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}...` : flat;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isOptInt = (v: unknown): boolean => v == null || Number.isInteger(v);

/** The CompletionChunkSchema shape, checked by hand (must accept exactly what the schema accepts). */
function isCompletionChunkShape(v: unknown): v is CompletionChunk {
  if (!isObject(v)) return false;
  const { choices, usage } = v;
  if (choices !== undefined) {
    if (!Array.isArray(choices)) return false;
    for (const c of choices) {
      if (!isObject(c)) return false;
      if (c.index !== undefined && !Number.isInteger(c.index)) return false;
      if (c.text != null && typeof c.text !== "string") return false;
      if (c.finish_reason != null && typeof c.finish_reason !== "string") return false;
      const ids = c.token_ids;
      if (ids != null && !(Array.isArray(ids) && ids.every((x) => Number.isInteger(x)))) return false;
    }
  }
  if (usage != null) {
    if (!isObject(usage)) return false;
    if (!isOptInt(usage.prompt_tokens) || !isOptInt(usage.completion_tokens) || !isOptInt(usage.total_tokens)) return false;
  }
  return true;
}

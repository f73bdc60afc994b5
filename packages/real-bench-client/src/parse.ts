/**
 * Boundary parsing: zod safeParse with issues flattened to `path: message` lines, the workload
 * `requests.jsonl` reader (file:line in every error), and the per-event completions chunk parser.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { z } from "zod";
import { BenchError } from "./errors.js";
import {
  type BenchRequest,
  BenchRequestSchema,
  type CompletionChunk,
  CompletionChunkSchema,
} from "./schema.js";

/** Flattens zod issues to `path: message` lines joined by "; ". */
export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(root)"}: ${issue.message}`)
    .join("; ");
}

/**
 * Parses `requests.jsonl` text into requests. Throws BENCH_WORKLOAD_INVALID naming `file:line` and the
 * field when a line is not JSON, violates the schema, or request ids are not 0..n-1 in file order.
 */
export function parseRequestsJsonl(text: string, file: string): BenchRequest[] {
  const out: BenchRequest[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]?.trim() ?? "";
    if (line === "") continue;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (cause) {
      throw new BenchError(
        "BENCH_WORKLOAD_INVALID",
        `${file}:${i + 1}: not valid JSON (expected one request object per line)`,
        { cause },
      );
    }
    const parsed = BenchRequestSchema.safeParse(raw);
    if (!parsed.success) {
      throw new BenchError(
        "BENCH_WORKLOAD_INVALID",
        `${file}:${i + 1}: invalid request: ${formatIssues(parsed.error)}`,
      );
    }
    if (parsed.data.request_id !== out.length) {
      throw new BenchError(
        "BENCH_WORKLOAD_INVALID",
        `${file}:${i + 1}: request_id ${parsed.data.request_id} out of order (expected ${out.length}: ids are 0-based arrival indices)`,
      );
    }
    out.push(parsed.data);
  }
  if (out.length === 0) {
    throw new BenchError("BENCH_WORKLOAD_INVALID", `${file}: no requests (expected at least one line)`);
  }
  return out;
}

/** Reads and validates `<workloadDir>/requests.jsonl`; also returns the workload id from `workload.json` when present. */
export async function readBenchWorkload(
  workloadDir: string,
): Promise<{ requests: BenchRequest[]; workloadId: string | null }> {
  const file = path.join(workloadDir, "requests.jsonl");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    throw new BenchError(
      "BENCH_WORKLOAD_UNREADABLE",
      `cannot read ${file} (expected a workload dir written by @vf/workload-spec)`,
      { cause },
    );
  }
  const requests = parseRequestsJsonl(text, file);
  let workloadId: string | null = null;
  try {
    const manifest: unknown = JSON.parse(await readFile(path.join(workloadDir, "workload.json"), "utf8"));
    if (manifest !== null && typeof manifest === "object") {
      const rec = manifest as Record<string, unknown>;
      const id = rec.workload_id ?? rec.id;
      if (typeof id === "string") workloadId = id;
    }
  } catch {
    // workload.json is optional for the client: only the id is taken from it.
  }
  return { requests, workloadId };
}

/** Result of parsing one SSE `data:` payload. */
export type ChunkParse =
  | { readonly ok: true; readonly chunk: CompletionChunk }
  | { readonly ok: false; readonly reason: string };

/** Parses one SSE data payload (not `[DONE]`) as a completions chunk. */
export function parseCompletionChunk(data: string): ChunkParse {
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return { ok: false, reason: `not JSON: ${excerpt(data, 120)}` };
  }
  const parsed = CompletionChunkSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: `${formatIssues(parsed.error)} in ${excerpt(data, 120)}` };
  return { ok: true, chunk: parsed.data };
}

/** First `max` characters of `s` with newlines flattened, "..." appended when cut. */
export function excerpt(s: string, max: number): string {
  const flat = s.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}...` : flat;
}

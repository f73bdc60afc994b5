/**
 * The workload dir on disk: writeWorkloadDir (built in a temp dir beside the target, then renamed, so no partial
 * dir is ever visible) and readWorkloadDir (zod-validated, id and CSVs checked against requests.jsonl).
 * File names and CSV layouts are the contract of ARCHITECTURE.md.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, open, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { formatMicros, secondsToMicros } from "./arrivals.js";
import { isWorkloadSpecError, WorkloadSpecError } from "./errors.js";
import { parseWith } from "./parse.js";
import { z } from "zod";
import { type Workload, WorkloadManifestSchema, type WorkloadRequest, WorkloadRequestFieldsSchema } from "./schema.js";
import { serializeRequest } from "./workload.js";

/** File names inside a workload dir. */
export const WORKLOAD_FILES = {
  manifest: "workload.json",
  requests: "requests.jsonl",
  traceLengths: "trace_lengths.csv",
  traceIntervals: "trace_intervals.csv",
  vidurTrace: "vidur_trace.csv",
} as const;

/** trace_lengths.csv content. */
function renderTraceLengths(requests: readonly WorkloadRequest[]): string {
  const lines = ["request_id,num_prefill_tokens,num_decode_tokens"];
  for (const r of requests) lines.push(`${r.request_id},${r.num_prefill_tokens},${r.num_decode_tokens}`);
  return `${lines.join("\n")}\n`;
}

/** trace_intervals.csv content: inter_request_time is the gap to the previous arrival (0 for the first). */
function renderTraceIntervals(requests: readonly WorkloadRequest[]): string {
  const lines = ["request_id,arrived_at,inter_request_time"];
  let previousUs = 0;
  for (const r of requests) {
    const us = secondsToMicros(r.arrived_at);
    lines.push(`${r.request_id},${formatMicros(us)},${formatMicros(us - previousUs)}`);
    previousUs = us;
  }
  return `${lines.join("\n")}\n`;
}

/** vidur_trace.csv content (Vidur trace_replay columns). */
function renderVidurTrace(requests: readonly WorkloadRequest[]): string {
  const lines = ["arrived_at,num_prefill_tokens,num_decode_tokens"];
  for (const r of requests) {
    lines.push(`${formatMicros(secondsToMicros(r.arrived_at))},${r.num_prefill_tokens},${r.num_decode_tokens}`);
  }
  return `${lines.join("\n")}\n`;
}

/** Light structural check before writing (the full zod check runs when reading). */
function checkRequests(workload: Workload): void {
  workload.requests.forEach((r, i) => {
    if (r.request_id !== i || r.prompt_token_ids.length !== r.num_prefill_tokens) {
      throw new WorkloadSpecError(
        "WORKLOAD_INVALID_SPEC",
        `request ${i}: request_id must equal its index and prompt_token_ids must have num_prefill_tokens ids`,
        { field: `requests.${i}` },
      );
    }
  });
}

/** Options of writeWorkloadDir. */
export interface WriteWorkloadDirOptions {
  /** Replace an existing dir at the target (default false: WORKLOAD_DIR_EXISTS). */
  overwrite?: boolean;
}

/**
 * Write the workload dir at `dir` atomically. The manifest id must be the hash of the requests as written
 * (buildWorkload guarantees it). Returns the absolute dir and the id.
 */
export async function writeWorkloadDir(
  dir: string,
  workload: Workload,
  options: WriteWorkloadDirOptions = {},
): Promise<{ dir: string; id: string }> {
  const target = resolve(dir);
  if (existsSync(target) && options.overwrite !== true) {
    throw new WorkloadSpecError("WORKLOAD_DIR_EXISTS", "target already exists (pass overwrite to replace it)", {
      file: target,
    });
  }
  checkRequests(workload);
  let temp: string | undefined;
  try {
    await mkdir(dirname(target), { recursive: true });
    temp = await mkdtemp(join(dirname(target), `.${basename(target)}.tmp-`));
    // requests.jsonl can be hundreds of MB (whole traces): stream it in chunks and hash on the way.
    const hash = createHash("sha256");
    const handle = await open(join(temp, WORKLOAD_FILES.requests), "w");
    try {
      let chunk = "";
      for (const r of workload.requests) {
        chunk += `${serializeRequest(r)}\n`;
        if (chunk.length > 1 << 20) {
          hash.update(chunk);
          await handle.write(chunk);
          chunk = "";
        }
      }
      hash.update(chunk);
      await handle.write(chunk);
    } finally {
      await handle.close();
    }
    const id = hash.digest("hex").slice(0, 16);
    if (id !== workload.manifest.id) {
      throw new WorkloadSpecError(
        "WORKLOAD_INVALID_SPEC",
        `manifest id ${workload.manifest.id} is not the content hash ${id} of its requests (was it edited after buildWorkload?)`,
        { field: "manifest.id" },
      );
    }
    await writeFile(join(temp, WORKLOAD_FILES.manifest), `${JSON.stringify(workload.manifest, null, 2)}\n`);
    await writeFile(join(temp, WORKLOAD_FILES.traceLengths), renderTraceLengths(workload.requests));
    await writeFile(join(temp, WORKLOAD_FILES.traceIntervals), renderTraceIntervals(workload.requests));
    await writeFile(join(temp, WORKLOAD_FILES.vidurTrace), renderVidurTrace(workload.requests));
    if (existsSync(target)) {
      const old = await mkdtemp(join(dirname(target), `.${basename(target)}.old-`));
      await rename(target, join(old, "dir"));
      await rename(temp, target);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(temp, target);
    }
    temp = undefined;
    return { dir: target, id };
  } catch (cause) {
    if (isWorkloadSpecError(cause)) throw cause;
    throw new WorkloadSpecError("WORKLOAD_WRITE_FAILED", "could not write the workload dir", { file: target }, { cause });
  } finally {
    if (temp !== undefined) await rm(temp, { recursive: true, force: true });
  }
}

async function readDirFile(dir: string, name: string): Promise<Buffer> {
  const file = join(dir, name);
  try {
    return await readFile(file);
  } catch (cause) {
    throw new WorkloadSpecError("WORKLOAD_READ_FAILED", "cannot read workload file", { file }, { cause });
  }
}

/** Compare a CSV on disk with the one the requests imply; name the first differing line. */
async function checkCsv(dir: string, name: string, expected: string): Promise<void> {
  const actual = (await readDirFile(dir, name)).toString("utf8");
  if (actual === expected) return;
  const a = actual.split("\n");
  const e = expected.split("\n");
  let line = 0;
  while (line < Math.min(a.length, e.length) && a[line] === e[line]) line++;
  throw new WorkloadSpecError("WORKLOAD_CORRUPT_DIR", `does not match requests.jsonl (expected "${e[line] ?? "<end>"}")`, {
    file: join(dir, name),
    line: line + 1,
  });
}

/**
 * Read and validate a workload dir: manifest schema, every requests.jsonl line, ids 0..n-1 in order, sorted
 * arrivals, counts, the content id, and that the three CSVs agree with the requests.
 */
export async function readWorkloadDir(dir: string): Promise<Workload> {
  const root = resolve(dir);
  const manifestFile = join(root, WORKLOAD_FILES.manifest);
  let manifestJson: unknown;
  try {
    manifestJson = JSON.parse((await readDirFile(root, WORKLOAD_FILES.manifest)).toString("utf8"));
  } catch (cause) {
    if (isWorkloadSpecError(cause)) throw cause;
    throw new WorkloadSpecError("WORKLOAD_INVALID_JSON", "not valid JSON", { file: manifestFile }, { cause });
  }
  const manifest = parseWith(
    WorkloadManifestSchema,
    manifestJson,
    { file: manifestFile, what: "workload manifest" },
    "WORKLOAD_CORRUPT_DIR",
  );

  const requestsFile = join(root, WORKLOAD_FILES.requests);
  const bytes = await readDirFile(root, WORKLOAD_FILES.requests);
  const id = createHash("sha256").update(bytes).digest("hex").slice(0, 16);
  const lines = bytes.toString("utf8").split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  // Token ids are checked by a plain loop (a zod check per id costs seconds on whole traces).
  const vocab = manifest.tokenizer.vocab_size;
  const tokenIds = z.custom<number[]>(
    (v) => Array.isArray(v) && v.every((id) => Number.isInteger(id) && id >= 0 && id < vocab),
    { message: `expected an array of integer token ids in [0, ${vocab})` },
  );
  const schema = WorkloadRequestFieldsSchema.extend({ prompt_token_ids: tokenIds }).refine(
    (r) => r.prompt_token_ids.length === r.num_prefill_tokens,
    { message: "prompt_token_ids length must equal num_prefill_tokens", path: ["prompt_token_ids"] },
  );
  const requests: WorkloadRequest[] = [];
  let previous = 0;
  lines.forEach((raw, index) => {
    const line = index + 1;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (cause) {
      throw new WorkloadSpecError("WORKLOAD_INVALID_JSON", "line is not valid JSON", { file: requestsFile, line }, { cause });
    }
    const r = parseWith(schema, value, { file: requestsFile, line, what: "request" }, "WORKLOAD_CORRUPT_DIR");
    if (r.request_id !== index) {
      throw new WorkloadSpecError("WORKLOAD_CORRUPT_DIR", `expected request_id ${index}, got ${r.request_id}`, {
        file: requestsFile,
        line,
        field: "request_id",
      });
    }
    if (r.arrived_at < previous) {
      throw new WorkloadSpecError("WORKLOAD_UNSORTED", "arrived_at is earlier than the previous request's", {
        file: requestsFile,
        line,
        field: "arrived_at",
      });
    }
    previous = r.arrived_at;
    requests.push(r);
  });
  if (requests.length !== manifest.counts.requests) {
    throw new WorkloadSpecError(
      "WORKLOAD_CORRUPT_DIR",
      `has ${requests.length} requests, workload.json says ${manifest.counts.requests}`,
      { file: requestsFile },
    );
  }
  if (id !== manifest.id) {
    throw new WorkloadSpecError("WORKLOAD_CORRUPT_DIR", `content hash ${id} does not match workload.json id ${manifest.id}`, {
      file: requestsFile,
    });
  }
  await checkCsv(root, WORKLOAD_FILES.traceLengths, renderTraceLengths(requests));
  await checkCsv(root, WORKLOAD_FILES.traceIntervals, renderTraceIntervals(requests));
  await checkCsv(root, WORKLOAD_FILES.vidurTrace, renderVidurTrace(requests));
  return { manifest, requests };
}

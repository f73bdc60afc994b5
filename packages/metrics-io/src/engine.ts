/**
 * Brings a serving engine's own timeline (gpu-harness writes `iterations.csv`, `server_tokens.csv` and
 * `server_run.json` on its monotonic clock with a wall-clock anchor) onto a real run's clock, so engine steps and
 * client-side token times can be read together. Valid when server and client share a wall clock (same host).
 * Also reads the server's machine probe (`server_run.json`'s `machine_probe`).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { atomicWriteFile } from "./atomic.js";
import { readJsonFile } from "./manifest.js";
import { MetricsIoError } from "./errors.js";
import { fileExists, readIterations, writeIterations } from "./records.js";
import type { Iteration } from "./schema.js";

/** What importEngineTimeline wrote. */
export interface EngineTimelineImport {
  /** Seconds added to server times to get run-clock times. */
  offsetS: number;
  /** Engine steps kept (those ending at or after the schedule start). */
  iterations: number;
  /** Steps dropped because they ended before the schedule start (warm-up). */
  droppedIterations: number;
  /** Engine-side token rows written (requests with integer ids only). */
  tokens: number;
  /** Engine-side admission rows written (server_admissions.csv; 0 when the server wrote none). */
  admissions: number;
}

async function readAnchor(path: string): Promise<{ anchor: number; manifest: Record<string, unknown> }> {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
  } catch (cause) {
    throw new MetricsIoError("METRICS_CORRUPT_FILE", `${path}: cannot read the server manifest (${String(cause)})`, { cause });
  }
  const anchor = json.wall_anchor_unix_s;
  if (typeof anchor !== "number" || !Number.isFinite(anchor)) {
    throw new MetricsIoError("METRICS_INVALID_MANIFEST", `${path}: wall_anchor_unix_s missing or not a number`);
  }
  return { anchor, manifest: json };
}

/**
 * Reads `<serverDir>/{server_run.json,iterations.csv,server_tokens.csv}`, shifts every time by
 * (server wall anchor - run zero) and writes `<runDir>/iterations.csv`, `<runDir>/server_token_timestamps.csv` and
 * `<runDir>/server_run.json`. Steps that ended before the schedule start (warm-up) are dropped.
 */
export async function importEngineTimeline(args: {
  serverDir: string;
  runDir: string;
  /** Unix time (s) of the run clock's zero (the bench run.json's clock.zero_unix_s). */
  runZeroUnixS: number;
}): Promise<EngineTimelineImport> {
  const { anchor, manifest } = await readAnchor(join(args.serverDir, "server_run.json"));
  const offsetS = anchor - args.runZeroUnixS;
  const all = await readIterations(join(args.serverDir, "iterations.csv"));
  const kept: Iteration[] = [];
  for (const row of all) {
    const start = row.start + offsetS;
    const end = row.end + offsetS;
    if (end < 0) continue;
    kept.push({ ...row, start, end });
  }
  await writeIterations(join(args.runDir, "iterations.csv"), kept);
  const tokens = await shiftServerCsv(join(args.serverDir, "server_tokens.csv"), join(args.runDir, "server_token_timestamps.csv"), ["request_id", "token_index", "t"], ["t"], offsetS);
  // Servers before the twenty-fourth session wrote the first three columns only; the front's stamps may be empty.
  const admissions = await shiftServerCsv(
    join(args.serverDir, "server_admissions.csv"),
    join(args.runDir, "server_admissions.csv"),
    ["request_id", "inbox", "drained", "received", "submitted"],
    ["inbox", "drained", "received", "submitted"],
    offsetS,
    3,
  );
  await atomicWriteFile(
    join(args.runDir, "server_run.json"),
    `${JSON.stringify({ ...manifest, run_clock_offset_s: offsetS }, null, 2)}\n`,
  );
  return { offsetS, iterations: kept.length, droppedIterations: all.length - kept.length, tokens, admissions };
}

/**
 * Copies a server per-request CSV (`columns`, request_id first) to `outPath` with the `timeColumns` shifted by
 * `offsetS` onto the run clock, keeping the rows of requests with an integer (workload) id; returns the rows kept.
 * The file's header may be the first `required` of `columns` (an older server's); a time column past those may be
 * empty. A missing file writes nothing (0).
 */
async function shiftServerCsv(
  path: string,
  outPath: string,
  columns: readonly string[],
  timeColumns: readonly string[],
  offsetS: number,
  required = columns.length,
): Promise<number> {
  if (!(await fileExists(path))) return 0;
  const lines = (await readFile(path, "utf8")).split("\n");
  const header = lines[0]!.split(",");
  const layouts = [...new Set([columns.slice(0, required).join(","), columns.join(",")])];
  if (!layouts.includes(header.join(","))) {
    throw new MetricsIoError("METRICS_CORRUPT_FILE", `${path}:1: header ${JSON.stringify(lines[0])}, expected ${layouts.join(" or ")}`);
  }
  const timeAt = new Set(timeColumns.map((c) => header.indexOf(c)).filter((k) => k >= 0));
  const out = [header.join(",")];
  lines.slice(1).forEach((line, i) => {
    if (line === "") return;
    const cells = line.split(",");
    if (cells.length !== header.length) {
      throw new MetricsIoError("METRICS_CORRUPT_FILE", `${path}:${i + 2}: expected ${header.join(",")}`);
    }
    if (!/^\d+$/.test(cells[0]!)) return; // warm-up and other requests without a workload id
    out.push(
      cells
        .map((cell, k) => {
          if (!timeAt.has(k) || (cell === "" && k >= required)) return cell;
          const shifted = Number(cell) + offsetS;
          if (cell === "" || !Number.isFinite(shifted)) {
            throw new MetricsIoError("METRICS_INVALID_ROW", `${path}:${i + 2}: column ${header[k]} = ${JSON.stringify(cell)}, expected a number`);
          }
          return String(Math.round(shifted * 1e9) / 1e9);
        })
        .join(","),
    );
  });
  await atomicWriteFile(outPath, `${out.join("\n")}\n`);
  return out.length - 1;
}

/** One timed composition of a machine probe (ms); other keys (decodes, kv, chunk, context) are kept. */
export const MachineProbePoint = z
  .object({
    key: z.string().min(1),
    kind: z.string(),
    p10_ms: z.number(),
    p50_ms: z.number().positive(),
    p90_ms: z.number(),
    n: z.number().int().min(1),
  })
  .passthrough();
export type MachineProbePoint = z.infer<typeof MachineProbePoint>;

/**
 * `server_run.json`'s `machine_probe` (gpu-harness `serve --probe-repeats`): the step time of fixed compositions on
 * the server's own engine, taken before it served. Points are keyed by composition (`"decode d=4 kv=1024"`), so
 * probes of two server configurations can be compared on the keys both timed. Other keys are kept.
 */
export const MachineProbe = z
  .object({
    schema_version: z.literal(1),
    points: z.array(MachineProbePoint),
  })
  .passthrough();
export type MachineProbe = z.infer<typeof MachineProbe>;

/**
 * The machine probe of a real run dir (or a server dir): `<runDir>/server_run.json`'s `machine_probe`, validated.
 * Null when the file is missing or the key is absent or null (older runs, a server started without the probe).
 */
export async function readMachineProbe(runDir: string): Promise<MachineProbe | null> {
  const { path, json } = await readServerManifest(runDir);
  if (json === undefined) return null;
  const raw = json.machine_probe;
  if (raw === undefined || raw === null) return null;
  const parsed = MachineProbe.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new MetricsIoError(
      "METRICS_INVALID_MANIFEST",
      `${path}: ${["machine_probe", ...(issue?.path ?? [])].map(String).join(".")}: ${issue?.message ?? "invalid machine probe"}`,
    );
  }
  return parsed.data;
}

/** `<runDir>/server_run.json` as an object (undefined when missing); any other JSON value is an error naming it. */
async function readServerManifest(runDir: string): Promise<{ path: string; json: Record<string, unknown> | undefined }> {
  const path = join(runDir, "server_run.json");
  const json = await readJsonFile(path, { allowMissing: true });
  if (json === undefined) return { path, json };
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new MetricsIoError("METRICS_INVALID_MANIFEST", `${path}: expected a JSON object (the server manifest)`);
  }
  return { path, json: json as Record<string, unknown> };
}

/**
 * The size of the in-band host probe (iterations.csv `host_probe_time`): the lean engine times turning one int64
 * list of 3 x its step token limit + its slot count into a tensor, the same length at every step of a server but not
 * across token budgets or batch caps (2,048 ints at a 512-token budget and 128 slots, 1,280 at 256). gpu-harness
 * records the length as `engine.host_probe_ints`; the servers of every H200 run so far did not.
 */
export interface HostProbeSize {
  maxTokensPerStep: number;
  slots: number;
  ints: number;
}

const positiveInt = z.number().int().positive();

/**
 * The host probe's size for a real run dir (or a server dir), from `server_run.json`'s `engine`: its recorded
 * `host_probe_ints`, else 3 x `max_tokens_per_step` + `batch_size_cap` (the same length, for servers that did not
 * record it). Null when the file or the step limit and cap are missing (older servers, other engines).
 */
export async function readHostProbeSize(runDir: string): Promise<HostProbeSize | null> {
  const { path, json } = await readServerManifest(runDir);
  const engine = json?.engine;
  if (engine === undefined || engine === null || typeof engine !== "object") return null;
  const e = engine as Record<string, unknown>;
  if (e.max_tokens_per_step === undefined || e.batch_size_cap === undefined) return null;
  const knob = (key: "max_tokens_per_step" | "batch_size_cap" | "host_probe_ints"): number => {
    if (!positiveInt.safeParse(e[key]).success) {
      throw new MetricsIoError("METRICS_INVALID_MANIFEST", `${path}: engine.${key}: expected a positive integer, got ${JSON.stringify(e[key])}`);
    }
    return e[key] as number;
  };
  const maxTokensPerStep = knob("max_tokens_per_step");
  const slots = knob("batch_size_cap");
  return { maxTokensPerStep, slots, ints: e.host_probe_ints === undefined ? 3 * maxTokensPerStep + slots : knob("host_probe_ints") };
}

/** Readers and writers of request_metrics.csv, token_timestamps.csv and iterations.csv. */
import { createReadStream } from "node:fs";
import { access } from "node:fs/promises";
import { type ColumnKind, formatNumber, formatText, readCsvFile } from "./csv.js";
import { atomicWriteFile, openAtomicLineWriter } from "./atomic.js";
import { MetricsIoError } from "./errors.js";
import {
  ITERATION_COLUMNS,
  ITERATION_PHASE_COLUMNS,
  ITERATION_PROBE_COLUMNS,
  type Iteration,
  IterationSchema,
  REQUEST_METRIC_COLUMNS,
  type RequestMetric,
  RequestMetricSchema,
  type TokenTimestamp,
} from "./schema.js";

const REQUEST_KINDS: Record<(typeof REQUEST_METRIC_COLUMNS)[number], ColumnKind> = {
  request_id: "int",
  arrived_at: "num",
  sent_at: "num?",
  first_token_at: "num?",
  completed_at: "num?",
  ttft: "num?",
  e2e: "num?",
  tpot: "num?",
  queue_time: "num?",
  num_prefill_tokens: "int",
  num_decode_tokens: "int",
  num_output_tokens: "int",
  status: "text",
  error: "text",
};

const ITERATION_KINDS: Record<
  (typeof ITERATION_COLUMNS)[number] | (typeof ITERATION_PHASE_COLUMNS)[number] | (typeof ITERATION_PROBE_COLUMNS)[number],
  ColumnKind
> = {
  step: "int",
  start: "num",
  end: "num",
  gpu_time: "num?",
  num_prefill_tokens: "int",
  num_decode_tokens: "int",
  batch_size: "int",
  kv_tokens_in_use: "int?",
  schedule_time: "num?",
  prepare_time: "num?",
  wait_time: "num?",
  process_time: "num?",
  host_probe_time: "num?",
};

/** Serializes request metrics to CSV text (header + one line per row, "\n" line ends). */
export function formatRequestMetrics(rows: readonly RequestMetric[]): string {
  const lines = [REQUEST_METRIC_COLUMNS.join(",")];
  for (const r of rows) {
    lines.push(
      REQUEST_METRIC_COLUMNS.map((c) => {
        const v = r[c];
        return typeof v === "string" ? formatText(v) : formatNumber(v);
      }).join(","),
    );
  }
  return `${lines.join("\n")}\n`;
}

/** Writes request_metrics.csv atomically. */
export async function writeRequestMetrics(path: string, rows: readonly RequestMetric[]): Promise<void> {
  await atomicWriteFile(path, formatRequestMetrics(rows));
}

/** Reads and validates request_metrics.csv. */
export async function readRequestMetrics(path: string): Promise<RequestMetric[]> {
  return readCsvFile(path, REQUEST_KINDS, REQUEST_METRIC_COLUMNS, RequestMetricSchema);
}

/** Writes iterations.csv atomically. */
export async function writeIterations(path: string, rows: readonly Iteration[]): Promise<void> {
  const withPhases = rows.some((r) => ITERATION_PHASE_COLUMNS.some((c) => r[c] != null));
  const withProbe = rows.some((r) => ITERATION_PROBE_COLUMNS.some((c) => r[c] != null));
  const columns = [
    ...ITERATION_COLUMNS,
    ...(withPhases ? ITERATION_PHASE_COLUMNS : []),
    ...(withProbe ? ITERATION_PROBE_COLUMNS : []),
  ];
  const lines = [columns.join(",")];
  for (const r of rows) lines.push(columns.map((c) => formatNumber(r[c] ?? null)).join(","));
  await atomicWriteFile(path, `${lines.join("\n")}\n`);
}

/** Reads and validates iterations.csv. */
export async function readIterations(path: string): Promise<Iteration[]> {
  return readCsvFile(path, ITERATION_KINDS, ITERATION_COLUMNS, IterationSchema);
}

/** True when `path` exists (for optional files such as iterations.csv). */
export async function fileExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Streams token_timestamps.csv to disk atomically. Chunk columns are written when `withChunks` is true
 * (real runs: each token row carries the index and size of the stream chunk it arrived in).
 */
export async function writeTokenTimestamps(
  path: string,
  rows: Iterable<TokenTimestamp> | AsyncIterable<TokenTimestamp>,
  options: { withChunks?: boolean } = {},
): Promise<number> {
  const writer = await openAtomicLineWriter(path);
  const withChunks = options.withChunks ?? false;
  let n = 0;
  try {
    await writer.write(withChunks ? "request_id,token_index,t,chunk_index,chunk_tokens" : "request_id,token_index,t");
    for await (const r of rows) {
      const base = `${r.request_id},${r.token_index},${formatNumber(r.t)}`;
      await writer.write(
        withChunks ? `${base},${formatNumber(r.chunk_index ?? null)},${formatNumber(r.chunk_tokens ?? null)}` : base,
      );
      n += 1;
    }
    await writer.close();
  } catch (e) {
    await writer.abort();
    throw e;
  }
  return n;
}

function parseTokenLine(path: string, lineNo: number, line: string, columns: number): TokenTimestamp {
  const cells = line.split(",");
  if (cells.length !== columns) {
    throw new MetricsIoError("METRICS_CORRUPT_FILE", `${path}:${lineNo}: ${cells.length} cells, expected ${columns}`);
  }
  const requestId = Number(cells[0]);
  const tokenIndex = Number(cells[1]);
  const t = Number(cells[2]);
  if (!Number.isInteger(requestId) || requestId < 0 || !Number.isInteger(tokenIndex) || tokenIndex < 0) {
    throw new MetricsIoError(
      "METRICS_INVALID_ROW",
      `${path}:${lineNo}: request_id and token_index must be non-negative integers, got ${cells[0]},${cells[1]}`,
    );
  }
  if (cells[2] === "" || !Number.isFinite(t)) {
    throw new MetricsIoError("METRICS_INVALID_ROW", `${path}:${lineNo}: column t = ${JSON.stringify(cells[2])}, expected a number`);
  }
  const row: TokenTimestamp = { request_id: requestId, token_index: tokenIndex, t };
  if (columns === 5) {
    row.chunk_index = cells[3] === "" ? null : Number(cells[3]);
    row.chunk_tokens = cells[4] === "" ? null : Number(cells[4]);
  }
  return row;
}

/**
 * Streams token_timestamps.csv row by row without holding the file in memory (it can hold tens of millions of
 * rows). Errors name the file and line.
 */
export async function* readTokenTimestamps(path: string): AsyncGenerator<TokenTimestamp> {
  if (!(await fileExists(path))) throw new MetricsIoError("METRICS_FILE_NOT_FOUND", `cannot read ${path}: no such file`);
  const stream = createReadStream(path, { encoding: "utf8", highWaterMark: 1 << 20 });
  let rest = "";
  let lineNo = 0;
  let columns = 0;
  for await (const chunk of stream as AsyncIterable<string>) {
    const text = rest + chunk;
    const lines = text.split("\n");
    rest = lines.pop() ?? "";
    for (const raw of lines) {
      lineNo += 1;
      const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      if (lineNo === 1) {
        columns = checkTokenHeader(path, line);
        continue;
      }
      if (line === "") continue;
      yield parseTokenLine(path, lineNo, line, columns);
    }
  }
  if (rest !== "") {
    lineNo += 1;
    if (lineNo === 1) {
      checkTokenHeader(path, rest);
    } else {
      yield parseTokenLine(path, lineNo, rest.endsWith("\r") ? rest.slice(0, -1) : rest, columns);
    }
  }
  if (lineNo === 0) throw new MetricsIoError("METRICS_CORRUPT_FILE", `${path}: empty file, expected a header line`);
}

function checkTokenHeader(path: string, line: string): number {
  if (line === "request_id,token_index,t") return 3;
  if (line === "request_id,token_index,t,chunk_index,chunk_tokens") return 5;
  throw new MetricsIoError(
    "METRICS_MISSING_COLUMN",
    `${path}:1: header ${JSON.stringify(line)}, expected request_id,token_index,t[,chunk_index,chunk_tokens]`,
  );
}

/** Reads token_timestamps.csv into request_id -> token times ordered by token_index. */
export async function readTokenTimestampsGrouped(path: string): Promise<Map<number, number[]>> {
  const out = new Map<number, number[]>();
  for await (const row of readTokenTimestamps(path)) {
    let times = out.get(row.request_id);
    if (!times) {
      times = [];
      out.set(row.request_id, times);
    }
    times[row.token_index] = row.t;
  }
  for (const [id, times] of out) {
    for (let i = 0; i < times.length; i++) {
      if (times[i] === undefined) {
        throw new MetricsIoError("METRICS_CORRUPT_FILE", `${path}: request ${id} lacks token_index ${i}`);
      }
    }
  }
  return out;
}

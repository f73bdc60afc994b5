/**
 * Input readers: prompts JSONL, the Azure LLM inference trace CSV and Mooncake JSONL traces. Each validates every
 * row strictly (coded errors naming file:line and field) and returns plain rows; token ids, decode policies and
 * arrival processes are applied later by workload.ts. Trace times come back as integer microsecond offsets from the
 * first selected row, computed exactly (Azure timestamps through BigInt 100 ns ticks).
 */
import { readFileSync } from "node:fs";
import { WorkloadSpecError } from "./errors.js";

/** One prompt of a prompts JSONL file. */
export interface PromptRow {
  line: number;
  promptId: string;
  text: string;
  numDecodeTokens: number | undefined;
}

/** One length-only trace row: arrival offset from the first selected row in integer microseconds (unscaled). */
export interface TraceRow {
  line: number;
  offsetUs: number;
  numPrefillTokens: number;
  numDecodeTokens: number;
}

/** Which data rows to keep (0-based, before validation of later rows stops mattering). */
export interface RowSelection {
  offset?: number | undefined;
  limit?: number | undefined;
}

function readText(file: string): string {
  try {
    const text = readFileSync(file, "utf8");
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch (cause) {
    throw new WorkloadSpecError("WORKLOAD_READ_FAILED", "cannot read the file", { file }, { cause });
  }
}

/** Split into lines, accepting LF or CRLF and a missing final newline. */
function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** Parse a JSON object line; errors name file:line. */
function parseJsonObject(raw: string, file: string, line: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (cause) {
    throw new WorkloadSpecError("WORKLOAD_INVALID_JSON", "line is not valid JSON", { file, line }, { cause });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new WorkloadSpecError("WORKLOAD_INVALID_ROW", "expected a JSON object", { file, line });
  }
  return value as Record<string, unknown>;
}

function checkFields(
  row: Record<string, unknown>,
  required: readonly string[],
  optional: readonly string[],
  file: string,
  line: number,
): void {
  for (const field of required) {
    if (!(field in row)) {
      throw new WorkloadSpecError("WORKLOAD_MISSING_FIELD", "required field is missing", { file, line, field });
    }
  }
  for (const field of Object.keys(row)) {
    if (!required.includes(field) && !optional.includes(field)) {
      throw new WorkloadSpecError(
        "WORKLOAD_EXTRA_FIELD",
        `unexpected field (allowed: ${[...required, ...optional].join(", ")})`,
        { file, line, field },
      );
    }
  }
}

/** A JSON value that must be an integer token count >= 1. */
function checkTokenCount(value: unknown, file: string, line: number, field: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new WorkloadSpecError("WORKLOAD_INVALID_VALUE", `expected an integer >= 1, got ${JSON.stringify(value)}`, {
      file,
      line,
      field,
    });
  }
  if (value < 0) {
    throw new WorkloadSpecError("WORKLOAD_NEGATIVE_VALUE", `expected an integer >= 1, got ${value}`, {
      file,
      line,
      field,
    });
  }
  if (!Number.isInteger(value) || value < 1) {
    throw new WorkloadSpecError("WORKLOAD_INVALID_VALUE", `expected an integer >= 1, got ${value}`, {
      file,
      line,
      field,
    });
  }
  return value;
}

/** A CSV cell that must be a decimal integer token count >= 1. */
function parseTokenCell(cell: string, file: string, line: number, field: string): number {
  const trimmed = cell.trim();
  if (/^-\d+$/.test(trimmed)) {
    throw new WorkloadSpecError("WORKLOAD_NEGATIVE_VALUE", `expected an integer >= 1, got "${cell}"`, {
      file,
      line,
      field,
    });
  }
  if (!/^\d+$/.test(trimmed) || Number(trimmed) < 1 || !Number.isSafeInteger(Number(trimmed))) {
    throw new WorkloadSpecError("WORKLOAD_INVALID_VALUE", `expected an integer >= 1, got "${cell}"`, {
      file,
      line,
      field,
    });
  }
  return Number(trimmed);
}

/**
 * Read a prompts JSONL file: one object per line with `prompt_id` (string or integer), `text` (non-empty) and
 * optional `num_decode_tokens` (integer >= 1). Blank lines are skipped; prompt ids must be unique.
 */
export function readPromptsJsonl(file: string): PromptRow[] {
  const rows: PromptRow[] = [];
  const seen = new Map<string, number>();
  splitLines(readText(file)).forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === "") return;
    const obj = parseJsonObject(raw, file, line);
    checkFields(obj, ["prompt_id", "text"], ["num_decode_tokens"], file, line);
    const id = obj.prompt_id;
    if (!(typeof id === "string" && id !== "") && !(typeof id === "number" && Number.isInteger(id))) {
      throw new WorkloadSpecError("WORKLOAD_INVALID_VALUE", "expected a non-empty string or an integer", {
        file,
        line,
        field: "prompt_id",
      });
    }
    const promptId = String(id);
    const firstLine = seen.get(promptId);
    if (firstLine !== undefined) {
      throw new WorkloadSpecError("WORKLOAD_DUPLICATE_ID", `prompt_id "${promptId}" already used on line ${firstLine}`, {
        file,
        line,
        field: "prompt_id",
      });
    }
    seen.set(promptId, line);
    if (typeof obj.text !== "string") {
      throw new WorkloadSpecError("WORKLOAD_INVALID_VALUE", "expected a string", { file, line, field: "text" });
    }
    if (obj.text.trim() === "") {
      throw new WorkloadSpecError("WORKLOAD_EMPTY_PROMPT", "prompt text is empty", { file, line, field: "text" });
    }
    const numDecodeTokens =
      obj.num_decode_tokens === undefined
        ? undefined
        : checkTokenCount(obj.num_decode_tokens, file, line, "num_decode_tokens");
    rows.push({ line, promptId, text: obj.text, numDecodeTokens });
  });
  if (rows.length === 0) throw new WorkloadSpecError("WORKLOAD_EMPTY", "no prompts in the file", { file });
  return rows;
}

const AZURE_COLUMNS = ["TIMESTAMP", "ContextTokens", "GeneratedTokens"] as const;
const AZURE_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$/;

/** Parse an Azure trace timestamp (naive wall clock, up to 7 fractional digits) into exact 100 ns ticks. */
export function parseAzureTimestampTicks(cell: string, file: string, line: number): bigint {
  const m = AZURE_TIMESTAMP.exec(cell.trim());
  const fail = (): never => {
    throw new WorkloadSpecError(
      "WORKLOAD_INVALID_VALUE",
      `expected a timestamp like 2023-11-16 18:15:46.6805900, got "${cell}"`,
      { file, line, field: "TIMESTAMP" },
    );
  };
  if (m === null) return fail();
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const check = new Date(ms);
  if (check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return fail();
  const frac = (m[7] ?? "").padEnd(7, "0");
  return BigInt(ms) * 10_000n + BigInt(frac);
}

/** Keep rows [offset, offset + limit). */
function select<T>(rows: T[], selection: RowSelection, file: string): T[] {
  const start = selection.offset ?? 0;
  const end = selection.limit === undefined ? rows.length : start + selection.limit;
  const out = rows.slice(start, end);
  if (out.length === 0) {
    throw new WorkloadSpecError("WORKLOAD_EMPTY", `no rows selected (offset ${start}, file has ${rows.length})`, {
      file,
    });
  }
  return out;
}

/**
 * Read an Azure LLM inference trace CSV (`TIMESTAMP,ContextTokens,GeneratedTokens`, CRLF or LF). Rows must be
 * sorted by time. Offsets are relative to the first selected row, rounded half-up to the microsecond.
 */
export function readAzureTrace(file: string, selection: RowSelection = {}): TraceRow[] {
  const lines = splitLines(readText(file));
  const header = (lines[0] ?? "").split(",").map((c) => c.trim());
  for (const column of AZURE_COLUMNS) {
    if (!header.includes(column)) {
      throw new WorkloadSpecError("WORKLOAD_MISSING_COLUMN", `expected header ${AZURE_COLUMNS.join(",")}`, {
        file,
        line: 1,
        field: column,
      });
    }
  }
  for (const column of header) {
    if (!(AZURE_COLUMNS as readonly string[]).includes(column)) {
      throw new WorkloadSpecError("WORKLOAD_EXTRA_COLUMN", `unexpected column; expected ${AZURE_COLUMNS.join(",")}`, {
        file,
        line: 1,
        field: column,
      });
    }
  }
  const iTs = header.indexOf("TIMESTAMP");
  const iCtx = header.indexOf("ContextTokens");
  const iGen = header.indexOf("GeneratedTokens");
  const parsed: Array<{ line: number; ticks: bigint; prefill: number; decode: number }> = [];
  let previous: bigint | undefined;
  for (let index = 1; index < lines.length; index++) {
    const raw = lines[index]!;
    const line = index + 1;
    if (raw.trim() === "") continue;
    const cells = raw.split(",");
    if (cells.length !== header.length) {
      throw new WorkloadSpecError(
        cells.length > header.length ? "WORKLOAD_EXTRA_COLUMN" : "WORKLOAD_MISSING_COLUMN",
        `expected ${header.length} cells, got ${cells.length}`,
        { file, line },
      );
    }
    const ticks = parseAzureTimestampTicks(cells[iTs]!, file, line);
    if (previous !== undefined && ticks < previous) {
      throw new WorkloadSpecError("WORKLOAD_UNSORTED", "timestamp is earlier than the previous row's", {
        file,
        line,
        field: "TIMESTAMP",
      });
    }
    previous = ticks;
    parsed.push({
      line,
      ticks,
      prefill: parseTokenCell(cells[iCtx]!, file, line, "ContextTokens"),
      decode: parseTokenCell(cells[iGen]!, file, line, "GeneratedTokens"),
    });
  }
  if (parsed.length === 0) throw new WorkloadSpecError("WORKLOAD_EMPTY", "no data rows", { file });
  const rows = select(parsed, selection, file);
  const origin = rows[0]!.ticks;
  // 10 ticks = 1 us; + 5 rounds half-up, exactly, in integers.
  return rows.map((r) => ({
    line: r.line,
    offsetUs: Number((r.ticks - origin + 5n) / 10n),
    numPrefillTokens: r.prefill,
    numDecodeTokens: r.decode,
  }));
}

/**
 * Read a Mooncake trace JSONL (`timestamp` in ms, `input_length`, `output_length`, optional `hash_ids`). Rows must
 * be sorted by timestamp; offsets are relative to the first selected row.
 */
export function readMooncakeTrace(file: string, selection: RowSelection = {}): TraceRow[] {
  const parsed: Array<{ line: number; ms: number; prefill: number; decode: number }> = [];
  let previous: number | undefined;
  splitLines(readText(file)).forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === "") return;
    const obj = parseJsonObject(raw, file, line);
    checkFields(obj, ["timestamp", "input_length", "output_length"], ["hash_ids"], file, line);
    const ms = obj.timestamp;
    if (typeof ms !== "number" || !Number.isFinite(ms)) {
      throw new WorkloadSpecError("WORKLOAD_INVALID_VALUE", `expected milliseconds >= 0, got ${JSON.stringify(ms)}`, {
        file,
        line,
        field: "timestamp",
      });
    }
    if (ms < 0) {
      throw new WorkloadSpecError("WORKLOAD_NEGATIVE_VALUE", `expected milliseconds >= 0, got ${ms}`, {
        file,
        line,
        field: "timestamp",
      });
    }
    if (previous !== undefined && ms < previous) {
      throw new WorkloadSpecError("WORKLOAD_UNSORTED", `timestamp ${ms} is earlier than the previous ${previous}`, {
        file,
        line,
        field: "timestamp",
      });
    }
    previous = ms;
    parsed.push({
      line,
      ms,
      prefill: checkTokenCount(obj.input_length, file, line, "input_length"),
      decode: checkTokenCount(obj.output_length, file, line, "output_length"),
    });
  });
  if (parsed.length === 0) throw new WorkloadSpecError("WORKLOAD_EMPTY", "no data rows", { file });
  const rows = select(parsed, selection, file);
  const origin = rows[0]!.ms;
  return rows.map((r) => ({
    line: r.line,
    offsetUs: Math.round((r.ms - origin) * 1000),
    numPrefillTokens: r.prefill,
    numDecodeTokens: r.decode,
  }));
}

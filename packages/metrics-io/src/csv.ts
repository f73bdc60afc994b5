/**
 * CSV helpers shared by the record files: number formatting that is byte-stable, and a validated reader built on
 * papaparse that names the file, line and column of any bad cell.
 */
import { readFile } from "node:fs/promises";
import Papa from "papaparse";
import type { z } from "zod";
import { MetricsIoError } from "./errors.js";

/** Formats a number for CSV: integers as-is, others rounded to 1 ns (9 decimals) without trailing zeros. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined) return "";
  if (!Number.isFinite(value)) throw new RangeError(`cannot write non-finite number ${value}`);
  if (Number.isInteger(value)) return String(value);
  const rounded = Math.round(value * 1e9) / 1e9;
  return String(rounded);
}

/** Quotes a CSV text cell when needed (RFC 4180). */
export function formatText(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** Kind of each column, used to convert cells before schema validation. */
export type ColumnKind = "int" | "num" | "num?" | "int?" | "text";

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (cause) {
    throw new MetricsIoError("METRICS_FILE_NOT_FOUND", `cannot read ${path}: ${String(cause)}`, { cause });
  }
}

function convertCell(path: string, line: number, column: string, kind: ColumnKind, raw: string | undefined): unknown {
  const cell = raw ?? "";
  if (kind === "text") return cell;
  if (cell === "") {
    if (kind === "num?" || kind === "int?") return null;
    throw new MetricsIoError("METRICS_INVALID_ROW", `${path}:${line}: column ${column} is empty, expected a number`);
  }
  const n = Number(cell);
  if (!Number.isFinite(n) || ((kind === "int" || kind === "int?") && !Number.isInteger(n))) {
    throw new MetricsIoError(
      "METRICS_INVALID_ROW",
      `${path}:${line}: column ${column} = ${JSON.stringify(cell)}, expected ${kind.startsWith("int") ? "an integer" : "a number"}`,
    );
  }
  return n;
}

/**
 * Reads a whole CSV file, checks that every required column is present, converts cells by `kinds` and validates
 * each row with `schema`. Optional columns (in `kinds` but not `required`) become undefined when absent.
 */
export async function readCsvFile<T>(
  path: string,
  kinds: Record<string, ColumnKind>,
  required: readonly string[],
  schema: z.ZodType<T>,
): Promise<T[]> {
  const text = await readText(path);
  const parsed = Papa.parse<string[]>(text.replace(/\r?\n$/, ""), { skipEmptyLines: false });
  if (parsed.errors.length > 0) {
    const e = parsed.errors[0]!;
    throw new MetricsIoError("METRICS_CORRUPT_FILE", `${path}:${(e.row ?? 0) + 1}: ${e.message}`);
  }
  const [header, ...rows] = parsed.data;
  if (!header || header.length === 0 || (header.length === 1 && header[0] === "")) {
    throw new MetricsIoError("METRICS_CORRUPT_FILE", `${path}: empty file, expected a header line`);
  }
  for (const column of required) {
    if (!header.includes(column)) {
      throw new MetricsIoError(
        "METRICS_MISSING_COLUMN",
        `${path}:1: missing column ${column} (header: ${header.join(",")})`,
      );
    }
  }
  const out: T[] = [];
  rows.forEach((row, i) => {
    const line = i + 2;
    if (row.length !== header.length) {
      throw new MetricsIoError(
        "METRICS_CORRUPT_FILE",
        `${path}:${line}: ${row.length} cells, expected ${header.length} (as in the header)`,
      );
    }
    const record: Record<string, unknown> = {};
    header.forEach((column, j) => {
      const kind = kinds[column];
      if (kind !== undefined) record[column] = convertCell(path, line, column, kind, row[j]);
    });
    const result = schema.safeParse(record);
    if (!result.success) {
      const issue = result.error.issues[0];
      throw new MetricsIoError(
        "METRICS_INVALID_ROW",
        `${path}:${line}: ${issue?.path.join(".") ?? "?"}: ${issue?.message ?? "invalid row"}`,
      );
    }
    out.push(result.data);
  });
  return out;
}

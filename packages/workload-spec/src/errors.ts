/**
 * The one error class of @vf/workload-spec: a closed set of codes, plus where the problem is (file, line, field).
 * It does not format for a terminal; the runner does that.
 */

/** Every code a workload-spec error can carry. */
export const WORKLOAD_ERROR_CODES = [
  "WORKLOAD_READ_FAILED",
  "WORKLOAD_WRITE_FAILED",
  "WORKLOAD_INVALID_JSON",
  "WORKLOAD_INVALID_ROW",
  "WORKLOAD_INVALID_VALUE",
  "WORKLOAD_NEGATIVE_VALUE",
  "WORKLOAD_MISSING_COLUMN",
  "WORKLOAD_EXTRA_COLUMN",
  "WORKLOAD_MISSING_FIELD",
  "WORKLOAD_EXTRA_FIELD",
  "WORKLOAD_UNSORTED",
  "WORKLOAD_EMPTY_PROMPT",
  "WORKLOAD_DUPLICATE_ID",
  "WORKLOAD_OVER_CONTEXT",
  "WORKLOAD_EMPTY",
  "WORKLOAD_INVALID_SPEC",
  "WORKLOAD_DIR_EXISTS",
  "WORKLOAD_CORRUPT_DIR",
  "WORKLOAD_TOKENIZER_FAILED",
] as const;

/** One of WORKLOAD_ERROR_CODES. */
export type WorkloadErrorCode = (typeof WORKLOAD_ERROR_CODES)[number];

/** Where a problem was found; `line` is 1-based (the header of a CSV is line 1). */
export interface WorkloadErrorLocation {
  file?: string;
  line?: number;
  field?: string;
}

/** Raised for any bad input or failed read/write in this package. */
export class WorkloadSpecError extends Error {
  override readonly name = "WorkloadSpecError";
  readonly code: WorkloadErrorCode;
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly field: string | undefined;

  constructor(
    code: WorkloadErrorCode,
    message: string,
    where: WorkloadErrorLocation = {},
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${formatLocation(where)}${message}`, options);
    this.code = code;
    this.file = where.file;
    this.line = where.line;
    this.field = where.field;
  }
}

/** Type guard for WorkloadSpecError (works across module copies by checking the name and code). */
export function isWorkloadSpecError(value: unknown): value is WorkloadSpecError {
  return (
    value instanceof WorkloadSpecError ||
    (value instanceof Error &&
      value.name === "WorkloadSpecError" &&
      typeof (value as { code?: unknown }).code === "string")
  );
}

function formatLocation(where: WorkloadErrorLocation): string {
  const parts: string[] = [];
  if (where.file !== undefined) parts.push(where.line !== undefined ? `${where.file}:${where.line}` : where.file);
  else if (where.line !== undefined) parts.push(`line ${where.line}`);
  if (where.field !== undefined) parts.push(`field "${where.field}"`);
  return parts.length > 0 ? `${parts.join(" ")}: ` : "";
}

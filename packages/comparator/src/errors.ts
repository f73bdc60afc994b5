/**
 * The comparator's one error class and its closed set of codes. Foreign errors (metrics-io, fs, jsdom) are
 * wrapped once where they enter, with the original as `cause`.
 */

/** Every code a ComparatorError can carry. */
export const COMPARATOR_ERROR_CODES = [
  "COMPARATOR_INVALID_OPTIONS",
  "COMPARATOR_READ_FAILED",
  "COMPARATOR_BAD_TOKEN_FILE",
  "COMPARATOR_DUPLICATE_REQUEST",
  "COMPARATOR_WORKLOAD_MISMATCH",
  "COMPARATOR_NO_COMMON_REQUESTS",
  "COMPARATOR_BAD_COMPARISON",
  "COMPARATOR_RENDER_FAILED",
  "COMPARATOR_WRITE_FAILED",
] as const;

/** A closed code naming what failed. */
export type ComparatorErrorCode = (typeof COMPARATOR_ERROR_CODES)[number];

/** Error raised by @vf/comparator; `message` names the file/line/field and what was expected. */
export class ComparatorError extends Error {
  override readonly name = "ComparatorError";
  readonly code: ComparatorErrorCode;
  constructor(code: ComparatorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** Type guard for ComparatorError (works across module copies by checking name and code). */
export function isComparatorError(value: unknown): value is ComparatorError {
  return (
    value instanceof ComparatorError ||
    (value instanceof Error &&
      value.name === "ComparatorError" &&
      typeof (value as { code?: unknown }).code === "string")
  );
}

/**
 * Error type of @vf/real-bench-client. Only run-level failures throw (bad options, unreadable workload,
 * unwritable run dir); per-request faults are recorded as `failed` rows, never thrown.
 */

/** Closed set of error codes raised by this package. */
export type BenchErrorCode =
  | "BENCH_INVALID_OPTION"
  | "BENCH_WORKLOAD_INVALID"
  | "BENCH_WRITE_FAILED";

/** Error thrown by real-bench-client; `code` is stable, `cause` holds the original error. */
export class BenchError extends Error {
  readonly code: BenchErrorCode;
  constructor(code: BenchErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "BenchError";
    this.code = code;
  }
}

/** Type guard for BenchError (works across module copies by checking name and code). */
export function isBenchError(value: unknown): value is BenchError {
  return (
    value instanceof BenchError ||
    (value instanceof Error &&
      value.name === "BenchError" &&
      typeof (value as { code?: unknown }).code === "string")
  );
}

/** MetricsIoError: the one error class of @vf/metrics-io, with a closed set of codes. */

export type MetricsIoErrorCode =
  | "METRICS_FILE_NOT_FOUND"
  | "METRICS_MISSING_COLUMN"
  | "METRICS_CORRUPT_FILE"
  | "METRICS_INVALID_ROW"
  | "METRICS_INVALID_MANIFEST"
  | "METRICS_WRITE_FAILED";

export class MetricsIoError extends Error {
  override readonly name = "MetricsIoError";
  readonly code: MetricsIoErrorCode;
  constructor(code: MetricsIoErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** True when `e` is a MetricsIoError (optionally with the given code). */
export function isMetricsIoError(e: unknown, code?: MetricsIoErrorCode): e is MetricsIoError {
  return e instanceof MetricsIoError && (code === undefined || e.code === code);
}

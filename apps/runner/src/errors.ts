/** Runner usage errors and the mapping of every library's errors to documented exit codes. */
import { isMetricsIoError } from "@vf/metrics-io";
import { isBenchError } from "@vf/real-bench-client";
import { isVidurBridgeError } from "@vf/vidur-bridge";
import { isWorkloadSpecError } from "@vf/workload-spec";

/** Exit codes (documented in the README and `runner --help`). */
export const EXIT = {
  ok: 0,
  /** An unexpected error (a bug): the stack is printed. */
  internal: 1,
  /** Bad flags, experiment file or input files. */
  usage: 2,
  /** A step failed: Vidur, the server, the profiler or the benchmark. */
  stepFailed: 3,
  /** Interrupted (Ctrl-C); what was measured was written. */
  interrupted: 130,
} as const;

/** A bad flag or experiment file; message names the flag/field and what was expected. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A step (subprocess, server) failed. */
export class StepError extends Error {
  override readonly name = "StepError";
}

/** Maps an error to [exit code, one-line message]. */
export function classifyError(e: unknown): { code: number; message: string; stack?: string } {
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof UsageError) return { code: EXIT.usage, message };
  if (e instanceof StepError) return { code: EXIT.stepFailed, message };
  // The comparator is loaded lazily, so its errors are recognised by name rather than by its guard.
  const isComparatorError = e instanceof Error && e.name === "ComparatorError";
  if (isWorkloadSpecError(e) || isMetricsIoError(e) || isComparatorError) {
    return { code: EXIT.usage, message: `${(e as { code: string }).code}: ${message}` };
  }
  if (isBenchError(e)) {
    const code = (e as { code: string }).code;
    return { code: code === "BENCH_INVALID_OPTION" ? EXIT.usage : EXIT.stepFailed, message: `${code}: ${message}` };
  }
  if (isVidurBridgeError(e)) return { code: EXIT.stepFailed, message: `${(e as { code: string }).code}: ${message}` };
  return e instanceof Error && e.stack !== undefined
    ? { code: EXIT.internal, message, stack: e.stack }
    : { code: EXIT.internal, message };
}

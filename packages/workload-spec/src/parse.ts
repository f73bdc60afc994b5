/**
 * The boundary helper: zod safeParse whose failures become one WorkloadSpecError naming file, line and field.
 */
import type { z } from "zod";
import { type WorkloadErrorCode, WorkloadSpecError } from "./errors.js";

/** Parse `value` with `schema`; on failure throw `code` naming the first issue's field path. */
export function parseWith<T extends z.ZodType>(
  schema: T,
  value: unknown,
  where: { file?: string; line?: number; what: string },
  code: WorkloadErrorCode = "WORKLOAD_INVALID_ROW",
): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues;
  const first = issues[0];
  const field = first !== undefined && first.path.length > 0 ? first.path.map(String).join(".") : undefined;
  const lines = issues.map((i) => `${i.path.length > 0 ? i.path.map(String).join(".") : "(root)"}: ${i.message}`);
  throw new WorkloadSpecError(code, `invalid ${where.what}: ${lines.join("; ")}`, {
    ...(where.file !== undefined ? { file: where.file } : {}),
    ...(where.line !== undefined ? { line: where.line } : {}),
    ...(field !== undefined ? { field } : {}),
  });
}

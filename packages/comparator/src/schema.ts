/**
 * Zod schemas of the comparator's inputs (options) and of the part of comparison.json that compareLoads
 * reads back, with their inferred types side by side. Output types of the analysis live in analyze.ts.
 */
import { z } from "zod";

/** Options of compareRuns/analyzeRuns; every field has a documented default. */
export const CompareOptionsSchema = z
  .object({
    /** TOST equivalence margin on the paired relative difference (fraction, default 0.10 = ±10%). */
    marginRel: z.number().positive().lt(1).default(0.1),
    /** Significance level of TOST and of the KS "distributions differ" note (default 0.05). */
    alpha: z.number().positive().lt(0.5).default(0.05),
    /** Bootstrap replicates B for percentile-error CIs (default 2000). */
    bootstrapReplicates: z.number().int().min(10).max(1_000_000).default(2000),
    /** Bootstrap seed (default 1). */
    seed: z.number().int().default(1),
    /** Confidence level of bootstrap CIs (default 0.95). */
    ciLevel: z.number().gt(0).lt(1).default(0.95),
    /** Proceed (with a loud note) when the two runs' workload ids differ (default false: error). */
    allowWorkloadMismatch: z.boolean().default(false),
    /** Id written into the report (default: the outDir's base name). */
    comparisonId: z.string().min(1).optional(),
    /** How many request ids each exclusion list shows before truncating (default 20). */
    maxListedIds: z.number().int().min(0).default(20),
    /** Render SVG plots and report.html (default true). */
    plots: z.boolean().default(true),
    /** Manifest fields of the comparison's own run.json (the runner passes these). */
    command: z.string().default("compareRuns"),
    gitSha: z.string().nullable().default(null),
    createdAt: z.string().optional(),
  })
  .strict();
/** Parsed options (defaults applied). */
export type CompareOptions = z.infer<typeof CompareOptionsSchema>;
/** Options as callers write them (all optional). */
export type CompareOptionsInput = z.input<typeof CompareOptionsSchema>;

/** The slice of comparison.json that compareLoads needs (extra keys are kept). */
export const ComparisonFileSchema = z
  .object({
    schemaVersion: z.literal(1),
    comparisonId: z.string(),
    workloadId: z.object({ real: z.string().nullable(), sim: z.string().nullable(), match: z.boolean() }),
    metrics: z.record(
      z.string(),
      z
        .object({
          label: z.string(),
          real: z.object({ mean: z.number().nullable(), p50: z.number().nullable(), p99: z.number().nullable() }).passthrough(),
          sim: z.object({ mean: z.number().nullable(), p50: z.number().nullable(), p99: z.number().nullable() }).passthrough(),
          relErr: z
            .object({ mean: z.number().nullable(), p50: z.number().nullable(), p90: z.number().nullable(), p95: z.number().nullable(), p99: z.number().nullable() })
            .passthrough(),
        })
        .passthrough()
        .nullable(),
    ),
  })
  .passthrough();
/** A comparison.json as compareLoads sees it. */
export type ComparisonFile = z.infer<typeof ComparisonFileSchema>;

/** Flattens zod issues to `path: message` lines. */
export function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length > 0 ? i.path.join(".") : "(root)"}: ${i.message}`).join("; ");
}

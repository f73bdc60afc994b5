/** `runner workload`: build a workload dir from prompts or a trace and print its summary. */
import { join } from "node:path";
import {
  type ArrivalSpec,
  buildWorkload,
  createQwen3Tokenizer,
  type OverContextPolicy,
  type SourceSpec,
  summarizeWorkload,
  type Workload,
  type WorkloadSummary,
  writeWorkloadDir,
} from "@vf/workload-spec";
import { existsSync } from "node:fs";

/** Everything needed to build one workload. */
export interface WorkloadRequestSpec {
  source: SourceSpec;
  arrivals: ArrivalSpec;
  seed: number;
  contextLimit: number;
  model: string;
  limit?: number;
  overContext?: OverContextPolicy;
}

/** Builds the workload and writes it to `<workloadsRoot>/<id>` (or `outDir`); an existing identical dir is reused. */
export async function makeWorkload(
  spec: WorkloadRequestSpec,
  target: { workloadsRoot: string; outDir?: string },
): Promise<{ dir: string; workload: Workload; summary: WorkloadSummary; reused: boolean }> {
  const tokenizer = await createQwen3Tokenizer();
  const options = {
    seed: spec.seed,
    contextLimit: spec.contextLimit,
    tokenizer,
    model: spec.model,
    ...(spec.limit !== undefined ? { limit: spec.limit } : {}),
    ...(spec.overContext !== undefined ? { overContext: spec.overContext } : {}),
  };
  const workload = await buildWorkload(spec.source, spec.arrivals, options);
  const summary = summarizeWorkload(workload);
  const dir = target.outDir ?? join(target.workloadsRoot, workload.manifest.id);
  // The id is a content hash, so an existing dir named by it already holds these bytes.
  const reused = target.outDir === undefined && existsSync(join(dir, "workload.json"));
  if (!reused) await writeWorkloadDir(dir, workload, { overwrite: target.outDir !== undefined });
  return { dir, workload, summary, reused };
}

/** Human summary of a workload (printed on stdout by the command). */
export function formatWorkloadSummary(dir: string, s: WorkloadSummary): string {
  const rate = s.meanRateRps === null ? "all at t=0" : `${s.meanRateRps.toFixed(3)} req/s`;
  return [
    `workload ${s.id}: ${s.requests} requests over ${s.durationS.toFixed(3)} s (${rate})`,
    `  prefill tokens: total ${s.prefillTokens.total}, min ${s.prefillTokens.min}, mean ${s.prefillTokens.mean.toFixed(1)}, p50 ${s.prefillTokens.p50}, p99 ${s.prefillTokens.p99}, max ${s.prefillTokens.max}`,
    `  decode tokens:  total ${s.decodeTokens.total}, min ${s.decodeTokens.min}, mean ${s.decodeTokens.mean.toFixed(1)}, p50 ${s.decodeTokens.p50}, p99 ${s.decodeTokens.p99}, max ${s.decodeTokens.max}`,
    `  synthetic prompts: ${s.syntheticPrompts}, dropped over context: ${s.droppedOverContext}`,
    `  dir: ${dir}`,
  ].join("\n");
}

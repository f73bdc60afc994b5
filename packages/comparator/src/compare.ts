/**
 * compareRuns: the one call that reads two run dirs, computes the comparison and writes every output file
 * (summary.md, report.html, comparison.json, percentiles.csv, the SVG plots, run.json) into outDir, each
 * atomically. Analysis lives in analyze.ts, renderings in report.ts/plots.ts.
 */
import { basename, join } from "node:path";
import { atomicWriteFile, describeHost, writeRunManifest } from "@vf/metrics-io";
import { type Comparison, type PlotData, analyzeLoaded, parseCompareOptions } from "./analyze.js";
import { ComparatorError, isComparatorError } from "./errors.js";
import { type LoadedRun, loadRun } from "./load.js";
import { type RenderedPlot, createPlotRenderer, plotCdf, plotScatter, plotStepTime } from "./plots.js";
import { renderComparisonJson, renderPercentilesCsv, renderReportHtml, renderSummaryMd } from "./report.js";
import type { CompareOptions, CompareOptionsInput } from "./schema.js";
import { realSpread } from "./spread.js";

/** Tool version recorded in the comparison's run.json. */
export const COMPARATOR_VERSION = "0.1.0";

/** What compareRuns returns: the comparison and the files it wrote (absolute paths). */
export interface CompareRunsResult {
  comparison: Comparison;
  outDir: string;
  files: string[];
}

/**
 * Each repeat against the simulation, by the comparison's own request rule and quantiles (only the percentiles are
 * read, so the bootstrap is kept to its minimum and nothing is plotted). A repeat of another workload is refused.
 */
async function compareRepeats(real: LoadedRun, sim: LoadedRun, dirs: readonly string[], id: string, options: CompareOptions): Promise<Comparison[]> {
  const repeatOptions: CompareOptions = { ...options, bootstrapReplicates: 10, plots: false };
  const out: Comparison[] = [];
  for (const [i, dir] of dirs.entries()) {
    const run = await loadRun(dir);
    if (run.manifest.workload_id !== real.manifest.workload_id) {
      throw new ComparatorError(
        "COMPARATOR_WORKLOAD_MISMATCH",
        `repeat ${i + 1} ${join(dir, "run.json")}: workload_id ${JSON.stringify(run.manifest.workload_id)} differs from the real run's ${JSON.stringify(real.manifest.workload_id)} (${join(real.dir, "run.json")}); a repeat must record the same workload`,
      );
    }
    out.push((await analyzeLoaded(run, sim, `${id}-repeat-${i + 1}`, repeatOptions)).comparison);
  }
  return out;
}

/** Renders every plot the data allows (CDFs, scatters, step time). */
export function renderComparisonPlots(comparison: Comparison, data: PlotData): RenderedPlot[] {
  const r = createPlotRenderer();
  const plots: RenderedPlot[] = [];
  for (const key of ["ttft", "tbt", "e2e"] as const) {
    const s = data.sorted[key];
    const m = comparison.metrics[key];
    if (s !== undefined && m !== null) plots.push(plotCdf(r, key, m.label, s.real, s.sim));
  }
  for (const key of ["ttft", "e2e"] as const) {
    const p = data.pairs[key];
    const m = comparison.metrics[key];
    if (p !== undefined && m !== null) plots.push(plotScatter(r, key, m.label, p.real, p.sim));
  }
  if (data.steps !== null && comparison.steps !== null) plots.push(plotStepTime(r, data.steps.real, data.steps.sim, comparison.steps.bins));
  return plots;
}

async function write(path: string, data: string, files: string[]): Promise<void> {
  try {
    await atomicWriteFile(path, data);
  } catch (cause) {
    throw new ComparatorError("COMPARATOR_WRITE_FAILED", `could not write ${path}: ${String(cause)}`, { cause });
  }
  files.push(path);
}

/**
 * Compares a real and a simulated run dir of the same workload and writes the report into `outDir`
 * (conventionally `<repo>/tmp/comparisons/<id>/`). Options: see CompareOptionsSchema (defaults documented).
 */
export async function compareRuns(args: {
  realDir: string;
  simDir: string;
  outDir: string;
  options?: CompareOptionsInput;
  /**
   * More recorded real runs of the same workload (repeats, other server starts): each is compared with the same
   * simulation and the comparison gets `spread`, the real run-to-run range and a verdict per P50 / P90 cell.
   */
  repeatDirs?: readonly string[];
}): Promise<CompareRunsResult> {
  const options = parseCompareOptions(args.options);
  const [real, sim] = await Promise.all([loadRun(args.realDir), loadRun(args.simDir)]);
  const id = options.comparisonId ?? basename(args.outDir);
  const { comparison, plotData } = await analyzeLoaded(real, sim, id, options);
  if (args.repeatDirs !== undefined && args.repeatDirs.length > 0) comparison.spread = realSpread(comparison, await compareRepeats(real, sim, args.repeatDirs, id, options));
  const plots = options.plots ? renderComparisonPlots(comparison, plotData) : [];
  const files: string[] = [];
  for (const p of plots) await write(join(args.outDir, p.file), `${p.svg}\n`, files);
  await write(join(args.outDir, "comparison.json"), renderComparisonJson(comparison), files);
  await write(join(args.outDir, "percentiles.csv"), renderPercentilesCsv(comparison), files);
  await write(join(args.outDir, "summary.md"), renderSummaryMd(comparison, plots), files);
  if (options.plots) await write(join(args.outDir, "report.html"), renderReportHtml(comparison, plots), files);
  try {
    await writeRunManifest(args.outDir, {
      schema_version: 1,
      kind: "comparison",
      run_id: id,
      created_at: options.createdAt ?? new Date().toISOString(),
      workload_id: comparison.workloadId.real,
      tool_versions: { "@vf/comparator": COMPARATOR_VERSION },
      git_sha: options.gitSha,
      command: options.command,
      config: { ...comparison.options, real_run_id: real.manifest.run_id, sim_run_id: sim.manifest.run_id },
      host: describeHost(),
    });
  } catch (cause) {
    if (isComparatorError(cause)) throw cause;
    throw new ComparatorError("COMPARATOR_WRITE_FAILED", `could not write ${join(args.outDir, "run.json")}: ${String(cause)}`, { cause });
  }
  files.push(join(args.outDir, "run.json"));
  return { comparison, outDir: args.outDir, files };
}

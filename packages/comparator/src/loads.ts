/**
 * compareLoads: several comparisons of the same setup at different loads -> error-vs-load plot and a
 * multi-load summary (loads.md, loads.json, loads.html, error_vs_load.svg). It reads each comparison.json
 * (validated) or takes Comparison objects directly; it recomputes nothing.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { atomicWriteFile } from "@vf/metrics-io";
import { formatPct, formatSeconds } from "./analyze.js";
import type { Comparison } from "./analyze.js";
import { ComparatorError } from "./errors.js";
import { createPlotRenderer, plotErrorVsLoad } from "./plots.js";
import { renderComparisonJson } from "./report.js";
import { type ComparisonFile, ComparisonFileSchema, formatIssues } from "./schema.js";

/** One load point: the offered load (e.g. requests/s) and a comparison dir or result. */
export interface LoadPoint {
  load: number;
  /** Dir holding comparison.json (used when `comparison` is absent). */
  dir?: string;
  comparison?: Comparison;
}

/** One row of the multi-load summary. */
export interface LoadRow {
  load: number;
  comparisonId: string;
  metric: string;
  label: string;
  realP50: number | null;
  simP50: number | null;
  relErrMean: number | null;
  relErrP50: number | null;
  relErrP99: number | null;
}

const LOAD_METRICS = ["ttft", "tbt", "tpot", "e2e"] as const;

async function readComparison(dir: string): Promise<ComparisonFile> {
  const path = join(dir, "comparison.json");
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, "utf8"));
  } catch (cause) {
    throw new ComparatorError("COMPARATOR_READ_FAILED", `cannot read ${path}: ${String(cause)}`, { cause });
  }
  const parsed = ComparisonFileSchema.safeParse(json);
  if (!parsed.success) throw new ComparatorError("COMPARATOR_BAD_COMPARISON", `${path}: ${formatIssues(parsed.error)}`);
  return parsed.data;
}

/** Writes the multi-load summary into `outDir`; returns its rows (sorted by load, then metric). */
export async function compareLoads(args: { points: LoadPoint[]; outDir: string; loadLabel?: string }): Promise<{ rows: LoadRow[]; files: string[] }> {
  if (args.points.length === 0) throw new ComparatorError("COMPARATOR_INVALID_OPTIONS", "compareLoads: points is empty, expected at least one comparison");
  const loadLabel = args.loadLabel ?? "load (requests/s)";
  const rows: LoadRow[] = [];
  const workloads = new Set<string>();
  for (const [i, p] of args.points.entries()) {
    if (!Number.isFinite(p.load)) throw new ComparatorError("COMPARATOR_INVALID_OPTIONS", `compareLoads: points[${i}].load = ${p.load}, expected a finite number`);
    let c: ComparisonFile;
    if (p.comparison !== undefined) c = JSON.parse(renderComparisonJson(p.comparison)) as ComparisonFile;
    else if (p.dir !== undefined) c = await readComparison(p.dir);
    else throw new ComparatorError("COMPARATOR_INVALID_OPTIONS", `compareLoads: points[${i}] has neither dir nor comparison`);
    workloads.add(String(c.workloadId.real));
    for (const key of LOAD_METRICS) {
      const m = c.metrics[key];
      if (m === null || m === undefined) continue;
      rows.push({
        load: p.load,
        comparisonId: c.comparisonId,
        metric: key,
        label: m.label,
        realP50: m.real.p50,
        simP50: m.sim.p50,
        relErrMean: m.relErr.mean,
        relErrP50: m.relErr.p50,
        relErrP99: m.relErr.p99,
      });
    }
  }
  rows.sort((a, b) => a.load - b.load || LOAD_METRICS.indexOf(a.metric as never) - LOAD_METRICS.indexOf(b.metric as never));
  const series = rows.flatMap((r) => [
    ...(r.relErrP50 === null ? [] : [{ load: r.load, series: `${r.metric} P50`, relErr: r.relErrP50 }]),
    ...(r.relErrP99 === null ? [] : [{ load: r.load, series: `${r.metric} P99`, relErr: r.relErrP99 }]),
  ]);
  const plot = plotErrorVsLoad(createPlotRenderer(), series, loadLabel);
  const table = [
    `| ${loadLabel} | comparison | metric | real P50 | sim P50 | mean rel err | P50 rel err | P99 rel err |`,
    "|---|---|---|---|---|---|---|---|",
    ...rows.map((r) => `| ${r.load} | ${r.comparisonId} | ${r.label} | ${formatSeconds(r.realP50)} | ${formatSeconds(r.simP50)} | ${formatPct(r.relErrMean)} | ${formatPct(r.relErrP50)} | ${formatPct(r.relErrP99)} |`),
  ].join("\n");
  const warn = workloads.size > 1 ? `\nNote: the comparisons come from ${workloads.size} different workloads (${[...workloads].join(", ")}).\n` : "";
  const md = `# Fidelity across loads\n${warn}\n${table}\n\n![${plot.title}](${plot.file})\n\n${plot.caption}\n`;
  const html = `<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>Fidelity across loads</title></head>\n<body style="font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto">\n<h1>Fidelity across loads</h1>\n<figure data-plot="${plot.file}">${plot.svg}<figcaption>${plot.caption}</figcaption></figure>\n<pre>${table.replaceAll("&", "&amp;").replaceAll("<", "&lt;")}</pre>\n</body>\n</html>\n`;
  const files: string[] = [];
  const out: Array<[string, string]> = [
    [plot.file, `${plot.svg}\n`],
    ["loads.md", md],
    ["loads.json", renderComparisonJson({ schemaVersion: 1, loadLabel, rows })],
    ["loads.html", html],
  ];
  for (const [name, text] of out) {
    const path = join(args.outDir, name);
    try {
      await atomicWriteFile(path, text);
    } catch (cause) {
      throw new ComparatorError("COMPARATOR_WRITE_FAILED", `could not write ${path}: ${String(cause)}`, { cause });
    }
    files.push(path);
  }
  return { rows, files };
}

/**
 * Text renderings of a Comparison: summary.md (tables + links to the SVG files), report.html (one
 * self-contained file with the SVGs inlined, no external assets) and percentiles.csv. Deterministic: no
 * clock reads here; the only timestamps are those inside the copied run manifests.
 */
import { type Comparison, DEFINITIONS, type IdList, METRIC_KEYS, type MetricResult, formatPct, formatSeconds } from "./analyze.js";
import type { RenderedPlot } from "./plots.js";
import { type RealSpread, SPREAD_STATS } from "./spread.js";

const STATS = ["mean", "p50", "p90", "p95", "p99"] as const;
const STAT_LABELS: Record<(typeof STATS)[number], string> = { mean: "mean", p50: "P50", p90: "P90", p95: "P95", p99: "P99" };

function ids(list: IdList): string {
  if (list.count === 0) return "none";
  return `${list.count} (${list.ids.join(", ")}${list.truncated ? ", ..." : ""})`;
}

function ci(m: MetricResult, stat: (typeof STATS)[number]): string {
  if (stat === "mean") return "";
  const c = m.relErrCi[stat];
  return c.low === null || c.high === null ? "n/a" : `[${formatPct(c.low)}, ${formatPct(c.high)}]`;
}

function verdictText(m: MetricResult): string {
  if (m.paired === null) return "n/a (unpaired)";
  const t = m.paired.tost;
  return Number.isFinite(t.p) ? `${t.equivalent ? "equivalent" : "not equivalent"} (p = ${t.p.toPrecision(3)})` : "n/a (n < 2)";
}

function requestRows(c: Comparison): Array<[string, string]> {
  const r = c.requests;
  return [
    ["requests (real / sim)", `${r.real} / ${r.sim}`],
    ["compared", String(r.compared)],
    ["missing in sim", ids(r.missingInSim)],
    ["missing in real", ids(r.missingInReal)],
    ["failed (real)", ids(r.failedReal)],
    ["failed (sim)", ids(r.failedSim)],
    ["short (real)", ids(r.shortReal)],
    ["short (sim)", ids(r.shortSim)],
    ["output length differs (compared)", ids(r.outputLengthMismatch)],
  ];
}

const SPREAD_HEADER = ["metric", "stat", "real runs", "real (min-max)", "spread", "sim", "error vs own run (vs every run)", "verdict"];

/** The spread table's rows (SPREAD_HEADER), one per metric and P50 / P90 with a value on every run. */
function spreadRows(c: Comparison, spread: RealSpread): string[][] {
  const rows: string[][] = [];
  for (const key of METRIC_KEYS) {
    const cells = spread.metrics[key];
    if (cells === undefined) continue;
    for (const stat of SPREAD_STATS) {
      const x = cells[stat];
      if (x === null) continue;
      rows.push([
        c.metrics[key]?.label ?? key,
        STAT_LABELS[stat],
        String(x.realS.length),
        `${formatSeconds(x.minS)} - ${formatSeconds(x.maxS)}`,
        formatPct(x.rel, false),
        formatSeconds(x.simS),
        `${formatPct(x.relErrs[0]!)} (${formatPct(Math.min(...x.relErrs))} .. ${formatPct(Math.max(...x.relErrs))})`,
        x.verdict,
      ]);
    }
  }
  return rows;
}

/** The sentence above the spread table and the tally below it. */
function spreadText(spread: RealSpread): { intro: string; tally: string } {
  const t = spread.tally;
  return {
    intro: `The same simulation against ${spread.runs.length} recorded real runs of this workload (the own run ${spread.runs[0]!.dirName} first, then ${spread.runs
      .slice(1)
      .map((r) => r.dirName)
      .join(", ")}), each by this comparison's request rule and quantiles. Verdicts: ${spread.rule}.`,
    tally: `Cells: ${t["5%"]} within 5 % of the own run, ${t.band} in the real runs' band, ${t.off} off.`,
  };
}

function mdTable(header: string[], rows: string[][]): string {
  return [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

/** summary.md: headline verdicts, percentile tables, paired errors, steps, notes, definitions, manifests. */
export function renderSummaryMd(c: Comparison, plots: RenderedPlot[]): string {
  const out: string[] = [];
  const margin = formatPct(c.options.marginRel, false);
  out.push(`# Fidelity report: ${c.comparisonId}`, "");
  out.push(`- workload id: real \`${c.workloadId.real}\`, sim \`${c.workloadId.sim}\` (${c.workloadId.match ? "match" : "MISMATCH"})`);
  out.push(`- real run: \`${c.runs.real.manifest.run_id}\` (${c.runs.real.manifest.kind}); simulated run: \`${c.runs.sim.manifest.run_id}\` (${c.runs.sim.manifest.kind})`);
  out.push(`- weights (real run): **${c.weights}**${c.weights === "random" ? " (timing with forced output lengths does not depend on weight values)" : ""}`);
  out.push(`- equivalence margin ±${margin}, alpha ${c.options.alpha}, bootstrap B = ${c.options.bootstrapReplicates} (seed ${c.options.seed}, ${formatPct(c.options.ciLevel, false)} CIs)`, "");

  out.push("## Headline", "");
  const head: string[][] = [];
  for (const key of METRIC_KEYS) {
    const m = c.metrics[key];
    if (m === null) continue;
    head.push([m.label, formatSeconds(m.real.p50), formatSeconds(m.sim.p50), formatPct(m.relErr.p50), formatPct(m.relErr.p99), m.ks.statistic.toFixed(3), verdictText(m)]);
  }
  out.push(mdTable(["metric", "real P50", "sim P50", "P50 rel err", "P99 rel err", "KS D", `TOST ±${margin}`], head), "");
  if (c.spread !== undefined) {
    const text = spreadText(c.spread);
    out.push("## Real run-to-run spread", "", text.intro, "", mdTable(SPREAD_HEADER, spreadRows(c, c.spread)), "", text.tally, "");
  }

  out.push("## Requests", "");
  out.push(mdTable(["", "count (ids)"], requestRows(c)), "");
  out.push(`Rule: ${c.requests.rule}.`, "");

  const t = c.throughput;
  const num = (v: number | null, d: number) => (v === null ? "n/a" : v.toFixed(d));
  const pc = (v: number | null) => (v === null ? "n/a" : `${v >= 0 ? "+" : ""}${(v * 100).toFixed(1)}%`);
  out.push("## Sustained throughput", "");
  out.push(
    mdTable(
      ["", "real", "sim", "error"],
      [
        ["requests/s", num(t.real.requestsPerS, 2), num(t.sim.requestsPerS, 2), pc(t.relErr.requestsPerS)],
        ["output tokens/s", num(t.real.outputTokensPerS, 0), num(t.sim.outputTokensPerS, 0), pc(t.relErr.outputTokensPerS)],
      ],
    ),
    "",
    "Completions between the 10th and 90th percentile completion (see definitions): the arrival rate at a load the server keeps up with, the capacity when every request arrives at once.",
    "",
  );

  out.push("## Percentiles and errors", "");
  for (const key of METRIC_KEYS) {
    const m = c.metrics[key];
    if (m === null) continue;
    out.push(`### ${m.label}`, "");
    const rows = STATS.map((s) => [STAT_LABELS[s], formatSeconds(m.real[s]), formatSeconds(m.sim[s]), formatSeconds(m.diff[s]), formatPct(m.relErr[s]), ci(m, s)]);
    out.push(mdTable(["stat", "real", "sim", "sim - real", "rel err", "rel err CI"], rows), "");
    out.push(`n = ${m.nReal} real / ${m.nSim} sim; KS D = ${m.ks.statistic.toFixed(4)}, p = ${m.ks.pValue.toPrecision(3)}; W1 = ${formatSeconds(m.w1)}.`, "");
    if (m.paired !== null) {
      const p = m.paired;
      const t = p.tost;
      out.push(
        `Paired per-request relative difference (n = ${p.n}${p.zeroRealExcluded > 0 ? `, ${p.zeroRealExcluded} with real = 0 skipped` : ""}): mean ${formatPct(p.relDiff.mean)}, sd ${formatPct(p.relDiff.sd, false)}, P5 ${formatPct(p.relDiff.p5)}, P25 ${formatPct(p.relDiff.p25)}, P50 ${formatPct(p.relDiff.p50)}, P75 ${formatPct(p.relDiff.p75)}, P95 ${formatPct(p.relDiff.p95)}; mean |rel diff| ${formatPct(p.relDiff.meanAbs, false)}; within ±${margin}: ${formatPct(p.relDiff.withinMarginFrac, false)}.`,
        "",
        `TOST: t_lower = ${t.tLower.toFixed(3)} (p ${t.pLower.toPrecision(3)}), t_upper = ${t.tUpper.toFixed(3)} (p ${t.pUpper.toPrecision(3)}), ${formatPct(1 - 2 * t.alpha, false)} CI of mean [${formatPct(t.ciLow)}, ${formatPct(t.ciHigh)}] -> ${t.equivalent ? "**equivalent**" : "**not equivalent**"}.`,
        "",
      );
    }
  }

  if (c.steps !== null) {
    const s = c.steps;
    const d = s.decomposition;
    out.push("## Engine steps", "");
    const side = (x: typeof s.real) => [
      String(x.steps),
      formatSeconds(x.totalTimeS),
      formatSeconds(x.meanStepTimeS),
      x.meanTokens.toFixed(1),
      x.meanBatchSize.toFixed(2),
      x.hostOverhead.fracOfWall === null ? "n/a" : formatPct(x.hostOverhead.fracOfWall, false),
    ];
    out.push(mdTable(["side", "steps", "busy time", "mean step", "mean tokens/step", "mean batch", "host overhead"], [["real", ...side(s.real)], ["sim", ...side(s.sim)]]), "");
    out.push(
      mdTable(
        ["step tokens", "real n", "sim n", "real mean", "sim mean", "rel err"],
        s.bins.map((b) => [`[${b.lo}, ${b.hi})`, String(b.realN), String(b.simN), formatSeconds(b.realMeanS), formatSeconds(b.simMeanS), formatPct(b.relErrMean)]),
      ),
      "",
    );
    out.push(
      mdTable(
        ["error split (busy time)", "seconds", "share of real"],
        [
          ["execution-time prediction (same composition)", formatSeconds(d.executionS), formatPct(d.executionS / d.realTotalS)],
          ["scheduling (batch composition)", formatSeconds(d.schedulingS), formatPct(d.schedulingS / d.realTotalS)],
          ["total (sim - real)", formatSeconds(d.totalDiffS), formatPct(d.totalDiffS / d.realTotalS)],
          ["real host overhead (wall - GPU)", formatSeconds(s.real.hostOverhead.totalS), formatPct(s.real.hostOverhead.totalS === null ? null : s.real.hostOverhead.totalS / d.realTotalS, false)],
        ],
      ),
      "",
    );
  }

  if (c.engineClock !== undefined) {
    const e = c.engineClock;
    const qs = (x: { p50: number | null; p90: number | null; p99: number | null }) => [x.p50, x.p90, x.p99].map(formatSeconds).join(" / ");
    const es = (x: { p50: number | null; p90: number | null; p99: number | null }) => [x.p50, x.p90, x.p99].map((v) => formatPct(v)).join(" / ");
    out.push("## Engine clock (what the simulator models)", "");
    out.push(
      "The real side timed by the engine itself (its token times on the run clock) instead of the client: the difference from the tables above is the HTTP/SSE delivery path, which Vidur does not model.",
      "",
    );
    out.push(
      mdTable(
        ["metric", "n", "real (engine) P50 / P90 / P99", "sim P50 / P90 / P99", "error P50 / P90 / P99"],
        [
          ["TTFT", String(e.ttft.n), qs(e.ttft.real), qs(e.ttft.sim), es(e.ttft.relErr)],
          ["TBT (pooled)", String(e.tbt.n), qs(e.tbt.real), qs(e.tbt.sim), es(e.tbt.relErr)],
        ],
      ),
      "",
      `Delivery delay of first tokens (client receive - engine emit), P50 / P90 / P99: ${qs(e.deliveryFirstToken)} over ${e.deliveryFirstToken.n} requests.`,
      "",
    );
  }

  out.push("## Notes", "");
  for (const n of c.notes) out.push(`- ${n}`);
  out.push("");

  if (plots.length > 0) {
    out.push("## Plots", "");
    for (const p of plots) out.push(`### ${p.title}`, "", `![${p.title}](${p.file})`, "", p.caption, "");
  }

  out.push("## Metric definitions", "");
  for (const [k, v] of Object.entries(DEFINITIONS)) out.push(`- **${k}**: ${v}`);
  out.push("");
  out.push("## Run manifests", "");
  out.push("### real run.json", "", "```json", JSON.stringify(c.runs.real.manifest, null, 2), "```", "");
  out.push("### simulated run.json", "", "```json", JSON.stringify(c.runs.sim.manifest, null, 2), "```", "");
  return `${out.join("\n")}\n`;
}

/** percentiles.csv: one row per metric and statistic (seconds; rel_err as a fraction). */
export function renderPercentilesCsv(c: Comparison): string {
  const lines = ["metric,stat,n_real,n_sim,real,sim,diff,abs_err,rel_err,rel_err_ci_low,rel_err_ci_high"];
  const cell = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? "" : String(x));
  for (const key of METRIC_KEYS) {
    const m = c.metrics[key];
    if (m === null) continue;
    for (const s of STATS) {
      const interval = s === "mean" ? null : m.relErrCi[s];
      lines.push([key, s, m.nReal, m.nSim, cell(m.real[s]), cell(m.sim[s]), cell(m.diff[s]), cell(m.absErr[s]), cell(m.relErr[s]), cell(interval?.low), cell(interval?.high)].join(","));
    }
  }
  return `${lines.join("\n")}\n`;
}

function esc(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

function htmlTable(header: string[], rows: string[][], rowAttrs?: string[]): string {
  const head = `<tr>${header.map((h) => `<th>${esc(h)}</th>`).join("")}</tr>`;
  const body = rows.map((r, i) => `<tr${rowAttrs?.[i] ?? ""}>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`).join("\n");
  return `<table>\n<thead>${head}</thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

const CSS = `body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}figure{margin:1em 0}
figcaption{font-size:90%;color:#555}pre{background:#f6f6f6;padding:.6em;overflow:auto;font-size:85%}
.ok{color:#1a7f37}.bad{color:#b3261e}.band{color:#9a6700}.plots{display:flex;flex-wrap:wrap;gap:1em}`;

/** report.html: one self-contained page (inline CSS and SVG, no scripts, no external links). */
export function renderReportHtml(c: Comparison, plots: RenderedPlot[]): string {
  const margin = formatPct(c.options.marginRel, false);
  const parts: string[] = [];
  parts.push(`<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Fidelity report ${esc(c.comparisonId)}</title>\n<style>${CSS}</style>\n</head>\n<body>`);
  parts.push(`<h1>Fidelity report: ${esc(c.comparisonId)}</h1>`);
  parts.push(
    `<ul><li>workload id: real <code data-testid="workload-real">${esc(String(c.workloadId.real))}</code>, sim <code>${esc(String(c.workloadId.sim))}</code> (${c.workloadId.match ? "match" : "<b class=\"bad\">MISMATCH</b>"})</li>` +
      `<li>real run <code>${esc(c.runs.real.manifest.run_id)}</code>, simulated run <code>${esc(c.runs.sim.manifest.run_id)}</code></li>` +
      `<li>weights (real run): <b data-testid="weights">${esc(c.weights)}</b>${c.weights === "random" ? " (timing with forced output lengths does not depend on weight values)" : ""}</li>` +
      `<li>equivalence margin ±${esc(margin)}, alpha ${c.options.alpha}, bootstrap B = ${c.options.bootstrapReplicates} (seed ${c.options.seed})</li></ul>`,
  );
  parts.push("<h2>Headline</h2>");
  const headRows: string[][] = [];
  const headAttrs: string[] = [];
  for (const key of METRIC_KEYS) {
    const m = c.metrics[key];
    if (m === null) continue;
    headRows.push([m.label, formatSeconds(m.real.p50), formatSeconds(m.sim.p50), formatPct(m.relErr.p50), formatPct(m.relErr.p99), m.ks.statistic.toFixed(3), verdictText(m)]);
    headAttrs.push(` data-metric="${key}"`);
  }
  parts.push(htmlTable(["metric", "real P50", "sim P50", "P50 rel err", "P99 rel err", "KS D", `TOST ±${margin}`], headRows, headAttrs));
  if (c.spread !== undefined) {
    const text = spreadText(c.spread);
    const rows = spreadRows(c, c.spread);
    const attrs = rows.map((r) => ` data-spread="${esc(r[0]!)} ${esc(r[1]!)}" class="${r[7] === "off" ? "bad" : r[7] === "band" ? "band" : "ok"}"`);
    parts.push('<h2 id="spread">Real run-to-run spread</h2>', `<p>${esc(text.intro)}</p>`, htmlTable(SPREAD_HEADER, rows, attrs), `<p data-testid="spread-tally">${esc(text.tally)}</p>`);
  }
  parts.push("<h2>Notes</h2>", `<ul>${c.notes.map((n) => `<li>${esc(n)}</li>`).join("\n")}</ul>`);
  parts.push("<h2>Requests</h2>", htmlTable(["", "count (ids)"], requestRows(c)), `<p>Rule: ${esc(c.requests.rule)}.</p>`);
  parts.push("<h2>Percentiles and errors</h2>");
  for (const key of METRIC_KEYS) {
    const m = c.metrics[key];
    if (m === null) continue;
    parts.push(`<h3>${esc(m.label)}</h3>`);
    parts.push(htmlTable(["stat", "real", "sim", "sim - real", "rel err", "rel err CI"], STATS.map((s) => [STAT_LABELS[s], formatSeconds(m.real[s]), formatSeconds(m.sim[s]), formatSeconds(m.diff[s]), formatPct(m.relErr[s]), ci(m, s)])));
    parts.push(`<p>KS D = ${m.ks.statistic.toFixed(4)}, p = ${m.ks.pValue.toPrecision(3)}; W1 = ${esc(formatSeconds(m.w1))}; ${esc(verdictText(m))}.</p>`);
  }
  if (c.steps !== null) {
    const d = c.steps.decomposition;
    parts.push("<h2>Engine steps</h2>");
    parts.push(
      htmlTable(
        ["error split (busy time)", "seconds", "share of real"],
        [
          ["execution-time prediction", formatSeconds(d.executionS), formatPct(d.executionS / d.realTotalS)],
          ["scheduling", formatSeconds(d.schedulingS), formatPct(d.schedulingS / d.realTotalS)],
          ["total", formatSeconds(d.totalDiffS), formatPct(d.totalDiffS / d.realTotalS)],
        ],
      ),
    );
  }
  if (plots.length > 0) {
    parts.push('<h2>Plots</h2>\n<div class="plots">');
    for (const p of plots) {
      parts.push(`<figure data-plot="${esc(p.file)}">\n<figcaption><b>${esc(p.title)}</b></figcaption>\n${p.svg}\n<figcaption>${esc(p.caption)}</figcaption>\n</figure>`);
    }
    parts.push("</div>");
  }
  parts.push("<h2>Metric definitions</h2>", `<ul>${Object.entries(DEFINITIONS).map(([k, v]) => `<li><b>${esc(k)}</b>: ${esc(v)}</li>`).join("\n")}</ul>`);
  parts.push("<h2>Run manifests</h2>");
  parts.push(`<h3>real run.json</h3><pre>${esc(JSON.stringify(c.runs.real.manifest, null, 2))}</pre>`);
  parts.push(`<h3>simulated run.json</h3><pre>${esc(JSON.stringify(c.runs.sim.manifest, null, 2))}</pre>`);
  parts.push("</body>\n</html>\n");
  return parts.join("\n");
}

/** comparison.json text: every number; non-finite numbers become null. */
export function renderComparisonJson(value: unknown): string {
  return `${JSON.stringify(value, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2)}\n`;
}

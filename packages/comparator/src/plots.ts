/**
 * SVG plots rendered server-side: @observablehq/plot on a jsdom document. Large samples are reduced before
 * plotting (ECDFs to evenly spaced order statistics, scatters to an evenly strided subset) so an SVG stays
 * small; captions say so. No legends (they would wrap the SVG in HTML): colours are fixed and captioned.
 */
import * as Plot from "@observablehq/plot";
import type { Iteration } from "@vf/metrics-io";
import { JSDOM } from "jsdom";
import { ComparatorError } from "./errors.js";
import { ecdfPoints } from "./stats.js";

/** Fixed colours: real = blue, simulated = orange. */
export const SIDE_COLORS = { real: "#1f77b4", sim: "#ff7f0e" } as const;

/** One rendered plot. */
export interface RenderedPlot {
  /** File name in the comparison dir, e.g. `ttft_cdf.svg`. */
  file: string;
  title: string;
  caption: string;
  /** Standalone SVG document text (with xmlns). */
  svg: string;
}

/** A renderer holding one jsdom document for a batch of plots. */
export interface PlotRenderer {
  render(options: Plot.PlotOptions): string;
}

/** Creates a renderer; each `render` returns the SVG text with xmlns set. */
export function createPlotRenderer(): PlotRenderer {
  const dom = new JSDOM("<!DOCTYPE html><body></body>");
  const document = dom.window.document;
  return {
    render(options) {
      try {
        const el = Plot.plot({ ...options, document }) as unknown as Element;
        const svg = el.tagName.toLowerCase() === "svg" ? el : el.querySelector("svg");
        if (svg === null) throw new Error("plot produced no <svg>");
        svg.setAttribute("xmlns", "http://www.w3.org/2000/svg");
        return svg.outerHTML;
      } catch (cause) {
        throw new ComparatorError("COMPARATOR_RENDER_FAILED", `could not render plot: ${String(cause)}`, { cause });
      }
    },
  };
}

const CDF_POINTS = 400;
const SCATTER_POINTS = 2000;
const STEP_POINTS = 3000;

/** ECDF overlay of real and simulated samples (ascending, seconds -> plotted in ms). */
export function plotCdf(r: PlotRenderer, name: string, label: string, real: Float64Array, sim: Float64Array): RenderedPlot {
  const data = [
    ...ecdfPoints(real, CDF_POINTS).map((p) => ({ side: "real", x: p.x * 1e3, f: p.f })),
    ...ecdfPoints(sim, CDF_POINTS).map((p) => ({ side: "sim", x: p.x * 1e3, f: p.f })),
  ];
  const svg = r.render({
    width: 640,
    height: 360,
    marginLeft: 50,
    x: { label: `${label} (ms)`, grid: true },
    y: { label: "fraction of requests ≤ x", domain: [0, 1], grid: true },
    color: { domain: ["real", "sim"], range: [SIDE_COLORS.real, SIDE_COLORS.sim] },
    marks: [Plot.line(data, { x: "x", y: "f", stroke: "side", curve: "step-after", strokeWidth: 1.5 }), Plot.ruleY([0])],
  });
  return {
    file: `${name}_cdf.svg`,
    title: `${label}: CDF, real vs simulated`,
    caption: `Empirical CDFs (blue = real, orange = simulated; n = ${real.length} / ${sim.length}; drawn from at most ${CDF_POINTS} evenly spaced order statistics per side).`,
    svg,
  };
}

/** Per-request scatter, simulated vs real, with the y = x line. */
export function plotScatter(r: PlotRenderer, name: string, label: string, real: Float64Array, sim: Float64Array): RenderedPlot {
  const n = real.length;
  const step = Math.max(1, Math.ceil(n / SCATTER_POINTS));
  const data: Array<{ real: number; sim: number }> = [];
  let hi = 0;
  for (let i = 0; i < n; i += step) {
    const p = { real: (real[i] as number) * 1e3, sim: (sim[i] as number) * 1e3 };
    data.push(p);
    hi = Math.max(hi, p.real, p.sim);
  }
  const svg = r.render({
    width: 480,
    height: 480,
    marginLeft: 55,
    x: { label: `real ${label} (ms)`, domain: [0, hi], grid: true },
    y: { label: `simulated ${label} (ms)`, domain: [0, hi], grid: true },
    marks: [
      Plot.line([{ x: 0, y: 0 }, { x: hi, y: hi }], { x: "x", y: "y", stroke: "#999", strokeDasharray: "4,3" }),
      Plot.dot(data, { x: "real", y: "sim", r: 2, fill: SIDE_COLORS.sim, fillOpacity: 0.6 }),
    ],
  });
  return {
    file: `${name}_scatter.svg`,
    title: `${label}: per request, simulated vs real`,
    caption: `One dot per compared request (${data.length} of ${n} shown${step > 1 ? `, every ${step}th` : ""}); dashed line y = x: above it the simulator over-predicts.`,
    svg,
  };
}

/** Step time vs tokens in the step, both sides (points subsampled) plus per-bin means. */
export function plotStepTime(
  r: PlotRenderer,
  real: Iteration[],
  sim: Iteration[],
  bins: Array<{ lo: number; hi: number; realMeanS: number | null; simMeanS: number | null }>,
): RenderedPlot {
  const points = (rows: Iteration[], side: string) => {
    const step = Math.max(1, Math.ceil(rows.length / STEP_POINTS));
    const out: Array<{ side: string; tokens: number; ms: number }> = [];
    for (let i = 0; i < rows.length; i += step) {
      const row = rows[i] as Iteration;
      out.push({ side, tokens: Math.max(1, row.num_prefill_tokens + row.num_decode_tokens), ms: (row.end - row.start) * 1e3 });
    }
    return out;
  };
  const means: Array<{ side: string; tokens: number; ms: number }> = [];
  for (const b of bins) {
    const center = Math.max(1, Math.sqrt(Math.max(b.lo, 1) * b.hi));
    if (b.realMeanS !== null) means.push({ side: "real", tokens: center, ms: b.realMeanS * 1e3 });
    if (b.simMeanS !== null) means.push({ side: "sim", tokens: center, ms: b.simMeanS * 1e3 });
  }
  const svg = r.render({
    width: 640,
    height: 380,
    marginLeft: 50,
    x: { type: "log", label: "tokens in step (prefill + decode)", grid: true },
    y: { label: "step time (ms)", grid: true },
    color: { domain: ["real", "sim"], range: [SIDE_COLORS.real, SIDE_COLORS.sim] },
    marks: [
      Plot.dot([...points(real, "real"), ...points(sim, "sim")], { x: "tokens", y: "ms", stroke: "side", r: 1.5, strokeOpacity: 0.4 }),
      Plot.line(means, { x: "tokens", y: "ms", stroke: "side", z: "side", strokeWidth: 2, marker: "circle" }),
    ],
  });
  return {
    file: "step_time.svg",
    title: "Engine step time vs tokens in the step",
    caption: `Each dot one engine step (blue = real, orange = simulated; at most ${STEP_POINTS} per side shown); lines join per-bin means (bins [2^k, 2^(k+1)) tokens).`,
    svg,
  };
}

/** Relative error vs load: one line per metric/statistic. */
export function plotErrorVsLoad(
  r: PlotRenderer,
  rows: Array<{ load: number; series: string; relErr: number }>,
  loadLabel: string,
): RenderedPlot {
  const svg = r.render({
    width: 640,
    height: 380,
    marginLeft: 50,
    x: { label: loadLabel, grid: true },
    y: { label: "relative error (sim - real)/real (%)", grid: true },
    marks: [
      Plot.ruleY([0], { stroke: "#999" }),
      Plot.line(rows, { x: "load", y: (d: { relErr: number }) => d.relErr * 100, stroke: "series", marker: "circle" }),
      Plot.text(
        rows.filter((d, i) => rows.findLastIndex((e) => e.series === d.series) === i),
        { x: "load", y: (d: { relErr: number }) => d.relErr * 100, text: "series", dx: 6, textAnchor: "start", fill: "series" },
      ),
    ],
    marginRight: 90,
  });
  return {
    file: "error_vs_load.svg",
    title: "Relative error vs load",
    caption: "Signed relative error of the simulator at each load (one line per metric and statistic, labelled at its last point).",
    svg,
  };
}

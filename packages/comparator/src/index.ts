/** @vf/comparator: the fidelity report of a simulated run against a real one (explicit re-exports only). */

/** Compare two run dirs and write summary.md, report.html, comparison.json, percentiles.csv, SVGs, run.json. */
export { COMPARATOR_VERSION, compareRuns, renderComparisonPlots } from "./compare.js";
export type { CompareRunsResult } from "./compare.js";
/** Multi-load summary and error-vs-load plot from several comparisons. */
export { compareLoads } from "./loads.js";
export type { LoadPoint, LoadRow } from "./loads.js";
/** The analysis without writing files; metric keys, labels, definitions; prose formatters (s / %). */
export {
  DEFINITIONS,
  METRIC_KEYS,
  METRIC_LABELS,
  analyzeLoaded,
  analyzeRuns,
  analyzeSteps,
  compareSamples,
  discrepancyNotes,
  formatPct,
  formatSeconds,
  parseCompareOptions,
  stepBinIndex,
} from "./analyze.js";
export type {
  CiRow,
  Comparison,
  IdList,
  MetricKey,
  MetricResult,
  PairedResult,
  PlotData,
  StatRow,
  StepAnalysis,
  StepBin,
  StepSide,
} from "./analyze.js";
/** Error class, codes and guard. */
export { COMPARATOR_ERROR_CODES, ComparatorError, isComparatorError } from "./errors.js";
export type { ComparatorErrorCode } from "./errors.js";
/** Reading a run dir (manifest, request metrics, iterations) through @vf/metrics-io. */
export { loadRun } from "./load.js";
export { SPREAD_RULE, SPREAD_STATS, SPREAD_TOLERANCE, realSpread, spreadCell, spreadVerdict } from "./spread.js";
export type { RealSpread, SpreadCell, SpreadStat, SpreadVerdict } from "./spread.js";
export type { LoadedRun } from "./load.js";
/** SVG plots (seconds in, ms on axes). */
export { SIDE_COLORS, createPlotRenderer, plotCdf, plotErrorVsLoad, plotScatter, plotStepTime } from "./plots.js";
export type { PlotRenderer, RenderedPlot } from "./plots.js";
/** Renderings of a comparison. */
export { renderComparisonJson, renderPercentilesCsv, renderReportHtml, renderSummaryMd } from "./report.js";
/** Option and comparison.json schemas. */
export { CompareOptionsSchema, ComparisonFileSchema } from "./schema.js";
export type { CompareOptions, CompareOptionsInput, ComparisonFile } from "./schema.js";
/** Statistics (seconds in, seconds out; R-7 quantiles; KS; W1; TOST; bootstrap). */
export {
  REPORT_PERCENTILES,
  bootstrapQuantileRelErrorCi,
  bootstrapQuantileReplicate,
  ecdfPoints,
  ksTwoSampleSorted,
  mean,
  quantileR7,
  sampleSd,
  sortedCopy,
  studentTQuantile,
  summarizeSorted,
  tostPaired,
  wasserstein1Sorted,
} from "./stats.js";
export type { BootstrapCi, KsResult, SampleSummary, TostResult } from "./stats.js";
/** Special functions (Student t, Kolmogorov, incomplete beta). */
export { incompleteBeta, kolmogorovSurvival, logGamma, studentTCdf } from "./special.js";
/** Seeded random numbers. */
export { beta, createRng, gamma, normal } from "./rng.js";
export type { Rng } from "./rng.js";
/** Streaming token-gap readers (typed arrays; the Sorted one runs in a worker thread and sorts the gaps). */
export { readTokenGaps, readTokenGapsSorted } from "./token-gaps.js";
export type { TokenGaps } from "./token-gaps.js";

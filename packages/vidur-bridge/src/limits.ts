/**
 * Derives Vidur's prediction-grid limits (`prediction_max_*`) and the trace `max_tokens` from the workload and
 * the scheduler, so that no batch of the run looks up a key outside the precomputed grid (a KeyError mid-run).
 * Vidur 0.0.26 lookups: linear ops at batch tokens rounded up to 8 (range 1..max_tokens_per_request);
 * attention decode at (decode batch size, mean kv rounded up to the granularity); attention prefill per
 * request at (kv rounded up to the granularity, chunk rounded up to 32). Limits are rounded up to powers of
 * two because Vidur keys its trained-model cache on them.
 */
import type { SchedulerOptions } from "./options.js";
import type { TraceRow } from "./trace.js";

/** Limits passed to Vidur and to the sidecar's profile-coverage check (all token counts). */
export interface GridLimits {
  /** Trace generator max_tokens: the largest prompt + output of the workload (no request is cut). */
  traceMaxTokens: number;
  predictionMaxTokensPerRequest: number;
  predictionMaxPrefillChunkSize: number;
  predictionMaxBatchSize: number;
  kvCachePredictionGranularity: number;
  /** What the workload needs from the profile (checked against its rows before training). */
  needs: { maxBatchTokens: number; maxPrefillChunk: number; maxRequestTokens: number; maxDecodeBatch: number };
}

const roundUp = (v: number, m: number): number => Math.ceil(v / m) * m;
/** Next power of two >= v: coarse limits let workloads of similar size share Vidur's trained-model cache. */
const pow2 = (v: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, v)));

/** Computes the limits; pure. */
export function deriveGridLimits(rows: readonly TraceRow[], scheduler: SchedulerOptions, granularity: number): GridLimits {
  let maxTotal = 0;
  let maxPrompt = 0;
  const totals: number[] = [];
  for (const r of rows) {
    const t = r.numPrefillTokens + r.numDecodeTokens;
    totals.push(t);
    maxTotal = Math.max(maxTotal, t);
    maxPrompt = Math.max(maxPrompt, r.numPrefillTokens);
  }
  const cap = scheduler.batchSizeCap;
  const decodeBatch = Math.min(cap, rows.length);
  let maxBatchTokens: number;
  let maxChunk: number;
  if (scheduler.kind === "sarathi") {
    // Decodes take one token each from the chunk budget; prefill chunks fill the rest.
    maxBatchTokens = Math.max(scheduler.chunkSize, decodeBatch);
    maxChunk = Math.min(scheduler.chunkSize, maxTotal);
  } else {
    // Whole prompts (and whole recomputes after a restart, up to prompt + output) go in one iteration.
    totals.sort((a, b) => b - a);
    const worst = totals.slice(0, decodeBatch).reduce((s, v) => s + v, 0);
    maxBatchTokens = scheduler.kind === "vllm" ? Math.min(worst, Math.max(scheduler.maxTokensInBatch, maxTotal)) : worst;
    maxChunk = maxTotal;
  }
  const predictionMaxTokensPerRequest = roundUp(pow2(Math.max(maxTotal + 1, roundUp(maxBatchTokens, 8))), granularity);
  return {
    traceMaxTokens: maxTotal,
    predictionMaxTokensPerRequest,
    predictionMaxPrefillChunkSize: roundUp(pow2(maxChunk), 32),
    predictionMaxBatchSize: cap,
    kvCachePredictionGranularity: granularity,
    needs: { maxBatchTokens, maxPrefillChunk: maxChunk, maxRequestTokens: maxTotal, maxDecodeBatch: decodeBatch },
  };
}

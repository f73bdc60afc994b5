/**
 * Turns one Vidur run's raw output (under `<runDir>/vidur/`) into the shared run-dir records:
 * request_metrics.csv, token_timestamps.csv and iterations.csv (written with @vf/metrics-io).
 * Token times come from the sidecar's batch-end recorder; Vidur's own `prefill_e2e_time` is cross-checked
 * against them (TTFT = first token - arrived_at).
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  computeRequestMetric,
  type Iteration,
  type RequestMetric,
  readTokenTimestampsGrouped,
  type TokenTimestamp,
  writeIterations,
  writeRequestMetrics,
  writeTokenTimestamps,
} from "@vf/metrics-io";
import Papa from "papaparse";
import { admissionConstantS, frontBacklog, interpolate, stepBatchAt } from "./calibrate.js";
import { VidurBridgeError } from "./errors.js";
import type { DeliveryDelayOption } from "./options.js";
import type { TraceRow } from "./trace.js";

/** Summary of a normalized run. */
export interface NormalizeSummary {
  numRequests: number;
  numCompleted: number;
  numTokens: number;
  numIterations: number;
  /** Largest |first token - arrived_at - Vidur prefill_e2e_time| over requests (seconds). */
  maxTtftMismatchS: number;
  vidurOutputDir: string;
}

/** Vidur writes into `<output_dir>/<timestamp>/`; returns the single such folder. */
export async function findVidurOutputDir(outRoot: string): Promise<string> {
  let entries: string[];
  try {
    entries = (await readdir(outRoot, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (e) {
    throw new VidurBridgeError("VIDUR_OUTPUT_INVALID", `Vidur wrote no output folder ${outRoot}`, { cause: e });
  }
  if (entries.length !== 1) {
    throw new VidurBridgeError("VIDUR_OUTPUT_INVALID", `${outRoot}: expected one timestamped Vidur output folder, found ${entries.length}`);
  }
  return join(outRoot, entries[0]!);
}

/** Reads Vidur's request_metrics.csv into id -> prefill_e2e_time (seconds; NaN rows dropped). */
async function readVidurTtfts(path: string): Promise<Map<number, number>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new VidurBridgeError("VIDUR_OUTPUT_INVALID", `Vidur wrote no ${path}`, { cause: e });
  }
  const parsed = Papa.parse<Record<string, string>>(text, { header: true, skipEmptyLines: true });
  const fields = parsed.meta.fields ?? [];
  for (const col of ["Request Id", "prefill_e2e_time"]) {
    if (!fields.includes(col)) throw new VidurBridgeError("VIDUR_OUTPUT_INVALID", `${path}: no column ${JSON.stringify(col)}`);
  }
  const out = new Map<number, number>();
  for (const row of parsed.data) {
    const id = Number(row["Request Id"]);
    const v = Number(row.prefill_e2e_time);
    if (Number.isInteger(id) && row.prefill_e2e_time !== "" && Number.isFinite(v)) out.set(id, v);
  }
  return out;
}

/** Reads the sidecar's bridge_batches.csv into iterations (gpu_time = end - start - the added CPU overhead). */
async function readBatches(path: string): Promise<Iteration[]> {
  const text = await readFile(path, "utf8");
  const lines = text.split("\n");
  const out: Iteration[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === "") continue;
    const c = line.split(",");
    const start = Number(c[1]);
    const end = Number(c[2]);
    const nums = [c[0], c[3], c[4], c[5]].map(Number);
    const cpuS = c[8] === undefined || c[8] === "" ? 0 : Number(c[8]);
    if (c.length < 7 || !Number.isFinite(start) || !Number.isFinite(end) || !Number.isFinite(cpuS) || nums.some((n) => !Number.isInteger(n))) {
      throw new VidurBridgeError("VIDUR_OUTPUT_INVALID", `${path}:${i + 1}: malformed batch row ${JSON.stringify(line.slice(0, 120))}`);
    }
    out.push({
      step: nums[0]!,
      start,
      end,
      gpu_time: end - start - cpuS,
      num_prefill_tokens: nums[1]!,
      num_decode_tokens: nums[2]!,
      batch_size: nums[3]!,
      kv_tokens_in_use: c[6] === "" ? null : Number(c[6]),
    });
  }
  return out;
}

/** Writes the three record files into runDir from `<runDir>/vidur/`. */
/** `deliveryDelay` (RunVidurOptions) is added to every token time: the serving path's delay Vidur does not model. */
export async function normalizeVidurRun(
  runDir: string,
  trace: readonly TraceRow[],
  deliveryDelay: DeliveryDelayOption | null = null,
): Promise<NormalizeSummary> {
  const raw = join(runDir, "vidur");
  const iterations = await readBatches(join(raw, "bridge_batches.csv"));
  const byEnd = [...iterations].sort((a, b) => a.end - b.end);
  const ends = byEnd.map((it) => it.end);
  const sizes = byEnd.map((it) => it.batch_size);
  const outDir = await findVidurOutputDir(join(raw, "out"));
  const ttfts = await readVidurTtfts(join(outDir, "request_metrics.csv"));
  const grouped = await readTokenTimestampsGrouped(join(raw, "bridge_tokens.csv"));
  // Each request's admission delay: the constant, or (frontSPerToken) the constant less the fit's mean backlog plus
  // the front's backlog at its arrival, the front serving every simulated token in emit order (and, with
  // frontSPerStep, paying that once per simulated step: a step's tokens share their time).
  const admission = new Map<number, number>();
  // admissionInSimulation: the sidecar already moved each arrival (its front gate); the tokens keep their times.
  if (deliveryDelay !== null && deliveryDelay.admissionInSimulation !== true) {
    const { admissionS = 0, frontSPerToken, frontSPerStep = 0 } = deliveryDelay;
    if (frontSPerToken === undefined) {
      for (const r of trace) admission.set(r.requestId, admissionS);
    } else {
      const emitS = [...grouped.values()].flat().sort((a, b) => a - b);
      const backlog = frontBacklog(emitS, frontSPerToken, trace.map((r) => r.arrivedAtS), frontSPerStep);
      for (const [i, r] of trace.entries()) admission.set(r.requestId, admissionConstantS(deliveryDelay) + backlog[i]!);
    }
  }
  const delayed = (requestId: number, times: number[]): number[] => {
    if (deliveryDelay === null) return times;
    const { batchSizes, delaysS, firstTokenExtraS = 0 } = deliveryDelay;
    const admissionS = admission.get(requestId) ?? 0;
    // The admission delay shifts the request's whole schedule (its arrival later), then each token reaches the
    // client later by the delivery delay of the step that produced it.
    return times.map((t, k) => {
      const batch = stepBatchAt(ends, sizes, t) ?? sizes.at(-1) ?? 1;
      return t + admissionS + Math.max(0, interpolate(batchSizes, delaysS, batch) + (k === 0 ? firstTokenExtraS : 0));
    });
  };
  const metrics: RequestMetric[] = [];
  let numTokens = 0;
  let numCompleted = 0;
  let maxMismatch = 0;
  // Vidur numbers the trace's rows 0..; a row's request id is the workload's (the same unless reordered).
  const byRequest = [...trace.entries()].sort(([, a], [, b]) => a.requestId - b.requestId);
  for (const [i, r] of byRequest) {
    const times = grouped.get(i) ?? [];
    numTokens += times.length;
    const vidurTtft = ttfts.get(i);
    const completed = times.length === r.numDecodeTokens && vidurTtft !== undefined;
    if (completed) numCompleted += 1;
    if (times.length > 0 && vidurTtft !== undefined) {
      maxMismatch = Math.max(maxMismatch, Math.abs(times[0]! - r.arrivedAtS - vidurTtft));
    }
    metrics.push(
      computeRequestMetric({
        request_id: r.requestId,
        arrived_at: r.arrivedAtS,
        num_prefill_tokens: r.numPrefillTokens,
        num_decode_tokens: r.numDecodeTokens,
        // Every token reaches the client later by the delivery delay of the step that produced it.
        tokenTimesS: delayed(r.requestId, times),
        error: times.length === 0 ? "not completed in the simulation (time limit or scheduler stall)" : null,
      }),
    );
  }
  if (maxMismatch > 1e-6) {
    throw new VidurBridgeError(
      "VIDUR_OUTPUT_INVALID",
      `recorded first-token times disagree with Vidur's prefill_e2e_time by up to ${maxMismatch} s (expected < 1 µs); the batch hook and Vidur's metrics diverged`,
    );
  }
  await writeRequestMetrics(join(runDir, "request_metrics.csv"), metrics);
  async function* tokenRows(): AsyncGenerator<TokenTimestamp> {
    for (const [i, r] of byRequest) {
      const times = grouped.get(i) ?? [];
      const shifted = delayed(r.requestId, times);
      for (let k = 0; k < shifted.length; k++) yield { request_id: r.requestId, token_index: k, t: shifted[k]! };
    }
  }
  await writeTokenTimestamps(join(runDir, "token_timestamps.csv"), tokenRows());
  await writeIterations(join(runDir, "iterations.csv"), iterations);
  return {
    numRequests: trace.length,
    numCompleted,
    numTokens,
    numIterations: iterations.length,
    maxTtftMismatchS: maxMismatch,
    vidurOutputDir: outDir,
  };
}

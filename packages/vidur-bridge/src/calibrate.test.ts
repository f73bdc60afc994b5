import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Iteration, MachineProbe, RequestMetric } from "@vf/metrics-io";
import { readIterations, writeIterations, writeRequestMetrics } from "@vf/metrics-io";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  DECODE_KV_MIN_GROUP,
  DECODE_KV_MIN_STEPS,
  deriveAdmissionDelay,
  fitFrontWorker,
  frontBacklog,
  frontHandoff,
  frontTokenSpread,
  frontWorkerDone,
  decodeGridLookup,
  deriveCpuOverheads,
  deriveDeliveryDelay,
  formatDecodeGridCsv,
  readDecodeGrid,
  fitLine,
  fitStepTimeModel,
  foldInterStepGaps,
  formatCpuOverheadsCsv,
  HOST_SPEED_HALF_WINDOW,
  hostReference,
  hostScale,
  probeSizeDiffers,
  INTER_STEP_GAP_MAX_S,
  modelTimeBiasMs,
  normalizeHostSpeed,
  predictStepMs,
  scaleHostPhases,
  scaleServingPath,
  stepClassBounds,
  prefillPrefixWork,
  solveLinear,
  interpolate,
  JITTER_LEVELS,
  machineProbeRatio,
  poolMachineProbes,
  trimmedMean,
  writeCpuOverheadsFromRuns,
} from "./calibrate.js";
import { isVidurBridgeError } from "./errors.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "vb-cal-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A step of `wallMs` (gpu_time = wall) with the given composition. */
function step(i: number, batch: number, prefill: number, decode: number, wallMs: number): Iteration {
  const start = i;
  return { step: i, start, end: start + wallMs / 1e3, gpu_time: wallMs / 1e3, num_prefill_tokens: prefill, num_decode_tokens: decode, batch_size: batch, kv_tokens_in_use: null };
}

// Simulated steps follow 1 ms + 0.01 ms/prefill token + 0.1 ms/decode token exactly.
const simMs = (p: number, d: number) => 1 + 0.01 * p + 0.1 * d;
const SIM: Iteration[] = [
  [1, 0, 1],
  [5, 0, 5],
  [3, 100, 2],
  [1, 300, 0],
  [11, 50, 10],
].map(([b, p, d], i) => step(i, b!, p!, d!, simMs(p!, d!)));

// Real steps with residuals (wall − predicted) chosen by hand: bin [1]: 2,3,4 (median 3); bin [2]: 4;
// bin [3,4]: decode 5, 5 and a mixed 20 (knot = median batch size of 4,3,4 = 4); bin [5,8]: one mixed 40.
const REAL: Iteration[] = [
  step(0, 1, 0, 1, 1.1 + 2),
  step(1, 1, 0, 1, 1.1 + 3),
  step(2, 1, 0, 1, 1.1 + 4),
  step(3, 2, 0, 2, 1.2 + 4),
  step(4, 4, 0, 4, 1.4 + 5),
  step(5, 3, 0, 3, 1.3 + 5),
  step(6, 4, 100, 3, 2.3 + 20),
  step(7, 8, 200, 7, 3.7 + 40),
];

/** Every bin counts, however thin (the hand-made runs have 1-3 steps per bin). */
const ONE = { minStepsPerBin: 1 };

describe("fitStepTimeModel", () => {
  it("recovers the simulator's linear per-step time from its iterations", () => {
    const m = fitStepTimeModel(SIM);
    expect(m.interceptMs).toBeCloseTo(1, 9);
    expect(m.perPrefillTokenMs).toBeCloseTo(0.01, 9);
    expect(m.perDecodeTokenMs).toBeCloseTo(0.1, 9);
    expect(m.steps).toBe(5);
  });

  it("gives a constant column coefficient 0 and refuses fewer than 2 steps", () => {
    const decodeOnly = [step(0, 1, 0, 1, 1.1), step(1, 4, 0, 4, 1.4)];
    const m = fitStepTimeModel(decodeOnly);
    expect(m.perPrefillTokenMs).toBe(0);
    expect(m.interceptMs).toBeCloseTo(1, 9);
    expect(m.perDecodeTokenMs).toBeCloseTo(0.1, 9);
    expect(() => fitStepTimeModel([step(0, 1, 0, 1, 1)])).toThrow(/need at least 2/);
  });
});

describe("deriveCpuOverheads", () => {
  it("split mode: decode-only curve plus a prefill extra, gaps filled by clamped interpolation", () => {
    const t = deriveCpuOverheads(REAL, SIM, ONE);
    expect(t.mode).toBe("split");
    expect(t.bins.map((b) => [b.minBatchSize, b.maxBatchSize, b.batchSize, b.decodeSteps, b.mixedSteps])).toEqual([
      [1, 1, 1, 3, 0],
      [2, 2, 2, 1, 0],
      [3, 4, 4, 2, 1],
      [5, 8, 8, 0, 1],
    ]);
    const rows = t.rows.map((r) => [r.batchSize, Number(r.overheadMs.toFixed(9)), Number(r.prefillExtraMs.toFixed(9))]);
    // decode: 3, 4, 5, (clamped) 5; mixed residual: (clamped) 20, 20, 20, 40 -> extra = mixed - decode.
    expect(rows).toEqual([
      [1, 3, 17],
      [2, 4, 16],
      [4, 5, 15],
      [8, 5, 35],
    ]);
  });

  it("single mode: one curve, the median residual of every step in the bin", () => {
    const t = deriveCpuOverheads(REAL, SIM, { ...ONE, mode: "single", statistic: "median" });
    expect(t.rows.map((r) => [r.batchSize, Number(r.overheadMs.toFixed(9)), r.prefillExtraMs])).toEqual([
      [1, 3, 0],
      [2, 4, 0],
      [4, 5, 0],
      [8, 40, 0],
    ]);
    // The default statistic, the trimmed mean, sees the bin [3,4]'s mixed step: (5 + 5 + 20) / 3.
    const mean = deriveCpuOverheads(REAL, SIM, { ...ONE, mode: "single" });
    expect(mean.statistic).toBe("mean");
    expect(mean.rows[2]!.overheadMs).toBeCloseTo(10, 9);
  });

  it("summarizes a skewed bin by its mean (default) or its median", () => {
    // Nine steps 1 ms over the prediction and one 21 ms over it: mean 3, median 1.
    const real = Array.from({ length: 10 }, (_, i) => step(i, 1, 0, 1, 1.1 + (i === 9 ? 21 : 1)));
    expect(deriveCpuOverheads(real, SIM).rows[0]!.overheadMs).toBeCloseTo(3, 9);
    expect(deriveCpuOverheads(real, SIM, { statistic: "median" }).rows[0]!.overheadMs).toBeCloseTo(1, 9);
    expect(trimmedMean([1, 2, 3, 1000], 0.25)).toBe(2.5);
    expect(trimmedMean([7], 0.4)).toBe(7);
  });

  it("writes step-time jitter: quantiles of a bin's decode-only residuals around its overhead", () => {
    // 40 decode-only steps at batch 1 with residuals 0..39 ms (mean 19.5): jitter = residual - 19.5 at the levels.
    const real = Array.from({ length: 40 }, (_, i) => step(i, 1, 0, 1, 1.1 + i));
    const t = deriveCpuOverheads(real, SIM);
    expect(t.rows[0]!.overheadMs).toBeCloseTo(19.5, 9);
    const expected = JITTER_LEVELS.map((q) => 39 * q - 19.5);
    for (const [i, v] of t.rows[0]!.jitterMs!.entries()) expect(v).toBeCloseTo(expected[i]!, 9);
    const csv = formatCpuOverheadsCsv(t, { modelName: "a/b" }).split("\n");
    expect(csv[0]).toBe(
      "model_name,tensor_parallel_degree,batch_size,schedule_median,prefill_extra_median,jitter_q02,jitter_q10,jitter_q25,jitter_q50,jitter_q75,jitter_q90,jitter_q98",
    );
    expect(csv[1]).toBe(`a/b,1,1,19.5,0,${expected.map((v) => Number(v.toFixed(6))).join(",")}`);
    // Off, or too few steps (fewer than 20 in every bin): no jitter columns.
    expect(deriveCpuOverheads(real, SIM, { jitter: false }).rows[0]!.jitterMs).toBeNull();
    expect(formatCpuOverheadsCsv(deriveCpuOverheads(REAL, SIM, ONE), { modelName: "a/b" })).not.toContain("jitter");
  });

  it("widens the jitter by each step's jitterExtraMs less the bin's centre, leaving the overhead as it was", () => {
    // 40 steps with residuals 0..39 ms; the extras put back 0 ms on the first half and 10 ms on the second (a slow
    // stretch the host-speed scaling took out): the deviations become 0..19 and 30..49 around their mean, 24.5.
    const real = Array.from({ length: 40 }, (_, i) => step(i, 1, 0, 1, 1.1 + i));
    const extra = real.map((_, i) => (i < 20 ? 0 : 10));
    const plain = deriveCpuOverheads(real, SIM);
    const wide = deriveCpuOverheads(real, SIM, { jitterExtraMs: extra });
    expect(wide.rows[0]!.overheadMs).toBe(plain.rows[0]!.overheadMs);
    const dev = real.map((_, i) => i + extra[i]! - 24.5).sort((a, b) => a - b);
    const q = (p: number) => {
      const h = (dev.length - 1) * p;
      const lo = Math.floor(h);
      return dev[lo]! + (h - lo) * (dev[lo + 1]! - dev[lo]!);
    };
    for (const [i, level] of JITTER_LEVELS.entries()) expect(wide.rows[0]!.jitterMs![i]).toBeCloseTo(q(level), 9);
    expect(wide.rows[0]!.jitterMs!.at(-1)! - wide.rows[0]!.jitterMs![0]!).toBeGreaterThan(plain.rows[0]!.jitterMs!.at(-1)! - plain.rows[0]!.jitterMs![0]!);
    expect(() => deriveCpuOverheads(real, SIM, { jitterExtraMs: [1, 2] })).toThrow(/jitterExtraMs: expected one value per real step \(40\), got 2/);
  });

  it("extends past the fit load's largest batch along the real host-time line, up to the batch cap", () => {
    // Decode-only steps at batch 1..16 whose host time (wall - GPU) is 0.1 + 0.02 b ms and whose GPU time is the
    // prediction plus 0.5 ms: residual = 0.6 + 0.02 b.
    const real: Iteration[] = [];
    for (let b = 1; b <= 16; b++) {
      for (let k = 0; k < 5; k++) {
        const gpu = simMs(0, b) + 0.5;
        const wall = gpu + 0.1 + 0.02 * b;
        real.push({ ...step(real.length, b, 0, b, wall), gpu_time: gpu / 1e3 });
      }
    }
    const t = deriveCpuOverheads(real, SIM, { extendToBatchSize: 100 });
    const last = t.rows[t.bins.length - 1]!;
    expect(t.tail).not.toBeNull();
    expect(t.tail!.hostMsPerRequest).toBeCloseTo(0.02, 9);
    expect(t.tail!.hostInterceptMs).toBeCloseTo(0.1, 9);
    expect(t.tail!.rows).toBe(4);
    // The last knot is the median batch of bin 9-16 (12.5); then powers of two and the cap.
    expect(t.rows.slice(t.bins.length).map((r) => r.batchSize)).toEqual([16, 32, 64, 100]);
    for (const r of t.rows.slice(t.bins.length)) {
      expect(r.overheadMs).toBeCloseTo(last.overheadMs + 0.02 * (r.batchSize - last.batchSize), 9);
      expect(r.overheadMs).toBeCloseTo(0.6 + 0.02 * r.batchSize, 1);
    }
    expect(deriveCpuOverheads(real, SIM).tail).toBeNull();
    expect(() => deriveCpuOverheads(REAL.map((it) => ({ ...it, gpu_time: null })), SIM, { ...ONE, extendToBatchSize: 64 })).toThrow(/needs the real steps' gpu_time/);
    expect(() => deriveCpuOverheads(real, SIM, { extendToBatchSize: 0 })).toThrow(/extendToBatchSize 0/);
  });

  it("corrects each bin by the simulator's own departure from the line (binMisfit, default on)", () => {
    // Vidur's predictions bend away from any line: lone decodes +0.4 ms, 4-request decodes −0.3, mixed steps +0.5.
    const bend = (b: number, p: number) => (p > 0 ? 0.5 : b === 1 ? 0.4 : b === 4 ? -0.3 : 0);
    const comps = [
      [1, 0, 1],
      [1, 0, 1],
      [2, 0, 2],
      [4, 0, 4],
      [4, 0, 4],
      [4, 120, 3],
      [8, 0, 8],
      [8, 200, 7],
      [8, 260, 6],
    ] as const;
    const sim = comps.map(([b, p, d], i) => step(i, b, p, d, simMs(p, d) + bend(b, p)));
    // The real engine: the same compositions, each step a known host time above Vidur's prediction.
    const host = (b: number, p: number) => (p > 0 ? 2 : 0.1 * b);
    const real = comps.map(([b, p, d], i) => step(i, b, p, d, simMs(p, d) + bend(b, p) + host(b, p)));
    const t = deriveCpuOverheads(real, sim, ONE);
    expect(t.binMisfit).toBe(true);
    // Residual = real − Vidur's own prediction, whatever the line: exactly the host time, bin by bin.
    expect(t.bins.map((b) => Number(b.decodeResidualMs!.toFixed(9)))).toEqual([0.1, 0.2, 0.4, 0.8]);
    expect(t.bins[2]!.mixedResidualMs).toBeCloseTo(2, 9);
    expect(t.bins[3]!.mixedResidualMs).toBeCloseTo(2, 9);
    // Without it, each bin keeps the line's misfit there (what the residual is corrected by, reported per bin).
    const line = fitStepTimeModel(sim);
    const gap = (i: number) => sim[i]!.gpu_time! * 1e3 - predictStepMs(line, sim[i]!);
    expect(t.bins[0]!.decodeMisfitMs).toBeCloseTo((gap(0) + gap(1)) / 2, 9);
    expect(t.bins[3]!.mixedMisfitMs).toBeCloseTo((gap(7) + gap(8)) / 2, 9);
    expect(Math.abs(t.bins[0]!.decodeMisfitMs!)).toBeGreaterThan(0.05);
    const raw = deriveCpuOverheads(real, sim, { ...ONE, binMisfit: false });
    expect(raw.binMisfit).toBe(false);
    expect(raw.bins[0]!.decodeResidualMs).toBeCloseTo(0.1 + t.bins[0]!.decodeMisfitMs!, 9);
    expect(raw.bins[0]!.decodeMisfitMs).toBeNull();
    // A bin the simulation never ran (here: real 16-request steps) takes the misfit interpolated from its neighbours.
    const wide = [...real, step(20, 16, 0, 16, simMs(0, 16) + 1.6)];
    const w = deriveCpuOverheads(wide, sim, ONE);
    expect(w.bins.at(-1)!.decodeMisfitMs).toBeNull();
    expect(w.bins.at(-1)!.decodeResidualMs).toBeCloseTo(1.6 - (line.interceptMs + line.perDecodeTokenMs * 16 - simMs(0, 16)) - w.bins[3]!.decodeMisfitMs!, 9);
  });

  it("takes each bin's misfit at the real steps' batch sizes with misfitBySize", () => {
    // Vidur's decode step: steep to 16 requests, nearly flat past it, so the line over all steps is steeper than
    // Vidur inside the 17-32 bin. The simulation runs that bin's batches larger (mostly 30) than the real engine
    // (mostly 20); the real engine is Vidur + 0.5 ms at every size.
    const vidur = (b: number) => (b <= 16 ? 1 + 0.1 * b : 2.6 + 0.005 * (b - 16));
    const simSizes = [1, 2, 4, 8, 16, 20, 30, 30, 30, 30, 30];
    const realSizes = [1, 2, 4, 8, 16, 20, 20, 20, 20, 25, 30];
    const sim = simSizes.map((b, i) => step(i, b, 0, b, vidur(b)));
    const real = realSizes.map((b, i) => step(i, b, 0, b, vidur(b) + 0.5));
    const bySize = deriveCpuOverheads(real, sim, { ...ONE, misfitBySize: true, jitter: false });
    expect(bySize.misfitBySize).toBe(true);
    // Every bin's residual is the host time exactly: the misfit at 20 and 30 from the simulated steps of those sizes,
    // at 25 (no simulated step) linear between them, as Vidur and the line both are there.
    for (const b of bySize.bins) expect(b.decodeResidualMs).toBeCloseTo(0.5, 9);
    // Taken over the bin's simulated steps instead, the 17-32 bin's misfit is the 30-request steps' and the
    // residual carries the line's slope over the 20- against 30-request difference.
    const bySim = deriveCpuOverheads(real, sim, { ...ONE, jitter: false });
    expect(bySim.misfitBySize).toBeUndefined();
    const last = bySim.bins.at(-1)!;
    expect(last.maxBatchSize).toBe(32);
    expect(Math.abs(last.decodeResidualMs! - 0.5)).toBeGreaterThan(0.1);
    // The bins the two sides fill alike (one size each) agree.
    expect(bySim.bins[0]!.decodeResidualMs).toBeCloseTo(0.5, 9);
    // Without the misfit correction the option has nothing to act on.
    const raw = deriveCpuOverheads(real, sim, { ...ONE, misfitBySize: true, binMisfit: false, jitter: false });
    expect(raw.misfitBySize).toBeUndefined();
    expect(raw.bins.at(-1)!.decodeMisfitMs).toBeNull();
  });

  it("takes the decode-only residuals against a decode grid (decodeGrid), the mixed ones against Vidur", () => {
    // The engine's decode step: 1.5 ms + 0.01 ms a request + 0.02 ms per mean KV token... measured at batch 1 and 8.
    const engine = (b: number, kv: number) => 1.5 + 0.01 * b + (0.02 * kv) / b;
    const points = [1, 8].flatMap((b) => [64, 512].map((m) => ({ batch: b, kvTokens: m * b, stepMs: engine(b, m * b) })));
    const grid = { source: "grid.csv", points };
    const at = decodeGridLookup(grid);
    // Exact at the points, linear in mean KV within a batch size and in batch size between them, clamped outside.
    expect(at(8, 512 * 8)).toBeCloseTo(engine(8, 512 * 8), 12);
    expect(at(1, 288)).toBeCloseTo(engine(1, 288), 12);
    expect(at(4, 4 * 288)).toBeCloseTo((engine(1, 288) * 4 + engine(8, 8 * 288) * 3) / 7, 12);
    expect(at(1, 2000)).toBeCloseTo(engine(1, 512), 12);
    expect(at(16, 16 * 64)).toBeCloseTo(engine(8, 8 * 64), 12);
    // Real decode steps: the grid's step + 0.4 ms (host); mixed steps: Vidur's + 2 ms. Vidur's decode predictions
    // bend away from the line (they would leave a misfit), which the grid's residuals never see.
    const kv = (b: number) => 300 * b;
    const comps = [
      [1, 0, 1],
      [2, 0, 2],
      [4, 0, 4],
      [8, 0, 8],
      [4, 120, 3],
      [8, 200, 7],
    ] as const;
    const sim = comps.map(([b, p, d], i) => ({ ...step(i, b, p, d, simMs(p, d) + (p === 0 && b === 4 ? -0.3 : 0)), kv_tokens_in_use: kv(b) }));
    const real = comps.map(([b, p, d], i) => ({ ...step(i, b, p, d, p > 0 ? simMs(p, d) + 2 : at(b, kv(b)) + 0.4), kv_tokens_in_use: kv(b) }));
    const t = deriveCpuOverheads(real, sim, { ...ONE, decodeGrid: grid, jitter: false });
    expect(t.decodeGrid).toEqual(grid);
    for (const b of t.bins) {
      expect(b.decodeResidualMs).toBeCloseTo(0.4, 9);
      expect(b.decodeMisfitMs).toBeNull();
    }
    expect(t.bins.find((b) => b.maxBatchSize === 4)!.mixedResidualMs).toBeCloseTo(2, 9);
    expect(deriveCpuOverheads(real, sim, { ...ONE, jitter: false }).decodeGrid).toBeUndefined();
    // Not with the decode KV term; a decode-only real step needs its KV.
    expect(() => deriveCpuOverheads(real, sim, { ...ONE, decodeGrid: grid, decodeKvTerm: true })).toThrow(/decodeGrid and decodeKvTerm/);
    const noKv = real.map((it) => ({ ...it, kv_tokens_in_use: null }));
    expect(() => deriveCpuOverheads(noKv, sim, { ...ONE, decodeGrid: grid })).toThrow(/real step 0 \(decode-only, 1 requests\) has no kv_tokens_in_use/);
  });

  it("reads a decode grid CSV and writes it back; bad files are named by file and line", async () => {
    const path = join(dir, "grid.csv");
    await writeFile(path, "batch,mean_context,kv_tokens,step_ms,p10_ms\n1,16.0,17,1.6,1.5\n8,100.5,812,1.9,1.8\n");
    const grid = await readDecodeGrid(path);
    expect(grid).toEqual({ source: path, points: [{ batch: 1, kvTokens: 17, stepMs: 1.6 }, { batch: 8, kvTokens: 812, stepMs: 1.9 }] });
    expect(formatDecodeGridCsv(grid)).toBe("batch,kv_tokens,step_ms\n1,17,1.6\n8,812,1.9\n");
    await writeFile(path, "batch,kv,step_ms\n1,17,1.6\n");
    await expect(readDecodeGrid(path)).rejects.toThrow(`${path}:1: expected a header with columns batch, kv_tokens, step_ms`);
    await writeFile(path, "batch,kv_tokens,step_ms\n1,17,1.6\n2,1,1.7\n");
    await expect(readDecodeGrid(path)).rejects.toThrow(`${path}:3: expected an integer batch >= 1, kv_tokens >= batch and step_ms > 0 (got 2,1,1.7)`);
    await writeFile(path, "batch,kv_tokens,step_ms\n");
    await expect(readDecodeGrid(path)).rejects.toThrow(`${path}: no rows after the header`);
    await expect(readDecodeGrid(join(dir, "none.csv"))).rejects.toThrow(/decode grid .*none\.csv cannot be read/);
  });

  it("interpolates a missing decode value between knots and keeps negative corrections signed", () => {
    const real = [
      step(0, 1, 0, 1, 0.5), // faster than predicted (1.1 ms): residual -0.6
      step(1, 4, 64, 3, 1 + 0.64 + 0.3 + 30),
      step(2, 8, 0, 8, 1.8 + 7),
    ];
    const t = deriveCpuOverheads(real, SIM, ONE);
    // decode knots: 1 -> -0.6, 4 -> interpolated -0.6 + 7.6 * 3/7, 8 -> 7.
    const d4 = -0.6 + (7.6 * 3) / 7;
    expect(t.rows.map((r) => r.batchSize)).toEqual([1, 4, 8]);
    expect(t.rows[0]!.overheadMs).toBeCloseTo(-0.6, 9);
    expect(t.rows[1]!.overheadMs).toBeCloseTo(d4, 9);
    expect(t.rows[2]!.overheadMs).toBeCloseTo(7, 9);
    expect(t.rows[1]!.prefillExtraMs).toBeCloseTo(30 - d4, 9);
    // The extra is clamped from the only mixed knot towards both ends.
    expect(t.rows[0]!.prefillExtraMs).toBeCloseTo(30.6, 9);
    expect(t.rows[2]!.prefillExtraMs).toBeCloseTo(23, 9);
  });

  it("treats bins thinner than minStepsPerBin (default 5) as missing and interpolates over them", () => {
    // Default 5: only bin [1] has >= 5 decode steps (residual 3); the one-step mixed bins count for nothing.
    const real = [...Array.from({ length: 5 }, (_, i) => step(i, 1, 0, 1, 1.1 + 3)), step(5, 4, 100, 3, 2.3 + 20)];
    const t = deriveCpuOverheads(real, SIM);
    expect(t.bins.map((b) => [b.decodeResidualMs === null ? null : Number(b.decodeResidualMs.toFixed(9)), b.mixedResidualMs])).toEqual([
      [3, null],
      [null, null],
    ]);
    expect(t.rows.map((r) => [r.batchSize, Number(r.overheadMs.toFixed(9)), r.prefillExtraMs])).toEqual([
      [1, 3, 0],
      [4, 3, 0],
    ]);
    expect(deriveCpuOverheads(real, SIM, { minStepsPerBin: 1 }).rows[1]!.prefillExtraMs).toBeCloseTo(17, 9);
    expect(() => deriveCpuOverheads(real, SIM, { minStepsPerBin: 0 })).toThrow(/minStepsPerBin 0/);
  });

  it("refuses a real run without steps", () => {
    expect(() => deriveCpuOverheads([], SIM, ONE)).toThrow(/no engine steps/);
  });
});

describe("the prefill-prefix term: prefillPrefixWork / deriveCpuOverheads({ prefixWork })", () => {
  it("hands each step's prefill tokens to the prompts first come first served and sums chunk x prefix", () => {
    // Prompts 1200, 300, 100 in arrival order. Step 2 is the first prompt's second 512-token chunk (prefix 512); step
    // 3 its last 176 tokens (prefix 1024) and all of the second prompt (prefix 0); the 50 tokens of step 5 are past
    // every prompt (a recompute) and count with prefix 0.
    const steps = [512, 0, 512, 476, 100, 50].map((p) => ({ num_prefill_tokens: p }));
    const { work, unmatchedTokens } = prefillPrefixWork(steps, [1200, 300, 100]);
    expect(work).toEqual([0, 0, (512 * 512) / 1e6, (176 * 1024) / 1e6, 0, 0]);
    expect(unmatchedTokens).toBe(50);
  });

  // Batch-4 steps: decode-only ones, and mixed ones with chunks of 128..512 tokens after prefixes of 0..2048.
  // Vidur: 1 ms + 0.01 ms/prefill token + 0.1 ms/decode token + 1.5 ms per million prefix pairs. Real: Vidur +
  // 0.5 ms on every step, + 1.5 ms more on mixed steps, + 1.0 ms more per million pairs.
  const simT = (p: number, d: number, x: number) => 1 + 0.01 * p + 0.1 * d + 1.5 * x;
  const compositions: { p: number; d: number; x: number }[] = [];
  for (let i = 0; i < 10; i++) compositions.push({ p: 0, d: 4, x: 0 });
  for (const p of [128, 256, 384, 512]) for (const k of [0, 256, 512, 1024, 1536, 2048]) compositions.push({ p, d: 3, x: (p * k) / 1e6 });
  const sim = compositions.map(({ p, d, x }, i) => step(i, 4, p, d, simT(p, d, x)));
  const real = compositions.map(({ p, d, x }, i) => step(i, 4, p, d, simT(p, d, x) + 0.5 + (p > 0 ? 1.5 + 1.0 * x : 0)));
  const work = compositions.map((c) => c.x);

  it("recovers the real and the simulated slope, adds their difference, and takes the prefill extra at zero prefix", () => {
    const t = deriveCpuOverheads(real, sim, { prefixWork: { real: work, sim: work }, jitter: false });
    expect(t.prefix!.msPerMPair).toBeCloseTo(1.0, 9);
    expect(t.prefix!.realMsPerMPair - t.prefix!.simMsPerMPair).toBeCloseTo(1.0, 9);
    expect(t.prefix!.mixedSteps).toBe(24);
    expect(t.rows[0]!.overheadMs).toBeCloseTo(0.5, 9);
    expect(t.rows[0]!.prefillExtraMs).toBeCloseTo(1.5, 9);
    const csv = formatCpuOverheadsCsv(t, { modelName: "m" }).split("\n");
    expect(csv[0]).toBe("model_name,tensor_parallel_degree,batch_size,schedule_median,prefill_extra_median,prefix_ms_per_mpair");
    expect(csv[1]).toBe("m,1,4,0.5,1.5,1");
    // Without the term the prefill extra is the mean over the fit load's prefixes, and there is no column.
    const plain = deriveCpuOverheads(real, sim, { jitter: false });
    expect(plain.prefix).toBeUndefined();
    const mixedX = work.filter((_, i) => compositions[i]!.p > 0);
    const meanX = mixedX.reduce((a, v) => a + v, 0) / mixedX.length;
    expect(plain.rows[0]!.prefillExtraMs).toBeCloseTo(1.5 + meanX, 9);
    expect(formatCpuOverheadsCsv(plain, { modelName: "m" })).not.toContain("prefix_ms_per_mpair");
  });

  it("is null with fewer than 20 prefixed mixed steps on either side, and refuses work arrays of the wrong length", () => {
    const zero = work.map(() => 0);
    expect(deriveCpuOverheads(real, sim, { prefixWork: { real: zero, sim: zero } }).prefix).toBeNull();
    // 19 of the 20 prefixed steps' work dropped on the simulated side only: not identified there, so no term.
    let dropped = 0;
    const fewer = work.map((x) => (x > 0 && dropped++ > 0 ? 0 : x));
    expect(deriveCpuOverheads(real, sim, { prefixWork: { real: work, sim: fewer } }).prefix).toBeNull();
    expect(() => deriveCpuOverheads(real, sim, { prefixWork: { real: work.slice(1), sim: work } })).toThrow(/one value per step \(real 34, simulated 34; got 33, 34\)/);
  });

  it("writeCpuOverheadsFromRuns({ prefixTerm }) reads each run's prompts in arrival order from request_metrics.csv", async () => {
    // 25 prompts of 1,024 tokens, each prefilled in two 512-token steps (real 5 then 6 ms, simulated 5 then 5.5 ms),
    // and a refused request (no first token: its prefill never ran) that arrived first; the file lists them last
    // to first. Right reconstruction: every second step is a chunk after 512 prompt tokens, 0.262144 M pairs;
    // slopes 1 / 0.262144 (real) and 0.5 / 0.262144 (simulated). Counting the refused request would shift every
    // chunk boundary.
    const metric = (id: number, arrived: number, prompt: number, firstToken: number | null): RequestMetric => ({
      request_id: id,
      arrived_at: arrived,
      sent_at: null,
      first_token_at: firstToken,
      completed_at: null,
      ttft: null,
      e2e: null,
      tpot: null,
      queue_time: null,
      num_prefill_tokens: prompt,
      num_decode_tokens: 1,
      num_output_tokens: 1,
      status: firstToken === null ? "failed" : "ok",
      error: "",
    });
    const metrics = [metric(0, 0, 99, null), ...Array.from({ length: 25 }, (_, i) => metric(i + 1, 0.01 * (i + 1), 1024, 1))].reverse();
    const times = { real: [5, 6], sim: [5, 5.5] };
    for (const side of ["real", "sim"] as const) {
      await writeIterations(join(dir, side, "iterations.csv"), Array.from({ length: 50 }, (_, i) => step(i, 1, 512, 0, times[side][i % 2]!)));
      await writeRequestMetrics(join(dir, side, "request_metrics.csv"), metrics);
    }
    const args = { realDir: join(dir, "real"), simDir: join(dir, "sim"), outPath: join(dir, "o.csv"), modelName: "m", minStepsPerBin: 1 };
    const t = await writeCpuOverheadsFromRuns({ ...args, prefixTerm: true });
    expect(t.prefix!.realMsPerMPair).toBeCloseTo(1 / 0.262144, 6);
    expect(t.prefix!.msPerMPair).toBeCloseTo(0.5 / 0.262144, 6);
    expect((await readFile(join(dir, "o.csv"), "utf8")).split("\n")[0]).toContain(",prefix_ms_per_mpair");
    expect((await writeCpuOverheadsFromRuns(args)).prefix).toBeUndefined();
    await expect(writeCpuOverheadsFromRuns({ ...args, simDir: join(dir, "real2"), prefixTerm: true })).rejects.toSatisfy(
      (e: unknown) => isVidurBridgeError(e, "VIDUR_CALIBRATION_INPUT") && e.message.includes(join(dir, "real2")),
    );
  });
});

describe("deriveCpuOverheads: the step-size term", () => {
  it("stepClassBounds: powers of two and halfway, up to the first bound >= the largest step", () => {
    expect(stepClassBounds(512)).toEqual([32, 48, 64, 96, 128, 192, 256, 384, 512]);
    expect(stepClassBounds(513)).toEqual([32, 48, 64, 96, 128, 192, 256, 384, 512, 768]);
    expect(stepClassBounds(1)).toEqual([32]);
  });

  it("solveLinear solves a small system and reports a singular one", () => {
    expect(solveLinear([[0, 2], [1, 1]], [4, 3])!.map((v) => Number(v.toFixed(12)))).toEqual([1, 2]);
    expect(solveLinear([[1, 2], [2, 4]], [1, 2])).toBeNull();
  });

  // Batch sizes 4 and 8 (two bins); mixed steps of 200, 300 and 480 prefill tokens beside 3 or 7 decode rows (step
  // classes <= 256, <= 384, <= 512), 30 of each per bin, with prefixes of 0..1.16 M pairs. Vidur: 1 ms + 0.01 ms/
  // prefill token + 0.1 ms/decode token, + 0.3 ms past 384 step tokens, + 1.5 ms per million prefix pairs. Real:
  // Vidur's line (no jump) + 0.5 ms on every step + 1 ms on mixed steps + 0.4 ms at <= 256 step tokens + 2.5 ms per
  // million pairs.
  const vidurMs = (p: number, d: number, x: number) => 1 + 0.01 * p + 0.1 * d + (p + d > 384 ? 0.3 : 0) + 1.5 * x;
  const realMs = (p: number, d: number, x: number) => 1 + 0.01 * p + 0.1 * d + 0.5 + (p > 0 ? 1 + (p + d <= 256 ? 0.4 : 0) : 0) + 2.5 * x;
  const comps: { b: number; p: number; d: number; x: number }[] = [];
  for (const b of [4, 8]) {
    for (let i = 0; i < 20; i++) comps.push({ b, p: 0, d: b, x: 0 });
    for (const p of [200, 300, 480]) for (let i = 0; i < 30; i++) comps.push({ b, p, d: b - 1, x: i % 3 === 0 ? 0 : (p * 128 * (i % 7)) / 1e6 });
  }
  const sim = comps.map(({ b, p, d, x }, i) => step(i, b, p, d, vidurMs(p, d, x)));
  const real = comps.map(({ b, p, d, x }, i) => step(i, b, p, d, realMs(p, d, x)));
  const work = comps.map((c) => c.x);

  it("recovers each side's class offsets and prefix slope jointly, adds their difference, and takes the extras at the reference class", () => {
    const t = deriveCpuOverheads(real, sim, { prefixWork: { real: work, sim: work }, stepSizeTerm: true, jitter: false });
    const c = t.stepSize!;
    expect(c.boundsTokens).toEqual([32, 48, 64, 96, 128, 192, 256, 384, 512]);
    expect(c.realSteps.slice(6)).toEqual([60, 60, 60]);
    // Ties on step count go to the first class: <= 256 is the reference.
    expect(c.referenceTokens).toBe(256);
    // Each side's offsets are against the line fitted on Vidur's steps (whose per-token slope took in part of the
    // jump); their difference is the real departure less Vidur's.
    const diff = c.realMs.slice(6).map((r, j) => Number((r! - c.simMs[6 + j]!).toFixed(9)));
    expect(diff).toEqual([0, -0.4, -0.7]);
    expect(c.realMs[6]).toBe(0);
    expect(c.correctionMs.map((v) => Number(v.toFixed(9)))).toEqual([0, 0, 0, 0, 0, 0, 0, -0.4, -0.7]);
    // The classes below 256 tokens hold no steps: not identified, filled from the nearest identified one.
    expect(c.realMs.slice(0, 6)).toEqual([null, null, null, null, null, null]);
    expect(t.prefix!.msPerMPair).toBeCloseTo(1.0, 9);
    for (const r of t.rows) {
      expect(r.overheadMs).toBeCloseTo(0.5, 9);
      expect(r.prefillExtraMs).toBeCloseTo(1.4, 9);
    }
    const csv = formatCpuOverheadsCsv(t, { modelName: "m" }).split("\n");
    expect(csv[0]).toBe(
      "model_name,tensor_parallel_degree,batch_size,schedule_median,prefill_extra_median,prefix_ms_per_mpair,step_tokens_le_32,step_tokens_le_48,step_tokens_le_64,step_tokens_le_96,step_tokens_le_128,step_tokens_le_192,step_tokens_le_256,step_tokens_le_384,step_tokens_le_512",
    );
    expect(csv[1]).toBe("m,1,4,0.5,1.4,1,0,0,0,0,0,0,0,-0.4,-0.7");
    // A simulated step of each class, corrected as the sidecar does, lands on the real one.
    for (const [p, x] of [[200, 0.1], [300, 0], [480, 0.3]] as const) {
      const cls = c.boundsTokens.findIndex((b) => p + 3 <= b);
      const corrected = vidurMs(p, 3, x) + 0.5 + 1.4 + t.prefix!.msPerMPair * x + c.correctionMs[cls]!;
      expect(corrected).toBeCloseTo(realMs(p, 3, x), 9);
    }
  });

  it("leaves the table as before when off, is null with fewer than two classes of 20 steps on each side, and fits classes alone without prefix work", () => {
    const off = deriveCpuOverheads(real, sim, { prefixWork: { real: work, sim: work }, jitter: false });
    expect(off.stepSize).toBeUndefined();
    expect(formatCpuOverheadsCsv(off, { modelName: "m" })).not.toContain("step_tokens_le_");
    // Without the term one extra averages the classes: a corrected 200-token step comes out too fast, a 480-token
    // one too slow.
    const corrected = (p: number) => vidurMs(p, 3, 0) + off.rows[0]!.overheadMs + off.rows[0]!.prefillExtraMs;
    expect(realMs(200, 3, 0) - corrected(200)).toBeGreaterThan(0.2);
    expect(realMs(480, 3, 0) - corrected(480)).toBeLessThan(-0.2);
    // Only the 480-token steps kept on the simulated side: one identified class.
    const keep = comps.map((c) => c.p === 0 || c.p === 480);
    const one = deriveCpuOverheads(real, sim.filter((_, i) => keep[i]), { stepSizeTerm: true, jitter: false });
    expect(one.stepSize).toBeNull();
    // 19 steps of the 300-token class on the real side: that class is not identified, the other two are.
    let n300 = 0;
    const thin = comps.map((c) => c.p !== 300 || n300++ < 19);
    const t = deriveCpuOverheads(real.filter((_, i) => thin[i]), sim, { stepSizeTerm: true, jitter: false });
    expect(t.stepSize!.realSteps.slice(6)).toEqual([60, 19, 60]);
    expect(t.stepSize!.realMs[7]).toBeNull();
    expect(t.prefix).toBeUndefined();
    // Classes alone (no prefix work): the prefixes' mean stays in the offsets, but the class differences are the
    // same on both sides' lines, so the correction at the 480-token class is near -0.7 and the 300-token class is
    // interpolated between its neighbours.
    const k = t.stepSize!.correctionMs;
    expect(k[7]).toBeCloseTo((k[6]! + k[8]!) / 2, 9);
  });
});

describe("deriveCpuOverheads: the phase split", () => {
  // The real engine's phases of a step of b requests (ms): schedule 0.05, prepare 0.3 + 0.004 b (decode-only) or 0.8
  // (mixed), process 0.02 b, and the wait on the device Vidur's prediction + 0.25 (the device-side bias). GPU time =
  // the wait. Decode-only overhead = 0.05 + 0.3 + 0.004 b + 0.02 b + 0.25 = 0.6 + 0.024 b.
  const schedule = () => 0.05;
  const prepare = (b: number) => 0.3 + 0.004 * b;
  const process = (b: number) => 0.02 * b;
  const BIAS = 0.25;
  const phased = (i: number, b: number, p: number, d: number): Iteration => {
    const ph = [schedule(), p > 0 ? 0.8 : prepare(b), simMs(p, d) + BIAS, process(b)];
    const wall = ph.reduce((acc, v) => acc + v, 0);
    return {
      ...step(i, b, p, d, wall),
      gpu_time: ph[2]! / 1e3,
      schedule_time: ph[0]! / 1e3,
      prepare_time: ph[1]! / 1e3,
      wait_time: ph[2]! / 1e3,
      process_time: ph[3]! / 1e3,
    };
  };
  // Five decode-only steps at each batch size 1 and 3..16 (two at 2: that bin is too thin and gets interpolated),
  // and five mixed ones at 3..16, so every bin's sizes are symmetric (its knot is its mean batch size).
  const real: Iteration[] = [];
  for (let b = 1; b <= 16; b++) {
    for (let k = 0; k < (b === 2 ? 2 : 5); k++) real.push(phased(real.length, b, 0, b));
    if (b >= 3) for (let k = 0; k < 5; k++) real.push(phased(real.length, b, 100, b - 1));
  }
  const strip = (steps: readonly Iteration[]) => steps.map(({ schedule_time: _s, prepare_time: _p, wait_time: _w, process_time: _q, ...rest }) => rest);

  it("summarizes each bin's decode-only and mixed phases and splits each row's overhead into host phases", () => {
    const t = deriveCpuOverheads(real, SIM);
    expect(t.phases).toBe(true);
    expect(t.bins.map((b) => b.batchSize)).toEqual([1, 2, 3.5, 6.5, 12.5]);
    expect(t.bins[1]!.decodePhasesMs).toBeNull();
    expect(t.bins[1]!.mixedPhasesMs).toBeNull();
    expect(t.bins[0]!.mixedPhasesMs).toBeNull();
    for (const b of [t.bins[0]!, ...t.bins.slice(2)]) {
      const d = b.decodePhasesMs!;
      expect(d.schedule).toBeCloseTo(0.05, 9);
      expect(d.prepare).toBeCloseTo(prepare(b.batchSize), 9);
      expect(d.wait).toBeCloseTo(simMs(0, b.batchSize) + BIAS, 9);
      expect(d.process).toBeCloseTo(process(b.batchSize), 9);
    }
    for (const b of t.bins.slice(2)) {
      const m = b.mixedPhasesMs!;
      expect(m.prepare).toBeCloseTo(0.8, 9);
      expect(m.wait).toBeCloseTo(simMs(100, b.batchSize - 1) + BIAS, 9);
      expect(m.process).toBeCloseTo(process(b.batchSize), 9);
    }
    // Every row, the thin bin 2 included (interpolated between its neighbours), holds the phases at its knot; the
    // rest of its overhead is the device-side bias.
    for (const r of t.rows) {
      const h = r.hostPhasesMs!;
      expect(h.schedule).toBeCloseTo(0.05, 9);
      expect(h.prepare).toBeCloseTo(prepare(r.batchSize), 9);
      expect(h.process).toBeCloseTo(process(r.batchSize), 9);
      expect(r.overheadMs).toBeCloseTo(0.6 + 0.024 * r.batchSize, 9);
      expect(r.overheadMs - h.schedule - h.prepare - h.process).toBeCloseTo(BIAS, 9);
    }
  });

  it("writes Vidur's phase columns plus the bias after batch_size, summing to the lumped table without phases", () => {
    const t = deriveCpuOverheads(real, SIM);
    const lumped = deriveCpuOverheads(strip(real), SIM);
    expect(lumped.phases).toBeUndefined();
    expect(lumped.bins.every((b) => b.decodePhasesMs === undefined && b.mixedPhasesMs === undefined)).toBe(true);
    expect(lumped.rows.every((r) => r.hostPhasesMs === undefined)).toBe(true);
    // The numbers of the table are those without phases.
    expect(t.rows.map(({ hostPhasesMs: _h, ...r }) => r)).toEqual(lumped.rows);
    const csv = formatCpuOverheadsCsv(t, { modelName: "a/b" }).trimEnd().split("\n");
    const plain = formatCpuOverheadsCsv(lumped, { modelName: "a/b" }).trimEnd().split("\n");
    // The 40 decode-only steps of bin 9-16 give jitter columns: they stay where they were, after the prefill extra.
    const jitterCols = ",jitter_q02,jitter_q10,jitter_q25,jitter_q50,jitter_q75,jitter_q90,jitter_q98";
    expect(csv[0]).toBe(
      `model_name,tensor_parallel_degree,batch_size,schedule_median,prepare_inputs_e2e_median,process_model_outputs_median,model_time_bias_median,prefill_extra_median${jitterCols}`,
    );
    expect(plain[0]).toBe(`model_name,tensor_parallel_degree,batch_size,schedule_median,prefill_extra_median${jitterCols}`);
    expect(csv).toHaveLength(plain.length);
    for (let i = 1; i < csv.length; i++) {
      const split = csv[i]!.split(",");
      const one = plain[i]!.split(",");
      expect(split.slice(0, 3)).toEqual(one.slice(0, 3));
      const [s, p, q, bias] = split.slice(3, 7).map(Number);
      expect(s! + p! + q! + bias!).toBeCloseTo(Number(one[3]), 5);
      expect(bias).toBeCloseTo(BIAS, 5);
      expect(s).toBeCloseTo(0.05, 5);
      expect(split.slice(7)).toEqual(one.slice(4));
    }
    expect(csv.join("\n")).not.toContain("sampler_e2e_median");
  });

  it("continues each tail row's host phases along its own line over the decode-only steps", () => {
    const t = deriveCpuOverheads(real, SIM, { extendToBatchSize: 100 });
    const lumped = deriveCpuOverheads(strip(real), SIM, { extendToBatchSize: 100 });
    // The bins are the same; past the last knot the overhead follows the measured host phases' summed slope (0 +
    // 0.004 + 0.02 ms per request) instead of the wall - gpu_time line, so the bias (the rest) stays at the last knot's.
    const knotsOnly = (rows: typeof t.rows) => rows.slice(0, t.bins.length).map(({ hostPhasesMs: _h, ...r }) => r);
    expect(knotsOnly(t.rows)).toEqual(knotsOnly(lumped.rows));
    expect(t.tail!.hostSlopeFrom).toBe("phases");
    expect(lumped.tail!.hostSlopeFrom).toBe("gpu_time");
    expect(t.tail!.hostMsPerRequest).toBeCloseTo(0.024, 9);
    const last = t.rows[t.bins.length - 1]!;
    const biasOf = (r: (typeof t.rows)[number]) => r.overheadMs - r.hostPhasesMs!.schedule - r.hostPhasesMs!.prepare - r.hostPhasesMs!.process;
    for (const r of t.rows.slice(t.bins.length)) {
      expect(r.overheadMs).toBeCloseTo(last.overheadMs + 0.024 * (r.batchSize - last.batchSize), 9);
      expect(biasOf(r)).toBeCloseTo(biasOf(last), 9);
    }
    expect(t.tail!.phaseMsPerRequest!.schedule).toBeCloseTo(0, 9);
    expect(t.tail!.phaseMsPerRequest!.prepare).toBeCloseTo(0.004, 9);
    expect(t.tail!.phaseMsPerRequest!.process).toBeCloseTo(0.02, 9);
    const tailRows = t.rows.slice(t.bins.length);
    expect(tailRows.map((r) => r.batchSize)).toEqual([16, 32, 64, 100]);
    for (const r of tailRows) {
      expect(r.hostPhasesMs!.schedule).toBeCloseTo(0.05, 9);
      expect(r.hostPhasesMs!.prepare).toBeCloseTo(prepare(r.batchSize), 9);
      expect(r.hostPhasesMs!.process).toBeCloseTo(process(r.batchSize), 9);
    }
    const csv = formatCpuOverheadsCsv(t, { modelName: "a/b" }).trimEnd().split("\n");
    expect(csv.at(-1)!.split(",").slice(2, 6).map(Number)).toEqual([100, 0.05, Number(prepare(100).toFixed(6)), Number(process(100).toFixed(6))]);
    // A phase that shrinks with the batch is held at the last knot's value (slope clamped at 0), like the overhead.
    const shrinking = real.map((it) => ({ ...it, schedule_time: (0.5 - 0.01 * it.batch_size) / 1e3, wait_time: it.wait_time! + (0.01 * it.batch_size - 0.45) / 1e3 }));
    const held = deriveCpuOverheads(shrinking, SIM, { extendToBatchSize: 100 });
    expect(held.tail!.phaseMsPerRequest!.schedule).toBeCloseTo(-0.01, 9);
    const lastKnot = held.rows[held.bins.length - 1]!;
    expect(lastKnot.hostPhasesMs!.schedule).toBeCloseTo(0.5 - 0.01 * 12.5, 9);
    for (const r of held.rows.slice(held.bins.length)) expect(r.hostPhasesMs!.schedule).toBeCloseTo(lastKnot.hostPhasesMs!.schedule, 9);
  });

  it("falls back to the lumped schedule_median when one step lacks a phase, or no bin has enough decode-only steps", () => {
    const plainCsv = formatCpuOverheadsCsv(deriveCpuOverheads(strip(real), SIM), { modelName: "a/b" });
    for (const missing of [{ prepare_time: null }, { process_time: undefined }]) {
      const oneShort = real.map((it, i) => (i === 7 ? { ...it, ...missing } : it));
      const t = deriveCpuOverheads(oneShort, SIM);
      expect(t.phases).toBeUndefined();
      expect(t.bins.every((b) => b.decodePhasesMs === undefined)).toBe(true);
      expect(t.rows.every((r) => r.hostPhasesMs === undefined)).toBe(true);
      expect(formatCpuOverheadsCsv(t, { modelName: "a/b" })).toBe(plainCsv);
    }
    // A step of batch 0 (an idle step) does not count.
    const idle = { ...step(999, 0, 0, 0, 0.1), schedule_time: null };
    expect(deriveCpuOverheads([...real, idle], SIM).phases).toBe(true);
    // Phases everywhere but every bin too thin: the split is not written.
    const thin = deriveCpuOverheads(real, SIM, { minStepsPerBin: 200 });
    expect(thin.phases).toBe(false);
    expect(thin.rows.every((r) => r.hostPhasesMs === null)).toBe(true);
    expect(formatCpuOverheadsCsv(thin, { modelName: "a/b" })).toBe(formatCpuOverheadsCsv(deriveCpuOverheads(strip(real), SIM, { minStepsPerBin: 200 }), { modelName: "a/b" }));
  });

  it("scales only the host phases (scaleHostPhases): the bias, prefill extra and jitter stay as fitted", () => {
    const t = deriveCpuOverheads(real, SIM, { extendToBatchSize: 40 });
    const s = scaleHostPhases(t, 1.5);
    expect(s.rows).toHaveLength(t.rows.length);
    t.rows.forEach((r, i) => {
      const x = s.rows[i]!;
      const h = r.hostPhasesMs!;
      expect(x.hostPhasesMs!.schedule).toBeCloseTo(h.schedule * 1.5, 9);
      expect(x.hostPhasesMs!.prepare).toBeCloseTo(h.prepare * 1.5, 9);
      expect(x.hostPhasesMs!.process).toBeCloseTo(h.process * 1.5, 9);
      expect(x.overheadMs - r.overheadMs).toBeCloseTo(0.5 * (h.schedule + h.prepare + h.process), 9);
      expect(modelTimeBiasMs(x)).toBeCloseTo(modelTimeBiasMs(r)!, 9);
      expect([x.batchSize, x.prefillExtraMs, x.jitterMs]).toEqual([r.batchSize, r.prefillExtraMs, r.jitterMs]);
    });
    expect(scaleHostPhases(t, 1).rows).toEqual(t.rows);
    // The written host columns move by the ratio; the bias and the rest of each line do not.
    const before = formatCpuOverheadsCsv(t, { modelName: "a/b" }).trimEnd().split("\n");
    const after = formatCpuOverheadsCsv(s, { modelName: "a/b" }).trimEnd().split("\n");
    expect(after[0]).toBe(before[0]);
    for (let i = 1; i < before.length; i++) {
      const [b, a] = [before[i]!.split(","), after[i]!.split(",")];
      for (const c of [3, 4, 5]) expect(Number(a[c])).toBeCloseTo(Number(b[c]) * 1.5, 5);
      expect([...a.slice(0, 3), ...a.slice(6)]).toEqual([...b.slice(0, 3), ...b.slice(6)]);
    }
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => scaleHostPhases(t, bad)).toThrow(/host scale .*expected a finite number > 0/);
    expect(() => scaleHostPhases(deriveCpuOverheads(strip(real), SIM), 1.2)).toThrow(/no host-phase split/);
  });

  it("scales the serving path's every time and no count (scaleServingPath)", () => {
    const d = {
      batchSizes: [1, 8, 64],
      delaysS: [0.001, 0.0012, 0.002],
      firstTokenExtraS: -0.0001,
      tokens: 5000,
      tailSPerRequest: 1e-5,
      admissionS: 0.0009,
      admissionRequests: 300,
      admissionConsistent: 0.9,
      frontSPerToken: 2e-5,
      frontSPerStep: 1e-5,
      admissionBacklogMeanS: 0,
      admissionInSimulation: true,
      frontHandoffS: 0.0005,
    };
    const s = scaleServingPath(d, 1.25);
    expect(s.delaysS).toHaveLength(3);
    s.delaysS.forEach((v, i) => {
      expect(v).toBeCloseTo(d.delaysS[i]! * 1.25, 15);
    });
    for (const k of ["firstTokenExtraS", "tailSPerRequest", "admissionS", "frontSPerToken", "frontSPerStep", "frontHandoffS"] as const) {
      expect(s[k]).toBeCloseTo(d[k] * 1.25, 15);
    }
    expect(s.admissionBacklogMeanS).toBe(0);
    expect([s.batchSizes, s.tokens, s.admissionRequests, s.admissionConsistent, s.admissionInSimulation]).toEqual([d.batchSizes, 5000, 300, 0.9, true]);
    // Fields a table lacks stay absent; the input is not touched.
    const plain = scaleServingPath({ batchSizes: [1], delaysS: [0.001], firstTokenExtraS: 0, tokens: 10 }, 2);
    expect(plain).toEqual({ batchSizes: [1], delaysS: [0.002], firstTokenExtraS: 0, tokens: 10 });
    expect(d.delaysS).toEqual([0.001, 0.0012, 0.002]);
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => scaleServingPath(d, bad)).toThrow(/serving-path scale .*expected a finite number > 0/);
  });

  it("adds a preparation shift after the ratio, never below zero, and moves the overhead by it", () => {
    const t = deriveCpuOverheads(real, SIM, { extendToBatchSize: 40 });
    const s = scaleHostPhases(t, 1.2, -0.05);
    t.rows.forEach((r, i) => {
      const x = s.rows[i]!;
      const h = r.hostPhasesMs!;
      expect(x.hostPhasesMs!.prepare).toBeCloseTo(Math.max(0, h.prepare * 1.2 - 0.05), 9);
      expect(x.hostPhasesMs!.schedule).toBeCloseTo(h.schedule * 1.2, 9);
      const moved = x.hostPhasesMs!.schedule + x.hostPhasesMs!.prepare + x.hostPhasesMs!.process - (h.schedule + h.prepare + h.process);
      expect(x.overheadMs - r.overheadMs).toBeCloseTo(moved, 9);
      expect(modelTimeBiasMs(x)).toBeCloseTo(modelTimeBiasMs(r)!, 9);
    });
    // A shift larger than any row's preparation leaves 0, not a negative time.
    const floor = scaleHostPhases(t, 1, -1e3);
    for (const r of floor.rows) expect(r.hostPhasesMs!.prepare).toBe(0);
    expect(scaleHostPhases(t, 1.2, 0).rows).toEqual(scaleHostPhases(t, 1.2).rows);
    expect(() => scaleHostPhases(t, 1, Number.NaN)).toThrow(/preparation shift NaN ms: expected a finite number/);
  });
});

describe("hostReference / hostScale (--host-scale)", () => {
  // Decode-only steps of 1-4 requests, 25 at each size: schedule 0.05, prepare 0.3, process 0.02 b ms, probe 0.03 ms,
  // all times `speed`; one mixed step per size (ignored by "phases").
  const run = (speed: number, sizes = [1, 2, 3, 4]): Iteration[] => {
    const out: Iteration[] = [];
    for (const b of sizes) {
      for (let k = 0; k <= 25; k++) {
        const mixed = k === 25;
        out.push({
          ...step(out.length, b, mixed ? 64 : 0, mixed ? b - 1 : b, 2),
          schedule_time: (0.05 * speed) / 1e3,
          prepare_time: ((mixed ? 0.9 : 0.3) * speed) / 1e3,
          wait_time: 1.5 / 1e3,
          process_time: (0.02 * b * speed) / 1e3,
          host_probe_time: (0.03 * speed) / 1e3,
        });
      }
    }
    return out;
  };

  it("gives the fit's level per source and each run's ratio to it", () => {
    const fit = run(1);
    const probe = hostReference("probe", fit, "fit");
    expect(probe).toEqual({ source: "probe", probeMs: expect.closeTo(0.03, 12), steps: 104 });
    const phases = hostReference("phases", fit, "fit");
    expect(phases.source).toBe("phases");
    expect(phases.steps).toBe(100); // the four sizes' decode-only steps, not the mixed ones
    if (phases.source === "phases") expect(phases.medianMsByBatch).toEqual({ "1": expect.closeTo(0.37, 12), "2": expect.closeTo(0.39, 12), "3": expect.closeTo(0.41, 12), "4": expect.closeTo(0.43, 12) });
    expect(hostScale(probe, run(1.5), "load60")).toEqual({ source: "probe", ratio: expect.closeTo(1.5, 12), steps: 104 });
    expect(hostScale(phases, run(0.6), "load60")).toEqual({ source: "phases", ratio: expect.closeTo(0.6, 12), steps: 100 });
    // Sizes the fit did not measure do not count; none in common is an error naming the run.
    expect(hostScale(phases, run(2, [2, 9]), "load85")).toEqual({ source: "phases", ratio: expect.closeTo(2, 12), steps: 25 });
    expect(() => hostScale(phases, run(2, [9]), "load85")).toThrow(/load85: no decode-only step with its host phases at a batch size the fit measured/);
  });

  it("trims the probe's outliers, weighs each step once, and names what lacks the columns", () => {
    const fit = run(1);
    const spiked = run(1).map((s, i) => (i % 40 === 0 ? { ...s, host_probe_time: 5 / 1e3 } : s)); // 3 of 104 steps
    expect(hostScale(hostReference("probe", fit, "fit"), spiked, "load30").ratio).toBeCloseTo(1, 12);
    // Every other step twice as slow: 48 of the 100 decode-only ones (12 of 25 at each size), so the mean is 1.48.
    const mixedSpeeds = run(1).map((s, i) => (i % 2 === 0 ? s : { ...s, schedule_time: s.schedule_time! * 2, prepare_time: s.prepare_time! * 2, process_time: s.process_time! * 2 }));
    expect(hostScale(hostReference("phases", fit, "fit"), mixedSpeeds, "load30").ratio).toBeCloseTo(1.48, 12);
    const noProbe = fit.map(({ host_probe_time: _p, ...rest }) => rest);
    expect(() => hostReference("probe", noProbe, "fit runs a, b")).toThrow(/fit runs a, b: no step has a host_probe_time/);
    expect(() => hostScale(hostReference("probe", fit, "fit"), noProbe, "load30")).toThrow(/load30: no step has a host_probe_time .*--host-scale phases/);
    const noPhases = fit.map(({ prepare_time: _p, ...rest }) => rest);
    expect(() => hostReference("phases", noPhases, "fit")).toThrow(/fit: no decode-only step has the three host phases .*since the twelfth session/);
    expect(() => hostReference("phases", fit.filter((_s, i) => i % 26 < 10), "fit")).toThrow(/fit: no batch size has 20 decode-only steps with the three host phases \(the most at one size: 10\)/);
    try {
      hostReference("phases", noPhases, "fit");
    } catch (err) {
      expect(isVidurBridgeError(err) && err.code).toBe("VIDUR_CALIBRATION_INPUT");
    }
  });

  it("keeps the probe's size beside its level and tells a ratio of two sizes (probeSizeDiffers)", () => {
    const fit = run(1);
    const ref = hostReference("probe", fit, "fit", 2048);
    expect(ref).toEqual({ source: "probe", probeMs: expect.closeTo(0.03, 12), steps: 104, probeInts: 2048 });
    const same = hostScale(ref, run(1.2), "load30", 2048);
    expect(same).toEqual({ source: "probe", ratio: expect.closeTo(1.2, 12), steps: 104, probeInts: 2048, referenceProbeInts: 2048 });
    expect(probeSizeDiffers(same)).toBe(false);
    // A 256-token budget's server times a shorter list (1,280 ints): read per int, its level 0.021 ms is a host
    // 0.7 x 2048 / 1280 = 1.12 x as slow per int, and its preparation carries its own 0.021 ms list in place of
    // the fit's scaled 1.12 x 0.03.
    const other = hostScale(ref, run(0.7), "load30", 1280);
    expect(other).toEqual({ source: "probe", ratio: expect.closeTo(1.12, 12), steps: 104, probeInts: 1280, referenceProbeInts: 2048, prepareShiftMs: expect.closeTo(0.021 - 1.12 * 0.03, 12) });
    expect(probeSizeDiffers(other)).toBe(true);
    // sizeAware false: the plain level ratio, flagged the same way, no shift.
    const plain = hostScale(ref, run(0.7), "load30", 1280, false);
    expect(plain).toEqual({ source: "probe", ratio: expect.closeTo(0.7, 12), steps: 104, probeInts: 1280, referenceProbeInts: 2048 });
    expect(probeSizeDiffers(plain)).toBe(true);
    // A longer list (a 1,024-token budget: 3,584 ints) at the fit's speed per int: ratio 1, preparation longer by
    // the extra ints' conversion.
    const longer = hostScale(ref, run(3584 / 2048), "load30", 3584);
    expect(longer.ratio).toBeCloseTo(1, 12);
    expect(longer.prepareShiftMs).toBeCloseTo(0.03 * (3584 / 2048 - 1), 12);
    // Either size unknown (older servers, a calibration.json from before sizes were kept): nothing to compare.
    expect(probeSizeDiffers(hostScale(ref, run(1), "load30"))).toBe(false);
    expect(hostScale(ref, run(0.7), "load30")).not.toHaveProperty("prepareShiftMs");
    expect(probeSizeDiffers(hostScale(hostReference("probe", fit, "fit"), run(1), "load30", 1280))).toBe(false);
    expect(hostScale(hostReference("probe", fit, "fit"), run(0.7), "load30", 1280).ratio).toBeCloseTo(0.7, 12);
    // The phases source has no probe size.
    expect(hostReference("phases", fit, "fit", 2048)).not.toHaveProperty("probeInts");
  });
});

describe("formatCpuOverheadsCsv / writeCpuOverheadsFromRuns", () => {
  it("writes the sidecar's schema (ms), with prefill_extra_median only in split mode", () => {
    const split = deriveCpuOverheads(REAL, SIM, ONE);
    expect(formatCpuOverheadsCsv(split, { modelName: "Qwen/Qwen3-0.6B" })).toBe(
      [
        "model_name,tensor_parallel_degree,batch_size,schedule_median,prefill_extra_median",
        "Qwen/Qwen3-0.6B,1,1,3,17",
        "Qwen/Qwen3-0.6B,1,2,4,16",
        "Qwen/Qwen3-0.6B,1,4,5,15",
        "Qwen/Qwen3-0.6B,1,8,5,35",
        "",
      ].join("\n"),
    );
    const single = deriveCpuOverheads(REAL, SIM, { ...ONE, mode: "single" });
    expect(formatCpuOverheadsCsv(single, { modelName: "m/x", tensorParallelSize: 2 }).split("\n").slice(0, 2)).toEqual([
      "model_name,tensor_parallel_degree,batch_size,schedule_median",
      "m/x,2,1,3",
    ]);
  });

  it("reads both runs' iterations.csv and writes the file; a missing file names its path", async () => {
    await writeIterations(join(dir, "real", "iterations.csv"), REAL);
    await writeIterations(join(dir, "sim", "iterations.csv"), SIM);
    const outPath = join(dir, "out", "cpu_overheads.csv");
    const t = await writeCpuOverheadsFromRuns({ realDir: join(dir, "real"), simDir: join(dir, "sim"), outPath, modelName: "a/b", minStepsPerBin: 1 });
    expect(t.rows).toHaveLength(4);
    expect((await readFile(outPath, "utf8")).split("\n")[1]).toBe("a/b,1,1,3,17");
    await expect(writeCpuOverheadsFromRuns({ realDir: join(dir, "nope"), simDir: join(dir, "sim"), outPath, modelName: "a/b" })).rejects.toSatisfy(
      (e: unknown) => isVidurBridgeError(e, "VIDUR_CALIBRATION_INPUT") && e.message.includes(join(dir, "nope", "iterations.csv")),
    );
  });

  it("pools several loads' steps when given arrays (same table as the concatenated steps)", async () => {
    const half = Math.floor(REAL.length / 2);
    await writeIterations(join(dir, "r1", "iterations.csv"), REAL.slice(0, half));
    await writeIterations(join(dir, "r2", "iterations.csv"), REAL.slice(half));
    await writeIterations(join(dir, "s1", "iterations.csv"), SIM.slice(0, 2));
    await writeIterations(join(dir, "s2", "iterations.csv"), SIM.slice(2));
    const outPath = join(dir, "pooled.csv");
    const t = await writeCpuOverheadsFromRuns({
      realDir: [join(dir, "r1"), join(dir, "r2")],
      simDir: [join(dir, "s1"), join(dir, "s2")],
      outPath,
      modelName: "a/b",
      minStepsPerBin: 1,
    });
    expect(t).toEqual(deriveCpuOverheads(REAL, SIM, ONE));
    await expect(
      writeCpuOverheadsFromRuns({ realDir: [join(dir, "r1"), join(dir, "r2")], simDir: [join(dir, "s1")], outPath, modelName: "a/b" }),
    ).rejects.toSatisfy((e: unknown) => isVidurBridgeError(e, "VIDUR_BAD_OPTION") && e.message.includes("2 real, 1 simulated"));
  });
});

describe("foldInterStepGaps", () => {
  /** A phased step from start s (seconds) lasting wallMs, leaving kv tokens in the engine. */
  const phased = (i: number, s: number, wallMs: number, kv: number | null): Iteration => ({
    step: i,
    start: s,
    end: s + wallMs / 1e3,
    gpu_time: null,
    num_prefill_tokens: 0,
    num_decode_tokens: 4,
    batch_size: 4,
    kv_tokens_in_use: kv,
    schedule_time: 0.00002,
    prepare_time: 0.0005,
    wait_time: 0.0014,
    process_time: 0.00008,
  });

  it("moves a busy step's start back to the previous end and lengthens its schedule phase; idle gaps stay", () => {
    const steps = [phased(0, 0, 2, 100), phased(1, 0.00206, 2, 0), phased(2, 0.08, 2, 50), phased(3, 0.08207, 2, 60)];
    const { steps: out, gapsMs } = foldInterStepGaps(steps);
    expect(gapsMs.map((g) => Number(g.toFixed(6)))).toEqual([0.06, 0.07]);
    expect(out[1]!.start).toBe(steps[0]!.end);
    expect(out[1]!.end).toBe(steps[1]!.end);
    expect(out[1]!.schedule_time).toBeCloseTo(0.00002 + 0.00006, 12);
    expect(out[1]!.prepare_time).toBe(0.0005);
    // Step 1 left nothing in the engine: the 78 ms before step 2 is idling for an arrival, not loop time.
    expect(out[2]).toEqual(steps[2]);
    expect(out[3]!.start).toBe(steps[2]!.end);
    expect(out[0]).toEqual(steps[0]);
    expect(steps[1]!.start).toBe(0.00206); // the input is not modified
  });

  it("without a KV count takes gaps up to INTER_STEP_GAP_MAX_S; never folds an overlap or a longer gap", () => {
    const steps = [phased(0, 0, 2, null), phased(1, 0.00205, 2, null), phased(2, 0.00405 + INTER_STEP_GAP_MAX_S * 2, 2, null)];
    const { steps: out, gapsMs } = foldInterStepGaps(steps);
    expect(gapsMs).toHaveLength(1);
    expect(out[1]!.start).toBe(0.002);
    expect(out[2]).toEqual(steps[2]);
    const overlap = [phased(0, 0, 2, 10), phased(1, 0.0019, 2, 10), phased(2, 0.004 + INTER_STEP_GAP_MAX_S * 2, 2, 10)];
    expect(foldInterStepGaps(overlap).steps).toEqual(overlap);
  });

  it("writeCpuOverheadsFromRuns({ interStepGap }) fits on the folded steps and reports the gaps", async () => {
    // Decode-only steps of 1-8 requests, 2 ms walls each followed by a 0.1 ms gap, against simulated back-to-back steps.
    const real: Iteration[] = [];
    const sim: Iteration[] = [];
    let t = 0;
    for (let i = 0; i < 80; i++) {
      const b = 1 + (i % 8);
      real.push({ ...phased(i, t, 2, 1000), batch_size: b, num_decode_tokens: b });
      t += 0.0021;
      sim.push({ ...step(i, b, 0, b, 1.8), start: i * 0.0018, end: (i + 1) * 0.0018 });
    }
    await writeIterations(join(dir, "real", "iterations.csv"), real);
    await writeIterations(join(dir, "sim", "iterations.csv"), sim);
    const base = { realDir: join(dir, "real"), simDir: join(dir, "sim"), modelName: "a/b", minStepsPerBin: 1, jitter: false };
    const off = await writeCpuOverheadsFromRuns({ ...base, outPath: join(dir, "off.csv") });
    const on = await writeCpuOverheadsFromRuns({ ...base, outPath: join(dir, "on.csv"), interStepGap: true });
    expect(off.interStepGap).toBeUndefined();
    expect(on.interStepGap!.gaps).toBe(79);
    expect(on.interStepGap!.meanMs).toBeCloseTo(0.1, 6);
    expect(on.interStepGap!.medianMs).toBeCloseTo(0.1, 6);
    // Every decode-only bin's residual and written schedule phase grow by the gap (the first step has none before it).
    for (let i = 0; i < on.bins.length; i++) {
      expect(on.bins[i]!.decodeResidualMs! - off.bins[i]!.decodeResidualMs!).toBeCloseTo(0.1, 1);
      expect(on.rows[i]!.hostPhasesMs!.schedule - off.rows[i]!.hostPhasesMs!.schedule).toBeCloseTo(0.1, 1);
    }
    // The same table as deriving on the folded steps of the files as written.
    const [r, m] = [await readIterations(join(dir, "real", "iterations.csv")), await readIterations(join(dir, "sim", "iterations.csv"))];
    const { interStepGap: _, ...rest } = on;
    expect(rest).toEqual(deriveCpuOverheads(foldInterStepGaps(r).steps, m, { minStepsPerBin: 1, jitter: false }));
  });
});

describe("the host's speed per step (normalizeHostSpeed) and the tail's upper slope", () => {
  /** A decode-only step of b requests whose host phases (ms) run at `slow` x their fast time, its probe too. */
  const hostStep = (i: number, b: number, slow: number, probeMs: number | null = 0.15 * slow): Iteration => {
    const host = [0.01 * slow, (0.3 + 0.004 * b) * slow, 0.002 * b * slow];
    const wait = 1 + 0.01 * b;
    const wall = host[0]! + host[1]! + wait + host[2]!;
    return {
      ...step(i, b, 0, b, wall),
      start: i * 0.01,
      end: i * 0.01 + wall / 1e3,
      gpu_time: wait / 1e3,
      schedule_time: host[0]! / 1e3,
      prepare_time: host[1]! / 1e3,
      wait_time: wait / 1e3,
      process_time: host[2]! / 1e3,
      host_probe_time: probeMs === null ? null : probeMs / 1e3,
    };
  };

  it("takes each step's phases at the reference speed by the median probe around it, moving its end by the host removed", () => {
    // 300 steps: the middle 100 on a CPU 1.75x slower, with one wild probe in the fast stretch the median ignores.
    const steps = Array.from({ length: 300 }, (_, i) => hostStep(i, 8, i >= 100 && i < 200 ? 1.75 : 1, i === 20 ? 3 : undefined));
    const { steps: out, factors } = normalizeHostSpeed(steps, 0.15);
    for (const i of [0, 20, 40, 160, 299]) {
      expect(factors[i]).toBeCloseTo(i >= 100 && i < 200 ? 1 / 1.75 : 1, 9);
      const fast = hostStep(i, 8, 1);
      expect(out[i]!.schedule_time! * 1e3).toBeCloseTo(fast.schedule_time! * 1e3, 9);
      expect(out[i]!.prepare_time! * 1e3).toBeCloseTo(fast.prepare_time! * 1e3, 9);
      expect(out[i]!.process_time! * 1e3).toBeCloseTo(fast.process_time! * 1e3, 9);
      expect(out[i]!.wait_time).toBe(steps[i]!.wait_time);
      expect(out[i]!.start).toBe(steps[i]!.start);
      expect((out[i]!.end - out[i]!.start) * 1e3).toBeCloseTo((fast.end - fast.start) * 1e3, 9);
    }
    // Near a change of speed the window holds both: the factor moves with its median, halfway at the edge.
    expect(factors[100 - HOST_SPEED_HALF_WINDOW - 1]).toBeCloseTo(1, 9);
    expect(factors[100 + HOST_SPEED_HALF_WINDOW]).toBeCloseTo(1 / 1.75, 9);
    // At another reference the phases come out at that speed; the input is not modified.
    expect(normalizeHostSpeed(steps, 0.3).steps[0]!.prepare_time! * 1e3).toBeCloseTo(2 * (0.3 + 0.032), 9);
    expect(steps[150]!.prepare_time! * 1e3).toBeCloseTo(1.75 * 0.332, 9);
  });

  it("leaves steps without phases or without a probe in their window as measured, and refuses a bad reference", () => {
    const noProbe = Array.from({ length: 5 }, (_, i) => hostStep(i, 4, 1.5, null));
    const r = normalizeHostSpeed(noProbe, 0.15, 2);
    expect(r.factors).toEqual([null, null, null, null, null]);
    expect(r.steps).toEqual(noProbe);
    const mixed = [hostStep(0, 4, 2), { ...hostStep(1, 4, 2), prepare_time: null }, ...Array.from({ length: 5 }, (_, i) => hostStep(i + 2, 4, 2, null))];
    const m = normalizeHostSpeed(mixed, 0.15, 1);
    expect(m.factors.map((f) => (f === null ? null : Number(f.toFixed(9))))).toEqual([0.5, null, 0.5, null, null, null, null]);
    expect(m.steps[1]).toEqual(mixed[1]);
    for (const bad of [0, -1, Number.NaN]) expect(() => normalizeHostSpeed(mixed, bad)).toThrow(/reference probe/);
    expect(() => normalizeHostSpeed(mixed, 0.15, 1.5)).toThrow(/half window/);
  });

  it("a fit whose large batches ran on the slow CPU: normalized, its table and tail follow the fast growth", () => {
    // Batches 1-40; the steps of more than 24 requests (the busy seconds) ran 1.7x slower, as on a light fit load.
    const real: Iteration[] = [];
    for (let b = 1; b <= 40; b++) for (let k = 0; k < 12; k++) real.push(hostStep(real.length, b, b > 24 ? 1.7 : 1));
    const sim = real.map((it, i) => ({ ...step(i, it.batch_size, 0, it.batch_size, 1 + 0.01 * it.batch_size) }));
    const opts = { extendToBatchSize: 128, jitter: false, binMisfit: false } as const;
    const raw = deriveCpuOverheads(real, sim, opts);
    const fast = deriveCpuOverheads(normalizeHostSpeed(real, 0.15, 0).steps, sim, opts);
    // Per step the window of 0 steps takes the step's own probe: every phase at the fast speed.
    expect(fast.tail!.phaseMsPerRequest!.prepare).toBeCloseTo(0.004, 9);
    expect(fast.tail!.phaseMsPerRequest!.process).toBeCloseTo(0.002, 9);
    expect(raw.tail!.phaseMsPerRequest!.prepare).toBeGreaterThan(0.008);
    const at128 = (t: typeof raw) => t.rows.at(-1)!;
    expect(at128(fast).hostPhasesMs!.prepare).toBeCloseTo(0.3 + 0.004 * 128, 9);
    expect(at128(raw).hostPhasesMs!.prepare).toBeGreaterThan(1.2);
  });

  it("tailSlope upper fits the slopes on the two largest bins' decode-only steps: a concave host continues flatter", () => {
    // Host growth 8 us per request up to 16 requests, 2 us past it; steps of 1-40 requests.
    const concave = (b: number) => 0.3 + 0.008 * Math.min(b, 16) + 0.002 * Math.max(0, b - 16);
    const real: Iteration[] = [];
    for (let b = 1; b <= 40; b++) {
      for (let k = 0; k < 6; k++) {
        const it = hostStep(real.length, b, 1);
        const extra = concave(b) - it.prepare_time! * 1e3;
        real.push({ ...it, prepare_time: concave(b) / 1e3, end: it.end + extra / 1e3 });
      }
    }
    const sim = real.map((it, i) => step(i, it.batch_size, 0, it.batch_size, 1 + 0.01 * it.batch_size));
    const opts = { extendToBatchSize: 128, jitter: false, binMisfit: false } as const;
    const all = deriveCpuOverheads(real, sim, opts);
    const upper = deriveCpuOverheads(real, sim, { ...opts, tailSlope: "upper" });
    // Bins 17-32 and 33-64 hold the largest batches: the slope over them is the growth there, 2 us per request.
    expect(upper.tail!.slopeFromBatchSize).toBe(17);
    expect(all.tail!.slopeFromBatchSize).toBe(1);
    expect(upper.tail!.phaseMsPerRequest!.prepare).toBeCloseTo(0.002, 9);
    expect(all.tail!.phaseMsPerRequest!.prepare).toBeGreaterThan(0.004);
    // The bins themselves are the same; only the rows past the last knot differ.
    expect(upper.rows.slice(0, upper.bins.length)).toEqual(all.rows.slice(0, all.bins.length));
    expect(upper.rows.at(-1)!.hostPhasesMs!.prepare).toBeLessThan(all.rows.at(-1)!.hostPhasesMs!.prepare - 0.15);
  });

  /** Six steps at each batch size of 1-40 whose prepare phase grows 8 us per request, and their simulated steps. */
  const grownHost = () => {
    const real: Iteration[] = [];
    for (let b = 1; b <= 40; b++) {
      for (let k = 0; k < 6; k++) {
        const it = hostStep(real.length, b, 1);
        const grown = 0.3 + 0.008 * b;
        real.push({ ...it, prepare_time: grown / 1e3, end: it.end + (grown - it.prepare_time! * 1e3) / 1e3 });
      }
    }
    return { real, sim: real.map((it, i) => step(i, it.batch_size, 0, it.batch_size, 1 + 0.01 * it.batch_size)) };
  };

  it("tailSlope flat holds every column of the tail at the last knot's value", () => {
    // The host grows 8 us per request over steps of 1-40 requests; "flat" ignores that growth past the last knot.
    const { real, sim } = grownHost();
    const opts = { extendToBatchSize: 128, jitter: false, binMisfit: false } as const;
    const all = deriveCpuOverheads(real, sim, opts);
    const flat = deriveCpuOverheads(real, sim, { ...opts, tailSlope: "flat" });
    const knots = flat.bins.length;
    const last = flat.rows[knots - 1]!;
    expect(flat.rows.length).toBeGreaterThan(knots);
    expect(flat.rows.slice(0, knots)).toEqual(all.rows.slice(0, knots));
    for (const r of flat.rows.slice(knots)) {
      expect(r.overheadMs).toBe(last.overheadMs);
      expect(r.hostPhasesMs).toEqual(last.hostPhasesMs);
      expect(r.prefillExtraMs).toBe(last.prefillExtraMs);
    }
    expect(flat.rows.at(-1)!.batchSize).toBe(128);
    expect(flat.tail).toMatchObject({ flat: true, hostMsPerRequest: 0, phaseMsPerRequest: { schedule: 0, prepare: 0, process: 0 } });
    // The "all" tail grows along the 8 us per request the steps show.
    expect(all.tail!.flat).toBeUndefined();
    expect(all.rows.at(-1)!.overheadMs - last.overheadMs).toBeGreaterThan(0.008 * (128 - last.batchSize) * 0.9);
  });

  it("tailSlope level holds the tail's overhead but grows its host phases, so a host scale moves the large steps more", () => {
    // The same steps: the host's prepare phase grows 8 us per request over steps of 1-40 requests.
    const { real, sim } = grownHost();
    const opts = { extendToBatchSize: 128, jitter: false, binMisfit: false } as const;
    const flat = deriveCpuOverheads(real, sim, { ...opts, tailSlope: "flat" });
    const level = deriveCpuOverheads(real, sim, { ...opts, tailSlope: "level" });
    const all = deriveCpuOverheads(real, sim, opts);
    const knots = level.bins.length;
    const last = level.rows[knots - 1]!;
    expect(level.rows.slice(0, knots)).toEqual(flat.rows.slice(0, knots));
    expect(level.rows.length).toBe(flat.rows.length);
    for (const [i, r] of level.rows.slice(knots).entries()) {
      // The level is the flat tail's; the host phases are the "all" tail's; the bias takes the difference.
      expect(r.overheadMs).toBe(last.overheadMs);
      expect(r.hostPhasesMs).toEqual(all.rows[knots + i]!.hostPhasesMs);
      expect(r.hostPhasesMs!.prepare - last.hostPhasesMs!.prepare).toBeCloseTo(0.008 * (r.batchSize - last.batchSize), 3);
      expect(modelTimeBiasMs(r)! - modelTimeBiasMs(last)!).toBeCloseTo(-(r.hostPhasesMs!.prepare - last.hostPhasesMs!.prepare) - (r.hostPhasesMs!.schedule - last.hostPhasesMs!.schedule) - (r.hostPhasesMs!.process - last.hostPhasesMs!.process), 9);
    }
    expect(level.tail).toMatchObject({ level: true, hostSlopeFrom: "phases", slopeFromBatchSize: 1 });
    expect(level.tail!.flat).toBeUndefined();
    expect(level.tail!.hostMsPerRequest).toBeCloseTo(all.tail!.hostMsPerRequest, 12);
    // A host 1.5x slower: the flat tail's row at 128 moves by half its last knot's host time, level's by half its grown one.
    const moved = (t: typeof level) => scaleHostPhases(t, 1.5).rows.at(-1)!.overheadMs - t.rows.at(-1)!.overheadMs;
    const host128 = level.rows.at(-1)!.hostPhasesMs!;
    expect(moved(level)).toBeCloseTo(0.5 * (host128.schedule + host128.prepare + host128.process), 9);
    expect(level.tail!.hostMsPerRequest).toBeCloseTo(0.01, 3); // prepare 8 + process 2 us per request
    expect(moved(level) - moved(flat)).toBeCloseTo(0.5 * level.tail!.hostMsPerRequest * (128 - last.batchSize), 9);
    // Without the step phases there is no host part to grow.
    const bare = real.map(({ schedule_time, prepare_time, wait_time, process_time, ...rest }) => rest);
    expect(() => deriveCpuOverheads(bare, sim, { ...opts, tailSlope: "level" })).toThrow(/host tail level: .*no step phases/);
  });

  describe("the tail measured on other runs (tailFrom)", () => {
    // The engine's decode step on a grid: 1 ms + 0.01 ms a request at any KV, measured at batch 1 and 128 (exact between).
    const grid = { source: "grid.csv", points: [1, 128].flatMap((b) => [64, 512].map((m) => ({ batch: b, kvTokens: m * b, stepMs: 1 + 0.01 * b }))) };
    const withKv = (it: Iteration): Iteration => ({ ...it, kv_tokens_in_use: 300 * it.batch_size });
    // The fit: decode-only steps of 1-8 requests, wall = the grid's step + host (0.31 + 0.006 ms a request).
    const fitReal: Iteration[] = [];
    for (let b = 1; b <= 8; b++) for (let k = 0; k < 12; k++) fitReal.push(withKv(hostStep(fitReal.length, b, 1)));
    const fitSim = fitReal.map((it, i) => step(i, it.batch_size, 0, it.batch_size, 1 + 0.01 * it.batch_size));
    // Another load on the same server: 3-128 requests, its served step 0.001 ms a request under the grid's.
    const servedBias = (b: number) => -0.001 * b;
    const tailRun = (slow: number): Iteration[] => {
      const out: Iteration[] = [];
      for (let b = 3; b <= 128; b++) {
        for (let k = 0; k < 20; k++) {
          const it = withKv(hostStep(out.length, b, slow));
          out.push({ ...it, end: it.end + servedBias(b) / 1e3 });
        }
      }
      return out;
    };
    const opts = { extendToBatchSize: 128, jitter: false, binMisfit: false, decodeGrid: grid } as const;

    it("adds each bin's growth over the steps around the fit's last knot to that knot's overhead and host phases", () => {
      const flat = deriveCpuOverheads(fitReal, fitSim, { ...opts, tailSlope: "flat" });
      const t = deriveCpuOverheads(fitReal, fitSim, { ...opts, tailFrom: tailRun(1) });
      const knots = t.bins.length;
      expect(t.rows.slice(0, knots)).toEqual(flat.rows.slice(0, knots));
      const last = t.rows[knots - 1]!;
      // The last bin (5-8) holds 5, 6, 7 and 8 requests alike: its knot is 6.5; the anchor takes 3-11 (mean 7).
      expect(last.batchSize).toBe(6.5);
      const m = t.tail!.measured!;
      expect(m.anchor).toMatchObject({ knot: 6.5, minBatchSize: 3, maxBatchSize: 11, steps: 9 * 20, meanBatchSize: 7 });
      expect(m.anchor.residualMs).toBeCloseTo(0.31 + 0.005 * 7, 9);
      expect(m.anchor.hostMs).toBeCloseTo(0.31 + 0.006 * 7, 9);
      expect(m.steps).toBe(126 * 20);
      // Bins of 16 requests from 12 up to the cap; rows at their mean batch sizes, the cap holding the last.
      expect(m.bins.map((b) => [b.minBatchSize, b.maxBatchSize, b.batchSize])).toEqual([
        [12, 27, 20],
        [28, 43, 36],
        [44, 59, 52],
        [60, 75, 68],
        [76, 91, 84],
        [92, 107, 100],
        [108, 123, 116],
        [124, 128, 126],
      ]);
      const tail = t.rows.slice(knots);
      expect(tail.map((r) => r.batchSize)).toEqual([20, 36, 52, 68, 84, 100, 116, 126, 128]);
      m.bins.forEach((b, i) => {
        const mean = (b.minBatchSize + b.maxBatchSize) / 2;
        expect(b.meanBatchSize).toBeCloseTo(mean, 12);
        expect(b.steps).toBe((b.maxBatchSize - b.minBatchSize + 1) * 20);
        // The residual grows 5 us a request (host 6, the served step's departure -1), the host 6: over the anchor's 7.
        expect(b.residualGrowthMs).toBeCloseTo(0.005 * (mean - 7), 9);
        expect(b.hostGrowthMs).toBeCloseTo(0.006 * (mean - 7), 9);
        const r = tail[i]!;
        expect(r.overheadMs).toBeCloseTo(last.overheadMs + 0.005 * (mean - 7), 9);
        expect(r.hostPhasesMs!.prepare).toBeCloseTo(last.hostPhasesMs!.prepare + 0.004 * (mean - 7), 9);
        expect(r.hostPhasesMs!.process).toBeCloseTo(last.hostPhasesMs!.process + 0.002 * (mean - 7), 9);
        expect(r.hostPhasesMs!.schedule).toBeCloseTo(last.hostPhasesMs!.schedule, 9);
        expect(r.prefillExtraMs).toBe(last.prefillExtraMs);
      });
      expect({ ...tail.at(-1)!, batchSize: 0 }).toEqual({ ...tail.at(-2)!, batchSize: 0 });
      expect(t.tail!.rows).toBe(9);
      expect(t.tail!.flat).toBeUndefined();
      expect(t.tail!.hostMsPerRequest).toBeCloseTo(0.006, 9);
    });

    it("refuses what it cannot measure: no grid, no cap, a thin anchor, no bin past it, a step without KV or phases", () => {
      const tail = tailRun(1);
      const err = (o: Parameters<typeof deriveCpuOverheads>[2], re: RegExp) => expect(() => deriveCpuOverheads(fitReal, fitSim, o)).toThrow(re);
      const { decodeGrid: _grid, ...noGrid } = opts;
      const { extendToBatchSize: _cap, ...noCap } = opts;
      err({ ...noGrid, tailFrom: tail }, /tailFrom: needs decodeGrid/);
      err({ ...noCap, tailFrom: tail }, /tailFrom: needs extendToBatchSize/);
      err({ ...opts, tailFrom: tail.filter((it) => it.batch_size > 11 || it.step % 20 < 2) }, /the tail runs have 18 decode-only steps of 3-11 requests around the fit's last knot \(6.5\); need 20/);
      err({ ...opts, tailFrom: tail.filter((it) => it.batch_size <= 11) }, /no bin of 16 requests between 12 and 128 has 20 decode-only steps/);
      err({ ...opts, tailFrom: tail.map((it) => (it.step === 7 ? { ...it, kv_tokens_in_use: null } : it)) }, /tailFrom: step 7 \(decode-only, 3 requests\) has no kv_tokens_in_use/);
      err({ ...opts, tailFrom: tail.map((it) => (it.step === 9 ? { ...it, process_time: null } : it)) }, /tailFrom: step 9 has no schedule\/prepare\/process phases/);
    });

    it("writeCpuOverheadsFromRuns takes the tail runs' host speed like the fit's: a slow tail run gives the fast growth", async () => {
      await writeIterations(join(dir, "real", "iterations.csv"), fitReal);
      await writeIterations(join(dir, "sim", "iterations.csv"), fitSim);
      await writeIterations(join(dir, "tail", "iterations.csv"), tailRun(1.5));
      const outPath = join(dir, "cpu_overheads.csv");
      const args = { realDir: join(dir, "real"), simDir: join(dir, "sim"), outPath, modelName: "a/b", extendToBatchSize: 128, jitter: false, binMisfit: false, decodeGrid: grid, tailFrom: [join(dir, "tail")] };
      const normalized = await writeCpuOverheadsFromRuns({ ...args, hostSpeed: { referenceProbeMs: 0.15, halfWindowSteps: 0 } });
      const fast = deriveCpuOverheads(fitReal, fitSim, { ...opts, tailFrom: tailRun(1) });
      normalized.rows.forEach((r, i) => {
        expect(r.batchSize).toBe(fast.rows[i]!.batchSize);
        expect(r.overheadMs).toBeCloseTo(fast.rows[i]!.overheadMs, 9);
      });
      // Without the host speed the slow run's host grows 1.5x as fast past the knot.
      const raw = await writeCpuOverheadsFromRuns(args);
      expect(raw.tail!.measured!.bins.at(-1)!.hostGrowthMs).toBeCloseTo(1.5 * fast.tail!.measured!.bins.at(-1)!.hostGrowthMs, 9);
      await expect(writeCpuOverheadsFromRuns({ ...args, tailFrom: [join(dir, "nope")] })).rejects.toSatisfy(
        (e: unknown) => isVidurBridgeError(e, "VIDUR_CALIBRATION_INPUT") && e.message.includes(`tail run ${join(dir, "nope", "iterations.csv")}`),
      );
    });
  });

  it("writeCpuOverheadsFromRuns({ hostSpeed }) normalizes each run on its own and reports the factors", async () => {
    const real = Array.from({ length: 120 }, (_, i) => hostStep(i, 1 + (i % 8), i < 60 ? 1 : 2));
    const sim = real.map((it, i) => step(i, it.batch_size, 0, it.batch_size, 1 + 0.01 * it.batch_size));
    await writeIterations(join(dir, "real", "iterations.csv"), real);
    await writeIterations(join(dir, "sim", "iterations.csv"), sim);
    const base = { realDir: join(dir, "real"), simDir: join(dir, "sim"), modelName: "a/b", minStepsPerBin: 1, jitter: false };
    const t = await writeCpuOverheadsFromRuns({ ...base, outPath: join(dir, "o.csv"), hostSpeed: { referenceProbeMs: 0.15, halfWindowSteps: 10 } });
    expect(t.hostSpeed).toMatchObject({ referenceProbeMs: 0.15, halfWindowSteps: 10, scaledSteps: 120, unscaledSteps: 0 });
    expect(t.hostSpeed!.factorQ10).toBeCloseTo(0.5, 9);
    expect(t.hostSpeed!.factorQ90).toBeCloseTo(1, 9);
    const [r, m] = [await readIterations(join(dir, "real", "iterations.csv")), await readIterations(join(dir, "sim", "iterations.csv"))];
    const { hostSpeed: _, ...rest } = t;
    expect(rest).toEqual(deriveCpuOverheads(normalizeHostSpeed(r, 0.15, 10).steps, m, { minStepsPerBin: 1, jitter: false }));
    // A run with no probe at all cannot be normalized: the error names its file.
    await writeIterations(join(dir, "bare", "iterations.csv"), real.map((it) => ({ ...it, host_probe_time: null })));
    await expect(writeCpuOverheadsFromRuns({ ...base, realDir: join(dir, "bare"), outPath: join(dir, "b.csv"), hostSpeed: { referenceProbeMs: 0.15 } })).rejects.toThrow(
      /bare\/iterations\.csv: no step has both a host_probe_time/,
    );
  });
});

describe("the decode KV term (decodeKvTerm)", () => {
  // Decode-only steps of 4-8 requests reading 10-30k KV tokens. The engine's device wait grows 30 us per 1,000 KV
  // tokens, Vidur's predicted step 36 (its profile's excess); host phases 0.5 ms a step.
  const realWait = (b: number, kv: number) => 1.2 + 0.02 * b + 0.03 * (kv / 1e3);
  const simStep = (b: number, kv: number) => 1 + 0.025 * b + 0.036 * (kv / 1e3);
  const withKv = (it: Iteration, kv: number): Iteration => ({ ...it, kv_tokens_in_use: kv });
  const realStep = (i: number, b: number, kv: number): Iteration => {
    const wait = realWait(b, kv);
    return {
      ...withKv(step(i, b, 0, b, wait + 0.5), kv),
      gpu_time: wait / 1e3,
      schedule_time: 0.0001,
      prepare_time: 0.0003,
      wait_time: wait / 1e3,
      process_time: 0.0001,
    };
  };
  const real: Iteration[] = [];
  const sim: Iteration[] = [];
  for (let b = 4; b <= 8; b++) {
    for (let k = 0; k < 40; k++) {
      const kv = 10_000 + 500 * k + 37 * b;
      real.push(realStep(real.length, b, kv));
      sim.push(withKv(step(sim.length, b, 0, b, simStep(b, kv)), kv));
    }
  }
  // Mixed steps so the line model sees prefill (their KV plays no part), at 4 requests: that bin holds one size, so
  // they do not move its knot.
  for (let k = 0; k < 10; k++) {
    real.push(withKv({ ...realStep(real.length, 4, 20_000), num_prefill_tokens: 200 + k, end: real.length + 0.01 }, 20_000));
    sim.push(withKv(step(sim.length, 4, 200 + k, 3, 4 + 0.01 * k), 20_000));
  }
  // Medians: each bin's sizes are symmetric, so a bin's value is exactly its knot's (a trimmed mean cuts unevenly by size).
  const opts = { jitter: false, minStepsPerBin: 5, statistic: "median" } as const;

  it("fits both slopes within exact batch sizes and corrects a step at any KV to the engine's", () => {
    const t = deriveCpuOverheads(real, sim, { ...opts, decodeKvTerm: true });
    const k = t.decodeKv!;
    expect(k.realFrom).toBe("wait");
    expect(k.realMsPerKToken).toBeCloseTo(0.03, 9);
    expect(k.simMsPerKToken).toBeCloseTo(0.036, 9);
    expect(k.msPerKToken).toBeCloseTo(-0.006, 9);
    expect(k.realSteps).toBe(200);
    expect(k.simSteps).toBe(200);
    // Vidur's step + the row's overhead + the term x KV is the engine's step, also at 2k KV, far below the fit's
    // 10-30k: without the term the fit's excess at its own KV (about 0.12 ms) comes along.
    const without = deriveCpuOverheads(real, sim, opts);
    const at = (table: typeof t, b: number) => interpolate(table.rows.map((r) => r.batchSize), table.rows.map((r) => r.overheadMs), b);
    for (const [b, kv] of [[6, 2_000], [5, 20_000], [4, 45_000]] as const) {
      const engine = realWait(b, kv) + 0.5;
      expect(simStep(b, kv) + at(t, b) + k.msPerKToken * (kv / 1e3)).toBeCloseTo(engine, 6);
      if (kv === 2_000) expect(simStep(b, kv) + at(without, b) - engine).toBeLessThan(-0.05);
    }
    const csv = formatCpuOverheadsCsv(t, { modelName: "m" }).trimEnd().split("\n");
    const col = csv[0]!.split(",").indexOf("decode_kv_ms_per_ktoken");
    expect(col).toBeGreaterThan(0);
    for (const line of csv.slice(1)) expect(Number(line.split(",")[col])).toBeCloseTo(-0.006, 6);
    expect(formatCpuOverheadsCsv(without, { modelName: "m" })).not.toContain("decode_kv");
    expect(without.decodeKv).toBeUndefined();
  });

  it("is null below DECODE_KV_MIN_STEPS steps with a KV count in groups of DECODE_KV_MIN_GROUP, and takes the residual without phases", () => {
    const noKv = real.map((it) => ({ ...it, kv_tokens_in_use: null }));
    expect(deriveCpuOverheads(noKv, sim, { ...opts, decodeKvTerm: true }).decodeKv).toBeNull();
    // Nine steps per batch size: every group is below DECODE_KV_MIN_GROUP.
    const thin = real.filter((it) => it.num_prefill_tokens > 0 || it.step % 40 < DECODE_KV_MIN_GROUP - 1);
    expect(deriveCpuOverheads(thin, sim, { ...opts, decodeKvTerm: true }).decodeKv).toBeNull();
    expect(DECODE_KV_MIN_STEPS).toBeGreaterThan(9 * 5);
    const bare = real.map(({ schedule_time: _s, prepare_time: _p, wait_time: _w, process_time: _q, ...rest }) => rest);
    const t = deriveCpuOverheads(bare, sim, { ...opts, decodeKvTerm: true });
    expect(t.decodeKv!.realFrom).toBe("residual");
    expect(t.decodeKv!.realMsPerKToken).toBeCloseTo(0.03, 9);
  });
});

describe("the front as one worker (--admission-backlog)", () => {
  it("queues tokens in emit order and reads its backlog at any time", () => {
    // Three tokens at 0 and one at 10 ms, 2 ms each: done at 2, 4, 6 and 12 ms.
    const emit = [0, 0, 0, 0.01];
    const done = frontWorkerDone(emit, 0.002);
    for (const [i, want] of [0.002, 0.004, 0.006, 0.012].entries()) expect(done[i]).toBeCloseTo(want, 12);
    const backlog = frontBacklog(emit, 0.002, [-0.001, 0, 0.001, 0.007, 0.01, 0.011]);
    for (const [i, want] of [0, 0.006, 0.005, 0, 0.002, 0.001].entries()) expect(backlog[i]).toBeCloseTo(want, 12);
  });

  it("fits the per-token time and the fixed latency that made a run's delays", () => {
    // Bursts of 30 tokens every 3 ms (a step's tokens), served at 40 us each plus 0.8 ms: the fit finds both.
    const emitS: number[] = [];
    for (let step = 0; step < 200; step++) for (let k = 0; k < 30; k++) emitS.push(step * 0.003);
    const done = frontWorkerDone(emitS, 40e-6);
    const delayS = done.map((d, i) => d - emitS[i]! + 0.8e-3);
    const fit = fitFrontWorker([{ emitS, delayS }]);
    expect(fit.perTokenS).toBeCloseTo(40e-6, 7);
    expect(fit.latencyS).toBeCloseTo(0.8e-3, 5);
    expect(() => fitFrontWorker([{ emitS: [], delayS: [] }])).toThrow(/needs tokens with both engine and client times/);
  });

  it("pays a time per step once, before the step's first token (--front-per-step)", () => {
    // Three tokens of one step at 0 and one at 10 ms, 2 ms a token and 1 ms a step: done at 3, 5, 7 and 13 ms.
    const emit = [0, 0, 0, 0.01];
    for (const [i, want] of [0.003, 0.005, 0.007, 0.013].entries()) expect(frontWorkerDone(emit, 0.002, 0.001)[i]).toBeCloseTo(want, 12);
    expect(frontBacklog(emit, 0.002, [0.001, 0.0105], 0.001)).toEqual([expect.closeTo(0.006, 12), expect.closeTo(0.0025, 12)]);
  });

  it("reads the per-token time off the steps' spread and fits the per-step time and latency on the delays", () => {
    // Steps of 1-60 tokens every 1 ms, served at 20 us a token and 300 us a step plus 0.8 ms (the worker 90 % busy,
    // so steps queue behind each other and the step's time is not the latency's): the spread within a step is the
    // per-token time alone, and at that time the grid finds the step's.
    const emitS: number[] = [];
    const sizes = Array.from({ length: 400 }, (_, step) => 1 + ((step * 37) % 60));
    for (const [step, n] of sizes.entries()) for (let k = 0; k < n; k++) emitS.push(step * 0.001);
    const delayS = frontWorkerDone(emitS, 20e-6, 300e-6).map((d, i) => d - emitS[i]! + 0.8e-3);
    const spread = frontTokenSpread([{ emitS, delayS }]);
    expect(spread!.perTokenS).toBeCloseTo(20e-6, 9);
    expect(spread!.steps).toBe(sizes.filter((n) => n >= 2).length);
    const fit = fitFrontWorker([{ emitS, delayS }], spread!.perTokenS);
    expect(fit.perTokenS).toBe(spread!.perTokenS);
    expect(fit.perStepS).toBeCloseTo(300e-6, 7);
    expect(fit.latencyS).toBeCloseTo(0.8e-3, 5);
    // The per-token fit alone makes no per-step time; too few steps of two or more tokens read no spread.
    expect(fitFrontWorker([{ emitS, delayS }]).perStepS).toBe(0);
    expect(frontTokenSpread([{ emitS: emitS.slice(0, 100), delayS: delayS.slice(0, 100) }])).toBeNull();
  });
});

describe("deriveAdmissionDelay", () => {
  // Back-to-back 2 ms steps from t = 0; a request arriving at a is taken in at the first step start >= a + 0.6 ms
  // and gets its first token at that step's end. Arrivals at seeded pseudo-random phases.
  const STEP = 0.002;
  const steps = Array.from({ length: 5000 }, (_, i) => ({ step: i, start: i * STEP, end: (i + 1) * STEP, gpu_time: null, num_prefill_tokens: 1, num_decode_tokens: 0, batch_size: 1, kv_tokens_in_use: null }));
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const firstToken = (arrived: number, delay: number, extraSteps = 0) => (Math.ceil((arrived + delay) / STEP - 1e-9) + 1 + extraSteps) * STEP;
  it("finds the delay every short request's step interval holds, ignoring long prompts and queued requests", () => {
    const requests = [];
    for (let r = 0; r < 400; r++) {
      const arrivedS = 0.01 + r * 0.02 + rand() * 0.01;
      // Every fifth request waited in the queue for three more steps; every seventh has a long prompt (ignored).
      const queued = r % 5 === 0 ? 3 : 0;
      const promptTokens = r % 7 === 0 ? 4000 : 30;
      requests.push({ arrivedS, promptTokens, firstEngineTokenS: firstToken(arrivedS, promptTokens > 256 ? 0.0015 : 0.0006, queued) });
    }
    const d = deriveAdmissionDelay([{ steps, requests }], 256);
    expect(d.admissionS).toBeGreaterThan(0.00058);
    expect(d.admissionS).toBeLessThan(0.00062);
    const short = requests.filter((r) => r.promptTokens <= 256).length;
    expect(d.requests).toBe(short);
    // The queued fifth hold other delays; the rest hold this one.
    expect(d.consistent).toBeGreaterThan(0.75);
    expect(d.consistent).toBeLessThan(0.85);
    // A later admission is found as such; with no short requests, none.
    const later = requests.map((r) => ({ ...r, firstEngineTokenS: firstToken(r.arrivedS, 0.0013) }));
    expect(deriveAdmissionDelay([{ steps, requests: later }], 256).admissionS).toBeCloseTo(0.0013, 4);
    expect(deriveAdmissionDelay([{ steps, requests }], 10)).toEqual({ admissionS: 0, requests: 0, consistent: 0 });
  });

  it("takes each request's known offset out first (--admission-in-sim: the front's backlog at its arrival)", () => {
    // Every request waited 0.6 ms plus its own backlog (0-3 ms, varying): with the backlogs as offsets the constant
    // is 0.6 ms again, held by every interval; without them no single constant holds most.
    const requests = [];
    for (let r = 0; r < 400; r++) {
      const arrivedS = 0.01 + r * 0.02 + rand() * 0.01;
      const offsetS = ((r * 7) % 16) * 0.0002;
      requests.push({ arrivedS, promptTokens: 30, firstEngineTokenS: firstToken(arrivedS, 0.0006 + offsetS), offsetS });
    }
    const d = deriveAdmissionDelay([{ steps, requests }], 256);
    expect(d.admissionS).toBeGreaterThan(0.00058);
    expect(d.admissionS).toBeLessThan(0.00062);
    expect(d.consistent).toBe(1);
    const blind = deriveAdmissionDelay([{ steps, requests: requests.map(({ offsetS: _, ...r }) => r) }], 256);
    expect(blind.consistent).toBeLessThan(0.7);
  });
});

describe("frontHandoff", () => {
  const step = (i: number, start: number, end: number, phases: boolean) => ({
    step: i,
    start,
    end,
    gpu_time: null,
    num_prefill_tokens: 0,
    num_decode_tokens: 1,
    batch_size: 1,
    kv_tokens_in_use: null,
    ...(phases ? { schedule_time: 0.0001, prepare_time: 0.0004 } : {}),
  });
  it("reads the median end -> next launch over back-to-back steps, skipping idle gaps and steps without phases", () => {
    // Steps of 3 ms back to back (launch 0.5 ms after the start), then a 10 ms idle gap that does not count.
    const steps = [step(0, 0, 0.003, true), step(1, 0.003, 0.006, true), step(2, 0.00605, 0.009, true), step(3, 0.019, 0.022, true)];
    expect(frontHandoff([steps])).toBeCloseTo(0.000525, 12);
    expect(frontHandoff([steps.slice(0, 2)])).toBeCloseTo(0.0005, 12);
    expect(frontHandoff([steps.map((s) => step(s.step, s.start, s.end, false))])).toBe(0);
    expect(frontHandoff([])).toBe(0);
  });
});

describe("deriveDeliveryDelay", () => {
  const it_ = (step: number, end: number, batch: number) => ({ step, start: end - 0.001, end, gpu_time: null, num_prefill_tokens: 0, num_decode_tokens: batch, batch_size: batch, kv_tokens_in_use: null });
  it("bins each token's client - engine delay by the batch size of the step that produced it, plus a first-token extra", () => {
    // Steps of batch 1 (ending at 1, 2, 3 ...) and batch 40 (ending at 101, 102, ...): tokens at those ends.
    const steps = [...Array.from({ length: 30 }, (_, i) => it_(i, i + 1, 1)), ...Array.from({ length: 30 }, (_, i) => it_(100 + i, 101 + i, 40))];
    const engine = new Map<number, number[]>();
    const client = new Map<number, number[]>();
    for (let r = 0; r < 2; r++) {
      const base = r === 0 ? 1 : 101;
      const times = Array.from({ length: 30 }, (_, k) => base + k);
      engine.set(r, times);
      // 1 ms at batch 1, 3 ms at batch 40; each request's first token 0.5 ms later still.
      client.set(r, times.map((t, k) => t + (r === 0 ? 0.001 : 0.003) + (k === 0 ? 0.0005 : 0)));
    }
    const d = deriveDeliveryDelay([{ engine, client, steps }], 20);
    expect(d.batchSizes).toEqual([1, 40]);
    expect(d.delaysS[0]).toBeCloseTo(0.001, 12);
    expect(d.delaysS[1]).toBeCloseTo(0.003, 12);
    expect(d.firstTokenExtraS).toBeCloseTo(0.0005, 12);
    expect(d.tokens).toBe(60);
    expect(interpolate(d.batchSizes, d.delaysS, 20.5)).toBeCloseTo(0.002, 12);
    expect(interpolate(d.batchSizes, d.delaysS, 500)).toBeCloseTo(0.003, 12);
    expect(() => deriveDeliveryDelay([{ engine, client, steps }], 31)).toThrow(/no batch-size bin has 31 tokens/);
    // Extended to a cap of 128: knots 64 and 128 continue the last knot along the slope of delay on batch size
    // over the non-first tokens ((3 - 1) ms over 39 requests).
    const ext = deriveDeliveryDelay([{ engine, client, steps }], 20, 128);
    const slope = 0.002 / 39;
    expect(ext.tailSPerRequest).toBeCloseTo(slope, 12);
    expect(ext.batchSizes).toEqual([1, 40, 64, 128]);
    expect(ext.delaysS[2]).toBeCloseTo(0.003 + slope * 24, 12);
    expect(ext.delaysS[3]).toBeCloseTo(0.003 + slope * 88, 12);
  });

  it("fitLine: least squares, slope 0 when x does not vary", () => {
    expect(fitLine([1, 2, 3], [3, 5, 7])).toEqual({ intercept: 1, slope: 2 });
    expect(fitLine([4, 4], [1, 3])).toEqual({ intercept: 2, slope: 0 });
  });
});

describe("machine probes: poolMachineProbes / machineProbeRatio", () => {
  /** A probe with the given p50 (ms) per composition key. */
  const probe = (p50: Record<string, number>): MachineProbe => ({
    schema_version: 1,
    points: Object.entries(p50).map(([key, p50_ms]) => ({ key, kind: key.split(" ")[0]!, p10_ms: p50_ms * 0.98, p50_ms, p90_ms: p50_ms * 1.02, n: 60 })),
  });
  const BASE = {
    "decode d=4 kv=1024": 2.0,
    "decode d=16 kv=1024": 2.5,
    "decode d=64 kv=1024": 4.0,
    "mixed d=4 kv=1024 chunk=224 context=0": 6.0,
    "mixed d=16 kv=1024 chunk=224 context=1024": 8.0,
  };
  const scaled = (by: number, p50: Record<string, number> = BASE) => probe(Object.fromEntries(Object.entries(p50).map(([k, v]) => [k, v * by])));

  it("gives 1 for a probe against itself and 1.03 for a target whose every step is 3 % slower", () => {
    const fit = poolMachineProbes([probe(BASE)]);
    expect(fit).toEqual(BASE);
    expect(machineProbeRatio(fit, probe(BASE))).toEqual({ ratio: 1, compositions: 5, min: 1, max: 1 });
    const slower = machineProbeRatio(fit, scaled(1.03));
    expect(slower.ratio).toBeCloseTo(1.03, 12);
    expect(slower.compositions).toBe(5);
    expect(slower.min).toBeCloseTo(1.03, 12);
    expect(slower.max).toBeCloseTo(1.03, 12);
  });

  it("ignores keys only one side has (a target of batch cap 32 lacks d=64; a key of its own)", () => {
    const { "decode d=64 kv=1024": _lacked, ...cap32 } = BASE;
    const target = scaled(0.97, { ...cap32, "decode d=32 kv=1024": 3.0 });
    const r = machineProbeRatio(poolMachineProbes([probe(BASE)]), target);
    expect(r.compositions).toBe(4);
    expect(r.ratio).toBeCloseTo(0.97, 12);
    expect(r.max).toBeCloseTo(0.97, 12);
  });

  it("takes the median of the per-key ratios, not the mean: one outlier key does not move it", () => {
    const target = scaled(1.02);
    target.points[2]!.p50_ms = BASE["decode d=64 kv=1024"] * 1.5;
    const r = machineProbeRatio(BASE, target);
    expect(r.ratio).toBeCloseTo(1.02, 12);
    expect(r.min).toBeCloseTo(1.02, 12);
    expect(r.max).toBeCloseTo(1.5, 12);
  });

  it("pools per key the median p50 over the probes; a key counts if any probe has it", () => {
    const pooled = poolMachineProbes([
      probe({ "decode d=4 kv=1024": 2.0, "decode d=64 kv=1024": 4.0 }),
      probe({ "decode d=4 kv=1024": 2.2, "decode d=64 kv=1024": 4.4 }),
      probe({ "decode d=4 kv=1024": 9.0, "decode d=16 kv=1024": 2.5 }),
    ]);
    expect(pooled["decode d=4 kv=1024"]).toBe(2.2);
    expect(pooled["decode d=64 kv=1024"]).toBeCloseTo(4.2, 12);
    expect(pooled["decode d=16 kv=1024"]).toBe(2.5);
    expect(Object.keys(pooled)).toHaveLength(3);
  });

  it("refuses an empty list of probes and two probes without a shared key, listing both key sets", () => {
    expect(() => poolMachineProbes([])).toThrow(/at least one probe/);
    const many = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`decode d=${i + 1} kv=64`, 1 + i]));
    try {
      machineProbeRatio(many, probe({ "decode d=4 kv=1024": 2 }));
      throw new Error("expected an error");
    } catch (e) {
      expect(isVidurBridgeError(e, "VIDUR_CALIBRATION_INPUT")).toBe(true);
      const message = (e as Error).message;
      expect(message).toContain("share no step composition");
      expect(message).toContain("fit probe has 9 (decode d=1 kv=64, decode d=2 kv=64");
      expect(message).toContain("... (+3 more)");
      expect(message).toContain("target probe has 1 (decode d=4 kv=1024)");
    }
  });
});

import type { CpuOverheadTable } from "@vf/vidur-bridge";
import { describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeHost, type RunManifest, writeRunManifest } from "@vf/metrics-io";
import { UsageError } from "../errors.js";
import { checkSameWorkload } from "./run.js";
import {
  type CalibrationLoad,
  calibrationCells,
  describeDelay,
  describeInterStepGap,
  describePrefix,
  describePhases,
  describeTail,
  describeStepSize,
  fitProbeOf,
  formatCalibrationMd,
  machineScaleOf,
  onePrefillStep,
  probeOf,
} from "./calibrate.js";

const q = (p50: number, p90: number) => ({ p50, p90 });
const comparison = (ttftSim: [number, number], tbtSim: [number, number]) => ({
  metrics: {
    ttft: { real: q(0.1, 0.2), sim: q(...ttftSim) },
    tbt: { real: q(0.005, 0.01), sim: q(...tbtSim) },
  },
});

describe("calibrationCells / formatCalibrationMd", () => {
  it("computes (sim − real) / real before and after, per metric and percentile", () => {
    const cells = calibrationCells(comparison([0.01, 0.02], [0.006, 0.007]), comparison([0.095, 0.25], [0.005, 0.0095]));
    expect(cells.ttft.p50.beforeRelErr).toBeCloseTo(-0.9, 12);
    expect(cells.ttft.p50.afterRelErr).toBeCloseTo(-0.05, 12);
    expect(cells.ttft.p90.afterRelErr).toBeCloseTo(0.25, 12);
    expect(cells.tbt.p50.beforeRelErr).toBeCloseTo(0.2, 12);
    expect(cells.tbt.p50.afterRelErr).toBeCloseTo(0, 12);
    expect(cells.tbt.p90).toMatchObject({ realS: 0.01, beforeS: 0.007, afterS: 0.0095 });
    expect(() => calibrationCells({ metrics: {} }, comparison([0, 0], [0, 0]))).toThrow(/no "ttft" metric/);
  });

  const metrics = calibrationCells(comparison([0.01, 0.02], [0.006, 0.007]), comparison([0.095, 0.25], [0.005, 0.0095]));
  const load = (name: string, role: "fit" | "held-out"): CalibrationLoad => ({
    name,
    role,
    realDir: "r",
    before: { simDir: "s", comparisonDir: "c" },
    after: { simDir: "s2", comparisonDir: "c2" },
    metrics,
  });
  const table: CpuOverheadTable = {
    mode: "split",
    model: { interceptMs: 6, perPrefillTokenMs: 0.04, perDecodeTokenMs: 0.006, steps: 10 },
    bins: [{ minBatchSize: 3, maxBatchSize: 4, batchSize: 4, decodeSteps: 7, mixedSteps: 5, decodeResidualMs: -1, mixedResidualMs: 70, decodeMisfitMs: 0.25, mixedMisfitMs: null }],
    rows: [
      { batchSize: 4, overheadMs: 0, prefillExtraMs: 70, jitterMs: [-0.3, -0.2, -0.1, 0, 0.1, 0.2, 0.3] },
      { batchSize: 8, overheadMs: 0.08, prefillExtraMs: 70, jitterMs: [-0.3, -0.2, -0.1, 0, 0.1, 0.2, 0.3] },
    ],
    tail: { hostMsPerRequest: 0.02, hostInterceptMs: 0.05, stepsWithGpuTime: 12, rows: 1 },
    binMisfit: true,
    realSteps: 12,
  };

  it("lists the fit load first, then the held-out loads, and the derived overhead rows", () => {
    const md = formatCalibrationMd({ experiment: "demo", fitLoad: "r15", command: "runner calibrate x --fit r15", table, loads: [load("r6", "held-out"), load("r15", "fit")] });
    const rows = md.split("\n").filter((l) => /^\| r\d/.test(l));
    expect(rows).toHaveLength(8);
    expect(rows[0]).toBe("| r15 | fit | TTFT P50 | 100.00 | 10.00 | -90.0% | 95.00 | -5.0% |");
    expect(rows[4]).toMatch(/^\| r6 \| held-out \| TTFT P50 /);
    expect(md).toContain("| 3-4 | 4 | 7 | -1.00 | 0.25 | 5 | 70.00 | – | 0.00 | 70.00 |");
    expect(md).toContain("corrected by the model's misfit there");
    expect(formatCalibrationMd({ experiment: "demo", fitLoad: "r15", command: "c", table: { ...table, binMisfit: false }, loads: [load("r6", "held-out")] })).toContain("no per-bin misfit correction");
    // The tail row past the fit load's largest batch, its host-time line and the jitter quantiles are stated.
    expect(md).toContain("| tail | 8 | – | – | – | – | – | – | 0.08 | 70.00 |");
    expect(md).toContain("0.050 ms + 20.0 us per request");
    expect(md).toContain("quantiles q2 -0.30, q10 -0.20, q25 -0.10, q50 0.00, q75 0.10, q90 0.20, q98 0.30 ms");
    const frozen = formatCalibrationMd({
      experiment: "sharegpt",
      fitLoad: "load30",
      command: "runner calibrate y --frozen d",
      table,
      loads: [{ ...load("load60", "fit"), role: "predicted" }],
      frozenFrom: "azure-conv",
    });
    expect(frozen.split("\n")[0]).toBe("# Prediction of sharegpt with the calibration frozen from azure-conv (fit on its load load30)");
    expect(frozen).toContain("| load60 | predicted | TTFT P50 | 100.00 |");
  });

  it("adds the machine-probe section after the main table only when a load was scaled (--machine-probe)", () => {
    const args = { experiment: "demo", fitLoad: "r15", command: "runner calibrate x --fit r15 --machine-probe", table };
    const plain = formatCalibrationMd({ ...args, loads: [load("r6", "held-out"), load("r15", "fit")] });
    expect(plain).not.toContain("Machine probe");
    const md = formatCalibrationMd({
      ...args,
      loads: [
        { ...load("r6", "held-out"), machineScale: { ratio: 1.03125, compositions: 14, min: 1.0184, max: 1.05 } },
        { ...load("r15", "fit"), machineScale: { ratio: 1, compositions: 17, min: 0.99, max: 1.0104 } },
      ],
    });
    const lines = md.split("\n");
    const at = lines.indexOf(
      "Machine probe (--machine-probe): every simulated step of a load x the median ratio of its real run's probe to the fit runs' pooled probe (step compositions both timed).",
    );
    // After the main table (its last row is r6's TBT P90), before the delivery-delay line.
    expect(lines[at - 2]).toMatch(/^\| r6 \| held-out \| TBT P90 /);
    expect(lines.slice(at + 2, at + 6)).toEqual([
      "| load | compositions | step-time scale | range |",
      "|---|---|---|---|",
      "| r15 | 17 | 1.0000 | 0.990-1.010 |",
      "| r6 | 14 | 1.0313 | 1.018-1.050 |",
    ]);
    expect(lines[at + 7]).toBe("Delivery delay: none modelled.");
  });

  it("warns under the host-scale table when a load's probe differs in size from the fit's (another token budget)", () => {
    const args = { experiment: "b256", fitLoad: "r15", command: "runner calibrate x --frozen d --host-scale probe", table };
    const probe = (ratio: number, probeInts: number) => ({ source: "probe" as const, ratio, steps: 900, probeInts, referenceProbeInts: 2048 });
    const same = formatCalibrationMd({ ...args, loads: [{ ...load("r6", "held-out"), hostScale: probe(0.95, 2048) }] });
    expect(same).toContain("| r6 | 900 | 0.9500 |");
    expect(same).not.toContain("Warning");
    const md = formatCalibrationMd({
      ...args,
      loads: [
        { ...load("r6", "held-out"), hostScale: probe(0.69, 1280) },
        { ...load("r15", "fit"), hostScale: probe(1, 2048) },
      ],
    });
    const lines = md.split("\n");
    const at = lines.indexOf("| r6 | 900 | 0.6900 |");
    expect(lines[at + 2]).toMatch(/^Warning: the probe's size differs from the fit's \(2048 ints: 3 x the step token limit \+ the slots\) on r6 1280: another token budget or batch cap\..*\(--no-probe-size\)/);
    expect(lines[at + 2]).not.toContain("r15");
  });

  it("adds the preparation shift's column and says how a size-aware scale reads the probe", () => {
    const args = { experiment: "b256", fitLoad: "r15", command: "runner calibrate x --frozen d --host-scale probe", table };
    const md = formatCalibrationMd({
      ...args,
      loads: [
        { ...load("r6", "held-out"), hostScale: { source: "probe", ratio: 1.1, steps: 900, probeInts: 1280, referenceProbeInts: 2048, prepareShiftMs: -0.0703 } },
        { ...load("r15", "fit"), hostScale: { source: "probe", ratio: 1, steps: 800, probeInts: 2048, referenceProbeInts: 2048 } },
      ],
    });
    const lines = md.split("\n");
    const at = lines.indexOf("| load | steps | host scale | preparation shift (ms) |");
    expect(lines.slice(at + 1, at + 4)).toEqual(["|---|---|---|---|", "| r15 | 800 | 1.0000 | 0.0000 |", "| r6 | 900 | 1.1000 | -0.0703 |"]);
    expect(lines[at + 5]).toMatch(/^The probe's size differs from the fit's \(2048 ints: .*\) on r6 1280: .*ratio of the two levels per int/);
    expect(md).not.toContain("Warning");
  });
});

describe("describeDelay / onePrefillStep (the serving path's delays)", () => {
  const delay = { batchSizes: [1, 40], delaysS: [0.0005, 0.002], firstTokenExtraS: 0.0003, tokens: 900 };
  it("states the admission delay, with its evidence, only when the table has one", () => {
    expect(describeDelay(delay)).toBe("0.50 ms at 1, 2.00 ms at 40 requests; first token +0.30 ms (from 900 tokens of the fit load)");
    expect(describeDelay({ ...delay, admissionS: 0.00061, admissionRequests: 110, admissionConsistent: 0.8364 })).toBe(
      "0.50 ms at 1, 2.00 ms at 40 requests; first token +0.30 ms (from 900 tokens of the fit load); admission delay 0.61 ms on every token (held by 84 % of 110 short requests' intervals)",
    );
  });
  it("states the prefill-prefix term: off, not identified, or both slopes and what is added", () => {
    expect(describePrefix(undefined)).toBe("Prefill-prefix term: off (--no-prefix-term).");
    expect(describePrefix(null)).toContain("not identified");
    const text = describePrefix({ realMsPerMPair: 2.41, realStandardErrorMsPerMPair: 0.05, simMsPerMPair: 1.27, msPerMPair: 1.14, mixedSteps: 1138 });
    expect(text).toContain("+2.41 ms (± 0.05) per million (chunk token, earlier prompt token) pairs on the real engine and by +1.27 ms in Vidur");
    expect(text).toContain("slopes of 1138 mixed steps");
    expect(text).toContain("the difference, +1.14 ms per million pairs, is added");
  });
  it("states the step-size term: off, not identified, or each identified class's offsets and what is added", () => {
    expect(describeStepSize(undefined)).toBe("Step-size term: off (runner calibrate --step-size-term fits it).");
    expect(describeStepSize(null)).toContain("not identified (fewer than two classes of tokens per mixed step had 20 mixed steps");
    const text = describeStepSize({
      boundsTokens: [128, 192, 256, 384, 512],
      referenceTokens: 512,
      realSteps: [3, 62, 79, 37, 894],
      simSteps: [4, 60, 80, 30, 900],
      realMs: [null, 1.53, 1.15, 0.56, 0],
      simMs: [null, 0.95, 0.57, 0.25, 0],
      correctionMs: [0.58, 0.58, 0.58, 0.31, 0],
    });
    expect(text).toContain("relative to the class <= 512 tokens");
    expect(text).toContain("<= 192 tokens (62 real steps): real +1.53, Vidur +0.95, added +0.58; <= 256 tokens (79 real steps)");
    expect(text).toContain("<= 384 tokens (37 real steps): real +0.56, Vidur +0.25, added +0.31; <= 512 tokens (894 real steps): real +0.00");
    // A class not identified (3 real steps) is not listed.
    expect(text).not.toContain("<= 128 tokens");
  });
  it("states the inter-step gap: off (the flag that turns it on), or the gaps folded and their mean and median", () => {
    expect(describeInterStepGap(undefined)).toContain("Inter-step gap: off (runner calibrate --inter-step-gap");
    const text = describeInterStepGap({ gaps: 23253, meanMs: 0.0553, medianMs: 0.0491 });
    expect(text).toContain("0.055 ms mean, 0.049 ms median over 23253 gaps, is folded into the next step");
  });
  it("states the step phases: nothing for older runs, the fallback, or each bin's phases and the written split", () => {
    const model = { interceptMs: 1, perPrefillTokenMs: 0.001, perDecodeTokenMs: 0.01, steps: 100 };
    const bin = { minBatchSize: 3, maxBatchSize: 4, batchSize: 4, decodeSteps: 50, mixedSteps: 6, decodeResidualMs: 0.9, mixedResidualMs: 1.2 };
    const row = { batchSize: 4, overheadMs: 0.9, prefillExtraMs: 0.3, jitterMs: null };
    const table = { mode: "split" as const, model, bins: [bin], rows: [row], tail: null, realSteps: 56 };
    expect(describePhases(table)).toEqual([]);
    expect(describePhases({ ...table, phases: false })[0]).toContain("no batch-size bin had enough decode-only steps");
    const text = describePhases({
      ...table,
      phases: true,
      bins: [{ ...bin, decodePhasesMs: { schedule: 0.01, prepare: 0.65, wait: 1.4, process: 0.02 }, mixedPhasesMs: null }],
      rows: [{ ...row, hostPhasesMs: { schedule: 0.01, prepare: 0.65, process: 0.02 } }, { ...row, batchSize: 128, overheadMs: 3, hostPhasesMs: { schedule: 0.1, prepare: 1.5, process: 0.3 } }],
      tail: { hostMsPerRequest: 0.02, hostInterceptMs: 0.5, stepsWithGpuTime: 56, rows: 1, phaseMsPerRequest: { schedule: 0.0004, prepare: 0.0071, process: -0.0001 } },
    }).join("\n");
    // The bin's measured phases, the mixed side unknown, and the written split with its bias (0.9 - 0.68 = 0.22).
    expect(text).toContain("| 3-4 | 0.010 | 0.650 | 1.400 | 0.020 | – | – | – | – | 0.010 | 0.650 | 0.020 | 0.220 |");
    expect(text).toContain("schedule 0.4 us, prepare 7.1 us, process -0.1 us per request");
    // calibration.md's tail sentence names the slope's source.
    const md = (tail: Record<string, unknown>) => ({ ...table, tail: { hostMsPerRequest: 0.0075, hostInterceptMs: 0.08, stepsWithGpuTime: 56, rows: 1, ...tail } });
    expect(describePhases(md({ hostSlopeFrom: "phases" })).join("\n")).not.toContain("Tail rows");
    expect(describeTail(md({ hostSlopeFrom: "phases" }))).toContain("7.5 us (the sum of the schedule, prepare and process phases' slopes");
    expect(describeTail(md({}))).toContain("7.5 us (least-squares line of wall - GPU time on batch size over 56 steps");
    // --host-tail flat: the tail holds the last knot's columns, and the phase section states no slopes.
    const flat = md({ hostSlopeFrom: "phases", flat: true, hostMsPerRequest: 0, phaseMsPerRequest: { schedule: 0, prepare: 0, process: 0 } });
    expect(describeTail(flat)).toContain("every column held at the last knot's value (--host-tail flat)");
    expect(describePhases({ ...flat, phases: true }).join("\n")).not.toContain("Tail rows continue");
  });
  it("reads the admission delay off prompts one step prefills: half a chunking scheduler's budget", () => {
    expect(onePrefillStep({ kind: "sarathi", chunkSize: 512, batchSizeCap: 128 })).toBe(256);
    expect(onePrefillStep({ kind: "vllm", maxTokensInBatch: 4097, batchSizeCap: 128 })).toBe(2048);
    expect(onePrefillStep({ kind: "orca", batchSizeCap: 8 })).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("probeOf / fitProbeOf / machineScaleOf (--machine-probe)", () => {
  const point = (key: string, p50_ms: number) => ({ key, kind: key.split(" ")[0], p10_ms: p50_ms * 0.98, p50_ms, p90_ms: p50_ms * 1.02, n: 60 });
  const probe = (p50: Record<string, number>) => ({
    schema_version: 1,
    what: "wall time of one engine step",
    repeats: 60,
    rounds: 4,
    warmup_per_round: 3,
    seconds: 2.1,
    points: Object.entries(p50).map(([k, v]) => point(k, v)),
  });
  const root = mkdtempSync(join(tmpdir(), "machine-probe-"));
  const runDir = (name: string, serverRun?: Record<string, unknown>): string => {
    const dir = join(root, name);
    mkdirSync(dir);
    if (serverRun !== undefined) writeFileSync(join(dir, "server_run.json"), JSON.stringify({ wall_anchor_unix_s: 1000, ...serverRun }));
    return dir;
  };
  const hint = "has no machine_probe (record the run with a gpu-harness server that probes: serve --probe-repeats, default on cuda)";

  it("reads a run's probe and names server_run.json when the run has none (file missing, key absent or null)", async () => {
    const good = runDir("good", { machine_probe: probe({ "decode d=4 kv=1024": 2 }) });
    expect((await probeOf(good)).points.map((p) => p.key)).toEqual(["decode d=4 kv=1024"]);
    for (const dir of [runDir("bare"), runDir("old", {}), runDir("off", { machine_probe: null })]) {
      const err = await probeOf(dir).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toBe(`--machine-probe: ${join(dir, "server_run.json")} ${hint}`);
    }
    const bad = runDir("bad", { machine_probe: { ...probe({}), points: [point("decode d=4 kv=1024", -1)] } });
    await expect(probeOf(bad)).rejects.toThrow(`--machine-probe: ${join(bad, "server_run.json")}: machine_probe.points.0.p50_ms`);
  });

  it("pools the fit runs' probes per key (median p50), refuses a fit run without one, and scales a load by the shared keys", async () => {
    const a = runDir("fit-a", { machine_probe: probe({ "decode d=4 kv=1024": 2.0, "decode d=64 kv=1024": 4.0 }) });
    const b = runDir("fit-b", { machine_probe: probe({ "decode d=4 kv=1024": 2.2, "decode d=64 kv=1024": 4.4 }) });
    const c = runDir("fit-c", { machine_probe: probe({ "decode d=4 kv=1024": 2.4 }) });
    const fit = await fitProbeOf([a, b, c]);
    expect(fit["decode d=4 kv=1024"]).toBe(2.2);
    expect(fit["decode d=64 kv=1024"]).toBeCloseTo(4.2, 12);
    const none = runDir("fit-none", {});
    await expect(fitProbeOf([a, none])).rejects.toThrow(`--machine-probe: ${join(none, "server_run.json")} ${hint}`);
    // A batch-cap-32 server times no d=64 step: only the shared key counts.
    const target = runDir("load", { machine_probe: probe({ "decode d=4 kv=1024": 2.2 * 1.03, "decode d=32 kv=1024": 3 }) });
    const scale = await machineScaleOf(fit, "load60", target);
    expect(scale.ratio).toBeCloseTo(1.03, 12);
    expect(scale.compositions).toBe(1);
    const disjoint = runDir("disjoint", { machine_probe: probe({ "decode d=1 kv=64": 1 }) });
    await expect(machineScaleOf(fit, "load90", disjoint)).rejects.toThrow(
      `--machine-probe: load load90 (${join(disjoint, "server_run.json")}): the machine probes share no step composition`,
    );
    await expect(machineScaleOf(fit, "load30", none)).rejects.toThrow(UsageError);
  });
});

describe("checkSameWorkload (--fit-also)", () => {
  it("accepts recordings of the fit load's workload and names the run, both ids or the missing file otherwise", async () => {
    const root = mkdtempSync(join(tmpdir(), "fit-also-"));
    const run = async (name: string, workloadId: string) => {
      const dir = join(root, name);
      mkdirSync(dir);
      const manifest = { schema_version: 1, kind: "real", run_id: name, created_at: "2026-11-28T00:00:00Z", workload_id: workloadId };
      await writeRunManifest(dir, { ...manifest, tool_versions: {}, git_sha: null, command: "test", config: {}, host: describeHost() } as RunManifest);
      return dir;
    };
    const fit = { name: "load60", workloadId: "aaaa" };
    const same = await run("rep1", "aaaa");
    const other = await run("other", "bbbb");
    const bare = join(root, "bare");
    mkdirSync(bare);
    await expect(checkSameWorkload(fit, [same])).resolves.toBeUndefined();
    await expect(checkSameWorkload(fit, [same, other])).rejects.toThrow(`--fit-also ${other}: workload bbbb, but load load60 is workload aaaa`);
    await expect(checkSameWorkload(fit, [bare])).rejects.toThrow(`cannot read ${join(bare, "run.json")}`);
  });
});

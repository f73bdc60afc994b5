/**
 * End-to-end tests of runVidur against the real Vidur 0.0.26 in the project venv (tag: [real-vidur]).
 * The 200-request run uses a profile measured by the gpu-harness profiler on CPU (`--quick`, tiny config);
 * the exact-TTFT and error tests use a small analytic table in Vidur's schema (noise-free rows). Forests use
 * 20 trees so training takes seconds.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readIterations, readRequestMetrics, readRunManifest, readTokenTimestampsGrouped } from "@vf/metrics-io";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deriveCpuOverheads, formatCpuOverheadsCsv, frontBacklog, isVidurBridgeError, type RunVidurOptions, runVidur, type VidurProgress } from "../src/index.js";
import {
  makeRequests,
  PYTHON,
  readCsvObjects,
  runHarnessProfiler,
  readTinyDims,
  TEST_DEVICE,
  TINY_CONFIG,
  TINY_MODEL,
  type TinyDims,
  writeTinyProfile,
  writeWorkloadDir,
} from "./fixtures.js";

let tmp: string;
let dims: TinyDims;
let profileRoot: string;
let profileDir: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "vidur-bridge-"));
  dims = await readTinyDims();
  profileRoot = join(tmp, "profiles");
  profileDir = await writeTinyProfile(profileRoot, dims);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function baseOptions(workloadDir: string, runDir: string): RunVidurOptions {
  return {
    python: PYTHON,
    workloadDir,
    runDir,
    profilingRoot: profileRoot,
    device: TEST_DEVICE,
    modelName: TINY_MODEL,
    modelConfigPath: TINY_CONFIG,
    scheduler: { kind: "sarathi", chunkSize: 256, batchSizeCap: 32 },
    seed: 7,
    predictor: { grid: { numEstimators: [20], maxDepth: [32], minSamplesSplit: [2] } },
    cacheDir: join(tmp, "cache"),
  };
}

const sha256 = async (p: string): Promise<string> => createHash("sha256").update(await readFile(p)).digest("hex");

describe("[real-vidur] runVidur end to end", { timeout: 480_000 }, () => {
  it("simulates a 200-request workload on a gpu-harness profile with exact per-request token times", async () => {
    const harnessRoot = join(tmp, "harness-profile");
    const harnessDir = await runHarnessProfiler(harnessRoot);
    // Sized to the quick profile's grid: prompt + output <= 88 tokens, 64-token chunks, 4 requests per batch.
    const requests = makeRequests(200, 15, 11, 60, 30);
    const workloadDir = join(tmp, "wl200");
    await writeWorkloadDir(workloadDir, requests);
    const runDir = join(tmp, "runs", "r200");
    const events: VidurProgress[] = [];
    const options: RunVidurOptions = {
      ...baseOptions(workloadDir, runDir),
      profilingRoot: harnessRoot,
      scheduler: { kind: "sarathi", chunkSize: 64, batchSizeCap: 4 },
    };
    const result = await runVidur({ ...options, onProgress: (p) => events.push(p) });
    expect(result.vidurVersion).toBe("0.0.26");
    expect(result.numCompleted).toBe(200);

    const metrics = await readRequestMetrics(join(runDir, "request_metrics.csv"));
    expect(metrics.map((m) => m.request_id)).toEqual(requests.map((_, i) => i));
    const tokens = await readTokenTimestampsGrouped(join(runDir, "token_timestamps.csv"));
    for (const [i, r] of requests.entries()) {
      const m = metrics[i]!;
      expect(Math.abs(m.arrived_at - r.arrived_at)).toBeLessThanOrEqual(1e-6);
      expect(m.num_prefill_tokens).toBe(r.num_prefill_tokens);
      expect(m.num_decode_tokens).toBe(r.num_decode_tokens);
      expect(m.num_output_tokens).toBe(r.num_decode_tokens);
      expect(m.status).toBe("ok");
      const times = tokens.get(i)!;
      expect(times).toHaveLength(r.num_decode_tokens);
      for (let k = 1; k < times.length; k++) expect(times[k]!).toBeGreaterThan(times[k - 1]!);
      expect(Math.abs(times[0]! - (r.arrived_at + m.ttft!))).toBeLessThanOrEqual(1e-6);
      expect(m.ttft!).toBeGreaterThan(0);
      expect(Math.abs(m.e2e! - (times.at(-1)! - r.arrived_at))).toBeLessThanOrEqual(1e-6);
    }
    // Vidur's own TTFT column agrees with the rebuilt first-token times.
    expect(result.maxTtftMismatchS).toBeLessThanOrEqual(1e-6);

    // Iterations: every prompt token is prefilled once and every later output token is one decode step.
    const iterations = await readIterations(join(runDir, "iterations.csv"));
    const sumPrefill = iterations.reduce((s, it) => s + it.num_prefill_tokens, 0);
    const sumDecode = iterations.reduce((s, it) => s + it.num_decode_tokens, 0);
    expect(sumPrefill).toBe(requests.reduce((s, r) => s + r.num_prefill_tokens, 0));
    expect(sumDecode).toBe(requests.reduce((s, r) => s + r.num_decode_tokens - 1, 0));
    for (const it of iterations) {
      expect(it.end).toBeGreaterThan(it.start);
      expect(it.num_prefill_tokens + it.num_decode_tokens).toBeLessThanOrEqual(64);
      expect(it.batch_size).toBeLessThanOrEqual(4);
    }

    const manifest = await readRunManifest(runDir);
    expect(manifest.kind).toBe("vidur");
    expect(manifest.tool_versions.vidur).toBe("0.0.26");
    const hashes = (manifest as Record<string, unknown>).profile_hashes as Record<string, string>;
    expect(hashes.mlp).toBe(await sha256(join(harnessDir, "mlp.csv")));
    expect(hashes.attention).toBe(await sha256(join(harnessDir, "attention.csv")));
    const argv = manifest.config.vidur_argv as string[];
    expect(argv).toContain("--cache_config_num_blocks");
    expect(argv[argv.indexOf("--replica_scheduler_config_type") + 1]).toBe("sarathi");
    // Raw Vidur output is kept under vidur/.
    const raw = await readCsvObjects(join(result.vidurOutputDir, "request_metrics.csv"));
    expect(raw).toHaveLength(200);

    expect(events.some((e) => e.phase === "train" && e.done === e.total && e.total >= 12)).toBe(true);
    expect(events.filter((e) => e.phase === "simulate").at(-1)).toMatchObject({ done: 200, total: 200 });

    // Same inputs + seed + warm cache -> byte-identical records.
    const again = join(tmp, "runs", "r200b");
    await runVidur({ ...options, runDir: again });
    expect(await readFile(join(again, "request_metrics.csv"), "utf8")).toBe(await readFile(join(runDir, "request_metrics.csv"), "utf8"));
    expect(await readFile(join(again, "token_timestamps.csv"), "utf8")).toBe(await readFile(join(runDir, "token_timestamps.csv"), "utf8"));

    // Vidur's GQA decode batching overhead (the tiny model has 4 query heads over 2 KV heads) reaches Vidur: with it
    // at 0 vs 1, a decode-only step of one request costs the same at the same KV, a step of several costs more at 1.
    const stepsWith = async (fraction: number) => {
      const dir = join(tmp, "runs", `gqa${fraction}`);
      await runVidur({ ...options, runDir: dir, predictor: { ...options.predictor, attentionDecodeBatchingOverheadFraction: fraction } });
      return (await readIterations(join(dir, "iterations.csv"))).filter((it) => it.num_prefill_tokens === 0);
    };
    const [none, full] = [await stepsWith(0), await stepsWith(1)];
    // The harness profile declares 0 in its profile.json (its decode rows time the batched kernel): without the
    // option, the run takes that, and its decode steps are the 0 run's; the option overrides it.
    const gqaFlag = argv.findIndex((a) => a.endsWith("attention_decode_batching_overhead_fraction"));
    expect(argv[gqaFlag + 1]).toBe("0");
    expect(manifest.config.predictor).toMatchObject({
      attention_decode_batching_overhead_fraction: 0,
      attention_decode_batching_overhead_fraction_from: join(harnessDir, "profile.json"),
    });
    const defaultDecode = (await readIterations(join(runDir, "iterations.csv"))).filter((it) => it.num_prefill_tokens === 0);
    expect(defaultDecode.map((it) => it.gpu_time)).toEqual(none.map((it) => it.gpu_time));
    expect((await readRunManifest(join(tmp, "runs", "gqa1"))).config.predictor).toMatchObject({
      attention_decode_batching_overhead_fraction: 1,
      attention_decode_batching_overhead_fraction_from: "option",
    });
    const byKv = (steps: typeof none, batch: number) =>
      new Map(steps.filter((it) => it.batch_size === batch).map((it) => [it.kv_tokens_in_use, it.gpu_time ?? Number.NaN]));
    const loneNone = byKv(none, 1);
    const loneShared = [...byKv(full, 1)].filter(([kv]) => loneNone.has(kv));
    expect(loneShared.length).toBeGreaterThan(0);
    for (const [kv, t] of loneShared) expect(t).toBeCloseTo(loneNone.get(kv)!, 12);
    // Several requests: compare at every batch size both runs have decode-only steps of (the profile is timed on this
    // CPU, so which batch sizes the schedule produces varies from run to run), at least one.
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const shared = [2, 3, 4].filter((b) => byKv(none, b).size >= 3 && byKv(full, b).size >= 3);
    expect(shared.length).toBeGreaterThan(0);
    for (const b of shared) expect(median([...byKv(full, b).values()])).toBeGreaterThan(median([...byKv(none, b).values()]) * 1.05);
    // stepTimeScale: every step's time x the factor; a lone decode step at the same KV takes exactly half at 0.5, and
    // the GPU part recorded is scaled with it.
    const halfDir = join(tmp, "runs", "half");
    await runVidur({ ...options, runDir: halfDir, stepTimeScale: 0.5 });
    const loneSteps = async (dir: string) =>
      new Map(
        (await readIterations(join(dir, "iterations.csv")))
          .filter((it) => it.num_prefill_tokens === 0 && it.batch_size === 1)
          .map((it) => [it.kv_tokens_in_use, { gpu: it.gpu_time ?? Number.NaN, wall: it.end - it.start }]),
      );
    const [whole, half] = [await loneSteps(runDir), await loneSteps(halfDir)];
    const sharedKv = [...half.keys()].filter((kv) => whole.has(kv));
    expect(sharedKv.length).toBeGreaterThan(0);
    for (const kv of sharedKv) {
      expect(half.get(kv)!.gpu).toBeCloseTo(whole.get(kv)!.gpu * 0.5, 8); // times are written to the ns
      expect(half.get(kv)!.wall).toBeCloseTo(whole.get(kv)!.wall * 0.5, 8);
    }
    expect((await readRunManifest(halfDir)).config.step_time_scale).toBe(0.5);
    await expect(runVidur({ ...options, stepTimeScale: 0 })).rejects.toSatisfy(
      (e: unknown) => isVidurBridgeError(e, "VIDUR_BAD_OPTION") && e.message.includes("stepTimeScale = 0"),
    );
    await expect(runVidur({ ...options, predictor: { attentionDecodeBatchingOverheadFraction: -0.1 } })).rejects.toSatisfy(
      (e: unknown) => isVidurBridgeError(e, "VIDUR_BAD_OPTION") && e.message.includes("attentionDecodeBatchingOverheadFraction"),
    );
  });

  it("gives a lone request the profile's predicted prefill time as TTFT (within 1%), plus any CPU overhead", async () => {
    const prompt = 200;
    const workloadDir = join(tmp, "wl1");
    await writeWorkloadDir(workloadDir, [{ arrived_at: 0.25, num_prefill_tokens: prompt, num_decode_tokens: 4 }]);
    const runDir = join(tmp, "runs", "r1");
    await runVidur(baseOptions(workloadDir, runDir));
    const [m] = await readRequestMetrics(join(runDir, "request_metrics.csv"));

    // Independent expectation from the profile rows, by Vidur 0.0.26's per-batch formula: per layer, the
    // linear/norm/add ops at the batch's tokens rounded up to 8, plus attention prefill at (kv, chunk rounded
    // up to 32) where 0.0.26 passes kv = cached + this chunk's tokens, rounded up to the granularity (64);
    // attn_kv_cache_save is not part of 0.0.26's total; times in ms.
    const mlp = await readCsvObjects(join(profileDir, "mlp.csv"));
    const row = mlp.find((r) => Number(r.num_tokens) === Math.ceil(prompt / 8) * 8)!;
    const ops = ["input_layernorm", "attn_pre_proj", "attn_rope", "attn_post_proj", "post_attention_layernorm", "mlp_up_proj", "mlp_act", "mlp_down_proj", "add"];
    const linearMs = ops.reduce((s, op) => s + Number(row[`time_stats.${op}.median`]), 0);
    const attn = await readCsvObjects(join(profileDir, "attention.csv"));
    const kvKey = Math.ceil(prompt / 64) * 64;
    const prefillRow = attn.find((r) => Number(r.prefill_chunk_size) === Math.ceil(prompt / 32) * 32 && Number(r.kv_cache_size) === kvKey)!;
    const expectedS = (dims.num_layers * (linearMs + Number(prefillRow["time_stats.attn_prefill.median"]))) / 1000;
    expect(m!.ttft!).toBeGreaterThan(0);
    expect(Math.abs(m!.ttft! - expectedS) / expectedS).toBeLessThan(0.01);

    // A CPU-overhead file adds its interpolated per-batch time (batch of 1: 0.5 + 0.25 ms) to every iteration;
    // iterations.csv keeps the GPU part in gpu_time.
    const overheadPath = join(tmp, "cpu_overheads.csv");
    await writeFile(
      overheadPath,
      [
        "model_name,tensor_parallel_degree,batch_size,schedule_median,sampler_e2e_median",
        `${TINY_MODEL},1,1,0.5,0.25`,
        `${TINY_MODEL},1,16,1.0,0.5`,
        "other/model,1,1,9.0,9.0",
      ].join("\n"),
    );
    const withCpuDir = join(tmp, "runs", "r1cpu");
    await runVidur({ ...baseOptions(workloadDir, withCpuDir), cpuOverhead: overheadPath });
    const [c] = await readRequestMetrics(join(withCpuDir, "request_metrics.csv"));
    expect(c!.ttft! - m!.ttft!).toBeCloseTo(0.75e-3, 9);
    expect(c!.tpot! - m!.tpot!).toBeCloseTo(0.75e-3, 9);
    const [plain] = await readIterations(join(runDir, "iterations.csv"));
    const [withCpu] = await readIterations(join(withCpuDir, "iterations.csv"));
    expect(withCpu!.end - withCpu!.start).toBeCloseTo(plain!.end - plain!.start + 0.75e-3, 9);
    expect(withCpu!.gpu_time!).toBeCloseTo(plain!.gpu_time!, 9);
    const manifest = await readRunManifest(withCpuDir);
    expect(manifest.config.cpu_overhead_file).toBe(overheadPath);

    // A negative correction (the profile over-predicts the engine) takes time off every step, but never more
    // than 90 % of the predicted step: -1 s floors each step at a tenth of its prediction.
    const negativePath = join(tmp, "cpu_overheads_negative.csv");
    await writeFile(negativePath, ["model_name,tensor_parallel_degree,batch_size,schedule_median", `${TINY_MODEL},1,1,-1000`].join("\n"));
    const negDir = join(tmp, "runs", "r1neg");
    await runVidur({ ...baseOptions(workloadDir, negDir), cpuOverhead: negativePath });
    const [n] = await readRequestMetrics(join(negDir, "request_metrics.csv"));
    expect(n!.ttft!).toBeCloseTo(m!.ttft! * 0.1, 9);
    const [negStep] = await readIterations(join(negDir, "iterations.csv"));
    expect(negStep!.end - negStep!.start).toBeCloseTo((plain!.end - plain!.start) * 0.1, 9);

    // A delivery delay moves every token time by the delay at its step's batch size (a lone request: batch 1,
    // 4 ms) plus the first token's extra (1 ms): TTFT grows by 5 ms, e2e by 4, TPOT shrinks by 1 ms / (n - 1).
    const delayDir = join(tmp, "runs", "r1delay");
    const deliveryDelay = { batchSizes: [1, 64], delaysS: [0.004, 0.01], firstTokenExtraS: 0.001 };
    await runVidur({ ...baseOptions(workloadDir, delayDir), deliveryDelay });
    const [dm] = await readRequestMetrics(join(delayDir, "request_metrics.csv"));
    expect(dm!.ttft! - m!.ttft!).toBeCloseTo(0.005, 9);
    expect(dm!.e2e! - m!.e2e!).toBeCloseTo(0.004, 9);
    expect(dm!.tpot! - m!.tpot!).toBeCloseTo(-0.001 / (m!.num_output_tokens - 1), 9);
    expect((await readRunManifest(delayDir)).config.delivery_delay).toEqual(deliveryDelay);
    // An admission delay moves every token of the request by the same constant: TTFT and e2e by 2 ms more, TPOT
    // as with the delivery delay alone.
    const admitDir = join(tmp, "runs", "r1admit");
    await runVidur({ ...baseOptions(workloadDir, admitDir), deliveryDelay: { ...deliveryDelay, admissionS: 0.002 } });
    const [am] = await readRequestMetrics(join(admitDir, "request_metrics.csv"));
    expect(am!.ttft! - dm!.ttft!).toBeCloseTo(0.002, 9);
    expect(am!.e2e! - dm!.e2e!).toBeCloseTo(0.002, 9);
    expect(am!.tpot!).toBeCloseTo(dm!.tpot!, 9);
    // With the front's backlog (frontSPerToken): the constant less the fit's mean backlog plus the backlog at the
    // request's arrival, which is none for a lone request: 2 - 1.5 = 0.5 ms.
    const backlogDir = join(tmp, "runs", "r1backlog");
    const backlogDelay = { ...deliveryDelay, admissionS: 0.002, frontSPerToken: 1e-4, admissionBacklogMeanS: 0.0015 };
    await runVidur({ ...baseOptions(workloadDir, backlogDir), deliveryDelay: backlogDelay });
    const [bm] = await readRequestMetrics(join(backlogDir, "request_metrics.csv"));
    expect(bm!.ttft! - dm!.ttft!).toBeCloseTo(0.0005, 9);
    expect(bm!.e2e! - dm!.e2e!).toBeCloseTo(0.0005, 9);
    await expect(
      runVidur({ ...baseOptions(workloadDir, join(tmp, "runs", "r1bad3")), deliveryDelay: { ...backlogDelay, frontSPerToken: -1e-4 } }),
    ).rejects.toSatisfy((e: unknown) => isVidurBridgeError(e, "VIDUR_BAD_OPTION") && (e as Error).message.includes("frontSPerToken"));
    await expect(
      runVidur({ ...baseOptions(workloadDir, join(tmp, "runs", "r1bad4")), deliveryDelay: { ...backlogDelay, frontSPerStep: Number.NaN } }),
    ).rejects.toSatisfy((e: unknown) => isVidurBridgeError(e, "VIDUR_BAD_OPTION") && (e as Error).message.includes("frontSPerStep"));
    const bad = { batchSizes: [4, 2], delaysS: [0.001, 0.002] };
    await expect(runVidur({ ...baseOptions(workloadDir, join(tmp, "runs", "r1bad")), deliveryDelay: bad })).rejects.toSatisfy(
      (e: unknown) => isVidurBridgeError(e, "VIDUR_BAD_OPTION") && (e as Error).message.includes("batchSizes increasing"),
    );
    const early = { ...deliveryDelay, admissionS: -0.001 };
    await expect(runVidur({ ...baseOptions(workloadDir, join(tmp, "runs", "r1bad2")), deliveryDelay: early })).rejects.toSatisfy(
      (e: unknown) => isVidurBridgeError(e, "VIDUR_BAD_OPTION") && (e as Error).message.includes("admissionS, frontSPerToken, frontSPerStep, admissionBacklogMeanS and frontHandoffS >= 0"),
    );
  });

  it("grows a later request's admission delay by the front's backlog, a step's tokens paying the per-step time once", async () => {
    // Request 0 is served alone (its three tokens come from three steps); request 1 arrives 0.5 s later. The front
    // pays 0.1 ms a token and, with frontSPerStep, 1 s a step: still busy with request 0's tokens when request 1
    // arrives, so request 1's admission waits that backlog, read off the simulation's own emit times.
    const workloadDir = join(tmp, "wl-front");
    await writeWorkloadDir(workloadDir, [
      { arrived_at: 0, num_prefill_tokens: 40, num_decode_tokens: 3 },
      { arrived_at: 0.5, num_prefill_tokens: 40, num_decode_tokens: 3 },
    ]);
    const delay = { batchSizes: [1], delaysS: [0], admissionS: 0, frontSPerToken: 1e-4, admissionBacklogMeanS: 0 };
    const tokenDir = join(tmp, "runs", "front-token");
    const stepDir = join(tmp, "runs", "front-step");
    await runVidur({ ...baseOptions(workloadDir, tokenDir), deliveryDelay: delay });
    await runVidur({ ...baseOptions(workloadDir, stepDir), deliveryDelay: { ...delay, frontSPerStep: 1 } });
    const raw = await readTokenTimestampsGrouped(join(stepDir, "vidur", "bridge_tokens.csv"));
    const emitS = [...raw.values()].flat().sort((x, y) => x - y);
    expect(emitS.filter((t) => t < 0.5)).toHaveLength(3);
    const [waited] = frontBacklog(emitS, 1e-4, [0.5], 1);
    // Three steps at 1 s each before 0.5 s: about 2.5 s of backlog, none without the per-step time.
    expect(waited).toBeGreaterThan(2.4);
    expect(frontBacklog(emitS, 1e-4, [0.5])[0]).toBe(0);
    const token = await readRequestMetrics(join(tokenDir, "request_metrics.csv"));
    const step = await readRequestMetrics(join(stepDir, "request_metrics.csv"));
    expect(step[0]!.ttft!).toBeCloseTo(token[0]!.ttft!, 9);
    expect(step[1]!.ttft! - token[1]!.ttft!).toBeCloseTo(waited!, 9);
    expect((await readRunManifest(stepDir)).config.delivery_delay).toEqual({ ...delay, frontSPerStep: 1 });
  });

  it("moves each arrival inside the simulation by the front gate's delay (admissionInSimulation)", async () => {
    // The same two requests. The gate takes each step's tokens 10 ms after the step ends, pays 1 s a step: request 1
    // (arriving at 0.5 s) reaches Vidur's scheduler the constant plus that backlog later, and its token times are not
    // moved again afterwards; request 0, alone, only by the constant.
    const workloadDir = join(tmp, "wl-gate");
    await writeWorkloadDir(workloadDir, [
      { arrived_at: 0, num_prefill_tokens: 40, num_decode_tokens: 3 },
      { arrived_at: 0.5, num_prefill_tokens: 40, num_decode_tokens: 3 },
    ]);
    const delay = { batchSizes: [1], delaysS: [0], admissionS: 0.002, frontSPerToken: 1e-4, frontSPerStep: 1, admissionBacklogMeanS: 0 };
    const gated = { ...delay, admissionInSimulation: true, frontHandoffS: 0.01 };
    const gateDir = join(tmp, "runs", "front-gate");
    await runVidur({ ...baseOptions(workloadDir, gateDir), deliveryDelay: gated });
    const raw = await readTokenTimestampsGrouped(join(gateDir, "vidur", "bridge_tokens.csv"));
    const emitS = [...raw.values()].flat().sort((x, y) => x - y);
    const [backlog] = frontBacklog(emitS.filter((t) => t < 0.5).map((t) => t + 0.01), 1e-4, [0.5], 1);
    expect(backlog).toBeGreaterThan(2.4);
    const admissions = (await readFile(join(gateDir, "vidur", "bridge_admissions.csv"), "utf8")).trim().split("\n");
    expect(admissions[0]).toBe("request_id,delay_s");
    const delays = admissions.slice(1).map((l) => Number(l.split(",")[1]));
    expect(delays[0]).toBeCloseTo(0.002, 12);
    expect(delays[1]).toBeCloseTo(0.002 + backlog!, 9);
    // Request 1's first step starts once it reaches the scheduler: its first token comes after 0.5 s + its delay.
    expect(raw.get(1)![0]!).toBeGreaterThan(0.5 + delays[1]!);
    const m = await readRequestMetrics(join(gateDir, "request_metrics.csv"));
    // Both prefill alone on an idle engine: the TTFTs differ by the backlog only (counted from each arrival).
    expect(m[1]!.ttft! - m[0]!.ttft!).toBeCloseTo(backlog!, 9);
    expect(m[1]!.arrived_at).toBe(0.5);
    expect(m[1]!.ttft!).toBeCloseTo(raw.get(1)![0]! - 0.5, 9);
    const manifest = await readRunManifest(gateDir);
    expect(manifest.config.delivery_delay).toEqual(gated);
    const spec = JSON.parse(await readFile(join(gateDir, "vidur", "sidecar_spec.json"), "utf8"));
    expect(spec.front_gate).toEqual({ constant_s: 0.002, per_token_s: 1e-4, per_step_s: 1, handoff_s: 0.01 });
    await expect(
      runVidur({ ...baseOptions(workloadDir, join(tmp, "runs", "front-gate-bad")), deliveryDelay: { ...gated, frontHandoffS: -0.001 } }),
    ).rejects.toSatisfy((e: unknown) => isVidurBridgeError(e, "VIDUR_BAD_OPTION") && (e as Error).message.includes("frontHandoffS"));
  });

  it("serves a burst in a given admission order, keeping the workload's request ids and arrival times", async () => {
    // Three requests sent at once to a server that takes one at a time: in the workload's order, then in the order
    // 2, 0, 1 (a real server's HTTP front may take a burst in an order of its own).
    const requests = [
      { arrived_at: 0, num_prefill_tokens: 40, num_decode_tokens: 3 },
      { arrived_at: 0.000001, num_prefill_tokens: 80, num_decode_tokens: 4 },
      { arrived_at: 0.000002, num_prefill_tokens: 120, num_decode_tokens: 5 },
    ];
    const workloadDir = join(tmp, "wl-burst");
    await writeWorkloadDir(workloadDir, requests);
    const options = (runDir: string): RunVidurOptions => ({
      ...baseOptions(workloadDir, runDir),
      scheduler: { kind: "sarathi", chunkSize: 256, batchSizeCap: 1 },
    });
    const plainDir = join(tmp, "runs", "burst-plain");
    await runVidur(options(plainDir));
    const orderedDir = join(tmp, "runs", "burst-ordered");
    await runVidur({ ...options(orderedDir), admissionOrder: [2, 0, 1] });
    const plain = await readRequestMetrics(join(plainDir, "request_metrics.csv"));
    const ordered = await readRequestMetrics(join(orderedDir, "request_metrics.csv"));
    const byFirstToken = (ms: typeof plain) => [...ms].sort((a, b) => a.first_token_at! - b.first_token_at!).map((m) => m.request_id);
    expect(byFirstToken(plain)).toEqual([0, 1, 2]);
    expect(byFirstToken(ordered)).toEqual([2, 0, 1]);
    // The files keep the workload's ids and lengths, each request with the arrival time of its place in the order.
    expect(ordered.map((m) => [m.request_id, m.num_prefill_tokens, m.num_decode_tokens])).toEqual([[0, 40, 3], [1, 80, 4], [2, 120, 5]]);
    expect(ordered.map((m) => m.arrived_at)).toEqual([0.000001, 0.000002, 0]);
    // Served first, request 2 takes the time its prompt and output take alone; the token times are its own.
    const tokens = await readTokenTimestampsGrouped(join(orderedDir, "token_timestamps.csv"));
    expect(tokens.get(2)!.length).toBe(5);
    expect(ordered[2]!.ttft!).toBeLessThan(plain[2]!.ttft!);
    expect(ordered[0]!.first_token_at!).toBeGreaterThan(ordered[2]!.completed_at! - 1e-9);
    const manifest = await readRunManifest(orderedDir);
    expect(manifest.config.admission_order).toEqual({ requests: 3, sha256: createHash("sha256").update("2,0,1").digest("hex") });
    expect((await readRunManifest(plainDir)).config.admission_order).toBeNull();
    await expect(runVidur({ ...options(join(tmp, "runs", "burst-bad")), admissionOrder: [2, 2, 1] })).rejects.toSatisfy(
      (e: unknown) => isVidurBridgeError(e, "VIDUR_BAD_OPTION") && (e as Error).message.includes("admissionOrder[1] = 2"),
    );
  });

  it("runs with a derived cpu_overheads.csv: the prefill extra only on the prompt's batch", async () => {
    const workloadDir = join(tmp, "wl1");
    const runDir = join(tmp, "runs", "r1");
    if (!existsSync(join(runDir, "run.json"))) {
      await writeWorkloadDir(workloadDir, [{ arrived_at: 0.25, num_prefill_tokens: 200, num_decode_tokens: 4 }]);
      await runVidur(baseOptions(workloadDir, runDir));
    }
    // Simulated steps cost exactly 1 ms + 0.1 ms/decode token + 0.01 ms/prefill token; real steps of one request
    // take 3 ms more when decode-only and 20 ms more when prefilling -> batch 1: overhead 3 ms, prefill extra 17 ms.
    const it = (i: number, p: number, d: number, ms: number) => ({ step: i, start: i, end: i + ms / 1e3, gpu_time: ms / 1e3, num_prefill_tokens: p, num_decode_tokens: d, batch_size: 1, kv_tokens_in_use: null });
    const sim = [it(0, 100, 0, 2), it(1, 0, 1, 1.1), it(2, 50, 1, 1.6)];
    const real = [it(0, 100, 0, 22), it(1, 0, 1, 4.1), it(2, 0, 1, 4.1)];
    const table = deriveCpuOverheads(real, sim, { minStepsPerBin: 1 });
    expect(table.rows).toHaveLength(1);
    const path = join(tmp, "derived_cpu_overheads.csv");
    await writeFile(path, formatCpuOverheadsCsv(table, { modelName: TINY_MODEL }));
    const calDir = join(tmp, "runs", "r1cal");
    const cal = await runVidur({ ...baseOptions(workloadDir, calDir), cpuOverhead: path });
    // The overhead table is applied on top of the predictions: the forests come from the same cache folder.
    expect(cal.cacheDir).toBe((await readRunManifest(runDir)).config.cache_dir);
    const [m] = await readRequestMetrics(join(runDir, "request_metrics.csv"));
    const [c] = await readRequestMetrics(join(calDir, "request_metrics.csv"));
    expect(c!.ttft! - m!.ttft!).toBeCloseTo(20e-3, 7);
    expect(c!.tpot! - m!.tpot!).toBeCloseTo(3e-3, 7);
    const manifest = await readRunManifest(calDir);
    expect(manifest.config.cpu_overhead_prefill_extra_ms_by_batch_size).toEqual({ "1.0": expect.closeTo(17, 6) });

    // The same real steps with their phases (schedule 0.5, prepare 1, process 0.5 ms, the wait the rest): the table
    // is written as Vidur's phase columns plus model_time_bias_median (3 - 2 = 1 ms), and the sidecar sums them to
    // the lumped table's overhead: every simulated step exactly as with the table above.
    const withPhases = real.map((s) => {
      const wait = s.end - s.start - 2e-3;
      return { ...s, schedule_time: 0.5e-3, prepare_time: 1e-3, wait_time: wait, process_time: 0.5e-3 };
    });
    const phased = deriveCpuOverheads(withPhases, sim, { minStepsPerBin: 1 });
    expect(phased.phases).toBe(true);
    const phasedCsv = formatCpuOverheadsCsv(phased, { modelName: TINY_MODEL });
    expect(phasedCsv.split("\n")[0]).toBe(
      "model_name,tensor_parallel_degree,batch_size,schedule_median,prepare_inputs_e2e_median,process_model_outputs_median,model_time_bias_median,prefill_extra_median",
    );
    expect(phasedCsv.split("\n")[1]).toBe(`${TINY_MODEL},1,1,0.5,1,0.5,1,17`);
    const phasedPath = join(tmp, "phased_cpu_overheads.csv");
    await writeFile(phasedPath, phasedCsv);
    const phasedDir = join(tmp, "runs", "r1phased");
    await runVidur({ ...baseOptions(workloadDir, phasedDir), cpuOverhead: phasedPath });
    const lumpedSteps = await readIterations(join(calDir, "iterations.csv"));
    const phasedSteps = await readIterations(join(phasedDir, "iterations.csv"));
    expect(phasedSteps).toHaveLength(lumpedSteps.length);
    for (const [i, s] of phasedSteps.entries()) expect(s.end - s.start).toBeCloseTo(lumpedSteps[i]!.end - lumpedSteps[i]!.start, 9);
    const [ph] = await readRequestMetrics(join(phasedDir, "request_metrics.csv"));
    expect(ph!.ttft!).toBeCloseTo(c!.ttft!, 9);
    expect(ph!.tpot!).toBeCloseTo(c!.tpot!, 9);
    expect((await readRunManifest(phasedDir)).config.cpu_overhead_ms_by_batch_size).toEqual(manifest.config.cpu_overhead_ms_by_batch_size);

    // Jitter columns: every step adds one seeded draw from the quantile function (here 0 ms up to the median,
    // then up to 4 ms at q98): the steps move by different amounts inside [0, 4] ms, and the same run repeats
    // exactly.
    const jitterPath = join(tmp, "jitter_cpu_overheads.csv");
    await writeFile(
      jitterPath,
      ["model_name,tensor_parallel_degree,batch_size,schedule_median,jitter_q02,jitter_q50,jitter_q98", `${TINY_MODEL},1,1,0,0,0,4`].join("\n"),
    );
    const j1 = join(tmp, "runs", "r1jit");
    const j2 = join(tmp, "runs", "r1jit2");
    await runVidur({ ...baseOptions(workloadDir, j1), cpuOverhead: jitterPath });
    await runVidur({ ...baseOptions(workloadDir, j2), cpuOverhead: jitterPath });
    const plainSteps = await readIterations(join(runDir, "iterations.csv"));
    const jitSteps = await readIterations(join(j1, "iterations.csv"));
    expect(await readIterations(join(j2, "iterations.csv"))).toEqual(jitSteps);
    const added = jitSteps.map((s, i) => (s.end - s.start - (plainSteps[i]!.end - plainSteps[i]!.start)) * 1e3);
    for (const a of added) {
      expect(a).toBeGreaterThanOrEqual(-1e-9);
      expect(a).toBeLessThanOrEqual(4 + 1e-9);
    }
    expect(new Set(added.map((a) => a.toFixed(6))).size).toBeGreaterThan(1);
    expect((await readRunManifest(j1)).config.cpu_overhead_jitter).toEqual({ levels: [0.02, 0.5, 0.98], seed: 20261128 });

    // The prefill-prefix column: a 600-token prompt prefills in 256-token chunks after 0, 256 and 512 of its
    // tokens (the last chunk 88 tokens); each step adds 10 ms per million (chunk token, prefix token) pairs:
    // 0, 0.65536 and 0.45056 ms, and nothing on the decode steps.
    const longDir = join(tmp, "wl-long");
    await writeWorkloadDir(longDir, [{ arrived_at: 0.25, num_prefill_tokens: 600, num_decode_tokens: 3 }]);
    const prefixPath = join(tmp, "prefix_cpu_overheads.csv");
    await writeFile(prefixPath, ["model_name,tensor_parallel_degree,batch_size,schedule_median,prefix_ms_per_mpair", `${TINY_MODEL},1,1,0,10`].join("\n"));
    const longPlain = join(tmp, "runs", "r-long");
    const longPrefix = join(tmp, "runs", "r-long-prefix");
    await runVidur(baseOptions(longDir, longPlain));
    await runVidur({ ...baseOptions(longDir, longPrefix), cpuOverhead: prefixPath });
    const before = await readIterations(join(longPlain, "iterations.csv"));
    const after = await readIterations(join(longPrefix, "iterations.csv"));
    expect(before.map((s) => s.num_prefill_tokens)).toEqual([256, 256, 88, 0, 0]);
    const addedMs = after.map((s, i) => (s.end - s.start - (before[i]!.end - before[i]!.start)) * 1e3);
    for (const [i, ms] of [0, 0.65536, 0.45056, 0, 0].entries()) expect(addedMs[i]).toBeCloseTo(ms, 6);
    expect((await readRunManifest(longPrefix)).config.cpu_overhead_prefix_ms_per_mpair_by_batch_size).toEqual({ "1.0": 10 });

    // The chunk-size columns: a step of p prefill tokens adds the value of the first class with bound >= p: the
    // 256-token steps the <= 256 class's 2 ms, the 88-token step the <= 128 class's 1 ms, decode steps nothing.
    const classPath = join(tmp, "class_cpu_overheads.csv");
    await writeFile(classPath, ["model_name,tensor_parallel_degree,batch_size,schedule_median,step_tokens_le_256,step_tokens_le_128", `${TINY_MODEL},1,1,0,2,1`].join("\n"));
    const longClass = join(tmp, "runs", "r-long-class");
    await runVidur({ ...baseOptions(longDir, longClass), cpuOverhead: classPath });
    const classed = await readIterations(join(longClass, "iterations.csv"));
    const classMs = classed.map((s, i) => (s.end - s.start - (before[i]!.end - before[i]!.start)) * 1e3);
    for (const [i, ms] of [2, 2, 1, 0, 0].entries()) expect(classMs[i]).toBeCloseTo(ms, 6);
    expect((await readRunManifest(longClass)).config.cpu_overhead_step_classes_ms).toEqual({ "128": 1, "256": 2 });

    // The decode KV column: every decode-only step adds 1 ms per 1,000 KV tokens of its requests, each in whole
    // 16-token blocks (the 600-token prompt's decodes read 600 and 601 tokens: 608 in blocks), prefill steps nothing.
    const kvPath = join(tmp, "kv_cpu_overheads.csv");
    await writeFile(kvPath, ["model_name,tensor_parallel_degree,batch_size,schedule_median,decode_kv_ms_per_ktoken", `${TINY_MODEL},1,1,0,1`].join("\n"));
    const longKv = join(tmp, "runs", "r-long-kv");
    await runVidur({ ...baseOptions(longDir, longKv), cpuOverhead: kvPath });
    const kvSteps = await readIterations(join(longKv, "iterations.csv"));
    const kvMs = kvSteps.map((s, i) => (s.end - s.start - (before[i]!.end - before[i]!.start)) * 1e3);
    for (const [i, ms] of [0, 0, 0, 0.608, 0.608].entries()) expect(kvMs[i]).toBeCloseTo(ms, 6);
    expect((await readRunManifest(longKv)).config.cpu_overhead_decode_kv_ms_per_ktoken).toBe(1);

    // A decode grid: every decode-only step takes the grid's step at its batch size and mean KV per request (here
    // batch 1: 4 ms at 500 KV tokens, 6 ms at 700, so 5.02 and 5.03 ms at the decodes' 602 and 603: Vidur's
    // num_kv_tokens of a decode counts the prompt, the tokens out so far and the one being made) instead of Vidur's
    // prediction, the overhead (0 here) on top; the prefill steps keep Vidur's.
    const zeroPath = join(tmp, "zero_cpu_overheads.csv");
    await writeFile(zeroPath, ["model_name,tensor_parallel_degree,batch_size,schedule_median", `${TINY_MODEL},1,1,0`].join("\n"));
    const gridPath = join(tmp, "decode_grid.csv");
    await writeFile(gridPath, ["batch,kv_tokens,step_ms", "1,500,4", "1,700,6", "4,2000,9"].join("\n"));
    const longGrid = join(tmp, "runs", "r-long-grid");
    await runVidur({ ...baseOptions(longDir, longGrid), cpuOverhead: zeroPath, decodeGrid: gridPath });
    const gridSteps = await readIterations(join(longGrid, "iterations.csv"));
    for (const i of [0, 1, 2]) expect(gridSteps[i]!.end - gridSteps[i]!.start).toBeCloseTo(before[i]!.end - before[i]!.start, 9);
    expect((gridSteps[3]!.end - gridSteps[3]!.start) * 1e3).toBeCloseTo(5.02, 6);
    expect((gridSteps[4]!.end - gridSteps[4]!.start) * 1e3).toBeCloseTo(5.03, 6);
    const gridManifest = await readRunManifest(longGrid);
    expect(gridManifest.config.decode_grid).toEqual({ file: gridPath, batches: [1, 4], points: 3 });
    expect((gridManifest.profile_hashes as Record<string, string>).decode_grid).toMatch(/^[0-9a-f]{64}$/);
    // A bad row is named by file and line; a grid without an overhead table is refused before Vidur starts.
    const badGrid = join(tmp, "bad_decode_grid.csv");
    await writeFile(badGrid, ["batch,kv_tokens,step_ms", "1,500,4", "0,700,6"].join("\n"));
    await expect(runVidur({ ...baseOptions(longDir, join(tmp, "runs", "r-long-badgrid")), cpuOverhead: zeroPath, decodeGrid: badGrid })).rejects.toSatisfy(
      (e: unknown) => isVidurBridgeError(e, "VIDUR_PROFILE_INVALID") && (e as Error).message.includes(`${badGrid}:3`),
    );
    await expect(runVidur({ ...baseOptions(longDir, join(tmp, "runs", "r-long-nogrid")), cpuOverhead: "off", decodeGrid: gridPath })).rejects.toSatisfy(
      (e: unknown) => isVidurBridgeError(e, "VIDUR_BAD_OPTION") && (e as Error).message.includes("needs a CPU overhead table"),
    );
  });
});

describe("[real-vidur] runVidur errors", { timeout: 120_000 }, () => {
  it("reports a missing interpreter and a venv without vidur, pointing at scripts/setup.sh", async () => {
    const workloadDir = join(tmp, "wl-err");
    await writeWorkloadDir(workloadDir, makeRequests(3, 5, 1));
    const opts = baseOptions(workloadDir, join(tmp, "runs", "err"));
    await expect(runVidur({ ...opts, python: join(tmp, "no-such-python") })).rejects.toSatisfy(
      (e: unknown) => isVidurBridgeError(e, "VIDUR_NO_PYTHON") && e.message.includes("scripts/setup.sh"),
    );
    await expect(runVidur({ ...opts, python: "/usr/bin/python3" })).rejects.toSatisfy(
      (e: unknown) => isVidurBridgeError(e, "VIDUR_VENV_BROKEN") && e.message.includes("scripts/setup.sh"),
    );
  });

  it("names the missing profile file and the filter values of a profile without the model's rows", async () => {
    const workloadDir = join(tmp, "wl-err2");
    await writeWorkloadDir(workloadDir, makeRequests(3, 5, 2));
    const opts = baseOptions(workloadDir, join(tmp, "runs", "err2"));
    await expect(runVidur({ ...opts, profilingRoot: join(tmp, "empty-root") })).rejects.toSatisfy(
      (e: unknown) => isVidurBridgeError(e, "VIDUR_PROFILE_MISSING") && e.message.includes(join(tmp, "empty-root", "compute", "cpu-test")),
    );
    // A profile without profile.json declares nothing: Vidur's own extra.
    await runVidur(opts);
    expect((await readRunManifest(opts.runDir)).config.predictor).toMatchObject({
      attention_decode_batching_overhead_fraction: 0.1,
      attention_decode_batching_overhead_fraction_from: "vidur default (0.1)",
    });
    // A profile.json that declares a bad value is named, with the key.
    const badRoot = join(tmp, "profiles-bad-json");
    const badDir = await writeTinyProfile(badRoot, dims);
    await writeFile(join(badDir, "profile.json"), JSON.stringify({ vidur_predictor: { attention_decode_batching_overhead_fraction: -1 } }));
    await expect(runVidur({ ...opts, profilingRoot: badRoot })).rejects.toSatisfy(
      (e: unknown) =>
        isVidurBridgeError(e, "VIDUR_PROFILE_INVALID") &&
        e.message.includes(join(badDir, "profile.json")) &&
        e.message.includes("vidur_predictor.attention_decode_batching_overhead_fraction = -1, expected a number >= 0"),
    );
    await writeFile(join(badDir, "profile.json"), "{not json");
    await expect(runVidur({ ...opts, profilingRoot: badRoot })).rejects.toSatisfy(
      (e: unknown) => isVidurBridgeError(e, "VIDUR_PROFILE_INVALID") && e.message.includes("not valid JSON"),
    );
    const otherRoot = join(tmp, "profiles-8heads");
    await writeTinyProfile(otherRoot, dims, { nHeadOverride: 8 });
    await expect(runVidur({ ...opts, profilingRoot: otherRoot })).rejects.toSatisfy(
      (e: unknown) =>
        isVidurBridgeError(e, "VIDUR_PROFILE_NO_ROWS") && e.message.includes(`n_head=${dims.n_head}`) && e.message.includes("n_head=8"),
    );
  });

  it("refuses a workload that leaves the profiled grid, and bad options", async () => {
    const workloadDir = join(tmp, "wl-big");
    await writeWorkloadDir(workloadDir, [{ arrived_at: 0, num_prefill_tokens: 3000, num_decode_tokens: 10 }]);
    const opts = baseOptions(workloadDir, join(tmp, "runs", "big"));
    await expect(runVidur(opts)).rejects.toSatisfy(
      (e: unknown) => isVidurBridgeError(e, "VIDUR_WORKLOAD_OUTSIDE_PROFILE") && e.message.includes("3010"),
    );
    await expect(runVidur({ ...opts, scheduler: { kind: "sarathi", chunkSize: 0, batchSizeCap: 8 } })).rejects.toSatisfy(
      (e: unknown) => isVidurBridgeError(e, "VIDUR_BAD_OPTION") && e.message.includes("scheduler.chunkSize"),
    );
  });

  it("surfaces Vidur's own failure with its stderr tail", async () => {
    const workloadDir = join(tmp, "wl-oom");
    // Same grid limits as the lone-request run, so the trained forests come from the cache.
    await writeWorkloadDir(workloadDir, [{ arrived_at: 0, num_prefill_tokens: 200, num_decode_tokens: 50 }]);
    const opts = baseOptions(workloadDir, join(tmp, "runs", "oom"));
    // Two KV blocks (32 tokens) cannot hold a 250-token request: Vidur ends with the request still pending.
    await expect(runVidur({ ...opts, kvCache: { numBlocks: 2 } })).rejects.toSatisfy(
      (e: unknown) => isVidurBridgeError(e, "VIDUR_EXIT_NONZERO") && e.message.includes("stderr tail"),
    );
  });
});

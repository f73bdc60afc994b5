import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  computeRequestMetric,
  describeHost,
  formatNumber,
  isMetricsIoError,
  newRunId,
  openAtomicLineWriter,
  readIterations,
  readRequestMetrics,
  readRunManifest,
  readTokenTimestamps,
  readTokenTimestampsGrouped,
  type RequestMetric,
  runDirPath,
  writeIterations,
  writeRequestMetrics,
  writeRunManifest,
  writeTokenTimestamps,
} from "../src/index.js";

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "metrics-io-"));
}

async function expectCode(p: Promise<unknown>, code: string, messagePart: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    expect(isMetricsIoError(e)).toBe(true);
    expect((e as { code: string }).code).toBe(code);
    expect((e as Error).message).toContain(messagePart);
    return;
  }
  throw new Error(`expected ${code}`);
}

const metric = (id: number, times: number[], decode: number, error?: string): RequestMetric =>
  computeRequestMetric({
    request_id: id,
    arrived_at: 0.5 * id,
    sent_at: 0.5 * id + 0.0001,
    num_prefill_tokens: 10 + id,
    num_decode_tokens: decode,
    tokenTimesS: times,
    error: error ?? null,
  });

describe("computeRequestMetric", () => {
  it("derives TTFT, E2E and TPOT by the metric definitions", () => {
    const m = metric(2, [1.25, 1.5, 2.0], 3);
    expect(m.ttft).toBeCloseTo(0.25, 12);
    expect(m.e2e).toBeCloseTo(1.0, 12);
    expect(m.tpot).toBeCloseTo(0.375, 12);
    expect(m.status).toBe("ok");
    expect(m.num_output_tokens).toBe(3);
  });
  it("flags short outputs and failures instead of hiding them", () => {
    const short = metric(1, [1.0], 4);
    expect(short.status).toBe("short");
    expect(short.error).toBe("received 1 of 4 tokens");
    expect(short.tpot).toBeNull();
    const failed = metric(3, [], 4, "HTTP 500");
    expect(failed.status).toBe("failed");
    expect(failed.ttft).toBeNull();
  });
});

describe("request_metrics.csv", () => {
  it("round-trips rows including nulls and quoted errors", async () => {
    const dir = await tempDir();
    const rows = [metric(0, [0.1, 0.2], 2), metric(1, [], 2, 'bad "thing", really')];
    const path = join(dir, "request_metrics.csv");
    await writeRequestMetrics(path, rows);
    expect(await readRequestMetrics(path)).toEqual(rows);
    const text = await readFile(path, "utf8");
    expect(text.split("\n")[0]).toBe(
      "request_id,arrived_at,sent_at,first_token_at,completed_at,ttft,e2e,tpot,queue_time,num_prefill_tokens,num_decode_tokens,num_output_tokens,status,error",
    );
  });
  it("names file, line and column of a bad cell", async () => {
    const dir = await tempDir();
    const path = join(dir, "request_metrics.csv");
    await writeRequestMetrics(path, [metric(0, [0.1, 0.2], 2), metric(1, [0.7, 0.9], 2)]);
    const lines = (await readFile(path, "utf8")).split("\n");
    lines[2] = lines[2]!.replace(/^1,0\.5,/, "1,abc,");
    await writeFile(path, lines.join("\n"));
    await expectCode(readRequestMetrics(path), "METRICS_INVALID_ROW", `${path}:3: column arrived_at`);
  });
  it("reports a missing column and a missing file", async () => {
    const dir = await tempDir();
    const path = join(dir, "request_metrics.csv");
    await writeFile(path, "request_id,arrived_at\n0,1\n");
    await expectCode(readRequestMetrics(path), "METRICS_MISSING_COLUMN", "missing column sent_at");
    await expectCode(readRequestMetrics(join(dir, "nope.csv")), "METRICS_FILE_NOT_FOUND", "nope.csv");
  });
});

describe("token_timestamps.csv", () => {
  it("streams rows with chunk columns and groups them per request", async () => {
    const dir = await tempDir();
    const path = join(dir, "token_timestamps.csv");
    const rows = [
      { request_id: 0, token_index: 0, t: 0.123456789, chunk_index: 0, chunk_tokens: 1 },
      { request_id: 0, token_index: 1, t: 0.2, chunk_index: 1, chunk_tokens: 2 },
      { request_id: 0, token_index: 2, t: 0.2, chunk_index: 1, chunk_tokens: 2 },
      { request_id: 7, token_index: 0, t: 1.5, chunk_index: 0, chunk_tokens: 1 },
    ];
    expect(await writeTokenTimestamps(path, rows, { withChunks: true })).toBe(4);
    const back = [];
    for await (const r of readTokenTimestamps(path)) back.push(r);
    expect(back).toEqual(rows);
    const grouped = await readTokenTimestampsGrouped(path);
    expect(grouped.get(0)).toEqual([0.123456789, 0.2, 0.2]);
    expect(grouped.get(7)).toEqual([1.5]);
  });
  it("rejects a wrong header and a gap in token indices", async () => {
    const dir = await tempDir();
    const bad = join(dir, "bad.csv");
    await writeFile(bad, "id,t\n0,1\n");
    await expectCode(
      (async () => {
        for await (const _ of readTokenTimestamps(bad)) void _;
      })(),
      "METRICS_MISSING_COLUMN",
      `${bad}:1`,
    );
    const gap = join(dir, "gap.csv");
    await writeFile(gap, "request_id,token_index,t\n3,0,0.1\n3,2,0.3\n");
    await expectCode(readTokenTimestampsGrouped(gap), "METRICS_CORRUPT_FILE", "request 3 lacks token_index 1");
  });
});

describe("iterations.csv and run.json", () => {
  it("round-trips iterations with empty optional cells", async () => {
    const dir = await tempDir();
    const path = join(dir, "iterations.csv");
    const rows = [
      { step: 0, start: 0, end: 0.012, gpu_time: null, num_prefill_tokens: 512, num_decode_tokens: 3, batch_size: 4, kv_tokens_in_use: 900 },
      { step: 1, start: 0.012, end: 0.02, gpu_time: 0.007, num_prefill_tokens: 0, num_decode_tokens: 4, batch_size: 4, kv_tokens_in_use: null },
    ];
    await writeIterations(path, rows);
    expect(await readIterations(path)).toEqual(rows);
    expect((await readFile(path, "utf8")).split("\n")[0]).not.toContain("schedule_time");
  });
  it("keeps the engine's step phases: written when any row has them, empty cells read as null", async () => {
    const dir = await tempDir();
    const path = join(dir, "iterations.csv");
    const base = { gpu_time: 0.002, num_prefill_tokens: 0, num_decode_tokens: 4, batch_size: 4, kv_tokens_in_use: 90 };
    const rows = [
      { step: 0, start: 0, end: 0.003, ...base, schedule_time: 0.0001, prepare_time: 0.0004, wait_time: 0.0024, process_time: 0.0001 },
      { step: 1, start: 0.003, end: 0.005, ...base, schedule_time: null, prepare_time: null, wait_time: null, process_time: null },
    ];
    await writeIterations(path, rows);
    expect((await readFile(path, "utf8")).split("\n")[0]).toBe(
      "step,start,end,gpu_time,num_prefill_tokens,num_decode_tokens,batch_size,kv_tokens_in_use,schedule_time,prepare_time,wait_time,process_time",
    );
    expect(await readIterations(path)).toEqual(rows);
    await writeFile(path, "step,start,end,gpu_time,num_prefill_tokens,num_decode_tokens,batch_size,kv_tokens_in_use,schedule_time,prepare_time,wait_time,process_time\n0,0,1,,1,0,1,1,x,0,0,0\n");
    await expectCode(readIterations(path), "METRICS_INVALID_ROW", "iterations.csv:2");
  });
  it("validates manifests on write and read", async () => {
    const dir = await tempDir();
    const manifest = {
      schema_version: 1 as const,
      kind: "real" as const,
      run_id: newRunId("real"),
      created_at: new Date(0).toISOString(),
      workload_id: "abc",
      tool_versions: { node: process.version },
      git_sha: null,
      command: "runner bench",
      config: { rate: 2 },
      host: describeHost(),
      weights: "random" as const,
      extra_key: 42,
    };
    await writeRunManifest(dir, manifest);
    expect(await readRunManifest(dir)).toEqual(manifest);
    await writeFile(join(dir, "run.json"), JSON.stringify({ ...manifest, kind: "bogus" }));
    await expectCode(readRunManifest(dir), "METRICS_INVALID_MANIFEST", "kind");
    await expectCode(writeRunManifest(dir, { ...manifest, run_id: "" }), "METRICS_INVALID_MANIFEST", "run_id");
  });
});

describe("atomic writes and layout", () => {
  it("leaves nothing behind when a streamed write is aborted", async () => {
    const dir = await tempDir();
    const w = await openAtomicLineWriter(join(dir, "big.csv"));
    await w.write("a,b");
    await w.abort();
    expect(await readdir(dir)).toEqual([]);
  });
  it("lays out run dirs and formats numbers stably", () => {
    expect(runDirPath("/r", "real", "x")).toBe("/r/tmp/real_runs/x");
    expect(runDirPath("/r", "comparison", "x")).toBe("/r/tmp/comparisons/x");
    expect(newRunId("sim", new Date("2026-01-02T03:04:05Z"))).toMatch(/^sim-20260102-030405-[0-9a-f]{8}$/);
    expect(formatNumber(0.1 + 0.2)).toBe("0.3");
    expect(formatNumber(12)).toBe("12");
    expect(formatNumber(null)).toBe("");
  });
});

describe("importEngineTimeline", () => {
  it("shifts server times onto the run clock and drops warm-up steps and non-workload tokens", async () => {
    const { importEngineTimeline } = await import("../src/index.js");
    const server = await tempDir();
    const run = await tempDir();
    await writeFile(join(server, "server_run.json"), JSON.stringify({ wall_anchor_unix_s: 1000.0, engine: "lean" }));
    await writeIterations(join(server, "iterations.csv"), [
      { step: 0, start: 1.0, end: 1.5, gpu_time: null, num_prefill_tokens: 8, num_decode_tokens: 0, batch_size: 1, kv_tokens_in_use: 8 },
      { step: 1, start: 10.0, end: 10.25, gpu_time: 0.2, num_prefill_tokens: 0, num_decode_tokens: 2, batch_size: 2, kv_tokens_in_use: 20 },
    ]);
    await writeFile(join(server, "server_tokens.csv"), "request_id,token_index,t\nwarmup-0,0,1.5\n3,0,10.25\n");
    await writeFile(join(server, "server_admissions.csv"), "request_id,inbox,drained\nwarmup-0,0.500000,0.900000\n3,9.900000,10.000000\n");
    const r = await importEngineTimeline({ serverDir: server, runDir: run, runZeroUnixS: 1008.0 });
    expect(r).toEqual({ offsetS: -8, iterations: 1, droppedIterations: 1, tokens: 1, admissions: 1 });
    // Each workload request's arrival in the engine's inbox and its intake, on the run clock.
    expect(await readFile(join(run, "server_admissions.csv"), "utf8")).toBe("request_id,inbox,drained\n3,1.9,2\n");
    await writeFile(join(server, "server_admissions.csv"), "request_id,inbox,drained\n3,9.9,\n");
    await expect(importEngineTimeline({ serverDir: server, runDir: run, runZeroUnixS: 1008.0 })).rejects.toThrow(/server_admissions\.csv:2: column drained = "", expected a number/);
    // A newer server's file: the front's stamps (handler start, hand-over) shifted too, or kept empty.
    await writeFile(
      join(server, "server_admissions.csv"),
      "request_id,inbox,drained,received,submitted\n3,9.9,10,9.5,9.6\n4,9.95,10,,\nwarmup-1,1,2,0.5,0.6\n",
    );
    expect((await importEngineTimeline({ serverDir: server, runDir: run, runZeroUnixS: 1008.0 })).admissions).toBe(2);
    expect(await readFile(join(run, "server_admissions.csv"), "utf8")).toBe("request_id,inbox,drained,received,submitted\n3,1.9,2,1.5,1.6\n4,1.95,2,,\n");
    await writeFile(join(server, "server_admissions.csv"), "request_id,drained,inbox\n3,10,9.9\n");
    await expect(importEngineTimeline({ serverDir: server, runDir: run, runZeroUnixS: 1008.0 })).rejects.toThrow(
      /server_admissions\.csv:1: header "request_id,drained,inbox", expected request_id,inbox,drained or request_id,inbox,drained,received,submitted/,
    );
    const rows = await readIterations(join(run, "iterations.csv"));
    expect(rows).toHaveLength(1);
    expect(rows[0]!.wait_time).toBeUndefined();
    expect(rows[0]!.start).toBeCloseTo(2.0, 9);
    expect(rows[0]!.end).toBeCloseTo(2.25, 9);
    expect(await readFile(join(run, "server_token_timestamps.csv"), "utf8")).toBe("request_id,token_index,t\n3,0,2.25\n");
    expect(JSON.parse(await readFile(join(run, "server_run.json"), "utf8")).run_clock_offset_s).toBe(-8);
  });
  /** Imports a gpu-harness iterations.csv (server anchor 1000 s, run zero 1008 s); returns the run dir's copy. */
  async function importServerIterations(csv: string): Promise<string> {
    const { importEngineTimeline } = await import("../src/index.js");
    const server = await tempDir();
    const run = await tempDir();
    await writeFile(join(server, "server_run.json"), JSON.stringify({ wall_anchor_unix_s: 1000.0 }));
    await writeFile(join(server, "iterations.csv"), csv);
    await importEngineTimeline({ serverDir: server, runDir: run, runZeroUnixS: 1008.0 });
    return join(run, "iterations.csv");
  }
  const phasesHeader =
    "step,start,end,gpu_time,num_prefill_tokens,num_decode_tokens,batch_size,kv_tokens_in_use,schedule_time,prepare_time,wait_time,process_time";
  it("carries the step phases of gpu-harness's iterations.csv onto the run clock unchanged", async () => {
    // As gpu-harness's timeline writes it (six decimals; a step of an engine that does not split it: empty).
    const path = await importServerIterations(
      `${phasesHeader}\n` +
        "0,10.000000,10.003000,0.002500,0,4,4,90,0.000100,0.000400,0.002400,0.000100\n" +
        "1,10.003050,10.005000,,0,4,4,94,,,,\n",
    );
    const rows = await readIterations(path);
    expect(rows.map((r) => [r.schedule_time, r.prepare_time, r.wait_time, r.process_time])).toEqual([
      [0.0001, 0.0004, 0.0024, 0.0001],
      [null, null, null, null],
    ]);
    expect(rows[0]!.start).toBeCloseTo(2.0, 9);
    expect((await readFile(path, "utf8")).split("\n")[0]).toBe(phasesHeader);
  });
  it("carries gpu-harness's in-band host probe onto the run dir (empty cells stay null)", async () => {
    const path = await importServerIterations(
      `${phasesHeader},host_probe_time\n` +
        "0,10.000000,10.003000,0.002500,0,4,4,90,0.000100,0.000400,0.002400,0.000100,0.000041\n" +
        "1,10.003050,10.005000,,0,4,4,94,,,,,\n",
    );
    expect((await readFile(path, "utf8")).split("\n")[0]).toBe(`${phasesHeader},host_probe_time`);
    expect((await readIterations(path)).map((r) => r.host_probe_time)).toEqual([0.000041, null]);
  });
});

describe("readMachineProbe", () => {
  const probe = {
    schema_version: 1,
    what: "wall time of one engine step",
    repeats: 60,
    rounds: 4,
    warmup_per_round: 3,
    seconds: 2.1,
    points: [
      { key: "decode d=4 kv=1024", kind: "decode", decodes: 4, kv: 1024, p10_ms: 1.9, p50_ms: 1.95, p90_ms: 2.0, n: 60 },
      { key: "mixed d=4 kv=1024 chunk=224 context=0", kind: "mixed", decodes: 4, kv: 1024, chunk: 224, context: 0, p10_ms: 4.1, p50_ms: 4.2, p90_ms: 4.4, n: 60 },
    ],
  };
  const serverRun = async (extra: Record<string, unknown>): Promise<string> => {
    const dir = await tempDir();
    await writeFile(join(dir, "server_run.json"), JSON.stringify({ wall_anchor_unix_s: 1000.0, engine: "lean", ...extra }));
    return dir;
  };

  it("reads server_run.json's machine_probe, keeping the keys the schema does not name", async () => {
    const { readMachineProbe } = await import("../src/index.js");
    const got = await readMachineProbe(await serverRun({ machine_probe: probe }));
    expect(got).toEqual(probe);
    expect(got?.points[1]?.chunk).toBe(224);
  });

  it("is null without the file, without the key and with a null probe", async () => {
    const { readMachineProbe } = await import("../src/index.js");
    expect(await readMachineProbe(await tempDir())).toBeNull();
    expect(await readMachineProbe(await serverRun({}))).toBeNull();
    expect(await readMachineProbe(await serverRun({ machine_probe: null }))).toBeNull();
  });

  it("names the file and the bad field of a malformed probe, and the file of unreadable JSON", async () => {
    const { readMachineProbe } = await import("../src/index.js");
    const zero = { ...probe, points: [{ ...probe.points[0]!, p50_ms: 0 }] };
    const dir = await serverRun({ machine_probe: zero });
    await expectCode(readMachineProbe(dir), "METRICS_INVALID_MANIFEST", `${join(dir, "server_run.json")}: machine_probe.points.0.p50_ms`);
    const noN = await serverRun({ machine_probe: { ...probe, points: [{ ...probe.points[1]!, n: 0 }] } });
    await expectCode(readMachineProbe(noN), "METRICS_INVALID_MANIFEST", "machine_probe.points.0.n");
    const noPoints = await serverRun({ machine_probe: { schema_version: 1 } });
    await expectCode(readMachineProbe(noPoints), "METRICS_INVALID_MANIFEST", "machine_probe.points");
    const broken = await tempDir();
    await writeFile(join(broken, "server_run.json"), "{ not json");
    await expectCode(readMachineProbe(broken), "METRICS_CORRUPT_FILE", `${join(broken, "server_run.json")}: not valid JSON`);
  });
});

describe("readHostProbeSize", () => {
  const serverRun = async (engine: unknown): Promise<string> => {
    const dir = await tempDir();
    await writeFile(join(dir, "server_run.json"), JSON.stringify({ wall_anchor_unix_s: 1000.0, engine }));
    return dir;
  };

  it("is 3 x the step token limit + the slots, from server_run.json's engine knobs", async () => {
    const { readHostProbeSize } = await import("../src/index.js");
    expect(await readHostProbeSize(await serverRun({ max_tokens_per_step: 640, batch_size_cap: 128, token_budget: 512 }))).toEqual({ maxTokensPerStep: 640, slots: 128, ints: 2048 });
    expect((await readHostProbeSize(await serverRun({ max_tokens_per_step: 384, batch_size_cap: 128 })))?.ints).toBe(1280);
    expect((await readHostProbeSize(await serverRun({ max_tokens_per_step: 544, batch_size_cap: 32 })))?.ints).toBe(1664);
    // A server that records the length itself is taken at its word.
    expect((await readHostProbeSize(await serverRun({ max_tokens_per_step: 640, batch_size_cap: 128, host_probe_ints: 2100 })))?.ints).toBe(2100);
  });

  it("is null without the file, without the engine knobs or with an engine named by a string", async () => {
    const { readHostProbeSize } = await import("../src/index.js");
    expect(await readHostProbeSize(await tempDir())).toBeNull();
    expect(await readHostProbeSize(await serverRun("lean"))).toBeNull();
    expect(await readHostProbeSize(await serverRun({ batch_size_cap: 128 }))).toBeNull();
  });

  it("names the file and the knob that is not a positive integer", async () => {
    const { readHostProbeSize } = await import("../src/index.js");
    const dir = await serverRun({ max_tokens_per_step: 0, batch_size_cap: 128 });
    await expectCode(readHostProbeSize(dir), "METRICS_INVALID_MANIFEST", `${join(dir, "server_run.json")}: engine.max_tokens_per_step: expected a positive integer, got 0`);
    await expectCode(readHostProbeSize(await serverRun({ max_tokens_per_step: 640, batch_size_cap: "128" })), "METRICS_INVALID_MANIFEST", 'engine.batch_size_cap: expected a positive integer, got "128"');
    await expectCode(readHostProbeSize(await serverRun({ max_tokens_per_step: 640, batch_size_cap: 128, host_probe_ints: -1 })), "METRICS_INVALID_MANIFEST", "engine.host_probe_ints: expected a positive integer, got -1");
  });
});

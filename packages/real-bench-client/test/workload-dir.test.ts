/** End to end from a workload dir written by @vf/workload-spec: ids, prompts and the workload id carry through. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { readRunManifest } from "@vf/metrics-io";
import { buildWorkload, createQwen3Tokenizer, readWorkloadDir, writeWorkloadDir } from "@vf/workload-spec";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isBenchError, runBench } from "../src/index.js";
import { type ServerHandle, startInProcessServer } from "./support/server-handle.js";

describe("workload dir input", () => {
  let server: ServerHandle;
  let dir: string;
  let workloadDir: string;
  let workloadId: string;
  beforeAll(async () => {
    server = await startInProcessServer({ default: { gapMs: 1 } });
    dir = await mkdtemp(path.join(tmpdir(), "bench-wl-"));
    const tokenizer = createQwen3Tokenizer();
    try {
      const workload = await buildWorkload(
        { kind: "synthetic", count: 5, prefill: { kind: "fixed", value: 6 }, decode: { kind: "uniform", min: 2, max: 5 } },
        { kind: "constant", rateRps: 50 },
        { seed: 7, contextLimit: 4096, tokenizer },
      );
      const written = await writeWorkloadDir(path.join(dir, "wl"), workload);
      workloadDir = written.dir;
      workloadId = written.id;
    } finally {
      tokenizer.free();
    }
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("replays requests.jsonl and records the workload id", async () => {
    const outDir = path.join(dir, "run");
    const result = await runBench({ baseUrl: server.url, model: "m", workloadDir, outDir });
    expect(result.metrics).toHaveLength(5);
    expect(result.metrics.every((m) => m.status === "ok" && m.num_output_tokens === m.num_decode_tokens)).toBe(true);
    expect(result.metrics.map((m) => m.arrived_at)).toEqual([0, 0.02, 0.04, 0.06, 0.08]);
    expect((await readRunManifest(outDir)).workload_id).toBe(workloadId);
    const log = await server.log();
    const sent = log.find((e) => e.requestId === "3")!.body as { prompt: number[]; max_tokens: number };
    expect(sent.prompt).toHaveLength(6);
    expect(sent.max_tokens).toBe(result.metrics[3]!.num_decode_tokens);
  });

  it("wraps a corrupt workload dir as BENCH_WORKLOAD_INVALID naming the file and line", async () => {
    const bad = path.join(dir, "bad");
    await writeWorkloadDir(bad, await readWorkloadDir(workloadDir));
    await writeFile(path.join(bad, "requests.jsonl"), "{not json\n");
    const err = await runBench({ baseUrl: server.url, model: "m", workloadDir: bad, outDir: path.join(dir, "x") }).catch((e: unknown) => e);
    expect(isBenchError(err) && err.code).toBe("BENCH_WORKLOAD_INVALID");
    expect((err as Error).message).toContain(`workload dir ${bad}: `);
    expect((err as Error).message).toContain("requests.jsonl");
  });
});

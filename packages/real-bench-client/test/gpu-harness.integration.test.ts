/**
 * Integration: the real gpu-harness reference server (packages/gpu-harness) on CPU with the tiny Qwen3
 * config, driven by runBench. Tag: integration (starts a Python process; ~30-60 s on a loaded 2-core host).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readTokenTimestampsGrouped } from "@vf/metrics-io";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BenchRequest, runBench } from "../src/index.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const harness = path.join(repoRoot, ".venv/bin/gpu-harness");
const config = path.join(repoRoot, "packages/gpu-harness/src/gpu_harness/configs/qwen3-tiny.json");

function startHarness(logDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    harness,
    // --max-model-len: the server's default (4096) exceeds the tiny config's 2048 positions.
    ["serve", "--model-config", config, "--device", "cpu", "--dtype", "float32", "--port", "0", "--max-model-len", "2048", "--log-dir", logDir],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /READY (http:\/\/\S+)/.exec(out);
      if (m?.[1]) resolve({ child, url: m[1] });
    });
    child.once("exit", (code) => reject(new Error(`gpu-harness exited with ${code} before READY: ${stderr.slice(-2000)}`)));
    child.once("error", reject);
  });
}

describe("integration: gpu-harness reference server on CPU", { tags: ["integration"] }, () => {
  let dir: string;
  let server: { child: ChildProcess; url: string } | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "bench-harness-"));
    server = await startHarness(path.join(dir, "server-logs"));
  }, 180_000);
  afterAll(async () => {
    if (server?.child.exitCode === null) {
      server.child.kill("SIGTERM");
      await new Promise((r) => server?.child.once("exit", r));
    }
    await rm(dir, { recursive: true, force: true });
  });

  it("replays a small workload: every request ok with the requested tokens, joinable by request id", async () => {
    const requests: BenchRequest[] = Array.from({ length: 6 }, (_, i) => ({
      request_id: i,
      prompt_token_ids: Array.from({ length: 8 + 4 * i }, (_, j) => 100 + ((i * 31 + j * 7) % 500)),
      num_prefill_tokens: 8 + 4 * i,
      num_decode_tokens: 4 + i,
      arrived_at: i * 0.1,
    }));
    const outDir = path.join(dir, "run");
    const result = await runBench({ baseUrl: server!.url, model: "qwen3-tiny", requests, outDir, warmupRequests: 1, requestTimeoutS: 60 });
    expect(result.metrics.map((m) => [m.status, m.error])).toEqual(requests.map(() => ["ok", ""]));
    expect(result.metrics.map((m) => m.num_output_tokens)).toEqual(requests.map((r) => r.num_decode_tokens));
    expect(result.health.warmup).toMatchObject({ requested: 1, ok: 1 });
    for (const m of result.metrics) {
      expect(m.ttft!).toBeGreaterThan(0);
      expect(m.e2e!).toBeGreaterThanOrEqual(m.ttft!);
      expect(m.sent_at! - m.arrived_at).toBeGreaterThanOrEqual(0);
    }
    const tokens = await readTokenTimestampsGrouped(path.join(outDir, "token_timestamps.csv"));
    for (const r of requests) expect(tokens.get(r.request_id)).toHaveLength(r.num_decode_tokens);

    // The server logged our X-Request-Id: after its SIGTERM flush its per-token log joins ours per request.
    server!.child.kill("SIGTERM");
    await new Promise((r) => server!.child.once("exit", r));
    const serverTokens = (await readFile(path.join(dir, "server-logs", "server_tokens.csv"), "utf8")).trim().split("\n");
    const perId = new Map<string, number>();
    for (const line of serverTokens.slice(1)) {
      const id = line.split(",")[0]!;
      perId.set(id, (perId.get(id) ?? 0) + 1);
    }
    for (const r of requests) expect(perId.get(String(r.request_id))).toBe(r.num_decode_tokens);
    expect(perId.get("warmup-0")).toBe(Math.min(requests[0]!.num_decode_tokens, 8));
  });
});

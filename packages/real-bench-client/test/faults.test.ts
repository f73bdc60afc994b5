/** Faults are recorded per request (count in = count out), cancellation writes partial results, the cap queues. */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { type RequestMetric, readRequestMetrics, readTokenTimestampsGrouped } from "@vf/metrics-io";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BenchProgress, type BenchRequest, runBench } from "../src/index.js";
import { type ServerHandle, startInProcessServer } from "./support/server-handle.js";

function req(id: number, arrivedAt: number, decode: number): BenchRequest {
  return { request_id: id, prompt_token_ids: [5, 6], num_prefill_tokens: 2, num_decode_tokens: decode, arrived_at: arrivedAt };
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

describe("faults, cancellation and the concurrency cap", () => {
  let server: ServerHandle;
  let dir: string;
  beforeAll(async () => {
    server = await startInProcessServer({
      "0": { gapMs: 2 },
      "1": { status: 503, body: '{"error":"overloaded, try later"}' },
      "2": { status: 400, body: '{"error":{"message":"prompt too long"}}' },
      "3": { gapMs: 2, end: "cut", faultAfterChunks: 2 },
      "4": { gapMs: 2, end: "malformed", faultAfterChunks: 2 },
      "5": { end: "hang", faultAfterChunks: 1 },
      "6": { end: "error_event", faultAfterChunks: 1 },
      "7": { chunks: [1, 1, 1] },
      "8": { end: "no_done_close", faultAfterChunks: 2 },
      "9": { countMode: "text", chunks: [1, 1, 1, 1] },
      "10": { countMode: "text", chunks: [2, 2] },
      "slow": { firstDelayMs: 20, gapMs: 20 },
      "hang": { end: "hang", faultAfterChunks: 1 },
    });
    dir = await mkdtemp(path.join(tmpdir(), "bench-faults-"));
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("records every fault as a failed (or short) request with its reason, and completes the run", async () => {
    const outDir = path.join(dir, "faults");
    const requests = Array.from({ length: 11 }, (_, i) => req(i, i * 0.005, i === 9 ? 4 : i === 10 ? 4 : 6));
    const progress: BenchProgress[] = [];
    const result = await runBench({
      baseUrl: server.url,
      model: "m",
      requests,
      outDir,
      // Generous: on a loaded host new connections take tens of ms to set up, and only the hanging
      // request should hit the limit.
      requestTimeoutS: 1.5,
      warmupRequests: 1,
      progressIntervalMs: 50,
      onProgress: (p) => progress.push(p),
    });
    expect(result.aborted).toBe(false);
    const metrics = await readRequestMetrics(path.join(outDir, "request_metrics.csv"));
    expect(metrics.map((m) => m.request_id)).toEqual(requests.map((r) => r.request_id));
    const status = metrics.map((m) => m.status);
    expect(status).toEqual(["ok", "failed", "failed", "failed", "failed", "failed", "failed", "short", "failed", "ok", "short"]);
    const err = (i: number): string => metrics[i]!.error;
    expect(err(0)).toBe("");
    expect(err(1)).toBe('HTTP 503: {"error":"overloaded, try later"}');
    expect(err(2)).toContain("HTTP 400: ");
    expect(err(2)).toContain("prompt too long");
    expect(err(3)).toMatch(/^stream cut: .* \(after 2 tokens\)$/);
    expect(err(4)).toMatch(/^malformed SSE event #2: not JSON: \{not json \(after 2 tokens\)$/);
    expect(err(5)).toBe("timeout after 1500 ms (after 1 tokens)");
    expect(err(6)).toMatch(/^server error event #1: .*engine overloaded.* \(after 1 tokens\)$/);
    expect(err(7)).toBe("short: received 3 of 6 requested tokens (finish_reason=stop)");
    expect(err(8)).toBe("stream cut: ended before [DONE] and without finish_reason (after 2 tokens)");
    // Text-only counting is 1 per non-empty chunk: 2-token chunks are undercounted and the server's
    // usage total disagrees, which is flagged rather than hidden.
    expect(metrics[9]!.num_output_tokens).toBe(4);
    expect(metrics[10]!.num_output_tokens).toBe(2);
    expect(err(10)).toContain("usage.completion_tokens=4 but the stream carried 2 counted tokens");
    // Partial streams keep what was measured.
    const tokens = await readTokenTimestampsGrouped(path.join(outDir, "token_timestamps.csv"));
    expect(tokens.get(3)).toHaveLength(2);
    expect(tokens.get(5)).toHaveLength(1);
    expect(tokens.get(1)).toBeUndefined();
    expect(metrics[3]!.first_token_at).not.toBeNull();
    expect(metrics[1]!.ttft).toBeNull();
    const health = JSON.parse(await readFile(path.join(outDir, "bench_health.json"), "utf8"));
    expect(health).toMatchObject({ requests_total: 11, sent: 11, not_sent: 0, ok: 2, short: 2, failed: 7 });
    expect(health.failure_kinds).toEqual({
      http_status: 2,
      stream_cut: 2,
      malformed_event: 1,
      timeout: 1,
      server_error: 1,
    });
    const last = progress[progress.length - 1]!;
    expect(last).toMatchObject({ sent: 11, done: 11, failed: 7, inFlight: 0, total: 11, etaS: 0 });
  });

  it("records a refused connection for every request", async () => {
    const port = await freePort();
    const outDir = path.join(dir, "refused");
    const result = await runBench({
      baseUrl: `http://127.0.0.1:${port}`,
      model: "m",
      requests: [req(0, 0, 4), req(1, 0.01, 4), req(2, 0.02, 4)],
      outDir,
      warmupRequests: 1,
    });
    const metrics = await readRequestMetrics(path.join(outDir, "request_metrics.csv"));
    expect(metrics).toHaveLength(3);
    for (const m of metrics) {
      expect(m.status).toBe("failed");
      expect(m.error).toContain(`cannot connect to http://127.0.0.1:${port}: ECONNREFUSED`);
      expect(m.sent_at).not.toBeNull();
    }
    expect(result.health.warmup).toMatchObject({ requested: 1, ok: 0, failed: 1 });
    expect(result.health.preconnected).toBe(0);
    expect(result.health.warnings.join("\n")).toContain("1 of 1 warm-up requests failed");
  });

  it("on abort: in-flight requests fail as aborted, queued and unsent ones as not sent, all written", async () => {
    const outDir = path.join(dir, "abort");
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 400);
    const result = await runBench({
      baseUrl: server.url,
      model: "m",
      requests: [req(0, 0, 4), req(1, 0.05, 4), req(2, 0.1, 4), req(3, 30, 4)],
      outDir,
      maxConcurrency: 2,
      signal: ac.signal,
      extraBody: { script: "hang" },
    });
    expect(result.aborted).toBe(true);
    const metrics = await readRequestMetrics(path.join(outDir, "request_metrics.csv"));
    expect(metrics).toHaveLength(4);
    expect(metrics.map((m) => m.status)).toEqual(["failed", "failed", "failed", "failed"]);
    expect(metrics[0]!.error).toBe("aborted (after 1 tokens)");
    expect(metrics[1]!.error).toBe("aborted (after 1 tokens)");
    expect(metrics[2]!.error).toBe("not sent: run aborted while waiting for a concurrency slot");
    expect(metrics[2]!.sent_at).toBeNull();
    expect(metrics[2]!.queue_time).toBeGreaterThan(0.15);
    expect(metrics[3]!.error).toBe("not sent: run aborted before its scheduled time");
    expect(metrics[3]!.sent_at).toBeNull();
    const tokens = await readTokenTimestampsGrouped(path.join(outDir, "token_timestamps.csv"));
    expect(tokens.get(0)).toHaveLength(1);
    expect(tokens.get(1)).toHaveLength(1);
    const health = JSON.parse(await readFile(path.join(outDir, "bench_health.json"), "utf8"));
    expect(health).toMatchObject({ aborted: true, sent: 2, not_sent: 2, failed: 4 });
    expect(health.failure_kinds).toEqual({ aborted: 2, not_sent: 2 });
    const manifest = JSON.parse(await readFile(path.join(outDir, "run.json"), "utf8"));
    expect(manifest.health.aborted).toBe(true);
  });

  it("records the wait for a concurrency slot as queue_time, and TTFT still counts from arrived_at", async () => {
    const outDir = path.join(dir, "cap");
    const result = await runBench({
      baseUrl: server.url,
      model: "m",
      requests: [req(0, 0, 3), req(1, 0, 3), req(2, 0.01, 3)],
      outDir,
      maxConcurrency: 1,
      extraBody: { script: "slow" },
    });
    const [m0, m1, m2] = result.metrics as [RequestMetric, RequestMetric, RequestMetric];
    expect(result.metrics.map((m) => m.status)).toEqual(["ok", "ok", "ok"]);
    expect(m0.queue_time).toBeLessThan(0.002);
    // Request 1 waits for request 0 to finish (~60 ms of streaming), request 2 for both.
    expect(m1.sent_at!).toBeGreaterThanOrEqual(m0.completed_at!);
    expect(m1.queue_time!).toBeGreaterThan(0.05);
    // sent_at - arrived_at = release lag + queue_time (the lag is in bench_health.json).
    expect(m1.queue_time!).toBeLessThanOrEqual(m1.sent_at! - m1.arrived_at + 1e-9);
    expect(m1.sent_at! - m1.arrived_at - m1.queue_time!).toBeLessThanOrEqual(result.health.schedule_lag_ms.max! / 1000 + 1e-6);
    expect(m2.queue_time!).toBeGreaterThan(m1.queue_time!);
    expect(m1.ttft!).toBeGreaterThan(m1.queue_time! + 0.02 - 0.0005);
    expect(m1.ttft!).toBeCloseTo(m1.first_token_at! - m1.arrived_at, 8);
    expect(result.health.queue_time_ms.max!).toBeCloseTo(m2.queue_time! * 1000, 0);
    expect(result.health.warnings.join("\n")).toContain("waited for a concurrency slot");
  });
});

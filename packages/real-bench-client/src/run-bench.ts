/**
 * runBench: open-loop replay of a workload against an OpenAI-compatible streaming completions endpoint.
 * One dispatcher loop releases requests at their scheduled `arrived_at` on the run clock (0 = schedule
 * start); each released request takes a concurrency slot when a cap is set (the wait is `queue_time`),
 * then streams. TTFT/E2E are measured from `arrived_at`, so client lag and queueing are inside them and
 * also recorded separately (`sent_at`, `queue_time`, bench_health.json). Writes the real run dir.
 * It does not print, read env/argv, or retry requests.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import {
  atomicWriteFile,
  computeRequestMetric,
  describeHost,
  formatNumber,
  type RequestMetric,
  type RunManifest,
  type TokenTimestamp,
  writeRequestMetrics,
  writeRunManifest,
  writeTokenTimestamps,
} from "@vf/metrics-io";
import { Pool } from "undici";
import { createRunClock, type RunClock, waitUntil } from "./clock.js";
import { BenchError } from "./errors.js";
import { type BenchHealth, computeHealth, type SendRecord } from "./health.js";
import { ConcurrencyLimiter } from "./limiter.js";
import { type BenchProgress, type ResolvedOptions, type RunBenchOptions, resolveOptions } from "./options.js";
import { readBenchWorkload } from "./parse.js";
import type { BenchRequest } from "./schema.js";
import { type StreamOutcome, streamCompletion } from "./stream.js";
import { trackWrites } from "./writes.js";

/** Version of this client, recorded in run.json. */
export const CLIENT_VERSION = "0.1.0";

/** What runBench returns (everything it also wrote to `runDir`). */
export interface BenchResult {
  runDir: string;
  /** One row per workload request, in request_id order (count in = count out). */
  metrics: RequestMetric[];
  health: BenchHealth;
  /** True when the signal aborted the run. */
  aborted: boolean;
}

interface Slot {
  request: BenchRequest;
  dispatchedAtS: number | null;
  queueTimeS: number | null;
  outcome: StreamOutcome | null;
  /** Why it was never sent (aborted before its time or while queued). */
  notSent: string | null;
}

/** Replays the workload open-loop, records per-token times, writes the real run dir and returns the results. */
export async function runBench(options: RunBenchOptions): Promise<BenchResult> {
  const { requests, workloadId } = await loadRequests(options);
  const opts = resolveOptions(options, requests);
  const runDir = path.resolve(options.outDir);
  try {
    await mkdir(runDir, { recursive: true });
  } catch (cause) {
    throw new BenchError("BENCH_WRITE_FAILED", `cannot create run dir ${runDir}`, { cause });
  }
  const pool = new Pool(opts.origin, {
    connections: opts.connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 600_000,
  });
  const headers = buildHeaders(options.apiKey);
  const signal = options.signal;
  const preconnected = await preconnect(pool, opts, headers, options.signal);
  const warmup = await runWarmup(pool, requests, opts, options, headers);

  const order = requests
    .map((r, i) => ({ r, i }))
    .sort((a, b) => a.r.arrived_at - b.r.arrived_at || a.i - b.i)
    .map((x) => x.r);
  const slots: Slot[] = requests.map((request) => ({
    request,
    dispatchedAtS: null,
    queueTimeS: null,
    outcome: null,
    notSent: null,
  }));
  const limiter = opts.maxConcurrency === null ? null : new ConcurrencyLimiter(opts.maxConcurrency);
  const counters = { sent: 0, done: 0, failed: 0, inFlight: 0, queued: 0 };
  const cpuStart = process.cpuUsage();
  const clock = createRunClock(opts.startLeadS);
  const writes = trackWrites(opts.origin, clock);
  const lastArrivalS = order[order.length - 1]?.arrived_at ?? 0;
  const progress = (): BenchProgress => progressOf(counters, clock, requests.length, lastArrivalS);
  const timer = options.onProgress
    ? setInterval(() => options.onProgress?.(progress()), opts.progressIntervalMs)
    : null;
  timer?.unref();

  const runOne = async (slot: Slot): Promise<void> => {
    if (limiter) {
      counters.queued++;
      const granted = await limiter.acquire(signal);
      counters.queued--;
      if (!granted) {
        slot.notSent = "not sent: run aborted while waiting for a concurrency slot";
        slot.queueTimeS = clock.nowS() - (slot.dispatchedAtS ?? 0);
        return;
      }
    }
    counters.sent++;
    counters.inFlight++;
    const outcome = await streamCompletion({
      dispatcher: pool,
      path: opts.completionsPath,
      headers: { ...headers, "x-request-id": String(slot.request.request_id) },
      body: buildBody(slot.request, options, opts, slot.request.num_decode_tokens),
      clock,
      timeoutMs: opts.requestTimeoutS * 1000,
      signal,
      origin: opts.origin,
    });
    slot.outcome = outcome;
    slot.queueTimeS = limiter ? outcome.sentAtS - (slot.dispatchedAtS ?? outcome.sentAtS) : 0;
    limiter?.release();
    counters.inFlight--;
    counters.done++;
    if (outcome.failure !== null) counters.failed++;
  };

  const tasks: Promise<void>[] = [];
  let aborted = false;
  for (const request of order) {
    const onTime = await waitUntil(clock, request.arrived_at, opts.spinWindowMs, signal);
    if (!onTime) {
      aborted = true;
      break;
    }
    const slot = slots[request.request_id] as Slot;
    slot.dispatchedAtS = clock.nowS();
    tasks.push(runOne(slot));
  }
  await Promise.all(tasks);
  aborted ||= signal?.aborted === true;
  const cpu = process.cpuUsage(cpuStart);
  const wallS = clock.nowS();
  writes.close();
  if (timer !== null) clearInterval(timer);
  await pool.close().catch(() => undefined);
  options.onProgress?.(progress());

  const tokens: TokenTimestamp[] = [];
  const sends: SendRecord[] = [];
  const metrics = slots.map((slot) => toMetric(slot, tokens, sends, writes.writtenAtS.get(slot.request.request_id) ?? null));
  const health = computeHealth({
    requests,
    metrics,
    sends,
    opts,
    aborted,
    wallS,
    cpuUserS: cpu.user / 1e6,
    cpuSystemS: cpu.system / 1e6,
    tokensReceived: tokens.length,
    warmup,
    preconnected,
    failureKinds: countFailureKinds(slots),
  });
  await writeRunDir(runDir, options, opts, clock, workloadId, metrics, tokens, health, sends);
  return { runDir, metrics, health, aborted };
}

function countFailureKinds(slots: readonly Slot[]): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const slot of slots) {
    const kind = slot.outcome === null ? "not_sent" : slot.outcome.failure;
    if (kind !== null) kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  return kinds;
}

async function loadRequests(
  options: RunBenchOptions,
): Promise<{ requests: readonly BenchRequest[]; workloadId: string | null }> {
  if ((options.workloadDir === undefined) === (options.requests === undefined)) {
    throw new BenchError("BENCH_INVALID_OPTION", "options workloadDir / requests: give exactly one of them");
  }
  if (options.workloadDir !== undefined) {
    const loaded = await readBenchWorkload(options.workloadDir);
    return { requests: loaded.requests, workloadId: options.workloadId ?? loaded.workloadId };
  }
  const requests = options.requests ?? [];
  if (requests.length === 0) throw new BenchError("BENCH_INVALID_OPTION", "option requests: expected at least one request");
  requests.forEach((r, i) => {
    if (r.request_id !== i) {
      throw new BenchError(
        "BENCH_INVALID_OPTION",
        `option requests[${i}]: request_id ${r.request_id}, expected ${i} (ids are 0-based indices)`,
      );
    }
  });
  return { requests, workloadId: options.workloadId ?? null };
}

function buildHeaders(apiKey: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "text/event-stream",
  };
  if (apiKey !== undefined && apiKey !== "") headers.authorization = `Bearer ${apiKey}`;
  return headers;
}

function buildBody(request: BenchRequest, options: RunBenchOptions, opts: ResolvedOptions, maxTokens: number): string {
  const streamOptions: Record<string, boolean> = { include_usage: true };
  if (opts.continuousUsageStats) streamOptions.continuous_usage_stats = true;
  return JSON.stringify({
    model: options.model,
    prompt: opts.promptMode === "text" ? request.text : request.prompt_token_ids,
    max_tokens: maxTokens,
    ignore_eos: true,
    stream: true,
    stream_options: streamOptions,
    temperature: 0,
    ...options.extraBody,
  });
}

/**
 * Opens up to `opts.preconnect` keep-alive connections with concurrent GETs of the models endpoint (any
 * answer will do: only the connection matters). Returns how many got a response.
 */
async function preconnect(
  pool: Pool,
  opts: ResolvedOptions,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<number> {
  const { "content-type": _contentType, ...getHeaders } = headers;
  const one = async (): Promise<boolean> => {
    try {
      const res = await pool.request({
        path: opts.modelsPath,
        method: "GET",
        headers: { ...getHeaders, accept: "application/json" },
        ...(signal ? { signal } : {}),
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      await res.body.dump();
      return true;
    } catch {
      return false;
    }
  };
  const results = await Promise.all(Array.from({ length: opts.preconnect }, one));
  return results.filter(Boolean).length;
}

/** Sends warm-up requests one at a time (ids `warmup-<i>`, prompts of the first requests, capped output). */
async function runWarmup(
  pool: Pool,
  requests: readonly BenchRequest[],
  opts: ResolvedOptions,
  options: RunBenchOptions,
  headers: Record<string, string>,
): Promise<BenchHealth["warmup"]> {
  const result: BenchHealth["warmup"] = { requested: opts.warmupRequests, ok: 0, failed: 0, errors: [] };
  const clock = createRunClock(0);
  for (let i = 0; i < opts.warmupRequests; i++) {
    if (options.signal?.aborted) break;
    const request = requests[i % requests.length] as BenchRequest;
    const outcome = await streamCompletion({
      dispatcher: pool,
      path: opts.completionsPath,
      headers: { ...headers, "x-request-id": `warmup-${i}` },
      body: buildBody(request, options, opts, Math.min(request.num_decode_tokens, opts.warmupMaxTokens)),
      clock,
      timeoutMs: opts.requestTimeoutS * 1000,
      signal: options.signal,
      origin: opts.origin,
    });
    if (outcome.failure === null) result.ok++;
    else {
      result.failed++;
      if (result.errors.length < 5) result.errors.push(outcome.error);
    }
  }
  return result;
}

function progressOf(
  c: { sent: number; done: number; failed: number; inFlight: number; queued: number },
  clock: RunClock,
  total: number,
  lastArrivalS: number,
): BenchProgress {
  const elapsedS = Math.max(0, clock.nowS());
  const rateRps = elapsedS > 0 ? c.sent / elapsedS : 0;
  let etaS: number | null = null;
  if (c.done >= total) etaS = 0;
  else if (c.sent < total) etaS = Math.max(0, lastArrivalS - elapsedS);
  else if (c.done > 0 && elapsedS > 0) etaS = (total - c.done) / (c.done / elapsedS);
  return { ...c, rateRps, etaS, elapsedS, total };
}

/** Turns one slot into its request_metrics row, appending its token rows and send record. */
function toMetric(slot: Slot, tokens: TokenTimestamp[], sends: SendRecord[], writtenAtS: number | null): RequestMetric {
  const r = slot.request;
  const o = slot.outcome;
  if (o === null) {
    return {
      request_id: r.request_id,
      arrived_at: r.arrived_at,
      sent_at: null,
      first_token_at: null,
      completed_at: null,
      ttft: null,
      e2e: null,
      tpot: null,
      queue_time: slot.queueTimeS,
      num_prefill_tokens: r.num_prefill_tokens,
      num_decode_tokens: r.num_decode_tokens,
      num_output_tokens: 0,
      status: "failed",
      error: slot.notSent ?? "not sent: run aborted before its scheduled time",
    };
  }
  sends.push({
    request_id: r.request_id,
    arrived_at: r.arrived_at,
    dispatched_at: slot.dispatchedAtS ?? o.sentAtS,
    sent_at: o.sentAtS,
    written_at: writtenAtS,
  });
  // One row per token; k tokens of one chunk share its arrival time, chunk index and size.
  const tokenTimesS: number[] = [];
  for (let c = 0; c < o.chunkTimesS.length; c++) {
    const t = o.chunkTimesS[c] as number;
    const k = o.chunkTokens[c] as number;
    for (let j = 0; j < k; j++) {
      tokens.push({ request_id: r.request_id, token_index: tokenTimesS.length, t, chunk_index: c, chunk_tokens: k });
      tokenTimesS.push(t);
    }
  }
  const metric = computeRequestMetric({
    request_id: r.request_id,
    arrived_at: r.arrived_at,
    sent_at: o.sentAtS,
    queue_time: slot.queueTimeS,
    num_prefill_tokens: r.num_prefill_tokens,
    num_decode_tokens: r.num_decode_tokens,
    tokenTimesS,
    error: o.failure === null ? null : o.error,
  });
  if (metric.status === "short") {
    metric.error = `short: received ${tokenTimesS.length} of ${r.num_decode_tokens} requested tokens (finish_reason=${o.finishReason ?? "none"})`;
  }
  if (o.failure === null && o.usageCompletionTokens !== null && o.usageCompletionTokens !== tokenTimesS.length) {
    const note = `usage.completion_tokens=${o.usageCompletionTokens} but the stream carried ${tokenTimesS.length} counted tokens`;
    metric.error = metric.error === "" ? note : `${metric.error}; ${note}`;
  }
  return metric;
}

async function writeRunDir(
  runDir: string,
  options: RunBenchOptions,
  opts: ResolvedOptions,
  clock: RunClock,
  workloadId: string | null,
  metrics: RequestMetric[],
  tokens: TokenTimestamp[],
  health: BenchHealth,
  sends: readonly SendRecord[],
): Promise<void> {
  const manifest: RunManifest = {
    schema_version: 1,
    kind: "real",
    run_id: options.runId ?? path.basename(runDir),
    created_at: new Date().toISOString(),
    workload_id: workloadId,
    tool_versions: { "@vf/real-bench-client": CLIENT_VERSION, node: process.version },
    git_sha: options.gitSha ?? null,
    command: options.command ?? "",
    config: {
      endpoint_url: opts.endpointUrl,
      model: options.model,
      prompt_mode: opts.promptMode,
      max_concurrency: opts.maxConcurrency,
      connections: opts.connections,
      warmup_requests: opts.warmupRequests,
      warmup_max_tokens: opts.warmupMaxTokens,
      preconnect: opts.preconnect,
      request_timeout_s: opts.requestTimeoutS,
      start_lead_s: opts.startLeadS,
      spin_window_ms: opts.spinWindowMs,
      lag_warn_threshold_ms: opts.lagWarnThresholdMs,
      continuous_usage_stats: opts.continuousUsageStats,
      extra_body: options.extraBody ?? {},
      api_key_given: options.apiKey !== undefined && options.apiKey !== "",
      request_body: { ignore_eos: true, stream: true, temperature: 0, stream_options: { include_usage: true } },
      token_count_convention:
        "choices[0].token_ids length, else usage.completion_tokens delta, else 1 per event with non-empty text; k tokens of one event share its arrival time",
    },
    host: describeHost(),
    clock: {
      kind: "performance.now (monotonic)",
      zero: "schedule start",
      zero_unix_s: clock.originUnixMs / 1000,
      zero_iso: new Date(clock.originUnixMs).toISOString(),
    },
    health: {
      fell_behind: health.fell_behind,
      schedule_lag_ms_p99: health.schedule_lag_ms.p99,
      ok: health.ok,
      short: health.short,
      failed: health.failed,
      not_sent: health.not_sent,
      aborted: health.aborted,
    },
    ...options.manifestExtra,
  };
  try {
    await writeRequestMetrics(path.join(runDir, "request_metrics.csv"), metrics);
    await writeTokenTimestamps(path.join(runDir, "token_timestamps.csv"), tokens, { withChunks: true });
    await atomicWriteFile(path.join(runDir, "bench_health.json"), `${JSON.stringify(health, null, 2)}\n`);
    await atomicWriteFile(path.join(runDir, "client_sends.csv"), sendsCsv(sends));
    await writeRunManifest(runDir, manifest);
  } catch (cause) {
    throw new BenchError(
      "BENCH_WRITE_FAILED",
      `cannot write the run dir ${runDir}: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
}

/** client_sends.csv: per sent request, its scheduled, released, sent and written times (s, run clock; written
 * empty where undici did not report the write), in request_id order. */
export function sendsCsv(sends: readonly SendRecord[]): string {
  const rows = [...sends].sort((a, b) => a.request_id - b.request_id);
  const cells = rows.map((r) =>
    [r.request_id, r.arrived_at, r.dispatched_at, r.sent_at, r.written_at].map((v) => formatNumber(v)).join(","),
  );
  return `request_id,arrived_at,dispatched_at,sent_at,written_at\n${cells.map((c) => `${c}\n`).join("")}`;
}

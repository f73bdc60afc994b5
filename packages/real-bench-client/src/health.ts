/**
 * Run health (bench_health.json): how well the client kept the schedule (lag = release time - scheduled
 * arrival), client-side queueing under a concurrency cap, achieved vs target rate, outcome counts and the
 * client's CPU cost. A run whose p99 lag exceeds the threshold is flagged `fell_behind`.
 */
import type { RequestMetric } from "@vf/metrics-io";
import type { ResolvedOptions } from "./options.js";
import type { BenchRequest } from "./schema.js";
import { summarize } from "./stats.js";

/** Per sent request: scheduled, released, sent and written times (s, run clock). */
export interface SendRecord {
  request_id: number;
  arrived_at: number;
  dispatched_at: number;
  sent_at: number;
  /** When undici wrote the request's head to its socket (null: not reported, e.g. never written). */
  written_at: number | null;
}

/** p50/p99/max/mean in ms over `count` samples (nulls when none). */
export interface LagSummaryMs {
  p50: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
  count: number;
}

/** Contents of bench_health.json. */
export interface BenchHealth {
  schema_version: 1;
  requests_total: number;
  sent: number;
  not_sent: number;
  ok: number;
  short: number;
  failed: number;
  aborted: boolean;
  /** Release time - scheduled arrival (timer/event-loop lateness), ms. */
  schedule_lag_ms: LagSummaryMs;
  /** Wait for a concurrency slot, ms (all zero without a cap). */
  queue_time_ms: LagSummaryMs;
  /** Sent -> written to the socket (undici's sendHeaders), ms: the client's own delay past the send. */
  write_lag_ms: LagSummaryMs;
  lag_warn_threshold_ms: number;
  fell_behind: boolean;
  /** (n-1) / (last - first scheduled arrival), null for a single instant. */
  target_rate_rps: number | null;
  /** (n_sent-1) / (last - first send time). */
  achieved_rate_rps: number | null;
  schedule_span_s: number;
  wall_s: number;
  tokens_received: number;
  client_cpu_user_s: number;
  client_cpu_system_s: number;
  client_cpu_us_per_token: number | null;
  /** Failed requests by kind (FailureKind, or `not_sent`), with counts. */
  failure_kinds: Record<string, number>;
  warmup: { requested: number; ok: number; failed: number; errors: string[] };
  /** Connections opened before the schedule (GETs of the models endpoint that got an answer). */
  preconnected: number;
  warnings: string[];
}

/** Inputs of computeHealth. */
export interface HealthInput {
  requests: readonly BenchRequest[];
  metrics: readonly RequestMetric[];
  sends: readonly SendRecord[];
  opts: ResolvedOptions;
  aborted: boolean;
  wallS: number;
  cpuUserS: number;
  cpuSystemS: number;
  tokensReceived: number;
  warmup: BenchHealth["warmup"];
  preconnected: number;
  failureKinds: Record<string, number>;
}

function rate(times: number[]): number | null {
  if (times.length < 2) return null;
  const sorted = [...times].sort((a, b) => a - b);
  const span = (sorted[sorted.length - 1] as number) - (sorted[0] as number);
  return span > 0 ? (sorted.length - 1) / span : null;
}

/** Builds the run-health summary. */
export function computeHealth(h: HealthInput): BenchHealth {
  const lag = summarize(h.sends.map((s) => (s.dispatched_at - s.arrived_at) * 1000));
  const queue = summarize(h.sends.map((s) => (s.sent_at - s.dispatched_at) * 1000));
  const writeLag = summarize(h.sends.flatMap((s) => (s.written_at === null ? [] : [(s.written_at - s.sent_at) * 1000])));
  const count = (status: RequestMetric["status"]): number => h.metrics.filter((m) => m.status === status).length;
  const arrivals = h.requests.map((r) => r.arrived_at);
  const targetRate = rate(arrivals);
  const achievedRate = rate(h.sends.map((s) => s.sent_at));
  const fellBehind = lag.p99 !== null && lag.p99 > h.opts.lagWarnThresholdMs;
  const warnings: string[] = [];
  if (fellBehind) {
    warnings.push(
      `client fell behind the schedule: p99 lag ${lag.p99?.toFixed(3)} ms > ${h.opts.lagWarnThresholdMs} ms; latencies include this lag`,
    );
  }
  if (queue.p99 !== null && queue.p99 > 0 && h.opts.maxConcurrency !== null) {
    warnings.push(
      `requests waited for a concurrency slot (p99 ${queue.p99.toFixed(3)} ms, cap ${h.opts.maxConcurrency}); TTFT/E2E include it, queue_time records it`,
    );
  }
  if (h.warmup.failed > 0) warnings.push(`${h.warmup.failed} of ${h.warmup.requested} warm-up requests failed`);
  const shortN = count("short");
  if (shortN > 0) warnings.push(`${shortN} requests returned fewer tokens than requested (status short)`);
  if (h.aborted) warnings.push("run aborted: unsent requests are recorded as failed (not sent)");
  const cpuS = h.cpuUserS + h.cpuSystemS;
  return {
    schema_version: 1,
    requests_total: h.requests.length,
    sent: h.sends.length,
    not_sent: h.requests.length - h.sends.length,
    ok: count("ok"),
    short: shortN,
    failed: count("failed"),
    aborted: h.aborted,
    schedule_lag_ms: lag,
    queue_time_ms: queue,
    write_lag_ms: writeLag,
    lag_warn_threshold_ms: h.opts.lagWarnThresholdMs,
    fell_behind: fellBehind,
    target_rate_rps: targetRate,
    achieved_rate_rps: achievedRate,
    schedule_span_s: arrivals.length > 0 ? Math.max(...arrivals) - Math.min(...arrivals) : 0,
    wall_s: h.wallS,
    tokens_received: h.tokensReceived,
    client_cpu_user_s: h.cpuUserS,
    client_cpu_system_s: h.cpuSystemS,
    client_cpu_us_per_token: h.tokensReceived > 0 ? (cpuS * 1e6) / h.tokensReceived : null,
    failure_kinds: h.failureKinds,
    warmup: h.warmup,
    preconnected: h.preconnected,
    warnings,
  };
}

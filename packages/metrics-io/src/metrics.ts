/** Per-request latency metrics from token times, by the project's metric definitions. */
import type { RequestMetric } from "./schema.js";

/** Inputs to computeRequestMetric: times in seconds on the run clock. */
export interface RequestObservation {
  request_id: number;
  arrived_at: number;
  sent_at?: number | null;
  queue_time?: number | null;
  num_prefill_tokens: number;
  num_decode_tokens: number;
  tokenTimesS: readonly number[];
  error?: string | null;
}

/**
 * TTFT = first token - arrived_at; E2E = last token - arrived_at; TPOT = (last - first) / (n - 1) (null when n < 2).
 * Status: failed when an error is given, short when fewer tokens than requested arrived, else ok.
 */
export function computeRequestMetric(o: RequestObservation): RequestMetric {
  const n = o.tokenTimesS.length;
  const first = n > 0 ? o.tokenTimesS[0]! : null;
  const last = n > 0 ? o.tokenTimesS[n - 1]! : null;
  const error = o.error ?? "";
  const status: RequestMetric["status"] = error !== "" ? "failed" : n < o.num_decode_tokens ? "short" : "ok";
  return {
    request_id: o.request_id,
    arrived_at: o.arrived_at,
    sent_at: o.sent_at ?? null,
    first_token_at: first,
    completed_at: last,
    ttft: first === null ? null : first - o.arrived_at,
    e2e: last === null ? null : last - o.arrived_at,
    tpot: n >= 2 && first !== null && last !== null ? (last - first) / (n - 1) : null,
    queue_time: o.queue_time ?? null,
    num_prefill_tokens: o.num_prefill_tokens,
    num_decode_tokens: o.num_decode_tokens,
    num_output_tokens: n,
    status,
    error: status === "short" && error === "" ? `received ${n} of ${o.num_decode_tokens} tokens` : error,
  };
}

/**
 * One streaming POST /v1/completions exchange: sends the request through an undici dispatcher, parses the
 * SSE stream with eventsource-parser and stamps each event with the run-clock time at which the bytes
 * completing it arrived. Every fault ends in an outcome with a reason; nothing here throws.
 *
 * Token counting per event (first rule that applies):
 *   1. `choices[0].token_ids` present -> its length (vLLM `return_token_ids`, gpu-harness);
 *   2. `usage.completion_tokens` on a chunk that has choices (vLLM `continuous_usage_stats`) -> the delta
 *      from the previous chunk's count;
 *   3. otherwise 1 when `choices[0].text` is non-empty, else 0.
 * Events carrying 0 tokens (role/finish-only/usage-only) are not token events.
 */
import { createParser } from "eventsource-parser";
import type { Dispatcher } from "undici";
import type { RunClock } from "./clock.js";
import { excerpt, parseCompletionChunk } from "./parse.js";

/** What went wrong with a request, as a closed set (the free-text detail goes to `error`). */
export type FailureKind =
  | "aborted"
  | "timeout"
  | "connect"
  | "http_status"
  | "stream_cut"
  | "malformed_event"
  | "server_error"
  | "transport";

/** The measured result of one exchange; times are seconds on the run clock. */
export interface StreamOutcome {
  /** Time the request was handed to the HTTP client. */
  sentAtS: number;
  /** Arrival time of each token-carrying event, in order. */
  chunkTimesS: number[];
  /** Tokens carried by each token-carrying event (parallel to chunkTimesS). */
  chunkTokens: number[];
  /** Last `usage.completion_tokens` the server reported, or null. */
  usageCompletionTokens: number | null;
  /** `finish_reason` of the last choice that had one. */
  finishReason: string | null;
  /** HTTP status code, null when no response arrived. */
  httpStatus: number | null;
  /** Whether `data: [DONE]` arrived. */
  sawDone: boolean;
  failure: FailureKind | null;
  /** Human-readable reason for failure (empty when none). */
  error: string;
}

/** Inputs of one exchange. */
export interface StreamCompletionInput {
  dispatcher: Dispatcher;
  path: string;
  headers: Record<string, string>;
  body: string;
  clock: RunClock;
  /** Total per-request time limit in ms (send to end of stream); null = none. */
  timeoutMs: number | null;
  /** Run-level cancellation. */
  signal: AbortSignal | undefined;
  /** Origin, for error messages only. */
  origin: string;
}

const BODY_EXCERPT_CHARS = 300;

/** Sends one streaming completion request and records its token events; never throws. */
export async function streamCompletion(input: StreamCompletionInput): Promise<StreamOutcome> {
  const out: StreamOutcome = {
    sentAtS: Number.NaN,
    chunkTimesS: [],
    chunkTokens: [],
    usageCompletionTokens: null,
    finishReason: null,
    httpStatus: null,
    sawDone: false,
    failure: null,
    error: "",
  };
  const ac = new AbortController();
  // The first reason to stop wins; later socket errors caused by our own abort are not the cause.
  let stop: { kind: FailureKind; detail: string } | null = null;
  const stopWith = (kind: FailureKind, detail: string): void => {
    if (stop === null) stop = { kind, detail };
    ac.abort();
  };
  const onRunAbort = (): void => stopWith("aborted", "aborted");
  if (input.signal?.aborted) {
    out.sentAtS = input.clock.nowS();
    out.failure = "aborted";
    out.error = "aborted";
    return out;
  }
  input.signal?.addEventListener("abort", onRunAbort, { once: true });
  const timer =
    input.timeoutMs === null
      ? null
      : setTimeout(
          () => stopWith("timeout", `timeout after ${input.timeoutMs} ms`),
          input.timeoutMs,
        );
  try {
    out.sentAtS = input.clock.nowS();
    const res = await input.dispatcher.request({
      path: input.path,
      method: "POST",
      headers: input.headers,
      body: input.body,
      signal: ac.signal,
      // Our own total timeout governs; undici's idle timers would add a second, silent one.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    out.httpStatus = res.statusCode;
    if (res.statusCode < 200 || res.statusCode >= 300) {
      const text = await readExcerpt(res.body, BODY_EXCERPT_CHARS);
      out.failure = "http_status";
      out.error = `HTTP ${res.statusCode}: ${text}`;
      return out;
    }
    await consumeEvents(res.body, input.clock, out, stopWith);
  } catch (err) {
    if (stop === null) classifyTransportError(err, out, input.origin);
  } finally {
    if (timer !== null) clearTimeout(timer);
    input.signal?.removeEventListener("abort", onRunAbort);
  }
  const stopped = stop as { kind: FailureKind; detail: string } | null;
  if (stopped !== null && out.failure === null) {
    out.failure = stopped.kind;
    out.error = stopped.detail;
  }
  if (out.failure === null && !out.sawDone && out.finishReason === null) {
    out.failure = "stream_cut";
    out.error = "stream cut: ended before [DONE] and without finish_reason";
  }
  if (out.failure !== null && out.failure !== "http_status" && out.failure !== "connect") {
    const n = out.chunkTokens.reduce((s, k) => s + k, 0);
    out.error = `${out.error} (after ${n} tokens)`;
  }
  return out;
}

/** Feeds the body into the SSE parser, stamping events with the arrival time of their last bytes. */
function consumeEvents(
  body: Dispatcher.ResponseData["body"],
  clock: RunClock,
  out: StreamOutcome,
  stopWith: (kind: FailureKind, detail: string) => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const decoder = new TextDecoder();
    let arrivalS = 0;
    let eventIndex = 0;
    let lastUsage = 0;
    let settled = false;
    const settle = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      if (err === undefined) resolve();
      else reject(err);
    };
    const fail = (kind: FailureKind, detail: string): void => {
      stopWith(kind, detail);
      body.destroy();
      settle();
    };
    const parser = createParser({
      onEvent: (event) => {
        const index = eventIndex++;
        if (settled) return;
        if (event.data === "[DONE]") {
          out.sawDone = true;
          return;
        }
        const parsed = parseCompletionChunk(event.data);
        if (!parsed.ok) {
          fail("malformed_event", `malformed SSE event #${index}: ${parsed.reason}`);
          return;
        }
        const chunk = parsed.chunk;
        if (chunk.error !== undefined) {
          fail("server_error", `server error event #${index}: ${excerpt(JSON.stringify(chunk.error), 200)}`);
          return;
        }
        const choice = chunk.choices?.[0];
        const usageTotal = chunk.usage?.completion_tokens ?? null;
        if (usageTotal !== null) out.usageCompletionTokens = usageTotal;
        if (choice === undefined) return;
        if (choice.finish_reason != null) out.finishReason = choice.finish_reason;
        let k: number;
        if (choice.token_ids != null) k = choice.token_ids.length;
        else if (usageTotal !== null) k = Math.max(0, usageTotal - lastUsage);
        else k = choice.text != null && choice.text !== "" ? 1 : 0;
        if (usageTotal !== null) lastUsage = usageTotal;
        if (k > 0) {
          out.chunkTimesS.push(arrivalS);
          out.chunkTokens.push(k);
        }
      },
      onError: (error) => fail("malformed_event", `malformed SSE stream: ${error.message}`),
    });
    body.on("data", (buf: Buffer) => {
      arrivalS = clock.nowS();
      parser.feed(decoder.decode(buf, { stream: true }));
    });
    body.on("end", () => {
      parser.feed(decoder.decode());
      settle();
    });
    body.on("error", (err) => settle(err));
    body.on("close", () => settle());
  });
}

/** Maps connection/socket errors to a failure kind and message. */
function classifyTransportError(err: unknown, out: StreamOutcome, origin: string): void {
  const e = err as { code?: unknown; message?: unknown; errors?: unknown };
  let code = typeof e.code === "string" ? e.code : "";
  if (code === "" && Array.isArray(e.errors)) {
    const inner = e.errors.find((x) => typeof (x as { code?: unknown }).code === "string") as
      | { code: string }
      | undefined;
    if (inner) code = inner.code;
  }
  const message = typeof e.message === "string" ? e.message : String(err);
  if (out.httpStatus === null && ["ECONNREFUSED", "ENOTFOUND", "EHOSTUNREACH", "ECONNRESET", "EAI_AGAIN"].includes(code)) {
    out.failure = "connect";
    out.error = `cannot connect to ${origin}: ${code}${message ? ` ${message}` : ""}`;
    return;
  }
  if (out.httpStatus !== null) {
    out.failure = "stream_cut";
    out.error = `stream cut: ${code || "error"} ${message}`.trim();
    return;
  }
  out.failure = "transport";
  out.error = `request failed before a response: ${code || "error"} ${message}`.trim();
}

/** Reads up to `max` characters of a response body (then discards the rest). */
async function readExcerpt(body: Dispatcher.ResponseData["body"], max: number): Promise<string> {
  try {
    const text = await body.text();
    return excerpt(text, max);
  } catch {
    return "(body unreadable)";
  }
}

/**
 * When each request actually left the client: `sent_at` is stamped just before the request is handed to undici,
 * which may write it to the socket later (a new connection's connect, a pool queue). undici publishes
 * `undici:client:sendHeaders` right before it writes a request's head (and a buffered body with it) to its socket;
 * the request is told apart by its `x-request-id` header and the run's origin.
 */
import diagnosticsChannel from "node:diagnostics_channel";
import type { RunClock } from "./clock.js";

interface SendHeadersMessage {
  request: { origin?: unknown; headers?: unknown };
}

/** Records, per workload request id, the run-clock time its head was written; `close()` stops listening. */
export interface WriteTracker {
  readonly writtenAtS: ReadonlyMap<number, number>;
  close(): void;
}

/** The x-request-id header's integer value in undici's flat [name, value, ...] header list, else null. */
export function requestIdOf(headers: unknown): number | null {
  if (!Array.isArray(headers)) return null;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (String(headers[i]).toLowerCase() !== "x-request-id") continue;
    const value = String(headers[i + 1]);
    return /^\d+$/.test(value) ? Number(value) : null;
  }
  return null;
}

/** Starts recording the first write of each request to `origin` (warm-up ids are not integers: skipped). */
export function trackWrites(origin: string, clock: RunClock): WriteTracker {
  const writtenAtS = new Map<number, number>();
  const want = new URL(origin).origin;
  const onSend = (message: unknown): void => {
    const { request } = message as SendHeadersMessage;
    if (String(request.origin ?? "") !== want) return;
    const id = requestIdOf(request.headers);
    if (id !== null && !writtenAtS.has(id)) writtenAtS.set(id, clock.nowS());
  };
  diagnosticsChannel.subscribe("undici:client:sendHeaders", onSend);
  return {
    writtenAtS,
    close: () => {
      diagnosticsChannel.unsubscribe("undici:client:sendHeaders", onSend);
    },
  };
}

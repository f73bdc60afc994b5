/**
 * A real loopback OpenAI-style streaming server for tests and the benchmark. It replays a per-request
 * script (chosen by the X-Request-Id header): delays, tokens per chunk, how the tokens are counted in the
 * payload, and how the stream ends (cleanly or by one of the faults). It logs when it actually wrote each
 * chunk (Unix ms, high resolution) so tests compare the client's timestamps with the server's.
 * Runs in the test's process (tests) or as a standalone process printing `READY <port>` (benchmark).
 * Erasable TypeScript only, node: imports only, so Node runs it without a build step.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Script {
  /** HTTP status to answer instead of streaming (with `body`). */
  status?: number;
  body?: string;
  /** Delay from request receipt to the first chunk, ms. */
  firstDelayMs?: number;
  /** Delay between chunks, ms. */
  gapMs?: number;
  /** Tokens per chunk; default: one token per chunk up to max_tokens. */
  chunks?: number[];
  /** How the payload reveals the chunk's token count. */
  countMode?: "token_ids" | "text" | "usage";
  /** How the stream ends. */
  end?: "done" | "cut" | "malformed" | "hang" | "error_event" | "no_done_close";
  /** For cut/malformed/error_event: chunks sent before the fault. */
  faultAfterChunks?: number;
}

export interface ServerLogEntry {
  requestId: string | null;
  authorization: string | null;
  receivedUnixMs: number;
  body: unknown;
  /** Unix ms right after each chunk's write, and its token count. */
  writes: { unixMs: number; tokens: number }[];
}

const nowUnixMs = (): number => performance.timeOrigin + performance.now();

async function waitUntilUnixMs(targetMs: number): Promise<void> {
  for (;;) {
    const remaining = targetMs - nowUnixMs();
    if (remaining <= 0) return;
    if (remaining > 2) await new Promise((r) => setTimeout(r, remaining - 2));
    else await new Promise((r) => setImmediate(r));
  }
}

function sse(res: ServerResponse, payload: unknown): void {
  res.write(`data: ${typeof payload === "string" ? payload : JSON.stringify(payload)}\n\n`);
}

export function startServer(
  scripts: Record<string, Script>,
  port: number,
  log: ServerLogEntry[] | null,
  onListening: (port: number) => void,
): ReturnType<typeof createServer> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const receivedUnixMs = nowUnixMs();
    const chunksIn: Buffer[] = [];
    req.on("data", (c: Buffer) => chunksIn.push(c));
    req.on("end", () => {
      void handle(req, res, Buffer.concat(chunksIn).toString("utf8"), receivedUnixMs);
    });
  });
  const handle = async (req: IncomingMessage, res: ServerResponse, raw: string, receivedUnixMs: number) => {
    const idHeader = req.headers["x-request-id"];
    const requestId = typeof idHeader === "string" ? idHeader : null;
    let body: { max_tokens?: number } & Record<string, unknown> = {};
    try {
      body = JSON.parse(raw);
    } catch {
      res.writeHead(400, { "content-type": "application/json" });
      res.end('{"error":"bad json"}');
      return;
    }
    const entry: ServerLogEntry = {
      requestId,
      authorization: req.headers.authorization ?? null,
      receivedUnixMs,
      body,
      writes: [],
    };
    log?.push(entry);
    // A `script` field in the body (sent through the client's extraBody) overrides the id-based choice.
    const named = typeof body.script === "string" ? scripts[body.script] : undefined;
    const script: Script = named ?? (requestId !== null ? scripts[requestId] : undefined) ?? scripts.default ?? {};
    if (script.status !== undefined) {
      res.writeHead(script.status, { "content-type": "application/json" });
      res.end(script.body ?? "");
      return;
    }
    const maxTokens = typeof body.max_tokens === "number" ? body.max_tokens : 1;
    const chunks = script.chunks ?? Array.from({ length: maxTokens }, () => 1);
    const countMode = script.countMode ?? "token_ids";
    const end = script.end ?? "done";
    const faultAfter = script.faultAfterChunks ?? Math.floor(chunks.length / 2);
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.flushHeaders();
    let sentTokens = 0;
    for (let i = 0; i < chunks.length; i++) {
      if (end !== "done" && i === faultAfter) break;
      const offset = (script.firstDelayMs ?? 0) + i * (script.gapMs ?? 0);
      if (offset > 0) await waitUntilUnixMs(receivedUnixMs + offset);
      const k = chunks[i] ?? 1;
      sentTokens += k;
      const last = i === chunks.length - 1;
      const choice: Record<string, unknown> = {
        index: 0,
        text: countMode === "text" ? "x" : "t".repeat(k),
        finish_reason: last ? (sentTokens >= maxTokens ? "length" : "stop") : null,
      };
      if (countMode === "token_ids") choice.token_ids = Array.from({ length: k }, (_, j) => 1000 + j);
      const payload: Record<string, unknown> = { id: "cmpl-test", object: "text_completion", choices: [choice] };
      if (countMode === "usage") payload.usage = { prompt_tokens: 3, completion_tokens: sentTokens, total_tokens: 3 + sentTokens };
      if (res.destroyed) return;
      sse(res, payload);
      entry.writes.push({ unixMs: nowUnixMs(), tokens: k });
    }
    if (end === "cut") {
      // Let the written chunks leave first (writes are corked until the next tick), then drop the socket.
      await new Promise((r) => setTimeout(r, 20));
      res.socket?.destroy();
      return;
    }
    if (end === "malformed") {
      res.write("data: {not json\n\n");
      return;
    }
    if (end === "error_event") {
      sse(res, { error: { object: "error", message: "engine overloaded", code: 500 } });
      sse(res, "[DONE]");
      res.end();
      return;
    }
    if (end === "hang") return;
    if (end === "no_done_close") {
      // Ends the body cleanly without [DONE] and without finish_reason on the last chunk.
      res.end();
      return;
    }
    sse(res, { id: "cmpl-test", object: "text_completion", choices: [], usage: { prompt_tokens: 3, completion_tokens: sentTokens, total_tokens: 3 + sentTokens } });
    sse(res, "[DONE]");
    res.end();
  };
  server.keepAliveTimeout = 60_000;
  server.maxConnections = 100_000;
  server.listen(port, "127.0.0.1", () => onListening((server.address() as AddressInfo).port));
  return server;
}

if (process.argv[1]?.endsWith("scripted-server.ts")) {
  // Standalone (benchmark): argv = [port, scripts map as JSON]; default: stream instantly, 1 token/chunk.
  const argPort = Number(process.argv[2] ?? "0");
  const scripts = JSON.parse(process.argv[3] ?? "{}") as Record<string, Script>;
  startServer({ default: {}, ...scripts }, argPort, null, (p) => process.stdout.write(`READY ${p}\n`));
}

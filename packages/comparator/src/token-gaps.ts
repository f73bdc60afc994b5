/**
 * Public token-gap readers: `readTokenGaps` (this thread) and `readTokenGapsSorted` (one worker thread per
 * file, pooled gaps sorted there), so the two sides of a comparison are scanned and sorted on two cores.
 * Scanner errors become ComparatorErrors here. The byte-level scanning itself is in token-gaps-core.ts.
 */
import { Worker } from "node:worker_threads";
import { ComparatorError } from "./errors.js";
import { type TokenGaps, TokenScanError, scanTokenGaps } from "./token-gaps-core.js";

export type { TokenGaps } from "./token-gaps-core.js";

function wrapScanError(e: unknown): unknown {
  if (e instanceof TokenScanError) return new ComparatorError(e.code, e.message, { cause: e });
  return e;
}

/**
 * Reads `path`, accumulating gaps for request ids with `include[id] === 1` (ids beyond `include` are
 * ignored). Tokens of one request may interleave with other requests' but must come in token_index order
 * 0, 1, 2, ...; anything else is a COMPARATOR_BAD_TOKEN_FILE naming the line. `capacityHint` (expected gap
 * count) sizes the gap buffer up front so large files are not copied while growing.
 */
export async function readTokenGaps(path: string, include: Uint8Array, capacityHint = 0): Promise<TokenGaps> {
  try {
    return await scanTokenGaps(path, include, capacityHint);
  } catch (e) {
    throw wrapScanError(e);
  }
}

// Worker body (CommonJS eval): loads the scanner module by URL, scans, sorts, transfers the arrays back.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
import(workerData.coreUrl).then(async (m) => {
  try {
    const g = await m.scanTokenGaps(workerData.path, workerData.include, workerData.capacityHint);
    g.pooled.sort();
    parentPort.postMessage({ ok: true, g }, [g.pooled.buffer, g.gapCount.buffer, g.gapSum.buffer]);
  } catch (e) {
    parentPort.postMessage({ ok: false, code: e && e.code, message: String(e && e.message ? e.message : e) });
  }
}, (e) => parentPort.postMessage({ ok: false, code: undefined, message: "cannot load scanner: " + String(e) }));
`;

type WorkerReply = { ok: true; g: TokenGaps } | { ok: false; code: string | undefined; message: string };

/** Like readTokenGaps, but runs in a worker thread and returns `pooled` sorted ascending. */
export function readTokenGapsSorted(path: string, include: Uint8Array, capacityHint = 0): Promise<TokenGaps> {
  // The scanner sits next to this module with the same extension (.js in dist, .ts when run from src).
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  const coreUrl = new URL(`./token-gaps-core${ext}`, import.meta.url).href;
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { coreUrl, path, include, capacityHint } });
    let settled = false;
    worker.once("message", (reply: WorkerReply) => {
      settled = true;
      void worker.terminate();
      if (reply.ok) resolve(reply.g);
      else if (reply.code === "COMPARATOR_BAD_TOKEN_FILE" || reply.code === "COMPARATOR_READ_FAILED") reject(new ComparatorError(reply.code, reply.message));
      else reject(new ComparatorError("COMPARATOR_READ_FAILED", `reading ${path} in a worker failed: ${reply.message}`));
    });
    worker.once("error", (cause) => {
      if (settled) return;
      settled = true;
      reject(new ComparatorError("COMPARATOR_READ_FAILED", `reading ${path} in a worker failed: ${String(cause)}`, { cause }));
    });
  });
}

/**
 * Streaming reader of token_timestamps.csv that keeps only what the comparison needs: the pooled
 * inter-token gaps (TBT) of the included requests in one growable Float64Array, and per-request gap sums.
 * It parses bytes directly (no per-row strings or objects) so 50M rows fit in seconds and ~1 GB; the
 * row format is the metrics-io contract (`request_id,token_index,t[,chunk_index,chunk_tokens]`).
 * It does not validate chunk columns (ignored here) and does not sort.
 */
import { open } from "node:fs/promises";
import { ComparatorError } from "./errors.js";

/** Gaps of one run's token file restricted to the included request ids. */
export interface TokenGaps {
  /** Every gap t[i] - t[i-1] (seconds) of the included requests, in file order. */
  pooled: Float64Array;
  /** Per request id: number of gaps seen (tokens - 1), 0 when absent. */
  gapCount: Int32Array;
  /** Per request id: sum of its gaps (seconds). */
  gapSum: Float64Array;
  /** Data rows read (all requests, included or not). */
  rows: number;
}

const NL = 10;
const CR = 13;
const COMMA = 44;
const DOT = 46;
const MINUS = 45;
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

const HEADER_SHORT = "request_id,token_index,t";
const HEADER_LONG = "request_id,token_index,t,chunk_index,chunk_tokens";

/**
 * Reads `path`, accumulating gaps for request ids with `include[id] === 1` (ids beyond `include` are
 * ignored). Tokens of one request may be interleaved with other requests' but must appear in token_index
 * order 0, 1, 2, ...; anything else is a COMPARATOR_BAD_TOKEN_FILE naming the line.
 */
export async function readTokenGaps(path: string, include: Uint8Array): Promise<TokenGaps> {
  const size = include.length;
  const nextIndex = new Int32Array(size);
  const lastT = new Float64Array(size);
  const gapCount = new Int32Array(size);
  const gapSum = new Float64Array(size);
  let pooled = new Float64Array(1 << 16);
  let nGaps = 0;
  let rows = 0;

  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "r");
  } catch (cause) {
    throw new ComparatorError("COMPARATOR_READ_FAILED", `cannot read ${path}: ${String(cause)}`, { cause });
  }
  const bad = (line: number, what: string): never => {
    throw new ComparatorError("COMPARATOR_BAD_TOKEN_FILE", `${path}:${line}: ${what}`);
  };
  try {
    const buf = Buffer.allocUnsafe(1 << 22);
    let filled = 0;
    let lineNo = 0;
    let headerDone = false;
    let eof = false;
    while (!eof) {
      const { bytesRead } = await handle.read(buf, filled, buf.length - filled, null);
      if (bytesRead === 0) {
        eof = true;
        // A last line without "\n" is still a line.
        if (filled > 0 && buf[filled - 1] !== NL) buf[filled++] = NL;
      } else {
        filled += bytesRead;
      }
      let pos = 0;
      for (;;) {
        const nl = buf.indexOf(NL, pos);
        if (nl < 0 || nl >= filled) break;
        lineNo++;
        let end = nl;
        if (end > pos && buf[end - 1] === CR) end--;
        if (!headerDone) {
          const header = buf.toString("latin1", pos, end);
          if (header !== HEADER_SHORT && header !== HEADER_LONG) {
            bad(lineNo, `header ${JSON.stringify(header)}, expected ${HEADER_SHORT}[,chunk_index,chunk_tokens]`);
          }
          headerDone = true;
          pos = nl + 1;
          continue;
        }
        if (end === pos) {
          pos = nl + 1;
          continue;
        }
        // request_id
        let i = pos;
        let rid = 0;
        let digits = 0;
        while (i < end && (buf[i] as number) !== COMMA) {
          const c = (buf[i] as number) - 48;
          if (c < 0 || c > 9) bad(lineNo, "request_id must be a non-negative integer");
          rid = rid * 10 + c;
          digits++;
          i++;
        }
        if (digits === 0 || i >= end) bad(lineNo, "expected request_id,token_index,t");
        i++;
        let tokenIndex = 0;
        digits = 0;
        while (i < end && (buf[i] as number) !== COMMA) {
          const c = (buf[i] as number) - 48;
          if (c < 0 || c > 9) bad(lineNo, "token_index must be a non-negative integer");
          tokenIndex = tokenIndex * 10 + c;
          digits++;
          i++;
        }
        if (digits === 0 || i >= end) bad(lineNo, "expected request_id,token_index,t");
        i++;
        // t: fast exact path for plain decimals of <= 15 significant digits, parseFloat otherwise.
        const tStart = i;
        let neg = false;
        if ((buf[i] as number) === MINUS) {
          neg = true;
          i++;
        }
        let mant = 0;
        let nd = 0;
        let frac = 0;
        let seenDot = false;
        let simple = true;
        while (i < end && (buf[i] as number) !== COMMA) {
          const ch = buf[i] as number;
          if (ch === DOT && !seenDot) seenDot = true;
          else {
            const c = ch - 48;
            if (c < 0 || c > 9) simple = false;
            else {
              mant = mant * 10 + c;
              nd++;
              if (seenDot) frac++;
            }
          }
          i++;
        }
        let t: number;
        if (simple && nd > 0 && nd <= 15 && frac <= 22) {
          t = mant / (POW10[frac] as number);
          if (neg) t = -t;
        } else {
          const cell = buf.toString("latin1", tStart, i);
          t = cell === "" ? Number.NaN : Number(cell);
          if (!Number.isFinite(t)) bad(lineNo, `column t = ${JSON.stringify(cell)}, expected a number`);
        }
        rows++;
        if (rid < size && include[rid] === 1) {
          if (tokenIndex !== nextIndex[rid]) {
            bad(lineNo, `request ${rid}: token_index ${tokenIndex}, expected ${nextIndex[rid]} (rows of a request must be in token order)`);
          }
          if (tokenIndex > 0) {
            const gap = t - (lastT[rid] as number);
            if (nGaps === pooled.length) {
              const grown = new Float64Array(pooled.length * 2);
              grown.set(pooled);
              pooled = grown;
            }
            pooled[nGaps++] = gap;
            gapCount[rid] = (gapCount[rid] as number) + 1;
            gapSum[rid] = (gapSum[rid] as number) + gap;
          }
          lastT[rid] = t;
          nextIndex[rid] = tokenIndex + 1;
        }
        pos = nl + 1;
      }
      if (!eof) {
        if (pos === 0 && filled === buf.length) bad(lineNo + 1, "line longer than 4 MiB");
        buf.copy(buf, 0, pos, filled);
        filled -= pos;
      }
    }
    if (!headerDone) bad(1, `empty file, expected header ${HEADER_SHORT}`);
  } finally {
    await handle.close();
  }
  return { pooled: pooled.slice(0, nGaps), gapCount, gapSum, rows };
}

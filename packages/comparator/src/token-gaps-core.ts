/**
 * Streaming reader of token_timestamps.csv that keeps only what the comparison needs: the pooled
 * inter-token gaps (TBT) of the included requests in one growable Float64Array, and per-request gap sums.
 * It parses bytes directly (no per-row strings or objects) so 50M rows fit in seconds and ~1 GB; the
 * row format is the metrics-io contract (`request_id,token_index,t[,chunk_index,chunk_tokens]`).
 * It does not validate chunk columns (ignored here) and does not sort; token-gaps.ts wraps it (errors, workers).
 */
import { open } from "node:fs/promises";

/**
 * Error of the scanner. This file imports nothing relative so a worker thread can load it directly (from
 * dist as .js, or from src as .ts under Node's type stripping); token-gaps.ts maps it to ComparatorError.
 */
export class TokenScanError extends Error {
  override readonly name = "TokenScanError";
  readonly code: "COMPARATOR_READ_FAILED" | "COMPARATOR_BAD_TOKEN_FILE";
  constructor(code: "COMPARATOR_READ_FAILED" | "COMPARATOR_BAD_TOKEN_FILE", message: string) {
    super(message);
    this.code = code;
  }
}

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
 * order 0, 1, 2, ...; anything else is a COMPARATOR_BAD_TOKEN_FILE naming the line. `capacityHint` (expected
 * number of gaps) sizes the gap buffer up front so large files are not copied while growing.
 */
export async function scanTokenGaps(path: string, include: Uint8Array, capacityHint = 0): Promise<TokenGaps> {
  const size = include.length;
  const nextIndex = new Int32Array(size);
  const lastT = new Float64Array(size);
  const gapCount = new Int32Array(size);
  const gapSum = new Float64Array(size);
  let pooled = new Float64Array(Math.max(1 << 16, capacityHint));
  let nGaps = 0;
  let rows = 0;

  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "r");
  } catch (cause) {
    throw new TokenScanError("COMPARATOR_READ_FAILED", `cannot read ${path}: ${String(cause)}`);
  }
  const bad = (line: number, what: string): never => {
    throw new TokenScanError("COMPARATOR_BAD_TOKEN_FILE", `${path}:${line}: ${what}`);
  };
  try {
    const buf = Buffer.allocUnsafe(1 << 22);
    // Plain Uint8Array view: element reads on it stay on V8's fast typed-array path.
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
    let filled = 0;
    let lineNo = 0;
    let headerDone = false;
    let eof = false;
    while (!eof) {
      const { bytesRead } = await handle.read(buf, filled, buf.length - filled, null);
      if (bytesRead === 0) {
        eof = true;
        // A last line without "\n" is still a line.
        if (filled > 0 && bytes[filled - 1] !== NL) {
          if (filled === bytes.length) bad(lineNo + 1, "line longer than 4 MiB");
          bytes[filled++] = NL;
        }
      } else {
        filled += bytesRead;
      }
      let pos = 0;
      if (!headerDone) {
        const nl = buf.indexOf(NL, 0);
        if (nl < 0 || nl >= filled) {
          if (eof) break;
          if (filled === bytes.length) bad(1, "header line longer than 4 MiB");
          continue;
        }
        lineNo = 1;
        const header = buf.toString("latin1", 0, nl > 0 && bytes[nl - 1] === CR ? nl - 1 : nl);
        if (header !== HEADER_SHORT && header !== HEADER_LONG) {
          bad(1, `header ${JSON.stringify(header)}, expected ${HEADER_SHORT}[,chunk_index,chunk_tokens]`);
        }
        headerDone = true;
        pos = nl + 1;
      }
      // Rows are parsed up to the last complete line of the buffer; the tail is carried over.
      // (lastIndexOf with a negative offset counts from the end, so guard the empty buffer.)
      const lastNl = filled > 0 ? buf.lastIndexOf(NL, filled - 1) : -1;
      const stop = lastNl < pos ? pos : lastNl + 1;
      while (pos < stop) {
        lineNo++;
        let i = pos;
        let ch = bytes[i] as number;
        if (ch === NL || (ch === CR && bytes[i + 1] === NL)) {
          pos = ch === NL ? i + 1 : i + 2;
          continue;
        }
        let rid = 0;
        let digits = 0;
        while (ch !== COMMA && ch !== NL && ch !== CR) {
          const d = ch - 48;
          if (d < 0 || d > 9) bad(lineNo, "request_id must be a non-negative integer");
          rid = rid * 10 + d;
          digits++;
          ch = bytes[++i] as number;
        }
        if (digits === 0 || ch !== COMMA) bad(lineNo, "expected request_id,token_index,t");
        ch = bytes[++i] as number;
        let tokenIndex = 0;
        digits = 0;
        while (ch !== COMMA && ch !== NL && ch !== CR) {
          const d = ch - 48;
          if (d < 0 || d > 9) bad(lineNo, "token_index must be a non-negative integer");
          tokenIndex = tokenIndex * 10 + d;
          digits++;
          ch = bytes[++i] as number;
        }
        if (digits === 0 || ch !== COMMA) bad(lineNo, "expected request_id,token_index,t");
        // t: fast exact path for plain decimals of <= 15 significant digits, Number() otherwise.
        const tStart = ++i;
        ch = bytes[i] as number;
        let neg = false;
        if (ch === MINUS) {
          neg = true;
          ch = bytes[++i] as number;
        }
        let mant = 0;
        let nd = 0;
        let frac = 0;
        let seenDot = false;
        let simple = true;
        while (ch !== COMMA && ch !== NL && ch !== CR) {
          if (ch === DOT && !seenDot) seenDot = true;
          else {
            const d = ch - 48;
            if (d < 0 || d > 9) simple = false;
            else {
              mant = mant * 10 + d;
              nd++;
              if (seenDot) frac++;
            }
          }
          ch = bytes[++i] as number;
        }
        let t: number;
        if (simple && nd > 0 && nd <= 15 && frac <= 22) {
          // Both operands are exact doubles, so one division is correctly rounded: same value as Number().
          t = mant / (POW10[frac] as number);
          if (neg) t = -t;
        } else {
          const cell = buf.toString("latin1", tStart, i);
          t = cell === "" ? Number.NaN : Number(cell);
          if (!Number.isFinite(t)) bad(lineNo, `column t = ${JSON.stringify(cell)}, expected a number`);
        }
        // Skip optional chunk columns to the end of the line.
        while (ch !== NL) ch = bytes[++i] as number;
        pos = i + 1;
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
      }
      if (!eof) {
        if (pos === 0 && filled === bytes.length) bad(lineNo + 1, "line longer than 4 MiB");
        buf.copy(buf, 0, pos, filled);
        filled -= pos;
      }
    }
    if (!headerDone) bad(1, `empty file, expected header ${HEADER_SHORT}`);
  } finally {
    await handle.close();
  }
  // Exact-size results (the usual case with a good hint) are returned without a copy.
  return { pooled: nGaps === pooled.length ? pooled : pooled.slice(0, nGaps), gapCount, gapSum, rows };
}

/**
 * Reads the workload's `vidur_trace.csv` (arrived_at,num_prefill_tokens,num_decode_tokens; row i = request i)
 * and writes the trace format that vidur 0.0.26's trace_replay generator reads
 * (Date,Time,PromptTokenCount,CompletionTokenCount). Arrival times are copied as text, so the simulation
 * sees exactly the workload's decimal values.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { atomicWriteFile } from "@vf/metrics-io";
import { VidurBridgeError } from "./errors.js";

/** One workload request as the simulator sees it (times in seconds from the schedule start). */
export interface TraceRow {
  requestId: number;
  arrivedAtS: number;
  arrivedAtText: string;
  numPrefillTokens: number;
  numDecodeTokens: number;
}

/** The date value written to every row; vidur 0.0.26 keeps only rows whose Date equals its `date` flag. */
export const TRACE_DATE = "2023-08-21";

const HEADER = ["arrived_at", "num_prefill_tokens", "num_decode_tokens"] as const;

function positiveInt(path: string, lineNo: number, name: string, cell: string): number {
  const v = Number(cell);
  if (cell.trim() === "" || !Number.isInteger(v) || v < 1) {
    throw new VidurBridgeError(
      "VIDUR_WORKLOAD_INVALID",
      `${path}:${lineNo}: ${name} = ${JSON.stringify(cell)}, expected an integer >= 1 (Vidur clips 0 to 1)`,
    );
  }
  return v;
}

/** Parses `<workloadDir>/vidur_trace.csv`; errors name the file, line and column. */
export async function readVidurTrace(workloadDir: string): Promise<TraceRow[]> {
  const path = join(workloadDir, "vidur_trace.csv");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new VidurBridgeError("VIDUR_WORKLOAD_INVALID", `cannot read ${path}: is ${workloadDir} a workload dir?`, { cause: e });
  }
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? "").split(",").map((s) => s.trim());
  const idx = HEADER.map((h) => header.indexOf(h));
  if (idx.some((i) => i < 0)) {
    throw new VidurBridgeError("VIDUR_WORKLOAD_INVALID", `${path}:1: header ${JSON.stringify(lines[0])}, expected columns ${HEADER.join(",")}`);
  }
  const [ia, ip, id] = idx as [number, number, number];
  const rows: TraceRow[] = [];
  let prev = Number.NEGATIVE_INFINITY;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === "") continue;
    const cells = line.split(",");
    const arrivedAtText = (cells[ia] ?? "").trim();
    const arrivedAtS = Number(arrivedAtText);
    if (arrivedAtText === "" || !Number.isFinite(arrivedAtS) || arrivedAtS < 0) {
      throw new VidurBridgeError("VIDUR_WORKLOAD_INVALID", `${path}:${i + 1}: arrived_at = ${JSON.stringify(arrivedAtText)}, expected seconds >= 0`);
    }
    if (arrivedAtS < prev) {
      throw new VidurBridgeError("VIDUR_WORKLOAD_INVALID", `${path}:${i + 1}: arrived_at ${arrivedAtS} is before the previous row (${prev}); rows must be in arrival order`);
    }
    prev = arrivedAtS;
    rows.push({
      requestId: rows.length,
      arrivedAtS,
      arrivedAtText,
      numPrefillTokens: positiveInt(path, i + 1, "num_prefill_tokens", cells[ip] ?? ""),
      numDecodeTokens: positiveInt(path, i + 1, "num_decode_tokens", cells[id] ?? ""),
    });
  }
  if (rows.length === 0) throw new VidurBridgeError("VIDUR_WORKLOAD_INVALID", `${path}: no requests`);
  return rows;
}

/**
 * The trace with its requests taken in `order` (workload request ids, each once) and the arrival times kept in
 * place: row k arrives at the k-th arrival time and is request `order[k]`, with that request's lengths and id. Vidur
 * numbers the rows it is given 0.., so its request k is `order[k]` (the run dir's files say the workload's ids).
 * For a burst that the real server admitted in an order of its own (all requests sent at once: the saturation run),
 * the simulation then serves them in that order.
 */
export function reorderTrace(rows: readonly TraceRow[], order: readonly number[]): TraceRow[] {
  if (order.length !== rows.length) {
    throw new VidurBridgeError("VIDUR_BAD_OPTION", `admissionOrder has ${order.length} request ids, expected ${rows.length} (each of the workload's requests once)`);
  }
  const seen = new Uint8Array(rows.length);
  return order.map((id, k) => {
    if (!Number.isInteger(id) || id < 0 || id >= rows.length || seen[id] === 1) {
      throw new VidurBridgeError("VIDUR_BAD_OPTION", `admissionOrder[${k}] = ${id}: expected a request id in 0..${rows.length - 1} not given before`);
    }
    seen[id] = 1;
    const at = rows[k]!;
    return { ...rows[id]!, arrivedAtS: at.arrivedAtS, arrivedAtText: at.arrivedAtText };
  });
}

/** Writes the rows in vidur 0.0.26's trace_replay format (atomically). */
export async function writeVidur026Trace(path: string, rows: readonly TraceRow[]): Promise<void> {
  const out = ["Date,Time,PromptTokenCount,CompletionTokenCount"];
  for (const r of rows) out.push(`${TRACE_DATE},${r.arrivedAtText},${r.numPrefillTokens},${r.numDecodeTokens}`);
  await atomicWriteFile(path, `${out.join("\n")}\n`);
}

/**
 * The order in which a recorded real run's server admitted its requests, for a simulation that serves them in the
 * same order (a load's `admissionOrder: "real"`). Sent all at once (the saturation run), a burst reaches the engine
 * in an order the server's HTTP front picks, not the workload's; the simulation would otherwise take it in request
 * id order and serve a different set of requests first.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { readTokenTimestampsGrouped } from "@vf/metrics-io";
import { UsageError } from "./errors.js";

/** The admission order and where it was read. */
export interface AdmissionOrder {
  /** Workload request ids, first admitted first. */
  order: number[];
  /** The file it was read from. */
  source: string;
}

/**
 * Requests ordered by their first token's time: on the engine's clock (`server_token_timestamps.csv`) when the run
 * has it, else as the client received it (`token_timestamps.csv`). An engine that gives its token budget first come,
 * first served finishes prefills in the order it admitted them, so the first tokens come in that order. Ties (one
 * step's first tokens) go by request id; requests without a token (failed) come last, by id.
 */
export async function realAdmissionOrder(realDir: string, numRequests: number): Promise<AdmissionOrder> {
  const engine = join(realDir, "server_token_timestamps.csv");
  const source = existsSync(engine) ? engine : join(realDir, "token_timestamps.csv");
  if (!existsSync(source)) throw new UsageError(`admissionOrder "real": ${realDir} has neither server_token_timestamps.csv nor token_timestamps.csv`);
  const tokens = await readTokenTimestampsGrouped(source);
  const first = new Map<number, number>();
  for (const [id, times] of tokens) {
    if (!Number.isInteger(id) || id < 0 || id >= numRequests) {
      throw new UsageError(`admissionOrder "real": ${source} has request ${id}, expected ids 0..${numRequests - 1} (the run is not of this workload)`);
    }
    if (times.length > 0) first.set(id, times[0]!);
  }
  const ids = Array.from({ length: numRequests }, (_, i) => i);
  const at = (id: number) => first.get(id) ?? Number.POSITIVE_INFINITY;
  ids.sort((a, b) => at(a) - at(b) || a - b);
  return { order: ids, source };
}

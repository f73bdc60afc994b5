import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { realAdmissionOrder } from "./admission-order.js";
import { UsageError } from "./errors.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "admission-order-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const tokens = (rows: [number, number, number][]) => `request_id,token_index,t\n${rows.map((r) => r.join(",")).join("\n")}\n`;

describe("realAdmissionOrder", () => {
  it("orders requests by the engine's first token, ties by id, requests without a token last", async () => {
    // Request 3 first, then 1 and 0 in one step (a tie: by id), then 4; request 2 failed (no token).
    writeFileSync(join(dir, "server_token_timestamps.csv"), tokens([[0, 0, 0.5], [0, 1, 0.6], [1, 0, 0.5], [3, 0, 0.2], [4, 0, 0.9], [3, 1, 0.3]]));
    // The client's file says otherwise; the engine's clock wins when the run has it.
    writeFileSync(join(dir, "token_timestamps.csv"), tokens([[0, 0, 0.1], [1, 0, 0.2], [3, 0, 0.3], [4, 0, 0.4]]));
    const got = await realAdmissionOrder(dir, 5);
    expect(got.order).toEqual([3, 0, 1, 4, 2]);
    expect(got.source).toBe(join(dir, "server_token_timestamps.csv"));
  });

  it("falls back on the client's token times without an engine timeline", async () => {
    writeFileSync(join(dir, "token_timestamps.csv"), tokens([[0, 0, 0.3], [1, 0, 0.2], [2, 0, 0.1]]));
    const got = await realAdmissionOrder(dir, 3);
    expect(got.order).toEqual([2, 1, 0]);
    expect(got.source).toBe(join(dir, "token_timestamps.csv"));
  });

  it("refuses a run of another workload, and a dir without token times", async () => {
    await expect(realAdmissionOrder(dir, 3)).rejects.toThrow(/has neither server_token_timestamps.csv nor token_timestamps.csv/);
    writeFileSync(join(dir, "token_timestamps.csv"), tokens([[0, 0, 0.3], [5, 0, 0.2]]));
    const err = await realAdmissionOrder(dir, 3).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain("token_timestamps.csv has request 5, expected ids 0..2 (the run is not of this workload)");
  });
});

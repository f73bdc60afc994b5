import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isVidurBridgeError } from "./errors.js";
import { readVidurTrace, reorderTrace, TRACE_DATE, writeVidur026Trace } from "./trace.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "vb-trace-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("readVidurTrace / writeVidur026Trace", () => {
  it("numbers rows as request ids and copies arrival text verbatim", async () => {
    await writeFile(join(dir, "vidur_trace.csv"), "arrived_at,num_prefill_tokens,num_decode_tokens\n0.000001,5,2\n1.123457,7,3\n");
    const rows = await readVidurTrace(dir);
    expect(rows.map((r) => r.requestId)).toEqual([0, 1]);
    expect(rows[1]).toMatchObject({ arrivedAtS: 1.123457, numPrefillTokens: 7, numDecodeTokens: 3 });
    const out = join(dir, "t.csv");
    await writeVidur026Trace(out, rows);
    expect(await readFile(out, "utf8")).toBe(
      `Date,Time,PromptTokenCount,CompletionTokenCount\n${TRACE_DATE},0.000001,5,2\n${TRACE_DATE},1.123457,7,3\n`,
    );
  });

  it("names file, line and column of bad rows", async () => {
    await writeFile(join(dir, "vidur_trace.csv"), "arrived_at,num_prefill_tokens,num_decode_tokens\n0.5,5,2\n0.6,5,0\n");
    await expect(readVidurTrace(dir)).rejects.toSatisfy(
      (e: unknown) => isVidurBridgeError(e, "VIDUR_WORKLOAD_INVALID") && e.message.includes("vidur_trace.csv:3: num_decode_tokens"),
    );
    await writeFile(join(dir, "vidur_trace.csv"), "arrived_at,num_prefill_tokens,num_decode_tokens\n0.5,5,2\n0.4,5,1\n");
    await expect(readVidurTrace(dir)).rejects.toSatisfy(
      (e: unknown) => isVidurBridgeError(e, "VIDUR_WORKLOAD_INVALID") && e.message.includes(":3: arrived_at"),
    );
    await writeFile(join(dir, "vidur_trace.csv"), "time,prompt\n");
    await expect(readVidurTrace(dir)).rejects.toSatisfy((e: unknown) => isVidurBridgeError(e, "VIDUR_WORKLOAD_INVALID") && e.message.includes(":1: header"));
  });
});

describe("reorderTrace", () => {
  it("keeps the arrival times in place and hands them to the requests in the given order", async () => {
    await writeFile(join(dir, "vidur_trace.csv"), "arrived_at,num_prefill_tokens,num_decode_tokens\n0.000001,5,2\n0.000009,7,3\n0.5,11,4\n");
    const rows = await readVidurTrace(dir);
    const out = reorderTrace(rows, [2, 0, 1]);
    expect(out.map((r) => r.requestId)).toEqual([2, 0, 1]);
    expect(out.map((r) => r.arrivedAtText)).toEqual(["0.000001", "0.000009", "0.5"]);
    expect(out.map((r) => [r.numPrefillTokens, r.numDecodeTokens])).toEqual([[11, 4], [5, 2], [7, 3]]);
    // The identity order gives the trace back.
    expect(reorderTrace(rows, [0, 1, 2])).toEqual(rows);
  });

  it("refuses an order that is not each request once", async () => {
    await writeFile(join(dir, "vidur_trace.csv"), "arrived_at,num_prefill_tokens,num_decode_tokens\n0,5,2\n1,7,3\n");
    const rows = await readVidurTrace(dir);
    const bad = (order: number[], text: string) =>
      expect(() => reorderTrace(rows, order)).toThrow(expect.objectContaining({ code: "VIDUR_BAD_OPTION", message: expect.stringContaining(text) }));
    bad([0], "has 1 request ids, expected 2");
    bad([1, 1], "admissionOrder[1] = 1");
    bad([0, 2], "admissionOrder[1] = 2");
    bad([0.5, 1], "admissionOrder[0] = 0.5");
  });
});

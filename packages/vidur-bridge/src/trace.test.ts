import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isVidurBridgeError } from "./errors.js";
import { readVidurTrace, TRACE_DATE, writeVidur026Trace } from "./trace.js";

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

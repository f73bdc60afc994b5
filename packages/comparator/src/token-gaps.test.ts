import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isComparatorError } from "./errors.js";
import { readTokenGaps, readTokenGapsSorted } from "./token-gaps.js";

async function file(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "vf-cmp-tok-"));
  const path = join(dir, "token_timestamps.csv");
  await writeFile(path, text);
  return path;
}

describe("readTokenGaps", () => {
  it("pools gaps of included requests, interleaved rows, CRLF, chunk columns, no final newline", async () => {
    const path = await file(
      "request_id,token_index,t,chunk_index,chunk_tokens\r\n0,0,1.5,0,1\r\n1,0,2,0,1\r\n0,1,1.75,1,2\r\n2,0,9,0,1\r\n1,1,2.125,1,1\r\n0,2,1.75,1,2\r\n2,1,1e1,1,1",
    );
    const include = Uint8Array.from([1, 1, 0]);
    const g = await readTokenGaps(path, include);
    expect(Array.from(g.pooled)).toEqual([0.25, 0.125, 0]);
    expect(Array.from(g.gapCount)).toEqual([2, 1, 0]);
    expect(g.gapSum[0]).toBeCloseTo(0.25, 15);
    expect(g.rows).toBe(7);
  });
  it("parses decimals exactly like Number()", async () => {
    const values = ["0.1", "123.456789", "0.000001", "98765.4321", "7", "-0.5", "3.14159265358979"];
    const path = await file(`request_id,token_index,t\n${values.map((v, i) => `0,${i},${v}`).join("\n")}\n`);
    const g = await readTokenGaps(path, Uint8Array.from([1]));
    const expected = values.slice(1).map((v, i) => Number(v) - Number(values[i]));
    expect(Array.from(g.pooled)).toEqual(expected);
  });
  it("grows past its initial capacity", async () => {
    const n = 70_000;
    const lines = ["request_id,token_index,t"];
    for (let i = 0; i < n; i++) lines.push(`0,${i},${(i * 0.01).toFixed(2)}`);
    const g = await readTokenGaps(await file(`${lines.join("\n")}\n`), Uint8Array.from([1]));
    expect(g.pooled.length).toBe(n - 1);
    expect(g.gapCount[0]).toBe(n - 1);
  });
  it("names the line of an out-of-order token", async () => {
    const path = await file("request_id,token_index,t\n0,0,1\n0,2,2\n");
    await expect(readTokenGaps(path, Uint8Array.from([1]))).rejects.toSatisfy(
      (e: unknown) => isComparatorError(e) && e.code === "COMPARATOR_BAD_TOKEN_FILE" && e.message.includes(":3:") && e.message.includes("expected 1"),
    );
  });
  it("rejects a wrong header and a bad number", async () => {
    await expect(readTokenGaps(await file("id,idx,time\n"), Uint8Array.from([1]))).rejects.toThrow(/:1: header "id,idx,time", expected request_id,token_index,t/);
    await expect(readTokenGaps(await file("request_id,token_index,t\n0,0,abc\n"), Uint8Array.from([1]))).rejects.toThrow(/:2: column t = "abc"/);
    await expect(readTokenGaps(await file("request_id,token_index,t\nx,0,1\n"), Uint8Array.from([1]))).rejects.toThrow(/:2: request_id/);
    await expect(readTokenGaps(await file(""), Uint8Array.from([1]))).rejects.toThrow(/empty file/);
  });
  it("the worker-thread reader returns the same gaps, sorted, and maps errors to ComparatorError", async () => {
    const lines = ["request_id,token_index,t"];
    for (let r = 0; r < 50; r++) for (let k = 0; k < 20; k++) lines.push(`${r},${k},${(r + k * 0.01 + ((r * 7 + k * 13) % 10) * 0.001).toFixed(6)}`);
    const path = await file(`${lines.join("\n")}\n`);
    const include = new Uint8Array(50).fill(1);
    include[3] = 0;
    const plain = await readTokenGaps(path, include);
    const sorted = await readTokenGapsSorted(path, include, 10);
    expect(Array.from(sorted.pooled)).toEqual(Array.from(plain.pooled).sort((a, b) => a - b));
    expect(Array.from(sorted.gapSum)).toEqual(Array.from(plain.gapSum));
    expect(sorted.gapCount[3]).toBe(0);
    const badPath = await file("request_id,token_index,t\n0,1,1\n");
    await expect(readTokenGapsSorted(badPath, Uint8Array.from([1]))).rejects.toSatisfy(
      (e: unknown) => isComparatorError(e) && e.code === "COMPARATOR_BAD_TOKEN_FILE" && e.message.includes(":2:"),
    );
    await expect(readTokenGapsSorted(`${badPath}.missing`, Uint8Array.from([1]))).rejects.toSatisfy(
      (e: unknown) => isComparatorError(e) && e.code === "COMPARATOR_READ_FAILED",
    );
  });
});

/**
 * Whole-trace imports from ../shared/data: all 19,366 rows of the Azure conv trace must come out in
 * vidur_trace.csv with arrival offsets equal to the source's to the microsecond (expected offsets computed here
 * independently, in BigInt, from the timestamp strings), and a Mooncake slice must keep its millisecond offsets.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createQwen3Tokenizer, type Tokenizer } from "../src/tokenizer.js";
import { buildWorkload } from "../src/workload.js";
import { readWorkloadDir, writeWorkloadDir } from "../src/workload-dir.js";
import { dataRoot } from "./corpus.js";

const AZURE = resolve(dataRoot, "azure-llm-2023/AzureLLMInferenceTrace_conv.csv");
const MOONCAKE = resolve(dataRoot, "mooncake-fast25/conversation_trace.jsonl");

let tokenizer: Tokenizer;
let scratch: string;
beforeAll(async () => {
  tokenizer = createQwen3Tokenizer();
  scratch = await mkdtemp(join(tmpdir(), "workload-trace-"));
});
afterAll(async () => {
  tokenizer.free();
  await rm(scratch, { recursive: true, force: true });
});

/** "2023-11-16 18:15:46.6805900" -> 100 ns ticks since the day's midnight plus days, by string arithmetic only. */
function ticksOf(stamp: string): bigint {
  const [date, time] = stamp.split(" ") as [string, string];
  const day = BigInt(Number(date.slice(8, 10)));
  const [h, m, rest] = time.split(":") as [string, string, string];
  const [s, frac = ""] = rest.split(".") as [string, string?];
  const seconds = ((day * 24n + BigInt(h)) * 60n + BigInt(m)) * 60n + BigInt(s);
  return seconds * 10_000_000n + BigInt(frac.padEnd(7, "0"));
}

/** Integer microseconds -> "S.ffffff". */
function microsString(us: bigint): string {
  return `${us / 1_000_000n}.${(us % 1_000_000n).toString().padStart(6, "0")}`;
}

describe("Azure conv trace, whole file", () => {
  it("keeps every arrival offset to the microsecond and every length", async () => {
    const source = readFileSync(AZURE, "utf8").split("\r\n").slice(1);
    expect(source).toHaveLength(19366);
    // All rows lie within one month, so day-of-month arithmetic is enough here.
    const first = ticksOf(source[0]!.split(",")[0]!);
    const expected = source.map((row) => {
      const [stamp, ctx, gen] = row.split(",") as [string, string, string];
      const offsetTicks = ticksOf(stamp) - first;
      return `${microsString((offsetTicks + 5n) / 10n)},${ctx},${gen}`;
    });

    const workload = await buildWorkload({ kind: "azure", path: AZURE }, { kind: "trace" }, {
      seed: 1,
      contextLimit: 40960,
      tokenizer,
    });
    expect(workload.manifest.counts.requests).toBe(19366);
    const { dir } = await writeWorkloadDir(join(scratch, "azure"), workload);
    const vidur = (await readFile(join(dir, "vidur_trace.csv"), "utf8")).trimEnd().split("\n");
    expect(vidur[0]).toBe("arrived_at,num_prefill_tokens,num_decode_tokens");
    expect(vidur.slice(1)).toEqual(expected);
    // Sub-millisecond digits are really present, so a path that kept only milliseconds would fail above.
    expect(expected.filter((e) => !/\.\d{3}000,/.test(e)).length).toBeGreaterThan(19000);

    const back = await readWorkloadDir(dir);
    expect(back.manifest).toEqual(workload.manifest);
    expect(back.requests[19365]!.prompt_token_ids).toHaveLength(workload.requests[19365]!.num_prefill_tokens);
  });
});

describe("Mooncake conversation trace, a slice", () => {
  it("re-bases millisecond offsets on the first selected row and honours offset/limit", async () => {
    const rows = readFileSync(MOONCAKE, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { timestamp: number; input_length: number; output_length: number });
    const slice = rows.slice(100, 400);
    const workload = await buildWorkload(
      { kind: "mooncake", path: MOONCAKE, offset: 100, limit: 300 },
      { kind: "trace" },
      { seed: 3, contextLimit: 131072, tokenizer },
    );
    expect(workload.requests).toHaveLength(300);
    workload.requests.forEach((r, i) => {
      const row = slice[i]!;
      expect(Math.round(r.arrived_at * 1e6)).toBe((row.timestamp - slice[0]!.timestamp) * 1000);
      expect(r.num_prefill_tokens).toBe(row.input_length);
      expect(r.num_decode_tokens).toBe(row.output_length);
      expect(r.prompt_token_ids).toHaveLength(row.input_length);
    });
  });

  it("drops rows over the context limit when asked, and counts them", async () => {
    const workload = await buildWorkload(
      { kind: "mooncake", path: MOONCAKE, limit: 200 },
      { kind: "trace", timeScale: 0.5 },
      { seed: 3, contextLimit: 8192, tokenizer, overContext: "drop" },
    );
    const rows = readFileSync(MOONCAKE, "utf8")
      .trim()
      .split("\n")
      .slice(0, 200)
      .map((l) => JSON.parse(l) as { timestamp: number; input_length: number; output_length: number })
      .filter((r) => r.input_length + r.output_length <= 8192);
    expect(workload.requests).toHaveLength(rows.length);
    expect(workload.manifest.counts.dropped_over_context).toBe(200 - rows.length);
    expect(workload.manifest.counts.dropped_over_context).toBeGreaterThan(0);
    workload.requests.forEach((r, i) => {
      expect(Math.round(r.arrived_at * 1e6)).toBe((rows[i]!.timestamp - rows[0]!.timestamp) * 500);
    });
  });
});

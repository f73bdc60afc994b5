/**
 * The real ShareGPT sample from ../shared/data (500 first-turn conversations, no responses) through the Qwen3
 * tokenizer: every entry becomes a request whose ids are the tokenizer's ids of its human turn, decode lengths come
 * from the fallback (there are no gpt turns), and the written dir reads back and is byte-identical across builds.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SourceSpec } from "../src/schema.js";
import { createQwen3Tokenizer, type Tokenizer } from "../src/tokenizer.js";
import { buildWorkload } from "../src/workload.js";
import { readWorkloadDir, WORKLOAD_FILES, writeWorkloadDir } from "../src/workload-dir.js";
import { dataRoot } from "./corpus.js";

const SHAREGPT = resolve(dataRoot, "sharegpt-500/ShareGPT_V3_filtered_500.json");
const raw = JSON.parse(readFileSync(SHAREGPT, "utf8")) as Array<{ id: string; conversations: Array<{ from: string; value: string }> }>;

let tokenizer: Tokenizer;
let scratch: string;
beforeAll(async () => {
  tokenizer = createQwen3Tokenizer();
  scratch = await mkdtemp(join(tmpdir(), "workload-sharegpt-"));
});
afterAll(async () => {
  tokenizer.free();
  await rm(scratch, { recursive: true, force: true });
});

const source: SourceSpec = {
  kind: "sharegpt",
  path: SHAREGPT,
  decode: {
    kind: "from-response",
    fallback: { kind: "sample", distribution: { kind: "lognormal", median: 128, sigma: 0.6, min: 16, max: 1024 } },
  },
};

describe("ShareGPT 500 from ../shared/data", () => {
  it("turns every conversation into a Qwen3-tokenized request and writes a reproducible dir", async () => {
    const options = { seed: 3, contextLimit: 40960, tokenizer };
    const w = await buildWorkload(source, { kind: "poisson", rateRps: 4 }, options);
    expect(w.requests).toHaveLength(500);
    expect(w.requests.map((r) => r.prompt_id)).toEqual(raw.map((e) => e.id));
    for (const i of [0, 137, 499]) {
      const text = raw[i]!.conversations[0]!.value;
      expect(w.requests[i]!.text).toBe(text);
      expect(w.requests[i]!.prompt_token_ids).toEqual(tokenizer.encode(text));
    }
    expect(w.manifest.counts).toMatchObject({ requests: 500, skipped_empty_prompts: 0, decode_from_response: 0 });
    const decode = w.requests.map((r) => r.num_decode_tokens);
    expect(Math.min(...decode)).toBeGreaterThanOrEqual(16);
    expect(Math.max(...decode)).toBeLessThanOrEqual(1024);
    // Sampled, not constant.
    expect(new Set(decode).size).toBeGreaterThan(100);

    const a = await writeWorkloadDir(join(scratch, "a"), w);
    const b = await writeWorkloadDir(join(scratch, "b"), await buildWorkload(source, { kind: "poisson", rateRps: 4 }, options));
    expect(b.id).toBe(a.id);
    for (const f of Object.values(WORKLOAD_FILES)) {
      expect((await readFile(join(b.dir, f))).equals(await readFile(join(a.dir, f))), f).toBe(true);
    }
    const back = await readWorkloadDir(a.dir);
    expect(back.manifest).toEqual(w.manifest);
    expect(back.manifest.source.file).toBe("ShareGPT_V3_filtered_500.json");
  });

  it("selects array entries with offset/limit", async () => {
    const w = await buildWorkload(
      { kind: "sharegpt", path: SHAREGPT, decode: { kind: "fixed", tokens: 32 }, offset: 490, limit: 20 },
      { kind: "constant", rateRps: 1 },
      { seed: 0, contextLimit: 40960, tokenizer },
    );
    expect(w.requests.map((r) => r.prompt_id)).toEqual(raw.slice(490).map((e) => e.id));
    expect(w.requests.every((r) => r.num_decode_tokens === 32)).toBe(true);
  });
});

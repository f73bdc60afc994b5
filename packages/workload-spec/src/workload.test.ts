import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeTinyTokenizerJson } from "../test/tiny-tokenizer.js";
import { isWorkloadSpecError } from "./errors.js";
import { createHfByteLevelBpeTokenizer } from "./tokenizer.js";
import { buildWorkload, computeWorkloadId, serializeRequest, summarizeWorkload } from "./workload.js";

const dir = mkdtempSync(join(tmpdir(), "workload-"));
const tokenizer = createHfByteLevelBpeTokenizer({ path: writeTinyTokenizerJson(dir), name: "tiny" });
afterAll(() => {
  tokenizer.free();
  rmSync(dir, { recursive: true, force: true });
});

const promptsFile = join(dir, "prompts.jsonl");
writeFileSync(
  promptsFile,
  [
    '{"prompt_id": "p0", "text": "the the", "num_decode_tokens": 4}',
    '{"prompt_id": "p1", "text": "hello there"}',
    '{"prompt_id": "p2", "text": "Grüße 👋", "num_decode_tokens": 9}',
  ].join("\n"),
);
const base = { seed: 11, contextLimit: 64, tokenizer };

async function errorOf(p: Promise<unknown>) {
  try {
    await p;
  } catch (e) {
    if (isWorkloadSpecError(e)) return { code: e.code, file: e.file, line: e.line, field: e.field, message: e.message };
    throw e;
  }
  throw new Error("expected a WorkloadSpecError");
}

describe("buildWorkload from prompts", () => {
  it("tokenizes, applies a per-prompt decode policy with a default, and cycles prompts to `count`", async () => {
    const w = await buildWorkload(
      { kind: "prompts", path: promptsFile, decode: { kind: "per-prompt", default: 7 }, count: 5 },
      { kind: "constant", rateRps: 2 },
      base,
    );
    expect(w.requests.map((r) => r.prompt_id)).toEqual(["p0", "p1", "p2", "p0", "p1"]);
    expect(w.requests.map((r) => r.num_decode_tokens)).toEqual([4, 7, 9, 4, 7]);
    expect(w.requests[0]!.prompt_token_ids).toEqual(tokenizer.encode("the the"));
    expect(w.requests[2]!.num_prefill_tokens).toBe(tokenizer.encode("Grüße 👋").length);
    expect(w.requests.map((r) => r.arrived_at)).toEqual([0, 0.5, 1, 1.5, 2]);
    expect(w.requests.map((r) => r.request_id)).toEqual([0, 1, 2, 3, 4]);
    expect(w.manifest.id).toBe(computeWorkloadId(w.requests));
    expect(w.manifest.source.file).toBe("prompts.jsonl");
    expect(JSON.stringify(w.manifest)).not.toContain(dir);
    expect(w.manifest.counts).toEqual({
      requests: 5,
      prefill_tokens: w.requests.reduce((s, r) => s + r.num_prefill_tokens, 0),
      decode_tokens: 31,
      dropped_over_context: 0,
      synthetic_prompts: 0,
    });
  });

  it("fixed and sampled decode lengths; the seed decides the sample", async () => {
    const fixed = await buildWorkload(
      { kind: "prompts", path: promptsFile, decode: { kind: "fixed", tokens: 3 } },
      { kind: "poisson", rateRps: 1 },
      base,
    );
    expect(fixed.requests.map((r) => r.num_decode_tokens)).toEqual([3, 3, 3]);
    const spec = {
      kind: "prompts",
      path: promptsFile,
      count: 200,
      decode: { kind: "sample", distribution: { kind: "uniform", min: 2, max: 6 } },
    } as const;
    const a = await buildWorkload(spec, { kind: "poisson", rateRps: 1 }, base);
    const b = await buildWorkload(spec, { kind: "poisson", rateRps: 1 }, { ...base, seed: 12 });
    const decodes = a.requests.map((r) => r.num_decode_tokens);
    expect(new Set(decodes)).toEqual(new Set([2, 3, 4, 5, 6]));
    expect(decodes).not.toEqual(b.requests.map((r) => r.num_decode_tokens));
    expect(a.manifest.id).not.toBe(b.manifest.id);
  });

  it("per-prompt policy without a default names the prompt that lacks num_decode_tokens", async () => {
    const e = await errorOf(
      buildWorkload({ kind: "prompts", path: promptsFile, decode: { kind: "per-prompt" } }, { kind: "poisson", rateRps: 1 }, base),
    );
    expect(e).toMatchObject({ code: "WORKLOAD_MISSING_FIELD", file: promptsFile, line: 2, field: "num_decode_tokens" });
  });

  it("prompt + decode over the context limit -> WORKLOAD_OVER_CONTEXT at the prompt's line, or dropped", async () => {
    const spec = { kind: "prompts", path: promptsFile, decode: { kind: "per-prompt", default: 7 } } as const;
    const limit = tokenizer.encode("Grüße 👋").length + 8; // p2 needs +9
    const e = await errorOf(buildWorkload(spec, { kind: "poisson", rateRps: 1 }, { ...base, contextLimit: limit }));
    expect(e).toMatchObject({ code: "WORKLOAD_OVER_CONTEXT", file: promptsFile, line: 3 });
    expect(e.message).toContain(`context limit ${limit}`);
    const dropped = await buildWorkload(
      spec,
      { kind: "poisson", rateRps: 1 },
      { ...base, contextLimit: limit, overContext: "drop" },
    );
    expect(dropped.requests.map((r) => r.prompt_id)).toEqual(["p0", "p1"]);
    expect(dropped.manifest.counts.dropped_over_context).toBe(1);
  });

  it("rejects bad specs and options with WORKLOAD_INVALID_SPEC naming the field", async () => {
    const prompts = { kind: "prompts", path: promptsFile, decode: { kind: "fixed", tokens: 3 } } as const;
    expect(await errorOf(buildWorkload(prompts, { kind: "trace" }, base))).toMatchObject({
      code: "WORKLOAD_INVALID_SPEC",
      field: "arrivals.kind",
    });
    expect(await errorOf(buildWorkload(prompts, { kind: "poisson", rateRps: -1 }, base))).toMatchObject({
      code: "WORKLOAD_INVALID_SPEC",
      field: "rateRps",
    });
    expect(
      await errorOf(buildWorkload(prompts, { kind: "trace", rateRps: 1, timeScale: 2 }, base)),
    ).toMatchObject({ code: "WORKLOAD_INVALID_SPEC", field: "rateRps" });
    const badDecode = { ...prompts, decode: { kind: "fixed", tokens: 0 } } as const;
    expect(await errorOf(buildWorkload(badDecode, { kind: "poisson", rateRps: 1 }, base))).toMatchObject({
      code: "WORKLOAD_INVALID_SPEC",
      field: "decode.tokens",
    });
    expect(await errorOf(buildWorkload(prompts, { kind: "poisson", rateRps: 1 }, { ...base, seed: -3 }))).toMatchObject({
      code: "WORKLOAD_INVALID_SPEC",
      field: "seed",
    });
  });
});

describe("buildWorkload from synthetic lengths", () => {
  it("draws lengths, makes seeded synthetic ids of exactly that length inside the ordinary vocab", async () => {
    const spec = {
      kind: "synthetic",
      count: 300,
      prefill: { kind: "lognormal", median: 20, sigma: 0.8, min: 4, max: 50 },
      decode: { kind: "uniform", min: 1, max: 5 },
    } as const;
    const w = await buildWorkload(spec, { kind: "gamma", rateRps: 5, cv: 2 }, { ...base, limit: 250 });
    expect(w.requests).toHaveLength(250);
    for (const r of w.requests) {
      expect(r.prompt_token_ids).toHaveLength(r.num_prefill_tokens);
      expect(r.num_prefill_tokens).toBeGreaterThanOrEqual(4);
      expect(r.num_prefill_tokens).toBeLessThanOrEqual(50);
      expect(r.prompt_token_ids.every((id) => id >= 0 && id < tokenizer.ordinaryVocabSize)).toBe(true);
    }
    const prefills = w.requests.map((r) => r.num_prefill_tokens).sort((a, b) => a - b);
    expect(Math.abs(prefills[125]! - 20)).toBeLessThanOrEqual(3);
    expect(w.manifest.counts.synthetic_prompts).toBe(250);
    const again = await buildWorkload(spec, { kind: "gamma", rateRps: 5, cv: 2 }, { ...base, limit: 250 });
    expect(again.requests).toEqual(w.requests);
    expect(new Set(w.requests[0]!.prompt_token_ids).size).toBeGreaterThan(1);
    expect(w.requests[0]!.prompt_token_ids).not.toEqual(w.requests[1]!.prompt_token_ids.slice(0, w.requests[0]!.num_prefill_tokens));
  });
});

describe("serializeRequest and summarizeWorkload", () => {
  it("prints a fixed key order with six-decimal arrivals and valid JSON", () => {
    const line = serializeRequest({
      request_id: 3,
      prompt_id: "x",
      text: 'a "q"\n',
      prompt_token_ids: [5, 6],
      num_prefill_tokens: 2,
      num_decode_tokens: 1,
      arrived_at: 12.00034,
    });
    expect(line).toBe(
      '{"request_id":3,"prompt_id":"x","text":"a \\"q\\"\\n","prompt_token_ids":[5,6],"num_prefill_tokens":2,"num_decode_tokens":1,"arrived_at":12.000340}',
    );
    expect(JSON.parse(line).arrived_at).toBe(12.00034);
  });

  it("summarizes counts, token stats, duration and rate", async () => {
    const w = await buildWorkload(
      { kind: "synthetic", count: 100, prefill: { kind: "uniform", min: 1, max: 100 }, decode: { kind: "fixed", value: 8 } },
      { kind: "constant", rateRps: 4 },
      { ...base, contextLimit: 200 },
    );
    const s = summarizeWorkload(w);
    expect(s.requests).toBe(100);
    expect(s.durationS).toBeCloseTo(99 / 4, 9);
    expect(s.meanRateRps).toBeCloseTo(4, 9);
    expect(s.decodeTokens).toEqual({ total: 800, min: 8, mean: 8, p50: 8, p99: 8, max: 8 });
    const sorted = w.requests.map((r) => r.num_prefill_tokens).sort((a, b) => a - b);
    expect(s.prefillTokens).toMatchObject({ min: sorted[0], max: sorted[99], p50: sorted[49], p99: sorted[98] });
  });
});

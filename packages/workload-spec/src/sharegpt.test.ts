import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeTinyTokenizerJson } from "../test/tiny-tokenizer.js";
import { isWorkloadSpecError, type WorkloadErrorCode } from "./errors.js";
import { readShareGpt } from "./sharegpt.js";
import { createHfByteLevelBpeTokenizer } from "./tokenizer.js";
import { buildWorkload } from "./workload.js";

const dir = mkdtempSync(join(tmpdir(), "sharegpt-"));
const tokenizer = createHfByteLevelBpeTokenizer({ path: writeTinyTokenizerJson(dir), name: "tiny" });
afterAll(() => {
  tokenizer.free();
  rmSync(dir, { recursive: true, force: true });
});
let n = 0;
function write(value: unknown): string {
  const path = join(dir, `s${n++}.json`);
  writeFileSync(path, typeof value === "string" ? value : JSON.stringify(value));
  return path;
}

const human = (value: string) => ({ from: "human", value });
const gpt = (value: string) => ({ from: "gpt", value });

/** Expect a WorkloadSpecError with this code, file and field, all named in its message. */
function expectError(fn: () => unknown, code: WorkloadErrorCode, file: string, field?: string): void {
  try {
    fn();
  } catch (e) {
    expect(isWorkloadSpecError(e)).toBe(true);
    if (!isWorkloadSpecError(e)) return;
    expect({ code: e.code, file: e.file, field: e.field }).toEqual({ code, file, field });
    expect(e.message).toContain(file);
    if (field !== undefined) expect(e.message).toContain(field);
    return;
  }
  expect.unreachable(`expected ${code}`);
}

const conversations = [
  { id: "a", conversations: [human("the the"), gpt("hello there hello")] },
  { id: "b", conversations: [human("   "), gpt("ignored")] },
  { id: "c", conversations: [{ from: "system", value: "be brief" }, human("hello"), human("again")] },
  { id: 7, conversations: [] },
  { id: "e", conversations: [gpt("no human here")] },
  { id: "f", model: "gpt-4", conversations: [human("there"), gpt("  ")] },
];

describe("readShareGpt", () => {
  it("takes the first human turn, its directly following gpt turn, and skips (counts) empty prompts", () => {
    const file = write(conversations);
    const read = readShareGpt(file);
    expect(read.rows).toEqual([
      { index: 0, promptId: "a", text: "the the", responseText: "hello there hello" },
      // The turn after the first human turn is another human turn: no response.
      { index: 2, promptId: "c", text: "hello", responseText: undefined },
      // A blank gpt turn is no response.
      { index: 5, promptId: "f", text: "there", responseText: undefined },
    ]);
    // b (blank), 7 (no turns), e (no human turn).
    expect(read.skippedEmptyPrompts).toBe(3);
  });

  it("selects entries with offset/limit before skipping", () => {
    const file = write(conversations);
    const read = readShareGpt(file, { offset: 1, limit: 2 });
    expect(read.rows.map((r) => r.promptId)).toEqual(["c"]);
    expect(read.skippedEmptyPrompts).toBe(1);
    expectError(() => readShareGpt(file, { offset: 6 }), "WORKLOAD_EMPTY", file);
    expectError(() => readShareGpt(file, { offset: 3, limit: 2 }), "WORKLOAD_EMPTY", file);
  });

  it.each([
    ["not an array", { id: "a" }, "WORKLOAD_INVALID_ROW", undefined],
    ["entry not an object", [{ id: "a", conversations: [] }, 5], "WORKLOAD_INVALID_ROW", "[1]"],
    ["missing id", [{ conversations: [] }], "WORKLOAD_MISSING_FIELD", "[0].id"],
    ["bad id", [{ id: 1.5, conversations: [] }], "WORKLOAD_INVALID_VALUE", "[0].id"],
    ["missing conversations", [{ id: "a" }], "WORKLOAD_MISSING_FIELD", "[0].conversations"],
    ["conversations not an array", [{ id: "a", conversations: "hi" }], "WORKLOAD_INVALID_VALUE", "[0].conversations"],
    ["turn not an object", [{ id: "a", conversations: [human("x"), null] }], "WORKLOAD_INVALID_ROW", "[0].conversations[1]"],
    ["turn without value", [{ id: "a", conversations: [{ from: "human" }] }], "WORKLOAD_MISSING_FIELD", "[0].conversations[0].value"],
    ["value not a string", [{ id: "a", conversations: [{ from: "human", value: 3 }] }], "WORKLOAD_INVALID_VALUE", "[0].conversations[0].value"],
    ["from not a string", [{ id: "a", conversations: [{ from: null, value: "x" }] }], "WORKLOAD_INVALID_VALUE", "[0].conversations[0].from"],
    ["duplicate id", [{ id: "a", conversations: [] }, { id: "a", conversations: [] }], "WORKLOAD_DUPLICATE_ID", "[1].id"],
    ["empty array", [], "WORKLOAD_EMPTY", undefined],
    ["only empty prompts", [{ id: "a", conversations: [human("")] }], "WORKLOAD_EMPTY", undefined],
  ] as const)("%s -> %s naming the array index", (_name, value, code, field) => {
    const file = write(value);
    expectError(() => readShareGpt(file), code, file, field);
  });

  it("rejects invalid JSON and a missing file", () => {
    const file = write('[{"id": "a", "conversations": [');
    expectError(() => readShareGpt(file), "WORKLOAD_INVALID_JSON", file);
    const missing = join(dir, "nope.json");
    expectError(() => readShareGpt(missing), "WORKLOAD_READ_FAILED", missing);
  });
});

describe("buildWorkload from sharegpt", () => {
  const base = { seed: 5, contextLimit: 64, tokenizer };
  const arrivals = { kind: "constant", rateRps: 2 } as const;

  it("uses the tokenized response length with from-response and the fallback elsewhere; counts in the manifest", async () => {
    const path = write(conversations);
    const w = await buildWorkload(
      { kind: "sharegpt", path, decode: { kind: "from-response", fallback: { kind: "fixed", tokens: 5 } } },
      arrivals,
      base,
    );
    expect(w.requests.map((r) => r.prompt_id)).toEqual(["a", "c", "f"]);
    expect(w.requests.map((r) => r.text)).toEqual(["the the", "hello", "there"]);
    expect(w.requests[0]!.num_decode_tokens).toBe(tokenizer.encode("hello there hello").length);
    expect(w.requests[0]!.prompt_token_ids).toEqual(tokenizer.encode("the the"));
    expect(w.requests.slice(1).map((r) => r.num_decode_tokens)).toEqual([5, 5]);
    expect(w.manifest.source.kind).toBe("sharegpt");
    expect(w.manifest.counts.skipped_empty_prompts).toBe(3);
    expect(w.manifest.counts.decode_from_response).toBe(1);
    expect(w.manifest.source.options).toEqual({
      kind: "sharegpt",
      decode: { kind: "from-response", fallback: { kind: "fixed", tokens: 5 } },
    });

    const capped = await buildWorkload(
      { kind: "sharegpt", path, decode: { kind: "from-response", max: 1, fallback: { kind: "fixed", tokens: 5 } } },
      arrivals,
      base,
    );
    expect(capped.requests[0]!.num_decode_tokens).toBe(1);
  });

  it("fails naming the entry when from-response has no response and no fallback", async () => {
    const path = write(conversations);
    const err = await buildWorkload({ kind: "sharegpt", path, decode: { kind: "from-response" } }, arrivals, base).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isWorkloadSpecError(err)).toBe(true);
    if (!isWorkloadSpecError(err)) return;
    expect(err.code).toBe("WORKLOAD_MISSING_FIELD");
    expect(err.field).toBe("[2].conversations");
    expect(err.message).toContain(path);
  });

  it("applies options.limit to the kept prompts and names the entry of an over-context request", async () => {
    const path = write(conversations);
    const w = await buildWorkload({ kind: "sharegpt", path, decode: { kind: "fixed", tokens: 3 } }, arrivals, {
      ...base,
      limit: 2,
    });
    expect(w.requests.map((r) => [r.prompt_id, r.num_decode_tokens])).toEqual([
      ["a", 3],
      ["c", 3],
    ]);
    const err = await buildWorkload({ kind: "sharegpt", path, decode: { kind: "fixed", tokens: 64 } }, arrivals, base).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isWorkloadSpecError(err) && [err.code, err.field]).toEqual(["WORKLOAD_OVER_CONTEXT", "[0]"]);
  });

  it("rejects a per-prompt decode policy (ShareGPT has no per-prompt lengths)", async () => {
    const path = write(conversations);
    const err = await buildWorkload(
      { kind: "sharegpt", path, decode: { kind: "per-prompt", default: 3 } } as never,
      arrivals,
      base,
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isWorkloadSpecError(err) && [err.code, err.field]).toEqual(["WORKLOAD_INVALID_SPEC", "decode.kind"]);
  });
});

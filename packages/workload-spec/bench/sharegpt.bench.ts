/**
 * ShareGPT source benchmark (not a test): reading + validating the 500-entry sample of ../shared/data against
 * building the whole workload from it (Qwen3 tokenization of every prompt), in one run, so the share of the reader
 * is visible. Prints medians of repeated rounds.
 * Run: pnpm --filter @vf/workload-spec build && node packages/workload-spec/bench/sharegpt.bench.ts
 */
import { cpus, loadavg } from "node:os";
import { resolve } from "node:path";
import type * as Lib from "../src/index.js";
import { dataRoot } from "../test/corpus.ts";

// The library runs from its build (Node strips types here but cannot map src's ".js" imports to ".ts").
const lib = (await import(new URL("../dist/index.js", import.meta.url).href)) as typeof Lib;
const file = resolve(dataRoot, "sharegpt-500/ShareGPT_V3_filtered_500.json");

function median(fn: () => unknown, rounds: number): number {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(rounds / 2)]!;
}

const tokenizer = lib.createQwen3Tokenizer();
const source: Lib.SourceSpec = { kind: "sharegpt", path: file, decode: { kind: "fixed", tokens: 128 } };
const options = { seed: 0, contextLimit: 40960, tokenizer };
lib.readShareGpt(file);
await lib.buildWorkload(source, { kind: "poisson", rateRps: 1 }, options);

const readMs = median(() => lib.readShareGpt(file), 21);
const buildTimes: number[] = [];
for (let i = 0; i < 5; i++) {
  const start = process.hrtime.bigint();
  await lib.buildWorkload(source, { kind: "poisson", rateRps: 1 }, options);
  buildTimes.push(Number(process.hrtime.bigint() - start) / 1e6);
}
buildTimes.sort((a, b) => a - b);
const buildMs = buildTimes[2]!;
tokenizer.free();

console.log(`machine: ${cpus().length} CPUs, load average ${loadavg()[0]!.toFixed(1)}, Node ${process.version}`);
console.log(`readShareGpt (500 entries, 216 kB, validated):  median ${readMs.toFixed(2)} ms of 21`);
console.log(`buildWorkload (read + Qwen3 tokenize + arrivals): median ${buildMs.toFixed(1)} ms of 5`);
console.log(`reader share of the build: ${((100 * readMs) / buildMs).toFixed(1)} %`);

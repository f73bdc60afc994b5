/**
 * Real prompt texts from ../shared/data (ShareGPT sample, MT-Bench and Vicuna-Bench turns, HumanEval prompts,
 * Self-Instruct instructions) plus this package's example prompts, for the tokenizer cross-check and benchmark.
 * Read-only: nothing is copied into the repo.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";

/** Repo root (this file lies in packages/workload-spec/test). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
/** The public data (read-only): $VF_SHARED_DATA (scripts/env.sh sets it), else ../shared/data beside the repo. */
export const dataRoot = process.env.VF_SHARED_DATA ?? resolve(repoRoot, "../shared/data");

function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** One prompt text with where it came from. */
export interface CorpusText {
  source: string;
  text: string;
}

/** Every prompt text of the public data sets (>= 1,000). */
export function loadCorpus(): CorpusText[] {
  const out: CorpusText[] = [];
  const sharegpt = JSON.parse(
    readFileSync(resolve(dataRoot, "sharegpt-500/ShareGPT_V3_filtered_500.json"), "utf8"),
  ) as Array<{ conversations: Array<{ value: string }> }>;
  for (const row of sharegpt) for (const turn of row.conversations) out.push({ source: "sharegpt", text: turn.value });
  for (const name of ["mt_bench_question.jsonl", "vicuna_bench_question.jsonl"]) {
    for (const row of jsonLines(readFileSync(resolve(dataRoot, "mt-bench", name), "utf8"))) {
      for (const turn of row.turns as string[]) out.push({ source: name, text: turn });
    }
  }
  const humaneval = gunzipSync(readFileSync(resolve(dataRoot, "humaneval/HumanEval.jsonl.gz"))).toString("utf8");
  for (const row of jsonLines(humaneval)) out.push({ source: "humaneval", text: row.prompt as string });
  const selfInstruct = readFileSync(resolve(dataRoot, "self-instruct-user-oriented/user_oriented_instructions.jsonl"), "utf8");
  for (const row of jsonLines(selfInstruct)) {
    const instances = row.instances as Array<{ input: string }>;
    out.push({ source: "self-instruct", text: `${row.instruction as string}\n\n${instances[0]?.input ?? ""}` });
  }
  return out;
}

/**
 * Bad flags and bad experiment files: exit code 2 (documented in `runner --help`), a message naming the flag or
 * the experiment field path, no stack trace, nothing on stdout.
 */
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliResult, dataRoot, makeTempDir, mapLimit, repoRoot, runCli } from "./helpers.js";

const tmp = makeTempDir("bad");
afterAll(() => tmp.remove());
const SHAREGPT = resolve(dataRoot, "sharegpt-500/ShareGPT_V3_filtered_500.json");
const PROMPTS = resolve(repoRoot, "packages/workload-spec/examples/prompts.jsonl");
const CONFIG = resolve(repoRoot, "packages/gpu-harness/src/gpu_harness/configs/qwen3-0.6b.json");

/** A valid experiment (sharegpt source, which the experiment schema reuses from workload-spec). */
const validExperiment = {
  name: "bad-input-test",
  model: { config: CONFIG },
  workload: {
    source: { kind: "sharegpt", path: SHAREGPT, decode: { kind: "from-response", fallback: { kind: "fixed", tokens: 8 } } },
    seed: 0,
  },
  loads: [{ name: "low", arrivals: { kind: "poisson", rateRps: 1 } }],
};

function file(name: string, content: string): string {
  const path = join(tmp.dir, name);
  writeFileSync(path, content);
  return path;
}

/** [name, argv, texts the message must contain]. */
const CASES: Array<[string, () => string[], string[]]> = [
  ["calibrate without --fit or --frozen", () => ["calibrate", "x.json"], ["exactly one of --fit <load> and --frozen <dir>"]],
  [
    "calibrate --fit with an unknown load in the list",
    () => ["calibrate", file("fit-exp.json", JSON.stringify(validExperiment)), "--fit", "low,high"],
    ['--fit low,high: "high" is not a load of experiment bad-input-test', "(loads: low)"],
  ],
  [
    "calibrate --fit-also without a single --fit load",
    () => ["calibrate", file("also-exp.json", JSON.stringify(validExperiment)), "--frozen", tmp.dir, "--fit-also", tmp.dir],
    ["--fit-also: give it with exactly one --fit load"],
  ],
  [
    "calibrate --frozen dir without calibration.json",
    () => ["calibrate", file("frozen-exp.json", JSON.stringify(validExperiment)), "--frozen", tmp.dir],
    ["--frozen", "calibration.json", "runner calibrate --fit first"],
  ],
  [
    "calibrate --host-scale not a choice (commander)",
    () => ["calibrate", file("host-exp.json", JSON.stringify(validExperiment)), "--fit", "low", "--host-scale", "fast"],
    ["--host-scale", "fast", "probe, phases"],
  ],
  ["--rate not a number", () => ["workload", "--synthetic", "5", "--rate", "abc"], ['--rate "abc"', "expected a number"]],
  ["--decode bogus", () => ["workload", "--prompts", PROMPTS, "--decode", "bogus"], ['--decode "bogus"', "fixed:N"]],
  [
    "two sources at once",
    () => ["workload", "--prompts", PROMPTS, "--sharegpt", SHAREGPT],
    ["exactly one of", "--prompts, --sharegpt", "(got --prompts, --sharegpt)"],
  ],
  ["--sharegpt with a per-prompt decode", () => ["workload", "--sharegpt", SHAREGPT, "--decode", "per-prompt:8"], ['--decode "per-prompt:8"', "ShareGPT"]],
  ["--arrival not a choice (commander)", () => ["workload", "--synthetic", "3", "--arrival", "burst"], ["--arrival", "burst"]],
  ["bench without --workload (commander)", () => ["bench", "--endpoint", "http://127.0.0.1:9"], ["--workload <dir>", "not specified"]],
  [
    "run --steps with an unknown step",
    () => ["run", file("ok.json", JSON.stringify(validExperiment)), "--steps", "workload,deploy"],
    ["--steps workload,deploy", 'unknown step "deploy"'],
  ],
  [
    "YAML experiment: a negative rate",
    () => [
      "run",
      file(
        "neg.yaml",
        `name: neg\nmodel:\n  config: ${CONFIG}\nworkload:\n  source: {kind: synthetic, count: 4, prefill: {kind: fixed, value: 8}, decode: {kind: fixed, value: 4}}\n  seed: 0\nloads:\n  - name: low\n    arrivals: {kind: poisson, rateRps: -2}\n`,
      ),
    ],
    ["neg.yaml: invalid experiment file", "loads.0.arrivals.rateRps"],
  ],
  [
    "JSON experiment: a negative GQA decode batching overhead",
    () => ["run", file("gqa.json", JSON.stringify({ ...validExperiment, simulate: { attentionDecodeBatchingOverheadFraction: -1 } }))],
    ["gqa.json: invalid experiment file", "simulate.attentionDecodeBatchingOverheadFraction"],
  ],
  [
    "JSON experiment: a step-time scale of 0",
    () => ["run", file("scale.json", JSON.stringify({ ...validExperiment, simulate: { stepTimeScale: 0 } }))],
    ["scale.json: invalid experiment file", "simulate.stepTimeScale"],
  ],
  [
    "JSON experiment: a per-prompt fallback for sharegpt and an unknown key",
    () => [
      "run",
      file(
        "bad.json",
        JSON.stringify({
          ...validExperiment,
          workload: {
            ...validExperiment.workload,
            source: { kind: "sharegpt", path: SHAREGPT, decode: { kind: "from-response", fallback: { kind: "per-prompt" } } },
          },
          bench: { endpoint: "http://127.0.0.1:9", warmup: 3 },
        }),
      ),
    ],
    ["bad.json: invalid experiment file", "workload.source.decode.fallback.kind", "bench: Unrecognized key", '"warmup"'],
  ],
  ["YAML experiment that is not YAML", () => ["run", file("broken.yaml", "name: [unclosed\n")], ["broken.yaml: not valid YAML"]],
];

const results = new Map<string, CliResult>();
beforeAll(async () => {
  const out = await mapLimit(CASES, 3, ([, argv]) => runCli(argv()));
  for (const [i, [name]] of CASES.entries()) results.set(name, out[i]!);
}, 180_000);

describe("bad input exits 2 naming the flag or field", () => {
  it.each(CASES)("%s", (name, _argv, texts) => {
    const r = results.get(name)!;
    expect(r.code, r.stderr).toBe(2);
    for (const t of texts) expect(r.stderr).toContain(t);
    // A usage error is not a crash: no stack trace (a V8 frame ends in file:line:column; the help text commander prints
    // after a bad choice may wrap a line to start with "at"), no output.
    expect(r.stderr).not.toMatch(/^\s+at .*:\d+:\d+\)?$/m);
    expect(r.stdout).toBe("");
  });
});

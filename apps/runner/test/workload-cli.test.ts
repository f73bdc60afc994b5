/**
 * `runner workload` as a user runs it: the same inputs and seed twice give byte-identical files, the summary goes
 * to stdout, and the `--sharegpt` source reads the real ShareGPT sample from ../shared/data.
 */
import { readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliResult, dataRoot, makeTempDir, mapLimit, runCli } from "./helpers.js";

const SHAREGPT = resolve(dataRoot, "sharegpt-500/ShareGPT_V3_filtered_500.json");
const tmp = makeTempDir("workload");
afterAll(() => tmp.remove());

const common = ["--sharegpt", SHAREGPT, "--limit", "60", "--arrival", "gamma", "--rate", "3", "--cv", "2", "--seed", "7"];
let a: CliResult;
let b: CliResult;
let c: CliResult;
beforeAll(async () => {
  [a, b, c] = (await mapLimit(
    [
      [...common, "--out", join(tmp.dir, "a")],
      [...common, "--out", join(tmp.dir, "b")],
      ["--sharegpt", SHAREGPT, "--offset", "495", "--decode", "from-response:fixed:7", "--rate", "1", "--out", join(tmp.dir, "c")],
    ],
    3,
    (args) => runCli(["workload", ...args]),
  )) as [CliResult, CliResult, CliResult];
}, 120_000);

const raw = JSON.parse(await readFile(SHAREGPT, "utf8")) as Array<{ id: string }>;

describe("runner workload", () => {
  it("writes byte-identical files for the same inputs and seed", async () => {
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const files = (await readdir(join(tmp.dir, "a"))).sort();
    expect(files).toEqual(["requests.jsonl", "trace_intervals.csv", "trace_lengths.csv", "vidur_trace.csv", "workload.json"]);
    expect((await readdir(join(tmp.dir, "b"))).sort()).toEqual(files);
    for (const f of files) {
      const [x, y] = await Promise.all([readFile(join(tmp.dir, "a", f)), readFile(join(tmp.dir, "b", f))]);
      expect(x.equals(y), f).toBe(true);
    }
  });

  it("prints the summary on stdout, naming the workload id, counts and dir", async () => {
    const manifest = JSON.parse(await readFile(join(tmp.dir, "a", "workload.json"), "utf8")) as {
      id: string;
      counts: { requests: number; prefill_tokens: number };
    };
    const lines = a.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(new RegExp(`^workload ${manifest.id}: 60 requests over \\d+\\.\\d{3} s \\(\\d+\\.\\d{3} req/s\\)$`));
    expect(a.stdout).toContain(`prefill tokens: total ${manifest.counts.prefill_tokens},`);
    expect(lines.at(-1)).toBe(`  dir: ${join(tmp.dir, "a")}`);
    expect(b.stdout).toBe(a.stdout.replace(join(tmp.dir, "a"), join(tmp.dir, "b")));
  });

  it("--sharegpt takes the first human turns in file order with the default sampled decode policy", async () => {
    const manifest = JSON.parse(await readFile(join(tmp.dir, "a", "workload.json"), "utf8")) as {
      source: { kind: string; file: string; options: { decode: unknown } };
      counts: Record<string, number>;
    };
    expect(manifest.source.kind).toBe("sharegpt");
    expect(manifest.source.file).toBe("ShareGPT_V3_filtered_500.json");
    expect(manifest.source.options.decode).toEqual({
      kind: "sample",
      distribution: { kind: "lognormal", median: 128, sigma: 0.6, min: 16, max: 1024 },
    });
    expect(manifest.counts).toMatchObject({ requests: 60, skipped_empty_prompts: 0, synthetic_prompts: 0 });
    const requests = (await readFile(join(tmp.dir, "a", "requests.jsonl"), "utf8"))
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { prompt_id: string; num_decode_tokens: number });
    expect(requests.map((r) => r.prompt_id)).toEqual(raw.slice(0, 60).map((e) => e.id));
    expect(new Set(requests.map((r) => r.num_decode_tokens)).size).toBeGreaterThan(10);
  });

  it("--offset selects entries and --decode from-response:FALLBACK falls back (the sample has no responses)", async () => {
    expect(c.code, c.stderr).toBe(0);
    const requests = (await readFile(join(tmp.dir, "c", "requests.jsonl"), "utf8"))
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { prompt_id: string; num_decode_tokens: number });
    expect(requests.map((r) => r.prompt_id)).toEqual(raw.slice(495).map((e) => e.id));
    expect(requests.map((r) => r.num_decode_tokens)).toEqual([7, 7, 7, 7, 7]);
  });
});

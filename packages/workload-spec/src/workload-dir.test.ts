import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isWorkloadSpecError } from "./errors.js";
import { examplePromptsPath } from "./examples.js";
import type { ArrivalSpec, SourceSpec, Workload } from "./schema.js";
import { createQwen3Tokenizer, type Tokenizer } from "./tokenizer.js";
import { buildWorkload } from "./workload.js";
import { readWorkloadDir, WORKLOAD_FILES, writeWorkloadDir } from "./workload-dir.js";

let tokenizer: Tokenizer;
let root: string;
beforeAll(async () => {
  tokenizer = createQwen3Tokenizer();
  root = await mkdtemp(join(tmpdir(), "workload-dir-"));
});
afterAll(async () => {
  tokenizer.free();
  await rm(root, { recursive: true, force: true });
});

const source: SourceSpec = {
  kind: "prompts",
  path: examplePromptsPath(),
  decode: { kind: "sample", distribution: { kind: "lognormal", median: 120, sigma: 0.6, max: 512 } },
  count: 96,
};
const arrivals: ArrivalSpec = { kind: "gamma", rateRps: 4, cv: 2 };
const build = (): Promise<Workload> => buildWorkload(source, arrivals, { seed: 2024, contextLimit: 40960, tokenizer });

function filesOf(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) out[name] = readFileSync(join(dir, name), "utf8");
  return out;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isWorkloadSpecError(e)) return `${e.code} ${e.file ?? ""}:${e.line ?? ""}`;
    throw e;
  }
  return "no error";
}

describe("writeWorkloadDir / readWorkloadDir", () => {
  it("same inputs + seed -> byte-identical files (the determinism check)", async () => {
    const a = await writeWorkloadDir(join(root, "a"), await build());
    const b = await writeWorkloadDir(join(root, "nested", "b"), await build());
    expect(a.id).toBe(b.id);
    const fa = filesOf(a.dir);
    expect(Object.keys(fa)).toEqual(Object.values(WORKLOAD_FILES).sort());
    expect(filesOf(b.dir)).toEqual(fa);
    // And a different seed changes the content and the id.
    const c = await buildWorkload(source, arrivals, { seed: 2025, contextLimit: 40960, tokenizer });
    expect(c.manifest.id).not.toBe(a.id);
  });

  it("writes the contract's formats and reads back the same workload", async () => {
    const workload = await build();
    const { dir, id } = await writeWorkloadDir(join(root, "formats"), workload);
    const files = filesOf(dir);
    const manifest = JSON.parse(files["workload.json"]!);
    expect(manifest.id).toBe(id);
    expect(manifest.tokenizer.id).toBe(tokenizer.id);
    expect(manifest.arrivals).toEqual({ process: arrivals, seed: 2024, prng: "xoshiro128**/splitmix32" });
    expect(files["workload.json"]).not.toContain(root);
    expect(files["workload.json"]).not.toMatch(/\d{4}-\d{2}-\d{2}T/); // no creation timestamps
    const vidur = files["vidur_trace.csv"]!.trimEnd().split("\n");
    expect(vidur[0]).toBe("arrived_at,num_prefill_tokens,num_decode_tokens");
    expect(vidur[1]).toMatch(/^0\.000000,\d+,\d+$/);
    expect(vidur.slice(1).every((l) => /^\d+\.\d{6},\d+,\d+$/.test(l))).toBe(true);
    const intervals = files["trace_intervals.csv"]!.trimEnd().split("\n");
    expect(intervals[0]).toBe("request_id,arrived_at,inter_request_time");
    expect(intervals[2]).toBe(`1,${vidur[2]!.split(",")[0]},${vidur[2]!.split(",")[0]}`);
    expect(files["trace_lengths.csv"]!.split("\n")[1]).toBe(
      `0,${workload.requests[0]!.num_prefill_tokens},${workload.requests[0]!.num_decode_tokens}`,
    );
    const back = await readWorkloadDir(dir);
    expect(back).toEqual(workload);
  });

  it("refuses an existing target unless overwrite, and replaces it atomically when asked", async () => {
    const workload = await build();
    const target = join(root, "exists");
    await writeWorkloadDir(target, workload);
    expect(await codeOf(writeWorkloadDir(target, workload))).toMatch(/^WORKLOAD_DIR_EXISTS/);
    writeFileSync(join(target, "stray.txt"), "x");
    await writeWorkloadDir(target, workload, { overwrite: true });
    expect(existsSync(join(target, "stray.txt"))).toBe(false);
    expect(readdirSync(root).filter((n) => n.includes(".tmp-") || n.includes(".old-"))).toEqual([]);
  });

  it("leaves no partial dir when writing fails", async () => {
    const workload = await build();
    const tampered: Workload = { ...workload, requests: workload.requests.map((r) => ({ ...r })) };
    tampered.requests[5]!.num_decode_tokens += 1; // id no longer matches the content
    const target = join(root, "partial");
    expect(await codeOf(writeWorkloadDir(target, tampered))).toMatch(/^WORKLOAD_INVALID_SPEC/);
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(root).filter((n) => n.startsWith(".partial"))).toEqual([]);
  });

  it("reports unwritable targets as WORKLOAD_WRITE_FAILED and bad request lists as WORKLOAD_INVALID_SPEC", async () => {
    const workload = await build();
    const blocker = join(root, "a-file");
    writeFileSync(blocker, "not a dir");
    expect(await codeOf(writeWorkloadDir(join(blocker, "w"), workload))).toBe(`WORKLOAD_WRITE_FAILED ${join(blocker, "w")}:`);
    const renumbered: Workload = { ...workload, requests: workload.requests.map((r, i) => ({ ...r, request_id: i + 1 })) };
    expect(await codeOf(writeWorkloadDir(join(root, "renumbered"), renumbered))).toMatch(/^WORKLOAD_INVALID_SPEC/);
    expect(existsSync(join(root, "renumbered"))).toBe(false);
  });

  it("detects corrupt dirs: edited CSV (names the line), edited requests (hash), bad manifest", async () => {
    const workload = await build();
    const { dir } = await writeWorkloadDir(join(root, "corrupt"), workload);
    const vidurFile = join(dir, "vidur_trace.csv");
    const vidur = readFileSync(vidurFile, "utf8");
    const lines = vidur.split("\n");
    lines[4] = lines[4]!.replace(/,(\d+)$/, (_m, d: string) => `,${Number(d) + 1}`);
    writeFileSync(vidurFile, lines.join("\n"));
    expect(await codeOf(readWorkloadDir(dir))).toBe(`WORKLOAD_CORRUPT_DIR ${vidurFile}:5`);
    writeFileSync(vidurFile, vidur);

    const requestsFile = join(dir, "requests.jsonl");
    const requests = readFileSync(requestsFile, "utf8");
    writeFileSync(requestsFile, requests.replace('"num_decode_tokens":', '"num_decode_tokens":1'));
    expect(await codeOf(readWorkloadDir(dir))).toBe(`WORKLOAD_CORRUPT_DIR ${requestsFile}:`);
    writeFileSync(requestsFile, requests.replace('"prompt_token_ids":[', '"prompt_token_ids":[999999,'));
    expect(await codeOf(readWorkloadDir(dir))).toBe(`WORKLOAD_CORRUPT_DIR ${requestsFile}:1`);
    writeFileSync(requestsFile, requests);

    const manifestFile = join(dir, "workload.json");
    const manifest = readFileSync(manifestFile, "utf8");
    writeFileSync(manifestFile, manifest.replace('"schema_version": 1', '"schema_version": 2'));
    expect(await codeOf(readWorkloadDir(dir))).toBe(`WORKLOAD_CORRUPT_DIR ${manifestFile}:`);
    writeFileSync(manifestFile, "{");
    expect(await codeOf(readWorkloadDir(dir))).toBe(`WORKLOAD_INVALID_JSON ${manifestFile}:`);
    writeFileSync(manifestFile, manifest);
    expect((await readWorkloadDir(dir)).manifest.id).toBe(workload.manifest.id);
    expect(await codeOf(readWorkloadDir(join(root, "missing")))).toMatch(/^WORKLOAD_READ_FAILED/);
  });
});

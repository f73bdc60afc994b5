/** compareRuns on bad input: mismatched workloads, nothing in common, duplicates, corrupt files, compareLoads. */
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { compareRuns } from "../src/compare.js";
import { isComparatorError } from "../src/errors.js";
import { compareLoads } from "../src/loads.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "basic");

async function copyFixtures(): Promise<{ real: string; sim: string; out: string }> {
  const root = await mkdtemp(join(tmpdir(), "vf-cmp-"));
  await cp(fixtures, root, { recursive: true });
  return { real: join(root, "real"), sim: join(root, "sim"), out: join(root, "out") };
}

const fast = { bootstrapReplicates: 50, plots: false } as const;

function hasCode(code: string, ...fragments: string[]) {
  return (e: unknown) => isComparatorError(e) && e.code === code && fragments.every((f) => e.message.includes(f));
}

describe("compareRuns bad input", () => {
  it("refuses mismatched workloads unless allowed, then says so", async () => {
    const d = await copyFixtures();
    const manifest = JSON.parse(await readFile(join(d.sim, "run.json"), "utf8"));
    manifest.workload_id = "wl-other";
    await writeFile(join(d.sim, "run.json"), JSON.stringify(manifest));
    await expect(compareRuns({ realDir: d.real, simDir: d.sim, outDir: d.out, options: fast })).rejects.toSatisfy(
      hasCode("COMPARATOR_WORKLOAD_MISMATCH", "wl-fixture-0001", "wl-other", "run.json"),
    );
    const { comparison } = await compareRuns({ realDir: d.real, simDir: d.sim, outDir: d.out, options: { ...fast, allowWorkloadMismatch: true } });
    expect(comparison.workloadId.match).toBe(false);
    expect(comparison.notes[0]).toMatch(/^WARNING: workload ids differ/);
    expect(await readFile(join(d.out, "summary.md"), "utf8")).toContain("(MISMATCH)");
  });

  it("reports missing and failed requests with truncated id lists", async () => {
    const d = await copyFixtures();
    const lines = (await readFile(join(d.sim, "request_metrics.csv"), "utf8")).trim().split("\n");
    // Drop sim rows 0..24 and fail row 30.
    const kept = [lines[0] as string, ...lines.slice(26).map((l) => (l.startsWith("30,") ? l.replace(/,ok,$/, ",failed,timeout") : l))];
    await writeFile(join(d.sim, "request_metrics.csv"), `${kept.join("\n")}\n`);
    const { comparison } = await compareRuns({ realDir: d.real, simDir: d.sim, outDir: d.out, options: { ...fast, maxListedIds: 5 } });
    const r = comparison.requests;
    expect(r.missingInSim).toEqual({ count: 26, ids: [0, 1, 2, 3, 4], truncated: true });
    expect(r.failedSim.ids).toEqual([30]);
    // 40 real - 26 missing - 1 failed sim - request 7 (failed real, already missing) - request 12 (missing too)
    expect(r.compared).toBe(13);
    expect(comparison.metrics.ttft?.nReal).toBe(13);
    const summary = await readFile(join(d.out, "summary.md"), "utf8");
    expect(summary).toContain("| missing in sim | 26 (0, 1, 2, 3, 4, ...) |");
    expect(summary).toContain("Excluded requests: 26 missing in sim");
  });

  it("fails clearly when nothing is comparable or a row is duplicated", async () => {
    const d = await copyFixtures();
    const lines = (await readFile(join(d.sim, "request_metrics.csv"), "utf8")).trim().split("\n");
    await writeFile(join(d.sim, "request_metrics.csv"), `${lines.map((l, i) => (i === 0 ? l : l.replace(/,ok,$/, ",failed,x"))).join("\n")}\n`);
    await expect(compareRuns({ realDir: d.real, simDir: d.sim, outDir: d.out, options: fast })).rejects.toSatisfy(hasCode("COMPARATOR_NO_COMMON_REQUESTS", "request_metrics.csv"));
    await writeFile(join(d.sim, "request_metrics.csv"), `${[...lines, lines[1]].join("\n")}\n`);
    await expect(compareRuns({ realDir: d.real, simDir: d.sim, outDir: d.out, options: fast })).rejects.toSatisfy(
      hasCode("COMPARATOR_DUPLICATE_REQUEST", "request_metrics.csv:41", "request_id 0"),
    );
  });

  it("wraps metrics-io errors and skips TBT without token files", async () => {
    const d = await copyFixtures();
    await writeFile(join(d.real, "request_metrics.csv"), "request_id,arrived_at\n0,0\n");
    await expect(compareRuns({ realDir: d.real, simDir: d.sim, outDir: d.out, options: fast })).rejects.toSatisfy(hasCode("COMPARATOR_READ_FAILED", d.real));
    const e = await copyFixtures();
    await rm(join(e.sim, "token_timestamps.csv"));
    const { comparison } = await compareRuns({ realDir: e.real, simDir: e.sim, outDir: e.out, options: fast });
    expect(comparison.metrics.tbt).toBeNull();
    expect(comparison.notes).toContain("TBT not compared: token_timestamps.csv missing on the sim side.");
  });
});

describe("compareLoads", () => {
  it("writes the error-vs-load plot and summary sorted by load", async () => {
    const d = await copyFixtures();
    const outA = join(d.out, "a");
    const outB = join(d.out, "b");
    await compareRuns({ realDir: d.real, simDir: d.sim, outDir: outA, options: { bootstrapReplicates: 50, plots: false, comparisonId: "load-4" } });
    const b = await compareRuns({ realDir: d.real, simDir: d.sim, outDir: outB, options: { bootstrapReplicates: 50, plots: false, comparisonId: "load-2" } });
    const loadsDir = join(d.out, "loads");
    const { rows, files } = await compareLoads({ points: [{ load: 4, dir: outA }, { load: 2, comparison: b.comparison }], outDir: loadsDir });
    expect(rows.map((r) => `${r.load}:${r.metric}`)).toEqual(["2:ttft", "2:tbt", "2:tpot", "2:e2e", "4:ttft", "4:tbt", "4:tpot", "4:e2e"]);
    expect(rows[1]?.relErrP50).toBeCloseTo(b.comparison.metrics.tbt?.relErr.p50 ?? 0, 12);
    expect(files.map((f) => f.slice(loadsDir.length + 1))).toEqual(["error_vs_load.svg", "loads.md", "loads.json", "loads.html"]);
    const svg = await readFile(join(loadsDir, "error_vs_load.svg"), "utf8");
    expect(svg.match(/<path /g)?.length ?? 0).toBeGreaterThanOrEqual(8);
    expect(await readFile(join(loadsDir, "loads.md"), "utf8")).toContain("| 2 | load-2 | TTFT |");
    await writeFile(join(outA, "comparison.json"), "{}");
    await expect(compareLoads({ points: [{ load: 1, dir: outA }], outDir: loadsDir })).rejects.toSatisfy(hasCode("COMPARATOR_BAD_COMPARISON", "schemaVersion"));
    await expect(compareLoads({ points: [], outDir: loadsDir })).rejects.toSatisfy(hasCode("COMPARATOR_INVALID_OPTIONS"));
  });
});

describe("engine clock", () => {
  it("compares the engine's own token times and reports the delivery delay", async () => {
    const d = await copyFixtures();
    // An engine timeline 2 ms ahead of every client receive time: TTFT shifts by 2 ms, gaps stay the same.
    const client = (await readFile(join(d.real, "token_timestamps.csv"), "utf8")).trim().split("\n");
    const shifted = client.slice(1).map((line) => {
      const [id, index, t] = line.split(",");
      return `${id},${index},${(Number(t) - 0.002).toFixed(6)}`;
    });
    await writeFile(join(d.real, "server_token_timestamps.csv"), `request_id,token_index,t\n${shifted.join("\n")}\n`);
    const { comparison } = await compareRuns({ realDir: d.real, simDir: d.sim, outDir: d.out, options: fast });
    const e = comparison.engineClock;
    expect(e).toBeDefined();
    expect(e?.deliveryFirstToken.p50).toBeCloseTo(0.002, 6);
    expect(e?.deliveryFirstToken.p99).toBeCloseTo(0.002, 6);
    expect(e?.ttft.real.p50).toBeCloseTo((comparison.metrics.ttft?.real.p50 ?? 0) - 0.002, 6);
    expect(e?.tbt.real.p90).toBeCloseTo(comparison.metrics.tbt?.real.p90 ?? 0, 6);
    expect(e?.ttft.sim.p50).toBeCloseTo(comparison.metrics.ttft?.sim.p50 ?? 0, 12);
    const real50 = e?.ttft.real.p50 ?? 1;
    expect(e?.ttft.relErr.p50).toBeCloseTo(((e?.ttft.sim.p50 ?? 0) - real50) / real50, 12);
    const summary = await readFile(join(d.out, "summary.md"), "utf8");
    expect(summary).toContain("## Engine clock (what the simulator models)");
    expect(summary).toMatch(/Delivery delay of first tokens .*: 2\.000 ms \/ 2\.000 ms/);
    expect(JSON.parse(await readFile(join(d.out, "comparison.json"), "utf8")).engineClock.ttft.n).toBe(comparison.requests.compared);
  });

  it("is absent without server token times (and the golden outputs stay as they were)", async () => {
    const d = await copyFixtures();
    const { comparison } = await compareRuns({ realDir: d.real, simDir: d.sim, outDir: d.out, options: fast });
    expect(comparison.engineClock).toBeUndefined();
    expect(await readFile(join(d.out, "summary.md"), "utf8")).not.toContain("Engine clock");
  });
});

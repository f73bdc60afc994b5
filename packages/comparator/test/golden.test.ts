/** Golden-file tests of compareRuns on the synthetic fixtures (regenerate: see test/fixtures/README.md). */
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { compareRuns } from "../src/compare.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures");

describe("golden outputs", () => {
  it("summary.md, comparison.json and percentiles.csv are stable", async () => {
    const outDir = await mkdtemp(join(tmpdir(), "vf-cmp-golden-"));
    const { comparison, files } = await compareRuns({
      realDir: join(fixtures, "basic/real"),
      simDir: join(fixtures, "basic/sim"),
      outDir,
      options: { comparisonId: "golden", createdAt: "2026-11-28T00:00:00.000Z" },
    });
    const names = files.map((f) => f.slice(outDir.length + 1)).sort();
    expect(names).toEqual([
      "comparison.json",
      "e2e_cdf.svg",
      "e2e_scatter.svg",
      "percentiles.csv",
      "report.html",
      "run.json",
      "step_time.svg",
      "summary.md",
      "tbt_cdf.svg",
      "ttft_cdf.svg",
      "ttft_scatter.svg",
    ]);
    // Facts the fixtures were built with (make-fixtures.ts), independent of the goldens.
    expect(comparison.requests).toMatchObject({ real: 40, sim: 39, compared: 37 });
    expect(comparison.requests.failedReal.ids).toEqual([7]);
    expect(comparison.requests.shortReal.ids).toEqual([12]);
    expect(comparison.requests.missingInSim.ids).toEqual([39]);
    expect(comparison.weights).toBe("random");
    expect(Math.abs(comparison.metrics.ttft?.relErr.p50 ?? 1)).toBeLessThan(0.05);
    expect(comparison.metrics.ttft?.paired?.tost.equivalent).toBe(true);
    expect(comparison.metrics.tbt_mean?.paired?.tost.equivalent).toBe(false);
    expect(comparison.metrics.tbt?.relErr.p50).toBeLessThan(-0.05);
    expect(comparison.steps?.real.hostOverhead.meanPerStepS).toBeGreaterThan(0.002);
    const summary = await readFile(join(outDir, "summary.md"), "utf8");
    const json = await readFile(join(outDir, "comparison.json"), "utf8");
    const csv = await readFile(join(outDir, "percentiles.csv"), "utf8");
    await expect(summary).toMatchFileSnapshot("./fixtures/golden/summary.md");
    await expect(json).toMatchFileSnapshot("./fixtures/golden/comparison.json");
    await expect(csv).toMatchFileSnapshot("./fixtures/golden/percentiles.csv");
    // Determinism: a second run gives byte-identical files.
    const again = await mkdtemp(join(tmpdir(), "vf-cmp-golden-"));
    await compareRuns({ realDir: join(fixtures, "basic/real"), simDir: join(fixtures, "basic/sim"), outDir: again, options: { comparisonId: "golden" } });
    expect(await readFile(join(again, "summary.md"), "utf8")).toBe(summary);
    expect(await readFile(join(again, "comparison.json"), "utf8")).toBe(json);
  });
});

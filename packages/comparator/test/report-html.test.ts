/**
 * report.html opened in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core): every
 * plot rendered with marks, headline numbers present, nothing fetched from the network.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { describe, expect, it } from "vitest";
import { formatPct, formatSeconds } from "../src/analyze.js";
import { compareRuns } from "../src/compare.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "basic");

describe("report.html in headless Chromium", () => {
  it("renders every plot and the headline numbers offline", async () => {
    const outDir = await mkdtemp(join(tmpdir(), "vf-cmp-html-"));
    const { comparison, files } = await compareRuns({
      realDir: join(fixtures, "real"),
      simDir: join(fixtures, "sim"),
      outDir,
      options: { bootstrapReplicates: 200 },
    });
    const svgFiles = files.filter((f) => f.endsWith(".svg")).map((f) => f.slice(outDir.length + 1)).sort();
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
    });
    try {
      const page = await browser.newPage();
      const requested: string[] = [];
      page.on("request", (req) => requested.push(req.url()));
      await page.goto(pathToFileURL(join(outDir, "report.html")).href);
      // Only the page itself is loaded: no external assets.
      expect(requested).toEqual([pathToFileURL(join(outDir, "report.html")).href]);

      const plots = await page.$$eval("figure[data-plot]", (figs) =>
        figs.map((f) => {
          const svg = f.querySelector("svg");
          const box = svg?.getBoundingClientRect();
          return {
            file: f.getAttribute("data-plot") ?? "",
            width: box?.width ?? 0,
            height: box?.height ?? 0,
            // Marks: drawn paths with data (line marks) or circles (dot marks), excluding axes/ticks.
            marks: svg ? svg.querySelectorAll("g[aria-label='line'] path, g[aria-label='dot'] circle").length : 0,
          };
        }),
      );
      expect(plots.map((p) => p.file).sort()).toEqual(svgFiles);
      for (const p of plots) {
        expect(p.width, p.file).toBeGreaterThan(100);
        expect(p.height, p.file).toBeGreaterThan(100);
        expect(p.marks, p.file).toBeGreaterThan(0);
      }
      const scatter = plots.find((p) => p.file === "ttft_scatter.svg");
      expect(scatter?.marks).toBeGreaterThanOrEqual(comparison.requests.compared);

      const text = (await page.textContent("body")) ?? "";
      expect(text).toContain("wl-fixture-0001");
      expect(await page.textContent("[data-testid=weights]")).toBe("random");
      for (const key of ["ttft", "tbt", "e2e"] as const) {
        const m = comparison.metrics[key];
        if (m === null) throw new Error(`metric ${key} missing`);
        const row = (await page.textContent(`tr[data-metric=${key}]`)) ?? "";
        expect(row).toContain(formatSeconds(m.real.p50));
        expect(row).toContain(formatSeconds(m.sim.p50));
        expect(row).toContain(formatPct(m.relErr.p50));
      }
      expect(text).toContain("TTFT = first output token time - arrived_at");
      expect(text).toContain('"run_id": "fixture-vidur"');
    } finally {
      await browser.close();
    }
  });
});

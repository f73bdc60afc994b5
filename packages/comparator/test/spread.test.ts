/**
 * The real run-to-run spread: the verdict rule, and compareRuns with repeats end to end on the basic fixture, whose
 * repeat is the real run slowed by exactly 10 % (every request's times after its arrival x 1.1), so each of its
 * percentiles is the own run's x 1.1 and every number in `spread` is known in advance.
 */
import { cp, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { compareRuns } from "../src/compare.js";
import { isComparatorError } from "../src/errors.js";
import { SPREAD_TOLERANCE, spreadCell, spreadVerdict } from "../src/spread.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "basic");
const fast = { bootstrapReplicates: 50, plots: true } as const;

describe("spreadVerdict", () => {
  const all = [10, 12, 11];
  it("is 5% within 5 % of the own run, on either side and at the edge", () => {
    expect(SPREAD_TOLERANCE).toBe(0.05);
    expect(spreadVerdict(10.5, 10, all)).toBe("5%");
    expect(spreadVerdict(9.5, 10, all)).toBe("5%");
    expect(spreadVerdict(10.51, 10, all)).toBe("band");
  });
  it("is band inside the runs' range widened by 5 % and off outside it", () => {
    // The range is 10-12: widened, 9.5-12.6; the own run 12 makes 11.39 more than 5 % off it.
    expect(spreadVerdict(11.39, 12, all)).toBe("band");
    expect(spreadVerdict(12.6, 10, all)).toBe("band");
    expect(spreadVerdict(12.61, 10, all)).toBe("off");
    expect(spreadVerdict(9.49, 12, all)).toBe("off");
  });
  it("has no verdict without a simulated or real percentile", () => {
    expect(spreadVerdict(null, 10, all)).toBeNull();
    expect(spreadVerdict(10, null, all)).toBeNull();
    expect(spreadVerdict(10, 10, [])).toBeNull();
  });
});

describe("spreadCell", () => {
  it("spans the runs and errs against each with that run's simulated percentile", () => {
    const c = spreadCell([
      { realS: 10, simS: 11.8 },
      { realS: 12, simS: 11.8 },
      { realS: 11, simS: 12.1 },
    ])!;
    expect(c.realS).toEqual([10, 12, 11]);
    expect([c.minS, c.maxS]).toEqual([10, 12]);
    expect(c.rel).toBeCloseTo(2 / 11, 12);
    expect(c.simS).toBe(11.8);
    expect(c.relErrs.map((e) => Number(e.toFixed(12)))).toEqual([0.18, Number((-0.2 / 12).toFixed(12)), 0.1]);
    expect(c.verdict).toBe("band");
  });
  it("is null when any run lacks a percentile", () => {
    expect(spreadCell([{ realS: 1, simS: 1 }, { realS: null, simS: 1 }])).toBeNull();
    expect(spreadCell([{ realS: 1, simS: null }])).toBeNull();
    expect(spreadCell([])).toBeNull();
  });
});

/** A copy of the fixture with a repeat: the real run with every time after a request's arrival x `factor`. */
async function withRepeat(factor: number): Promise<{ real: string; sim: string; repeat: string; out: string }> {
  const root = await mkdtemp(join(tmpdir(), "vf-spread-"));
  await cp(fixtures, root, { recursive: true });
  const real = join(root, "real");
  const repeat = join(root, "repeat");
  await cp(real, repeat, { recursive: true });
  const lines = (await readFile(join(real, "request_metrics.csv"), "utf8")).trim().split("\n");
  const header = lines[0]!.split(",");
  const col = (name: string) => header.indexOf(name);
  const arrivals = new Map<string, number>();
  const rows = lines.slice(1).map((line) => {
    const f = line.split(",");
    const arrived = Number(f[col("arrived_at")]);
    arrivals.set(f[0]!, arrived);
    for (const name of ["first_token_at", "completed_at"]) if (f[col(name)] !== "") f[col(name)] = String(arrived + (Number(f[col(name)]) - arrived) * factor);
    for (const name of ["ttft", "e2e", "tpot"]) if (f[col(name)] !== "") f[col(name)] = String(Number(f[col(name)]) * factor);
    return f.join(",");
  });
  await writeFile(join(repeat, "request_metrics.csv"), `${[lines[0], ...rows].join("\n")}\n`);
  const tokens = (await readFile(join(real, "token_timestamps.csv"), "utf8")).trim().split("\n");
  const scaled = tokens.slice(1).map((line) => {
    const [id, index, t] = line.split(",");
    const arrived = arrivals.get(id!)!;
    return `${id},${index},${arrived + (Number(t) - arrived) * factor}`;
  });
  await writeFile(join(repeat, "token_timestamps.csv"), `${[tokens[0], ...scaled].join("\n")}\n`);
  return { real, sim: join(root, "sim"), repeat, out: join(root, "out") };
}

describe("compareRuns with repeats", () => {
  it("reports every real run's percentile, the errors against each and the verdicts in comparison.json, summary.md and report.html", async () => {
    const d = await withRepeat(1.1);
    const plain = await compareRuns({ realDir: d.real, simDir: d.sim, outDir: `${d.out}-plain`, options: fast });
    expect(plain.comparison.spread).toBeUndefined();
    const { comparison } = await compareRuns({ realDir: d.real, simDir: d.sim, outDir: d.out, options: fast, repeatDirs: [d.repeat] });
    const spread = comparison.spread!;
    expect(spread.runs.map((r) => r.dirName)).toEqual(["real", "repeat"]);
    let cells = 0;
    for (const key of ["ttft", "tbt", "e2e"] as const) {
      const m = comparison.metrics[key]!;
      for (const stat of ["p50", "p90"] as const) {
        const own = m.real[stat]!;
        const sim = m.sim[stat]!;
        const cell = spread.metrics[key]![stat]!;
        expect(cell.realS[0]).toBe(own);
        expect(cell.realS[1]).toBeCloseTo(own * 1.1, 9);
        expect(cell.simS).toBe(sim);
        expect(cell.relErrs[0]).toBeCloseTo((sim - own) / own, 12);
        expect(cell.relErrs[1]).toBeCloseTo((sim - own * 1.1) / (own * 1.1), 9);
        const e = (sim - own) / own;
        const inBand = own * 0.95 <= sim && sim <= own * 1.1 * 1.05;
        expect(cell.verdict).toBe(Math.abs(e) <= 0.05 ? "5%" : inBand ? "band" : "off");
        cells += 1;
      }
    }
    const t = spread.tally;
    expect(t["5%"] + t.band + t.off).toBeGreaterThanOrEqual(cells);
    const json = JSON.parse(await readFile(join(d.out, "comparison.json"), "utf8"));
    expect(json.spread.tally).toEqual(t);
    const md = await readFile(join(d.out, "summary.md"), "utf8");
    expect(md).toContain("## Real run-to-run spread");
    expect(md).toContain(`Cells: ${t["5%"]} within 5 % of the own run, ${t.band} in the real runs' band, ${t.off} off.`);
    const html = await readFile(join(d.out, "report.html"), "utf8");
    expect(html).toContain('<h2 id="spread">Real run-to-run spread</h2>');
    const ttft = spread.metrics.ttft!.p50!;
    const row = html.split("\n").find((l) => l.includes('data-spread="TTFT P50"'));
    expect(row).toContain(`<td>${ttft.verdict}</td>`);
    expect(row).toContain("<td>2</td>");
    expect(await readFile(join(`${d.out}-plain`, "report.html"), "utf8")).not.toContain("run-to-run spread");
  });

  it("refuses a repeat of another workload, naming it", async () => {
    const d = await withRepeat(1.0);
    const manifest = JSON.parse(await readFile(join(d.repeat, "run.json"), "utf8"));
    manifest.workload_id = "wl-other";
    await writeFile(join(d.repeat, "run.json"), JSON.stringify(manifest));
    await expect(compareRuns({ realDir: d.real, simDir: d.sim, outDir: d.out, options: fast, repeatDirs: [d.repeat] })).rejects.toSatisfy(
      (e: unknown) => isComparatorError(e) && e.code === "COMPARATOR_WORKLOAD_MISMATCH" && e.message.includes(`repeat 1 ${join(d.repeat, "run.json")}`) && e.message.includes("wl-other"),
    );
  });
});

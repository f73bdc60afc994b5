/**
 * `runner compare --repeat`: the built CLI and the real comparator on committed H200 runs of the demo workload (no
 * simulation needed: one recorded run stands as the "simulated" side, which the comparator accepts as any run dir of
 * the same workload). The report carries the real run-to-run spread: each repeat's percentile (read here again from
 * the repeat's own CSV, R-7), the error against it and the verdict by the rule; bad repeats are refused by
 * flag and dir.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeTempDir, repoRoot, runCli } from "./helpers.js";

const runs = join(repoRoot, "data", "h200-qwen3-0.6b", "runs");
const own = join(runs, "demo-r145");
const other = join(runs, "repeats", "demo-r145-rep39");
const repeats = [join(runs, "repeats", "demo-r145-rep42"), join(runs, "repeats", "demo-r145-rep43")];
const tmp = makeTempDir("compare-repeat");
afterAll(() => tmp.remove());

/** R-7 quantile of the ok requests' TTFTs in a run's request_metrics.csv. */
function ttftQuantile(dir: string, p: number): number {
  const [head, ...lines] = readFileSync(join(dir, "request_metrics.csv"), "utf8").trimEnd().split("\n");
  const cols = head!.split(",");
  const ttft = cols.indexOf("ttft");
  const status = cols.indexOf("status");
  const s = lines
    .map((l) => l.split(","))
    .filter((f) => f[status] === "ok")
    .map((f) => Number(f[ttft]))
    .sort((a, b) => a - b);
  const h = (s.length - 1) * p;
  const lo = Math.floor(h);
  return s[lo]! + (h - lo) * (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!);
}

describe("runner compare --repeat", () => {
  it("writes each repeat's percentile, the errors against it and the verdicts into comparison.json and report.html", async () => {
    const out = join(tmp.dir, "cmp");
    const r = await runCli(["compare", "--real", own, "--sim", other, "--out", out, "--bootstrap", "50", "--repeat", repeats.join(",")]);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const c = JSON.parse(readFileSync(join(out, "comparison.json"), "utf8"));
    expect(c.spread.runs.map((x: { dirName: string }) => x.dirName)).toEqual(["demo-r145", "demo-r145-rep42", "demo-r145-rep43"]);
    for (const [q, p] of [
      ["p50", 0.5],
      ["p90", 0.9],
    ] as const) {
      const cell = c.spread.metrics.ttft[q];
      const real = [own, ...repeats].map((d) => ttftQuantile(d, p));
      const sim = ttftQuantile(other, p);
      real.forEach((v, i) => {
        expect(cell.realS[i]).toBeCloseTo(v, 9);
        expect(cell.relErrs[i]).toBeCloseTo((sim - v) / v, 9);
      });
      const verdict = Math.abs(sim - real[0]!) / real[0]! <= 0.05 ? "5%" : Math.min(...real) * 0.95 <= sim && sim <= Math.max(...real) * 1.05 ? "band" : "off";
      expect(cell.verdict, q).toBe(verdict);
      const row = readFileSync(join(out, "report.html"), "utf8")
        .split("\n")
        .find((l) => l.includes(`data-spread="TTFT ${q.toUpperCase()}"`));
      expect(row).toContain(`<td>${verdict}</td>`);
    }
    expect(readFileSync(join(out, "summary.md"), "utf8")).toContain("## Real run-to-run spread");
  });

  it("refuses a missing repeat dir and a repeat of another workload, naming them", async () => {
    const missing = join(tmp.dir, "no-such-run");
    const gone = await runCli(["compare", "--real", own, "--sim", other, "--out", join(tmp.dir, "bad"), "--repeat", missing]);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toContain(`--repeat: ${missing} is not a directory`);
    const foreign = join(runs, "repeats", "demo-r72.5-rep39");
    const wrong = await runCli(["compare", "--real", own, "--sim", other, "--out", join(tmp.dir, "bad"), "--repeat", foreign]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`repeat 1 ${join(foreign, "run.json")}: workload_id`);
  });
});

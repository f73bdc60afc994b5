/**
 * `runner calibrate` with `loads[].realRepeatDirs` end to end: the built CLI on two loads of the committed demo
 * experiment (its H200 runs and their committed repeats, data/h200-qwen3-0.6b/runs/), the real Vidur, the real
 * comparator. Every cell then carries each repeat's percentile (read here again from the repeat's own CSVs), both
 * simulations' errors against it, the real runs' spread and a verdict by the rule of the issue (within 5 % of the
 * load's own run, inside the runs' range widened by 5 %, or off), tallied by role in calibration.json, calibration.md
 * and the log, and shown in each load's own report.html (the comparator's spread section). Repeats of another
 * workload, a missing dir and an empty list are refused by name.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { calibrationOutputs, type CliResult, makeTempDir, repoRoot, runCli } from "./helpers.js";

const NAME = "test-spread";
const LOADS = ["r72.5", "r145"];
const tmp = makeTempDir("spread");
const dataDir = join(repoRoot, "data", "h200-qwen3-0.6b");
const calDir = join(repoRoot, "tmp", "comparisons", `${NAME}-calibration`);
const removeOutputs = calibrationOutputs([NAME, `${NAME}-bad`], LOADS).remove;
const repeat = (load: string, k: number) => join(dataDir, "runs", "repeats", `demo-${load}-rep${k}`);
const REPEATS: Record<string, string[]> = { "r72.5": [repeat("r72.5", 39), repeat("r72.5", 41)], r145: [repeat("r145", 42)] };

/** The committed demo experiment with absolute paths, its first two loads, each load's repeats set by `repeats`. */
function experimentFile(name: string, repeats: Record<string, unknown>): string {
  const base = JSON.parse(readFileSync(join(dataDir, "demo-experiment.json"), "utf8"));
  const experiment = {
    ...base,
    name,
    model: { ...base.model, config: resolve(dataDir, base.model.config) },
    workload: { ...base.workload, source: { ...base.workload.source, path: resolve(dataDir, base.workload.source.path) } },
    profileRoot: resolve(dataDir, base.profileRoot),
    loads: base.loads
      .filter((l: { name: string }) => LOADS.includes(l.name))
      .map((l: { name: string; realRunDir: string }) => {
        const { realRepeatDirs: _, ...rest } = l as { realRepeatDirs?: unknown; name: string; realRunDir: string };
        return { ...rest, realRunDir: resolve(dataDir, l.realRunDir), ...(repeats[l.name] !== undefined ? { realRepeatDirs: repeats[l.name] } : {}) };
      }),
  };
  const path = join(tmp.dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(experiment));
  return path;
}

/** R-7 quantile of unsorted values. */
function quantile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  const h = (s.length - 1) * p;
  const lo = Math.floor(h);
  return s[lo]! + (h - lo) * ((s[Math.min(lo + 1, s.length - 1)] ?? s[lo]!) - s[lo]!);
}

/** A run's TTFTs (ok requests) and its pooled gaps between consecutive tokens of a request, seconds. */
function samples(dir: string): { ttft: number[]; tbt: number[] } {
  const rows = (file: string) => {
    const [head, ...lines] = readFileSync(join(dir, file), "utf8").trimEnd().split("\n");
    const cols = head!.split(",");
    return lines.map((l) => Object.fromEntries(l.split(",").map((v, i) => [cols[i]!, v])));
  };
  const ok = rows("request_metrics.csv").filter((r) => r.status === "ok");
  const okIds = new Set(ok.map((r) => r.request_id));
  const byRequest = new Map<string, { i: number; t: number }[]>();
  for (const r of rows("token_timestamps.csv")) {
    if (!okIds.has(r.request_id!)) continue;
    const list = byRequest.get(r.request_id!) ?? [];
    list.push({ i: Number(r.token_index), t: Number(r.t) });
    byRequest.set(r.request_id!, list);
  }
  const tbt: number[] = [];
  for (const list of byRequest.values()) {
    list.sort((a, b) => a.i - b.i);
    for (let k = 1; k < list.length; k++) tbt.push(list[k]!.t - list[k - 1]!.t);
  }
  return { ttft: ok.map((r) => Number(r.ttft)), tbt };
}

interface Cell {
  realS: number;
  beforeS: number;
  afterS: number;
  spread?: {
    runs: number;
    minS: number;
    maxS: number;
    rel: number;
    repeats: { dir: string; realS: number; beforeRelErr: number; afterRelErr: number }[];
    beforeVerdict: string;
    afterVerdict: string;
  };
}
interface Load {
  name: string;
  role: string;
  realRepeatDirs?: string[];
  metrics: Record<"ttft" | "tbt", Record<"p50" | "p90", Cell>>;
}
type Tally = Record<"5%" | "band" | "off", number>;

let ok: CliResult;
let json: { loads: Load[]; verdicts: Record<string, { before: Tally; after: Tally }> };
let md: string;
beforeAll(async () => {
  removeOutputs();
  ok = await runCli(["calibrate", experimentFile(NAME, REPEATS), "--fit", "r145"], { timeoutMs: 600_000 });
  json = JSON.parse(readFileSync(join(calDir, "calibration.json"), "utf8"));
  md = readFileSync(join(calDir, "calibration.md"), "utf8");
}, 900_000);
afterAll(() => {
  removeOutputs();
  tmp.remove();
});

/** The issue's rule, written out again: within 5 % of the load's own run, else inside the runs' range widened by 5 %. */
function expectedVerdict(sim: number, own: number, all: number[]): string {
  if (Math.abs(sim - own) / own <= 0.05) return "5%";
  return Math.min(...all) * 0.95 <= sim && sim <= Math.max(...all) * 1.05 ? "band" : "off";
}

describe("runner calibrate with real repeats", () => {
  it("puts every repeat's percentile, both errors against it, the spread and the verdicts in every cell", () => {
    expect(ok.code, ok.stderr.slice(-2000)).toBe(0);
    for (const load of json.loads) {
      expect(load.realRepeatDirs).toEqual(REPEATS[load.name]);
      const reps = REPEATS[load.name]!.map(samples);
      for (const metric of ["ttft", "tbt"] as const) {
        for (const [q, p] of [
          ["p50", 0.5],
          ["p90", 0.9],
        ] as const) {
          const c = load.metrics[metric][q];
          const s = c.spread!;
          expect(s.runs, `${load.name} ${metric} ${q}`).toBe(1 + reps.length);
          s.repeats.forEach((r, i) => {
            // The repeat's percentile, from its own CSVs (every request of the demo completes in both simulations).
            expect(r.realS).toBeCloseTo(quantile(reps[i]![metric], p), 9);
            expect(r.beforeRelErr).toBeCloseTo((c.beforeS - r.realS) / r.realS, 9);
            expect(r.afterRelErr).toBeCloseTo((c.afterS - r.realS) / r.realS, 9);
          });
          const all = [c.realS, ...s.repeats.map((r) => r.realS)];
          expect(s.minS).toBe(Math.min(...all));
          expect(s.maxS).toBe(Math.max(...all));
          expect(s.rel).toBeCloseTo((s.maxS - s.minS) / (all.reduce((a, b) => a + b, 0) / all.length), 12);
          expect(s.afterVerdict).toBe(expectedVerdict(c.afterS, c.realS, all));
          expect(s.beforeVerdict).toBe(expectedVerdict(c.beforeS, c.realS, all));
        }
      }
    }
    // The repeats differ from the load's own run: a spread of zero would mean the wrong dirs were read.
    expect(json.loads.every((l) => l.metrics.ttft.p50.spread!.rel > 0)).toBe(true);
  });

  it("tallies the verdicts by role in calibration.json, calibration.md and the log", () => {
    for (const role of ["fit", "held-out"]) {
      const cells = json.loads.filter((l) => l.role === role).flatMap((l) => Object.values(l.metrics).flatMap((m) => Object.values(m)));
      for (const side of ["before", "after"] as const) {
        const count = (v: string) => cells.filter((c) => c.spread![side === "before" ? "beforeVerdict" : "afterVerdict"] === v).length;
        expect(json.verdicts[role]![side]).toEqual({ "5%": count("5%"), band: count("band"), off: count("off") });
      }
      const t = json.verdicts[role]!;
      const line = `- ${role} cells: calibrated ${t.after["5%"]} within 5 % of the load's run, ${t.after.band} in the real runs' band, ${t.after.off} off; uncalibrated ${t.before["5%"]} within 5 %`;
      expect(md).toContain(line);
      expect(ok.stderr).toContain(`calibrate: ${role} cells against their real runs' spread: calibrated ${t.after["5%"]} within 5 %`);
    }
    expect(md).toContain("Run-to-run spread (loads[].realRepeatDirs: 2 or 3 recorded real runs of a load, its own first)");
    // Each role's tally counts its four cells a load.
    expect(Object.values(json.verdicts["held-out"]!.after).reduce((a, b) => a + b, 0)).toBe(4);
  });

  it("shows the same spread and verdicts in each load's uncalibrated and calibrated report.html and comparison.json", () => {
    const rows: Record<string, string> = { ttft: "TTFT", tbt: "TBT (pooled gaps)" };
    for (const load of json.loads) {
      const dirs = { before: join(repoRoot, "tmp", "comparisons", `${NAME}-${load.name}`), after: join(repoRoot, "tmp", "comparisons", `${NAME}-${load.name}-cal`) };
      for (const side of ["before", "after"] as const) {
        const comparison = JSON.parse(readFileSync(join(dirs[side], "comparison.json"), "utf8"));
        const html = readFileSync(join(dirs[side], "report.html"), "utf8");
        expect(html).toContain('<h2 id="spread">Real run-to-run spread</h2>');
        for (const metric of ["ttft", "tbt"] as const) {
          for (const q of ["p50", "p90"] as const) {
            const s = load.metrics[metric][q].spread!;
            const verdict = side === "before" ? s.beforeVerdict : s.afterVerdict;
            expect(comparison.spread.metrics[metric][q].verdict, `${load.name} ${side} ${metric} ${q}`).toBe(verdict);
            expect(comparison.spread.metrics[metric][q].realS).toHaveLength(s.runs);
            const row = html.split("\n").find((l) => l.includes(`data-spread="${rows[metric]} ${q.toUpperCase()}"`));
            expect(row, `${load.name} ${side} ${metric} ${q}`).toContain(`<td>${verdict}</td>`);
            expect(row).toContain(`<td>${s.runs}</td>`);
          }
        }
      }
    }
  });

  it("refuses repeats of another workload, a missing dir and an empty list, naming the load and the dir", async () => {
    const other = repeat("r145", 39);
    const wrong = await runCli(["calibrate", experimentFile(`${NAME}-bad`, { "r72.5": [other] }), "--fit", "r145"], { timeoutMs: 600_000 });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`loads.r72.5.realRepeatDirs ${other}: workload`);
    expect(wrong.stderr).toContain("give recordings of that load only");
    const missing = join(tmp.dir, "no-such-run");
    const gone = await runCli(["calibrate", experimentFile(`${NAME}-bad`, { r145: [missing] }), "--fit", "r145"], { timeoutMs: 600_000 });
    expect(gone.code).toBe(2);
    expect(gone.stderr).toContain("loads.r145.realRepeatDirs");
    expect(gone.stderr).toContain(missing);
    const empty = await runCli(["calibrate", experimentFile(`${NAME}-bad`, { r145: [] }), "--fit", "r145"]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain("realRepeatDirs");
  }, 900_000);
});

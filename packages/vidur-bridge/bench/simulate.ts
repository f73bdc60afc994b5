/**
 * Benchmark: wall time of runVidur for 1k and 10k requests, and the cost of the pinned forest grid vs Vidur's
 * default 27-point grid (training time and how far the per-request TTFT / TPOT move).
 * Run: `pnpm --filter @vf/vidur-bridge build && node bench/simulate.ts [--full-grid]` (Node >= 23 strips types).
 * Uses the analytic tiny-Qwen3 test profile, so figures measure the bridge + Vidur, not a real GPU profile.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readRequestMetrics } from "@vf/metrics-io";
import { type RunVidurOptions, runVidur } from "../dist/index.js";
import { makeRequests, PYTHON, readTinyDims, TEST_DEVICE, TINY_CONFIG, TINY_MODEL, writeTinyProfile, writeWorkloadDir } from "../test/fixtures.ts";

const root = await mkdtemp(join(tmpdir(), "vidur-bridge-bench-"));
const profilingRoot = join(root, "profiles");
await writeTinyProfile(profilingRoot, await readTinyDims());
const withFull = process.argv.includes("--full-grid");

function options(workloadDir: string, runDir: string, cacheDir: string): RunVidurOptions {
  return {
    python: PYTHON,
    workloadDir,
    runDir,
    profilingRoot,
    device: TEST_DEVICE,
    modelName: TINY_MODEL,
    modelConfigPath: TINY_CONFIG,
    scheduler: { kind: "sarathi", chunkSize: 512, batchSizeCap: 64 },
    seed: 1,
    cacheDir,
    predictor: { trainingJobs: 1 },
  };
}

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

try {
  const cache = join(root, "cache");
  for (const n of [1000, 10000]) {
    const wl = join(root, `wl${n}`);
    // Same length distribution for both sizes, so both hit the same grid limits (and the same trained forests).
    await writeWorkloadDir(wl, makeRequests(n, 20, 5));
    let cold = "";
    if (n === 1000) {
      // First run trains (cold cache); later runs reuse the trained forests (warm).
      cold = ` cold_wall_s=${(await runVidur(options(wl, join(root, `cold${n}`), cache))).wallS.toFixed(1)}`;
    }
    const warm = await runVidur(options(wl, join(root, `warm${n}`), cache));
    console.log(`requests=${n} iterations=${warm.numIterations} tokens=${warm.numTokens}${cold} warm_wall_s=${warm.wallS.toFixed(1)}`);
  }
  if (withFull) {
    const wl = join(root, "wl1000");
    const pinnedDir = join(root, "warm1000");
    const t0 = performance.now();
    const full = await runVidur({ ...options(wl, join(root, "full1000"), join(root, "cache-full")), predictor: { grid: "full", trainingJobs: -1 } });
    const fullS = (performance.now() - t0) / 1000;
    const a = await readRequestMetrics(join(pinnedDir, "request_metrics.csv"));
    const b = await readRequestMetrics(join(full.runDir, "request_metrics.csv"));
    const rel = (f: (m: (typeof a)[number]) => number | null): number[] =>
      a.map((m, i) => {
        const x = f(m);
        const y = f(b[i]!);
        return x === null || y === null || y === 0 ? 0 : Math.abs(x - y) / Math.abs(y);
      });
    const ttft = rel((m) => m.ttft);
    const tpot = rel((m) => m.tpot);
    console.log(`full_grid_wall_s=${fullS.toFixed(1)} (27 candidates x 10 folds per op, n_jobs=-1)`);
    console.log(
      `pinned_vs_full ttft_rel_diff median=${quantile(ttft, 0.5).toFixed(4)} p99=${quantile(ttft, 0.99).toFixed(4)}; tpot_rel_diff median=${quantile(tpot, 0.5).toFixed(4)} p99=${quantile(tpot, 0.99).toFixed(4)}`,
    );
  }
} finally {
  await rm(root, { recursive: true, force: true });
}

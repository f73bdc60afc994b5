/** Where things live: the repo root, the project venv, the committed data (embedded defaults). */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repo root: the nearest folder above this file (or the cwd) holding pnpm-workspace.yaml; else the cwd. */
export function findRepoRoot(start: string = dirname(fileURLToPath(import.meta.url))): string {
  for (const from of [start, process.cwd()]) {
    let dir = resolve(from);
    for (;;) {
      if (existsSync(join(dir, "pnpm-workspace.yaml"))) return dir;
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  return process.cwd();
}

/** Paths derived from the repo root. */
export interface ProjectPaths {
  root: string;
  /** Python of the project venv (made by scripts/setup.sh). */
  python: string;
  /** gpu-harness console script in the venv. */
  gpuHarness: string;
  /** HF config of Qwen3-0.6B committed in gpu-harness. */
  qwen3Config: string;
  /** Committed H200 data: profile root and recorded runs. */
  h200Data: string;
  /** Profiling root of the committed H200 Qwen3-0.6B profile. */
  h200ProfileRoot: string;
  /** Cache for the Vidur predictor (keyed by profile content inside). */
  vidurCache: string;
  /** Built workloads. */
  workloads: string;
}

/** Resolves every project path from `root`. */
export function projectPaths(root: string = findRepoRoot()): ProjectPaths {
  return {
    root,
    python: join(root, ".venv", "bin", "python"),
    gpuHarness: join(root, ".venv", "bin", "gpu-harness"),
    qwen3Config: join(root, "packages", "gpu-harness", "src", "gpu_harness", "configs", "qwen3-0.6b.json"),
    h200Data: join(root, "data", "h200-qwen3-0.6b"),
    h200ProfileRoot: join(root, "data", "h200-qwen3-0.6b", "profiles"),
    vidurCache: join(root, ".cache", "vidur"),
    workloads: join(root, "tmp", "workloads"),
  };
}

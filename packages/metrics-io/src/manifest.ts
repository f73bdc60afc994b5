/** run.json manifests: host description, git sha, validated read/write. */
import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { cpus, hostname, totalmem } from "node:os";
import { join } from "node:path";
import { atomicWriteFile } from "./atomic.js";
import { MetricsIoError } from "./errors.js";
import { type Host, type RunManifest, RunManifestSchema } from "./schema.js";

/** Describes this host (no GPU probing: GPU fields come from whoever ran on the GPU). */
export function describeHost(): Host {
  const cpuList = cpus();
  return {
    hostname: hostname(),
    platform: `${process.platform} ${process.release.name}`,
    arch: process.arch,
    cpus: cpuList.length,
    cpu_model: cpuList[0]?.model ?? "unknown",
    memory_bytes: totalmem(),
    node: process.version,
  };
}

/** The git commit of `repoRoot` (with "-dirty" when the tree has changes), or null outside a git checkout. */
export function gitSha(repoRoot: string): string | null {
  try {
    const sha = execFileSync("git", ["rev-parse", "HEAD"], { cwd: repoRoot, stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "ignore"],
    })
      .toString()
      .trim();
    return dirty === "" ? sha : `${sha}-dirty`;
  } catch {
    return null;
  }
}

/** Writes `<dir>/run.json` atomically after validating it. */
export async function writeRunManifest(dir: string, manifest: RunManifest): Promise<void> {
  const parsed = RunManifestSchema.safeParse(manifest);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new MetricsIoError(
      "METRICS_INVALID_MANIFEST",
      `run.json for ${dir}: ${issue?.path.join(".") ?? "?"}: ${issue?.message ?? "invalid"}`,
    );
  }
  await atomicWriteFile(join(dir, "run.json"), `${JSON.stringify(manifest, null, 2)}\n`);
}

/**
 * The parsed JSON of a file; METRICS_FILE_NOT_FOUND when it cannot be read (undefined instead when it does not exist
 * and `allowMissing`), METRICS_CORRUPT_FILE when it is not JSON. Both name the file.
 */
export async function readJsonFile(path: string, opts: { allowMissing?: boolean } = {}): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    if (opts.allowMissing === true && (cause as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new MetricsIoError("METRICS_FILE_NOT_FOUND", `cannot read ${path}: ${String(cause)}`, { cause });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new MetricsIoError("METRICS_CORRUPT_FILE", `${path}: not valid JSON (${String(cause)})`, { cause });
  }
}

/** Reads and validates `<dir>/run.json`. */
export async function readRunManifest(dir: string): Promise<RunManifest> {
  const path = join(dir, "run.json");
  const json = await readJsonFile(path);
  const parsed = RunManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new MetricsIoError(
      "METRICS_INVALID_MANIFEST",
      `${path}: ${issue?.path.join(".") ?? "?"}: ${issue?.message ?? "invalid manifest"}`,
    );
  }
  return parsed.data;
}

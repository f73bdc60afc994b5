/** Run-dir layout and run ids. */
import { randomBytes } from "node:crypto";
import { join } from "node:path";

/** Kinds of run dirs under `<root>/tmp/`. */
export type RunDirKind = "real" | "vidur" | "comparison";

/** `<root>/tmp/real_runs/<id>`, `<root>/tmp/vidur_runs/<id>` or `<root>/tmp/comparisons/<id>`. */
export function runDirPath(root: string, kind: RunDirKind, id: string): string {
  const folder = kind === "comparison" ? "comparisons" : `${kind}_runs`;
  return join(root, "tmp", folder, id);
}

/** A sortable, unique run id: `<prefix>-YYYYMMDD-HHMMSS-<4 random hex bytes>` (UTC). */
export function newRunId(prefix: string, now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `${prefix}-${stamp}-${randomBytes(4).toString("hex")}`;
}

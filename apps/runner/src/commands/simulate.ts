/** `runner simulate`: run the real Vidur on a workload dir and a profile (wires @vf/vidur-bridge). */
import { type RunVidurOptions, type RunVidurResult, runVidur } from "@vf/vidur-bridge";
import { formatDuration, createProgressLine } from "../progress.js";

/** Runs Vidur with progress on stderr. */
export async function simulate(options: Omit<RunVidurOptions, "onProgress">): Promise<RunVidurResult> {
  const line = createProgressLine("simulate");
  const started = Date.now();
  const result = await runVidur({
    ...options,
    onProgress: (p) => {
      const pct = p.total > 0 ? ` ${((100 * p.done) / p.total).toFixed(0)}%` : "";
      const elapsed = (Date.now() - started) / 1000;
      const eta = p.total > 0 && p.done > 0 ? (elapsed * (p.total - p.done)) / p.done : null;
      line.update(`${p.phase}${p.step ? ` ${p.step}` : ""} ${p.done}/${p.total}${pct}, elapsed ${formatDuration(elapsed)}, ETA ${formatDuration(eta)}`);
    },
  });
  line.done(`done in ${formatDuration(result.wallS)} -> ${result.runDir}`);
  return result;
}

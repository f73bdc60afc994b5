/** `runner compare`: the fidelity report of a simulated run against a real one (wires @vf/comparator). */
import type { CompareOptionsInput, CompareRunsResult } from "@vf/comparator";

/** Compares and returns where the report went. */
export async function compare(args: { realDir: string; simDir: string; outDir: string; options?: CompareOptionsInput; repeatDirs?: readonly string[] }): Promise<CompareRunsResult> {
  // Imported on use: the comparator pulls in jsdom and Plot (about a second), which other commands never need.
  const { compareRuns } = await import("@vf/comparator");
  return compareRuns(args);
}

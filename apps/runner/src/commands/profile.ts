/** `runner profile`: runs `gpu-harness profile` from the project venv (the profiler is Python; this only wires it). */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { StepError, UsageError } from "../errors.js";

/** Runs the profiler with the given arguments, stderr/stdout passed through; resolves when it exits 0. */
export async function profile(gpuHarness: string, args: readonly string[]): Promise<void> {
  if (!existsSync(gpuHarness)) throw new UsageError(`${gpuHarness} not found: run scripts/setup.sh to create the venv`);
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(gpuHarness, ["profile", ...args], { stdio: ["ignore", "inherit", "inherit"] });
    child.once("error", (e) => reject(new StepError(`cannot run ${gpuHarness}: ${e.message}`)));
    child.once("exit", (c) => resolve(c));
  });
  if (code !== 0) throw new StepError(`gpu-harness profile exited with code ${code}`);
}

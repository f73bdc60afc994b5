/**
 * `--help` of the built CLI and of every subcommand: exit 0, and the options listed are exactly the options each
 * command reads (a flag added to main.ts without updating this list, or a flag dropped from the help, fails).
 */
import { spawn } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";
import { type CliResult, cliPath, mapLimit, runCli } from "./helpers.js";

/** The long flags each command's action reads in src/main.ts (plus commander's --help). */
const OPTIONS: Record<string, string[]> = {
  workload: [
    "--prompts", "--sharegpt", "--azure", "--mooncake", "--synthetic", "--decode", "--prefill", "--count", "--offset",
    "--limit", "--arrival", "--rate", "--cv", "--time-scale", "--seed", "--model", "--model-config", "--context-limit",
    "--over-context", "--out",
  ],
  simulate: [
    "--workload", "--profile-root", "--device", "--model", "--model-config", "--scheduler", "--chunk-size", "--batch-cap",
    "--max-tokens-in-batch", "--block-size", "--num-blocks", "--tp", "--pp", "--seed", "--grid", "--cache-dir", "--out",
  ],
  bench: [
    "--workload", "--endpoint", "--engine-timeline", "--serve", "--server-arg", "--model", "--model-config",
    "--concurrency", "--warmup", "--preconnect", "--timeout-s", "--prompt-mode", "--out",
  ],
  compare: ["--real", "--sim", "--out", "--margin", "--bootstrap", "--allow-workload-mismatch", "--repeat"],
  run: ["--force", "--steps", "--endpoint", "--engine-timeline", "--record"],
  demo: ["--force", "--no-calibrated", "--no-host-scale", "--no-admission-backlog"],
  calibrate: ["--fit", "--fit-also", "--frozen", "--mode", "--statistic", "--min-steps", "--no-jitter", "--no-delivery-delay", "--no-admission-delay", "--no-prefix-term", "--inter-step-gap", "--step-size-term", "--step-host-speed", "--speed-jitter", "--host-tail", "--tail-from", "--decode-kv-term", "--no-bin-misfit", "--misfit-by-size", "--decode-grid", "--machine-probe", "--host-scale", "--no-probe-size", "--admission-backlog", "--front-per-step", "--admission-in-sim", "--path-host-scale", "--force"],
};

/** Flags defined in a commander help's option lines (two-space indent; wrapped description lines are deeper). */
function definedFlags(help: string): string[] {
  const flags: string[] = [];
  for (const line of help.split("\n")) {
    const m = /^ {2}(?:-\w, )?(--[a-z][a-z-]*)/.exec(line);
    if (m?.[1] !== undefined) flags.push(m[1]);
  }
  return flags;
}

const results = new Map<string, CliResult>();
beforeAll(async () => {
  const runs: string[][] = [["--help"], ...Object.keys(OPTIONS).map((c) => [c, "--help"]), ["profile", "--help"]];
  const out = await mapLimit(runs, 3, (args) => runCli(args));
  for (const [i, args] of runs.entries()) results.set(args.join(" "), out[i]!);
}, 180_000);

describe("runner --help", () => {
  it("exits 0 and lists every command and the exit codes", () => {
    const r = results.get("--help")!;
    expect(r.code, r.stderr).toBe(0);
    for (const c of ["workload", "profile", "simulate", "bench", "compare", "run", "calibrate", "demo"]) {
      expect(r.stdout).toMatch(new RegExp(`^ {2}${c}\\b`, "m"));
    }
    for (const code of ["0", "1", "2", "3", "130"]) expect(r.stdout).toMatch(new RegExp(`^ {2}${code} +\\S`, "m"));
  });

  it.each(Object.entries(OPTIONS))("%s --help exits 0 and lists exactly the options the command reads", (command, flags) => {
    const r = results.get(`${command} --help`)!;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Usage: runner ${command}`);
    expect(definedFlags(r.stdout).sort()).toEqual([...flags, "--help"].sort());
  });

  it("stops quietly when its reader closes the pipe early (runner --help | head)", async () => {
    // The read end closed before the help is written: the write fails with EPIPE, which must not crash the CLI.
    const child = spawn(process.execPath, [cliPath, "calibrate", "--help"], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.destroy();
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    const code = await new Promise<number | null>((done) => child.once("close", done));
    expect(stderr).not.toContain("EPIPE");
    expect(code).toBe(0);
  });

  it("run --help names its experiment argument and the steps", () => {
    const r = results.get("run --help")!;
    expect(r.stdout).toContain("<experiment>");
    expect(r.stdout).toContain("workload,bench,simulate,compare");
  });

  it("profile --help is the real gpu-harness profiler's help (the flags runner profile passes through)", () => {
    const r = results.get("profile --help")!;
    expect(r.code, r.stderr).toBe(0);
    for (const flag of ["--model-config", "--model-name", "--device-name", "--device", "--dtype", "--out", "--quick"]) {
      expect(r.stdout).toContain(flag);
    }
  });
});

/** Parsing of compact flag values (distributions, number lists, dir lists) into the libraries' spec objects. */
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import type { ArrivalSpec, DecodePolicy, LengthDistribution } from "@vf/workload-spec";
import { UsageError } from "./errors.js";

/** A finite number from flag `name`, else a UsageError naming the flag. */
export function parseNumberFlag(name: string, raw: string, opts: { int?: boolean; min?: number } = {}): number {
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || (opts.int === true && !Number.isInteger(n))) {
    throw new UsageError(`${name} ${JSON.stringify(raw)}: expected ${opts.int === true ? "an integer" : "a number"}`);
  }
  if (opts.min !== undefined && n < opts.min) throw new UsageError(`${name} ${raw}: expected a value >= ${opts.min}`);
  return n;
}

/** `fixed:N`, `uniform:MIN:MAX`, `lognormal:MEDIAN:SIGMA[:MIN:MAX]` -> LengthDistribution. */
export function parseDistribution(name: string, raw: string): LengthDistribution {
  const [kind, ...rest] = raw.split(":");
  const num = (i: number, int = true) => parseNumberFlag(`${name} (${raw}) part ${i + 2}`, rest[i] ?? "", { int });
  if (kind === "fixed" && rest.length === 1) return { kind: "fixed", value: num(0) };
  if (kind === "uniform" && rest.length === 2) return { kind: "uniform", min: num(0), max: num(1) };
  if (kind === "lognormal" && (rest.length === 2 || rest.length === 4)) {
    const d: LengthDistribution = { kind: "lognormal", median: num(0, false), sigma: num(1, false) };
    return rest.length === 4 ? { ...d, min: num(2), max: num(3) } : d;
  }
  throw new UsageError(
    `${name} ${JSON.stringify(raw)}: expected fixed:N, uniform:MIN:MAX or lognormal:MEDIAN:SIGMA[:MIN:MAX]`,
  );
}

/** `per-prompt[:DEFAULT]` or a distribution (fixed:N becomes the fixed policy). */
export function parseDecodePolicy(name: string, raw: string): DecodePolicy {
  if (raw === "per-prompt") return { kind: "per-prompt" };
  if (raw.startsWith("per-prompt:")) {
    return { kind: "per-prompt", default: parseNumberFlag(name, raw.slice("per-prompt:".length), { int: true, min: 1 }) };
  }
  const dist = parseDistribution(name, raw);
  return dist.kind === "fixed" ? { kind: "fixed", tokens: dist.value } : { kind: "sample", distribution: dist };
}

/** Arrival flags -> ArrivalSpec. */
export function parseArrivals(kind: string, rate: string | undefined, cv: string | undefined, timeScale: string | undefined): ArrivalSpec {
  const rateRps = rate === undefined ? undefined : parseNumberFlag("--rate", rate, { min: Number.MIN_VALUE });
  const need = (): number => {
    if (rateRps === undefined) throw new UsageError(`--arrival ${kind} needs --rate (requests per second)`);
    return rateRps;
  };
  switch (kind) {
    case "poisson":
      return { kind: "poisson", rateRps: need() };
    case "constant":
      return { kind: "constant", rateRps: need() };
    case "gamma":
      return { kind: "gamma", rateRps: need(), cv: parseNumberFlag("--cv", cv ?? "", { min: Number.MIN_VALUE }) };
    case "trace": {
      const spec: ArrivalSpec = { kind: "trace" };
      if (timeScale !== undefined) spec.timeScale = parseNumberFlag("--time-scale", timeScale, { min: Number.MIN_VALUE });
      if (rateRps !== undefined) spec.rateRps = rateRps;
      return spec;
    }
    default:
      throw new UsageError(`--arrival ${JSON.stringify(kind)}: expected poisson, gamma, constant or trace`);
  }
}

/** `1,2.5,4` -> [1, 2.5, 4]. */
export function parseNumberList(name: string, raw: string): number[] {
  return raw.split(",").map((part) => parseNumberFlag(name, part.trim(), { min: 0 }));
}

/**
 * A comma list of existing directories (`--repeat a,b`), resolved; an empty entry or a missing directory is a
 * usage error naming the flag.
 */
export function parseDirList(flag: string, raw: string): string[] {
  const dirs = raw.split(",").map((d) => d.trim());
  if (dirs.some((d) => d === "")) throw new UsageError(`${flag}: expected a comma list of run dirs, got ${JSON.stringify(raw)}`);
  return dirs.map((d) => {
    const dir = resolve(d);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`${flag}: ${dir} is not a directory`);
    return dir;
  });
}

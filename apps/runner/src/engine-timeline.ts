/** Fetching a gpu-harness server's engine timeline over HTTP (reset before a run, download after it). */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { StepError } from "./errors.js";

async function call(url: string, method: "GET" | "POST", optional = false): Promise<string | null> {
  let res: Response;
  try {
    res = await fetch(url, { method });
  } catch (e) {
    throw new StepError(`${method} ${url}: ${(e as Error).message}`);
  }
  const text = await res.text();
  if (optional && res.status === 404) return null;
  if (!res.ok) throw new StepError(`${method} ${url}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  return text;
}

/** Clears the server's engine logs so the next run's timeline starts empty. */
export async function resetEngineTimeline(baseUrl: string): Promise<void> {
  await call(new URL("/v1/engine/reset", baseUrl).href, "POST");
}

/**
 * Downloads iterations.csv, server_tokens.csv and server_run.json into `dir`, and server_admissions.csv (each
 * request's arrival in the engine's inbox and its intake by the engine thread) where the server has it (a server
 * from before it answers 404 and the file is left out).
 */
export async function downloadEngineTimeline(baseUrl: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const [iterations, tokens, run, admissions] = await Promise.all([
    call(new URL("/v1/engine/iterations", baseUrl).href, "GET"),
    call(new URL("/v1/engine/tokens", baseUrl).href, "GET"),
    call(new URL("/v1/engine/run", baseUrl).href, "GET"),
    call(new URL("/v1/engine/admissions", baseUrl).href, "GET", true),
  ]);
  await writeFile(join(dir, "iterations.csv"), iterations!);
  await writeFile(join(dir, "server_tokens.csv"), tokens!);
  await writeFile(join(dir, "server_run.json"), run!);
  if (admissions !== null) await writeFile(join(dir, "server_admissions.csv"), admissions);
}

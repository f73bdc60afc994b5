/**
 * Test helpers: run the BUILT runner CLI (`dist/main.js`) as a child process the way a user does, a real loopback
 * OpenAI-style streaming server (node:http, SSE with `choices[0].token_ids`), and temp dirs. No mocks: the CLI,
 * its libraries and the HTTP exchange are all real.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** apps/runner. */
export const appDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** The monorepo root. */
export const repoRoot = resolve(appDir, "../..");
/** The public data (read-only): $VF_SHARED_DATA (scripts/env.sh sets it), else ../shared/data beside the repo. */
export const dataRoot = process.env.VF_SHARED_DATA ?? resolve(repoRoot, "../shared/data");
/** The built CLI. */
export const cliPath = join(appDir, "dist", "main.js");

/** What a CLI run produced. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/main.js ...args` (cwd `cwd`, default a neutral temp-free dir: the repo root). */
export function runCli(
  args: readonly string[],
  opts: { cwd?: string; timeoutMs?: number; onStart?: (child: ChildProcess) => void } = {},
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    // API-key variables of the caller's shell must not leak into the requests under test.
    const { VF_API_KEY: _a, OPENAI_API_KEY: _b, ...env } = process.env;
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: opts.cwd ?? repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
    opts.onStart?.(child);
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** Runs `tasks` at most `limit` at a time (the CI box has 2 cores). */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** A fresh temp dir and its remover. */
export function makeTempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `runner-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A load of an experiment file (the fields these tests read and write). */
export interface ExperimentLoad {
  name: string;
  arrivals: unknown;
  realRunDir?: string;
  [key: string]: unknown;
}

/**
 * A committed H200 experiment (`experiments/h200-qwen3-0.6b/COMMITTED.json`) as a file of its own in `dir`, named
 * `name`: its model config and profile root made absolute, its trace read from the shared data ($VF_SHARED_DATA),
 * its loads replaced by `loads(base loads)`. With `runs`, members of a committed runs tarball are unpacked into `dir`
 * first (`runs.members`, e.g. `c1/runs/azure-saturation`). Returns the file's path and its content.
 */
export function committedExperimentFile(opts: {
  committed: string;
  name: string;
  dir: string;
  runs?: { tarball: string; members: string[] };
  loads: (base: ExperimentLoad[]) => ExperimentLoad[];
}): { path: string; experiment: { loads: ExperimentLoad[]; workload: { source: { path: string } } } } {
  if (opts.runs !== undefined) execFileSync("tar", ["-xJf", resolve(repoRoot, opts.runs.tarball), "-C", opts.dir, ...opts.runs.members]);
  const expDir = resolve(repoRoot, "experiments/h200-qwen3-0.6b");
  const base = JSON.parse(readFileSync(join(expDir, `${opts.committed}.json`), "utf8"));
  const trace = String(base.workload.source.path).split("shared/data/")[1];
  if (trace === undefined) throw new Error(`${opts.committed}.json: its trace is not under shared/data/`);
  const experiment = {
    ...base,
    name: opts.name,
    model: { ...base.model, config: resolve(expDir, base.model.config) },
    workload: { ...base.workload, source: { ...base.workload.source, path: resolve(dataRoot, trace) } },
    loads: opts.loads(base.loads),
    profileRoot: resolve(expDir, base.profileRoot),
  };
  const path = join(opts.dir, `${opts.name}.json`);
  writeFileSync(path, JSON.stringify(experiment));
  return { path, experiment };
}

/** One completion request as the loopback server received it. */
export interface ReceivedRequest {
  requestId: string | undefined;
  body: { model?: unknown; prompt?: unknown; max_tokens?: unknown; stream?: unknown; ignore_eos?: unknown };
}

/** A loopback streaming completions server. */
export interface LoopbackServer {
  url: string;
  received: ReceivedRequest[];
  /** Requests other than completions (the bench's preconnecting `GET /v1/models`), by method and path. */
  others: string[];
  /** Gap between two token events of one stream, ms (can be changed between runs). */
  tokenGapMs: number;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => {
      body += d;
    });
    req.on("end", () => resolvePromise(body));
    req.on("error", reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts an OpenAI completions SSE server on 127.0.0.1:0: each request streams `max_tokens` events of one token
 * (`choices[0].token_ids`), `tokenGapMs` apart, then a usage event and `[DONE]`.
 */
export async function startLoopbackServer(opts: { tokenGapMs?: number } = {}): Promise<LoopbackServer> {
  const received: ReceivedRequest[] = [];
  const others: string[] = [];
  let state: LoopbackServer | undefined;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== "POST" || req.url !== "/v1/completions") {
      others.push(`${req.method} ${req.url}`);
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":{"message":"not found"}}');
      return;
    }
    const body = JSON.parse(await readBody(req)) as ReceivedRequest["body"];
    const header = req.headers["x-request-id"];
    received.push({ requestId: typeof header === "string" ? header : undefined, body });
    const n = typeof body.max_tokens === "number" ? body.max_tokens : 1;
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    for (let i = 0; i < n; i++) {
      if (i > 0) await sleep(state?.tokenGapMs ?? 1);
      // A client that went away (Ctrl-C) ends the stream.
      if (res.destroyed) return;
      const chunk = {
        id: "cmpl-1",
        object: "text_completion",
        model: body.model,
        choices: [{ index: 0, text: "x", token_ids: [100 + i], finish_reason: i === n - 1 ? "length" : null }],
      };
      res.write(`data: ${JSON.stringify(chunk)}\n\n`);
    }
    const usage = { prompt_tokens: Array.isArray(body.prompt) ? body.prompt.length : 0, completion_tokens: n, total_tokens: n };
    res.write(`data: ${JSON.stringify({ id: "cmpl-1", object: "text_completion", choices: [], usage })}\n\n`);
    res.end("data: [DONE]\n\n");
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      res.destroy(e instanceof Error ? e : new Error(String(e)));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  state = {
    url: `http://127.0.0.1:${port}`,
    received,
    others,
    tokenGapMs: opts.tokenGapMs ?? 1,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  return state;
}

/**
 * The dirs a calibrate test's experiments `names` write under the repo's tmp/ for their `loads` (the calibration and
 * prediction dirs, the loads' overview, each load's uncalibrated and calibrated simulation and comparison), and a
 * function removing them.
 */
export function calibrationOutputs(names: readonly string[], loads: readonly string[]): { dirs: string[]; remove: () => void } {
  const comparisons = join(repoRoot, "tmp", "comparisons");
  const dirs = names.flatMap((name) => [
    join(comparisons, `${name}-calibration`),
    join(comparisons, `${name}-prediction`),
    join(comparisons, `${name}-loads`),
    ...loads.flatMap((load) => ["", "-cal"].flatMap((suffix) => [join(comparisons, `${name}-${load}${suffix}`), join(repoRoot, "tmp", "vidur_runs", `${name}-${load}${suffix}`)])),
  ]);
  return {
    dirs,
    remove: () => {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

/** Mean decode-only step (ms, end - start) over the steps of `lo`-`hi` requests of an iterations.csv. */
export function meanDecodeStepMs(path: string, lo: number, hi: number): number {
  const [head, ...lines] = readFileSync(path, "utf8").trimEnd().split("\n");
  const cols = head!.split(",");
  const at = (name: string) => cols.indexOf(name);
  const ms = lines
    .map((l) => l.split(","))
    .filter((v) => Number(v[at("num_prefill_tokens")]) === 0 && Number(v[at("batch_size")]) >= lo && Number(v[at("batch_size")]) <= hi)
    .map((v) => (Number(v[at("end")]) - Number(v[at("start")])) * 1e3);
  return ms.reduce((a, b) => a + b, 0) / ms.length;
}

/**
 * `runner bench --endpoint URL --engine-timeline` against the REAL gpu-harness reference server (lean engine, CPU,
 * the tiny Qwen3 config with random weights): the runner resets the server's logs, replays the workload, downloads
 * `/v1/engine/{iterations,tokens,run}` and maps them onto the run clock. Checked: the run dir's iterations.csv
 * accounts for every prompt token and every output token the server streamed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { readIterations, readRequestMetrics } from "@vf/metrics-io";
import { buildWorkload, type Tokenizer, writeWorkloadDir } from "@vf/workload-spec";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir, repoRoot, runCli } from "./helpers.js";

const GPU_HARNESS = join(repoRoot, ".venv", "bin", "gpu-harness");
const tmp = makeTempDir("engine");
let server: ChildProcess | undefined;
let url: string;

/**
 * The tiny config's vocabulary has 512 ids, so the workload's synthetic prompts must stay below it; workload-spec
 * takes any tokenizer through its interface, and synthetic sources only use the vocabulary size.
 */
const tinyVocab: Tokenizer = {
  id: "qwen3-tiny-vocab@512",
  vocabSize: 512,
  ordinaryVocabSize: 500,
  encode: () => {
    throw new Error("not used by synthetic sources");
  },
  decode: () => "",
  free: () => {},
};

beforeAll(async () => {
  const child = spawn(
    GPU_HARNESS,
    ["serve", "--model-config", "qwen3-tiny", "--device", "cpu", "--dtype", "float32", "--max-model-len", "1024", "--no-warmup", "--port", "0", "--log-dir", join(tmp.dir, "server-logs")],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PYTHONUNBUFFERED: "1" } },
  );
  server = child;
  const stderr: string[] = [];
  child.stderr!.setEncoding("utf8").on("data", (d: string) => stderr.push(d));
  url = await new Promise<string>((resolvePromise, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const m = /^READY (http:\/\/127\.0\.0\.1:\d+)/.exec(line.trim());
      if (m?.[1] !== undefined) resolvePromise(m[1]);
    });
    child.once("exit", (code) => reject(new Error(`gpu-harness serve exited ${code} before READY:\n${stderr.join("")}`)));
  });
}, 150_000);

afterAll(async () => {
  const child = server;
  if (child !== undefined && child.exitCode === null) {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    // SIGTERM flushes the server's logs; on a loaded box that can take a while, so escalate only after 30 s.
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    await exited;
    clearTimeout(timer);
  }
  tmp.remove();
}, 60_000);

describe("runner bench --engine-timeline against gpu-harness serve (CPU, tiny config)", () => {
  it("writes iterations.csv whose prefill and decode tokens account for every token served", async () => {
    const workload = await buildWorkload(
      {
        kind: "synthetic",
        count: 8,
        prefill: { kind: "uniform", min: 4, max: 40 },
        decode: { kind: "uniform", min: 2, max: 9 },
      },
      { kind: "poisson", rateRps: 20 },
      { seed: 4, contextLimit: 1024, tokenizer: tinyVocab, model: "qwen3-tiny" },
    );
    const { dir: workloadDir } = await writeWorkloadDir(join(tmp.dir, "workload"), workload);
    const runDir = join(tmp.dir, "run");
    const r = await runCli(
      ["bench", "--workload", workloadDir, "--endpoint", url, "--engine-timeline", "--warmup", "0", "--model", "qwen3-tiny", "--out", runDir],
      { timeoutMs: 120_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/bench: engine timeline: \d+ steps \(0 warm-up steps dropped\)/);

    const metrics = await readRequestMetrics(join(runDir, "request_metrics.csv"));
    expect(metrics.map((m) => m.status)).toEqual(Array.from({ length: 8 }, () => "ok"));
    const served = metrics.reduce((s, m) => s + m.num_output_tokens, 0);
    expect(served).toBe(workload.manifest.counts.decode_tokens);

    const iterations = await readIterations(join(runDir, "iterations.csv"));
    expect(iterations.length).toBeGreaterThan(0);
    // Each request's first output token comes out of its (last) prefill step, every later one out of a decode
    // step: decode tokens in the log = tokens served - one per request.
    expect(iterations.reduce((s, it) => s + it.num_decode_tokens, 0)).toBe(served - metrics.length);
    expect(iterations.reduce((s, it) => s + it.num_prefill_tokens, 0)).toBe(workload.manifest.counts.prefill_tokens);
    // Mapped onto the run clock (0 = schedule start): steps are ordered and inside the run.
    const lastDone = Math.max(...metrics.map((m) => m.completed_at ?? 0));
    for (const it of iterations) {
      expect(it.end).toBeGreaterThanOrEqual(it.start);
      expect(it.start).toBeGreaterThan(-0.5);
      expect(it.end).toBeLessThan(lastDone + 0.5);
    }

    // The server manifest came from GET /v1/engine/run, with its wall-clock anchor.
    const serverRun = JSON.parse(await readFile(join(runDir, "server", "server_run.json"), "utf8")) as Record<string, unknown>;
    expect(typeof serverRun.wall_anchor_unix_s).toBe("number");
    expect(serverRun).toMatchObject({ device: "cpu", model: "qwen3-tiny" });
    const serverTokens = (await readFile(join(runDir, "server", "server_tokens.csv"), "utf8")).trimEnd().split("\n");
    expect(serverTokens.length - 1).toBe(served);

    // Each request's path on the run clock: the client wrote it to its socket after its send (client_sends.csv),
    // the server's HTTP handler started after that and handed it over, it reached the engine's inbox, and the
    // engine thread took it in after that, before its first token.
    const admissions = (await readFile(join(runDir, "server_admissions.csv"), "utf8")).trimEnd().split("\n");
    expect(admissions[0]).toBe("request_id,inbox,drained,received,submitted");
    const byId = new Map(
      admissions
        .slice(1)
        .map((line) => line.split(",").map(Number) as [number, number, number, number, number])
        .map(([id, inbox, drained, received, submitted]) => [id, { inbox, drained, received, submitted }]),
    );
    const sends = (await readFile(join(runDir, "client_sends.csv"), "utf8")).trimEnd().split("\n");
    expect(sends[0]).toBe("request_id,arrived_at,dispatched_at,sent_at,written_at");
    const written = new Map(sends.slice(1).map((line) => line.split(",").map(Number)).map(([id, , , , w]) => [id!, w!]));
    const engineFirst = new Map((await readFile(join(runDir, "server_token_timestamps.csv"), "utf8")).trimEnd().split("\n").slice(1).map((line) => line.split(",").map(Number)).filter(([, index]) => index === 0).map(([id, , t]) => [id!, t!]));
    expect([...byId.keys()].sort((x, y) => x - y)).toEqual(metrics.map((m) => m.request_id).sort((x, y) => x - y));
    for (const m of metrics) {
      const a = byId.get(m.request_id)!;
      const w = written.get(m.request_id)!;
      expect(w).toBeGreaterThanOrEqual(m.sent_at!);
      // Two processes' clocks joined through their wall anchors: a few ms of slack.
      expect(a.received).toBeGreaterThanOrEqual(w - 0.005);
      expect(a.submitted).toBeGreaterThanOrEqual(a.received);
      expect(a.inbox).toBeGreaterThanOrEqual(a.submitted);
      expect(a.drained).toBeGreaterThanOrEqual(a.inbox);
      expect(a.drained).toBeLessThan(engineFirst.get(m.request_id)!);
    }
  });
});

/**
 * `runner bench` and `runner run --steps workload,bench` against a real loopback streaming server (node:http,
 * OpenAI completions SSE with `choices[0].token_ids`): a real run dir with every request ok, and a second `run`
 * that resumes by skipping the completed bench step (no request sent, run dir untouched).
 */
import { randomUUID } from "node:crypto";
import { existsSync, rmSync, statSync, writeFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { readRequestMetrics } from "@vf/metrics-io";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoopbackServer, makeTempDir, repoRoot, runCli, startLoopbackServer } from "./helpers.js";

const tmp = makeTempDir("bench");
let server: LoopbackServer;
beforeAll(async () => {
  server = await startLoopbackServer({ tokenGapMs: 2 });
});
afterAll(async () => {
  await server.close();
  tmp.remove();
});

/** A prompts file unique to this test run (its workload id, a content hash, cannot collide with anyone's). */
function writePrompts(n: number): string {
  const nonce = randomUUID();
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({ prompt_id: `p${i}`, text: `Test prompt ${i} (${nonce}): say something about ${"x ".repeat(i + 1)}`, num_decode_tokens: 3 + (i % 4) }),
  );
  const path = join(tmp.dir, `prompts-${nonce}.jsonl`);
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

interface RequestLine {
  request_id: number;
  prompt_token_ids: number[];
  num_decode_tokens: number;
}

async function readRequests(dir: string): Promise<RequestLine[]> {
  return (await readFile(join(dir, "requests.jsonl"), "utf8"))
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as RequestLine);
}

describe("runner bench against a loopback server", () => {
  it("replays every request and writes a run dir with status ok for all", async () => {
    const workloadDir = join(tmp.dir, "w");
    const w = await runCli(["workload", "--prompts", writePrompts(10), "--decode", "per-prompt", "--arrival", "constant", "--rate", "40", "--out", workloadDir]);
    expect(w.code, w.stderr).toBe(0);
    const runDir = join(tmp.dir, "run");
    const r = await runCli(["bench", "--workload", workloadDir, "--endpoint", server.url, "--warmup", "1", "--model", "test-model", "--out", runDir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(runDir);
    expect(r.stderr).toContain("bench: done: 10 ok, 0 short, 0 failed");

    const requests = await readRequests(workloadDir);
    const metrics = await readRequestMetrics(join(runDir, "request_metrics.csv"));
    expect(metrics.map((m) => m.request_id)).toEqual(requests.map((q) => q.request_id));
    for (const [i, m] of metrics.entries()) {
      expect(m.status, m.error).toBe("ok");
      expect(m.num_output_tokens).toBe(requests[i]!.num_decode_tokens);
      expect(m.ttft).not.toBeNull();
      expect(m.e2e!).toBeGreaterThanOrEqual(m.ttft!);
    }
    // What the server saw: one warm-up then each request once, with its id header, token ids and max_tokens.
    expect(server.received).toHaveLength(11);
    expect(server.received[0]!.requestId).toBe("warmup-0");
    const byId = new Map(server.received.slice(1).map((q) => [q.requestId, q.body]));
    for (const q of requests) {
      const body = byId.get(String(q.request_id));
      expect(body?.prompt).toEqual(q.prompt_token_ids);
      expect(body?.max_tokens).toBe(q.num_decode_tokens);
      expect(body?.model).toBe("test-model");
      expect(body?.stream).toBe(true);
    }
    const tokens = (await readFile(join(runDir, "token_timestamps.csv"), "utf8")).trimEnd().split("\n");
    expect(tokens.length - 1).toBe(requests.reduce((s, q) => s + q.num_decode_tokens, 0));
    const manifest = JSON.parse(await readFile(join(runDir, "run.json"), "utf8")) as { kind: string; command: string; config: { preconnect: number } };
    expect(manifest.kind).toBe("real");
    expect(manifest.command).toContain("runner bench --workload");
    // By default one keep-alive connection per request (up to 64) is opened first, each by a GET of the models list.
    expect(manifest.config.preconnect).toBe(10);
    expect(server.others).toEqual(Array.from({ length: 10 }, () => "GET /v1/models"));
  });

  it("opens no connection before the schedule with --preconnect 0, and names a bad value", async () => {
    const workloadDir = join(tmp.dir, "w0");
    const w = await runCli(["workload", "--prompts", writePrompts(4), "--decode", "per-prompt", "--arrival", "constant", "--rate", "40", "--out", workloadDir]);
    expect(w.code, w.stderr).toBe(0);
    server.others.length = 0;
    const runDir = join(tmp.dir, "run0");
    const r = await runCli(["bench", "--workload", workloadDir, "--endpoint", server.url, "--warmup", "0", "--preconnect", "0", "--out", runDir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("bench: done: 4 ok");
    expect(server.others).toEqual([]);
    const manifest = JSON.parse(await readFile(join(runDir, "run.json"), "utf8")) as { config: { preconnect: number } };
    expect(manifest.config.preconnect).toBe(0);
    const bad = await runCli(["bench", "--workload", workloadDir, "--endpoint", server.url, "--preconnect", "-1", "--out", join(tmp.dir, "bad")]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--preconnect");
  });
});

describe("runner run --steps workload,bench", () => {
  const name = `runner-test-${process.pid}-${randomUUID().slice(0, 8)}`;
  const realDir = resolve(repoRoot, "tmp", "real_runs", `${name}-l1`);
  let workloadDir: string | undefined;
  afterAll(() => {
    rmSync(realDir, { recursive: true, force: true });
    // Content-addressed by our unique prompts: only this test made it.
    if (workloadDir?.startsWith(resolve(repoRoot, "tmp", "workloads"))) {
      rmSync(workloadDir, { recursive: true, force: true });
    }
  });

  it("benches the loopback endpoint, then resumes by skipping the completed bench step", async () => {
    const experiment = join(tmp.dir, "exp.yaml");
    writeFileSync(
      experiment,
      [
        `name: ${name}`,
        "model:",
        `  config: ${resolve(repoRoot, "packages/gpu-harness/src/gpu_harness/configs/qwen3-0.6b.json")}`,
        "workload:",
        `  source: {kind: prompts, path: ${writePrompts(6)}, decode: {kind: fixed, tokens: 4}}`,
        "  seed: 3",
        "loads:",
        "  - name: l1",
        "    arrivals: {kind: constant, rateRps: 30}",
        "bench:",
        `  endpoint: ${server.url}`,
        "  warmupRequests: 0",
        "",
      ].join("\n"),
    );
    expect(existsSync(realDir)).toBe(false);
    const before = server.received.length;
    const first = await runCli(["run", experiment, "--steps", "workload,bench"]);
    expect(first.code, first.stderr).toBe(0);
    workloadDir = /^ {2}dir: (.+)$/m.exec(first.stderr)?.[1];
    expect(workloadDir).toBeDefined();
    expect(first.stderr).toContain(`== ${name}-l1`);
    expect(first.stderr).toContain("simulate: skipped (not in --steps)");
    expect(first.stderr).toContain("compare: skipped (not in --steps)");
    expect(server.received.length - before).toBe(6);
    const metrics = await readRequestMetrics(join(realDir, "request_metrics.csv"));
    expect(metrics.map((m) => [m.status, m.num_output_tokens])).toEqual(Array.from({ length: 6 }, () => ["ok", 4]));
    const manifest = JSON.parse(await readFile(join(realDir, "run.json"), "utf8")) as Record<string, unknown>;
    expect(manifest).toMatchObject({ kind: "real", experiment: name, load: "l1", weights: "random" });

    const files = (await readdir(realDir)).sort();
    const snapshot = new Map(
      await Promise.all(files.map(async (f) => [f, { mtimeMs: statSync(join(realDir, f)).mtimeMs, bytes: await readFile(join(realDir, f)) }] as const)),
    );
    const second = await runCli(["run", experiment, "--steps", "workload,bench"]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain(`bench: ${realDir} already complete, skipped`);
    expect(server.received.length - before).toBe(6);
    expect((await readdir(realDir)).sort()).toEqual(files);
    for (const f of files) {
      const then = snapshot.get(f)!;
      expect(statSync(join(realDir, f)).mtimeMs, f).toBe(then.mtimeMs);
      expect((await readFile(join(realDir, f))).equals(then.bytes), f).toBe(true);
    }
  });
});

describe("runner run interrupted by Ctrl-C", () => {
  const name = `runner-test-int-${process.pid}-${randomUUID().slice(0, 8)}`;
  const realDir = resolve(repoRoot, "tmp", "real_runs", `${name}-l1`);
  let workloadDir: string | undefined;
  afterAll(() => {
    rmSync(realDir, { recursive: true, force: true });
    if (workloadDir?.startsWith(resolve(repoRoot, "tmp", "workloads"))) rmSync(workloadDir, { recursive: true, force: true });
  });

  it("exits 130 with a partial run dir, and the next run redoes the interrupted bench instead of skipping it", async () => {
    const experiment = join(tmp.dir, "exp-int.json");
    writeFileSync(
      experiment,
      JSON.stringify({
        name,
        model: { config: resolve(repoRoot, "packages/gpu-harness/src/gpu_harness/configs/qwen3-0.6b.json") },
        workload: { source: { kind: "prompts", path: writePrompts(4), decode: { kind: "fixed", tokens: 8 } }, seed: 1 },
        loads: [{ name: "l1", arrivals: { kind: "constant", rateRps: 2 } }],
        bench: { endpoint: server.url, warmupRequests: 0 },
      }),
    );
    // Slow streams (8 tokens x 400 ms) so the interrupt lands mid-run.
    server.tokenGapMs = 400;
    const before = server.received.length;
    let poll: NodeJS.Timeout | undefined;
    const first = await runCli(["run", experiment, "--steps", "workload,bench"], {
      onStart: (child) => {
        poll = setInterval(() => {
          if (server.received.length > before) {
            clearInterval(poll);
            child.kill("SIGINT");
          }
        }, 20);
      },
    });
    clearInterval(poll);
    workloadDir = /^ {2}dir: (.+)$/m.exec(first.stderr)?.[1];
    expect(first.stderr).toContain("interrupted");
    expect(first.code, first.stderr).toBe(130);
    const partial = JSON.parse(await readFile(join(realDir, "run.json"), "utf8")) as { health: { aborted: boolean } };
    expect(partial.health.aborted).toBe(true);

    server.tokenGapMs = 2;
    const second = await runCli(["run", experiment, "--steps", "workload,bench"]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).not.toContain("already complete");
    expect(second.stderr).toContain("interrupted run");
    const metrics = await readRequestMetrics(join(realDir, "request_metrics.csv"));
    expect(metrics.map((m) => m.status)).toEqual(["ok", "ok", "ok", "ok"]);
    const manifest = JSON.parse(await readFile(join(realDir, "run.json"), "utf8")) as { health: { aborted: boolean } };
    expect(manifest.health.aborted).toBe(false);
  });
});

describe("runner run: simulate and compare are redone when their inputs change", () => {
  const name = `runner-stale-${process.pid}-${randomUUID().slice(0, 8)}`;
  const dirs = ["real_runs", "vidur_runs", "comparisons"].map((k) => resolve(repoRoot, "tmp", k, `${name}-l1`));
  let workloadDir: string | undefined;
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    if (workloadDir?.startsWith(resolve(repoRoot, "tmp", "workloads"))) rmSync(workloadDir, { recursive: true, force: true });
  });

  it("skips both when nothing changed, and compares again (without simulating) after the real run is re-recorded", async () => {
    const [realDir, simDir, cmpDir] = dirs as [string, string, string];
    const experiment = join(tmp.dir, `${name}.yaml`);
    writeFileSync(
      experiment,
      [
        `name: ${name}`,
        "model:",
        "  name: Qwen/Qwen3-0.6B",
        `  config: ${resolve(repoRoot, "packages/gpu-harness/src/gpu_harness/configs/qwen3-0.6b.json")}`,
        "device: h200",
        `profileRoot: ${resolve(repoRoot, "data/h200-qwen3-0.6b/profiles")}`,
        "workload:",
        `  source: {kind: prompts, path: ${writePrompts(5)}, decode: {kind: fixed, tokens: 4}}`,
        "  seed: 5",
        "loads:",
        "  - name: l1",
        "    arrivals: {kind: constant, rateRps: 20}",
        "bench:",
        `  endpoint: ${server.url}`,
        "  warmupRequests: 0",
        "",
      ].join("\n"),
    );
    const first = await runCli(["run", experiment]);
    expect(first.code, first.stderr).toBe(0);
    workloadDir = /^ {2}dir: (.+)$/m.exec(first.stderr)?.[1];
    expect(existsSync(join(cmpDir, "comparison.json"))).toBe(true);
    const again = await runCli(["run", experiment]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`simulate: ${simDir} already complete, skipped`);
    expect(again.stderr).toContain(`compare: ${cmpDir} already complete, skipped`);
    // A new recording of the same load: the simulation stands, the comparison must not.
    rmSync(realDir, { recursive: true, force: true });
    const rerecorded = await runCli(["run", experiment]);
    expect(rerecorded.code, rerecorded.stderr).toBe(0);
    expect(rerecorded.stderr).toContain(`simulate: ${simDir} already complete, skipped`);
    expect(rerecorded.stderr).toContain(`compare: ${cmpDir} was made from other runs; comparing again`);
    const cmp = JSON.parse(await readFile(join(cmpDir, "run.json"), "utf8")) as { created_at?: string };
    const real = JSON.parse(await readFile(join(realDir, "run.json"), "utf8")) as { created_at?: string };
    expect(Date.parse(cmp.created_at ?? "")).toBeGreaterThanOrEqual(Date.parse(real.created_at ?? ""));
  }, 300_000);
});

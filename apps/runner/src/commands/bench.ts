/**
 * `runner bench`: replay a workload against an OpenAI-compatible server (wires @vf/real-bench-client), optionally
 * starting the built-in reference server first and importing its engine timeline into the run dir.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { importEngineTimeline } from "@vf/metrics-io";
import { type BenchResult, type RunBenchOptions, runBench } from "@vf/real-bench-client";
import { createProgressLine, formatDuration, log } from "../progress.js";
import { downloadEngineTimeline, resetEngineTimeline } from "../engine-timeline.js";
import { type BuiltinServer, startBuiltinServer } from "../serve.js";

/** How to reach a server: a URL, or the built-in one started with these arguments. */
export type Endpoint =
  | { kind: "url"; url: string; /** the server is gpu-harness: reset and download its engine timeline */ engineTimeline?: boolean }
  | { kind: "builtin"; command: string; args: string[] };

/** Runs the benchmark with progress on stderr; Ctrl-C (the signal) keeps what was measured. */
export async function bench(
  endpoint: Endpoint,
  options: Omit<RunBenchOptions, "baseUrl" | "onProgress">,
): Promise<BenchResult & { serverTimeline: boolean }> {
  let server: BuiltinServer | undefined;
  let baseUrl: string;
  if (endpoint.kind === "builtin") {
    log(`bench: starting the built-in server: ${endpoint.command} ${endpoint.args.join(" ")}`);
    server = await startBuiltinServer({ command: endpoint.command, args: endpoint.args, logDir: join(options.outDir, "server") });
    baseUrl = server.url;
    log(`bench: server ready at ${baseUrl}`);
  } else baseUrl = endpoint.url;
  const fetchTimeline = endpoint.kind === "url" && endpoint.engineTimeline === true;
  if (fetchTimeline) await resetEngineTimeline(baseUrl);
  const line = createProgressLine("bench");
  let result: BenchResult;
  try {
    result = await runBench({
      ...options,
      baseUrl,
      onProgress: (p) =>
        line.update(
          `sent ${p.sent}/${p.total}, done ${p.done}, failed ${p.failed}, in flight ${p.inFlight}, queued ${p.queued}, ${p.rateRps.toFixed(2)} req/s, elapsed ${formatDuration(p.elapsedS)}, ETA ${formatDuration(p.etaS)}`,
        ),
    });
    if (fetchTimeline) await downloadEngineTimeline(baseUrl, join(options.outDir, "server"));
  } finally {
    await server?.stop();
  }
  const h = result.health;
  line.done(`done: ${result.metrics.filter((m) => m.status === "ok").length} ok, ${result.metrics.filter((m) => m.status === "short").length} short, ${result.metrics.filter((m) => m.status === "failed").length} failed -> ${result.runDir}`);
  log(`bench: health ${JSON.stringify(h)}`);
  let serverTimeline = false;
  if (server !== undefined || fetchTimeline) {
    const manifest = JSON.parse(await readFile(join(result.runDir, "run.json"), "utf8")) as { clock?: { zero_unix_s?: number } };
    const zero = manifest.clock?.zero_unix_s;
    if (typeof zero === "number") {
      const imported = await importEngineTimeline({ serverDir: join(options.outDir, "server"), runDir: result.runDir, runZeroUnixS: zero });
      log(`bench: engine timeline: ${imported.iterations} steps (${imported.droppedIterations} warm-up steps dropped), ${imported.tokens} engine token times${imported.admissions > 0 ? `, ${imported.admissions} admissions` : ""}`);
      serverTimeline = true;
    }
  }
  return { ...result, serverTimeline };
}

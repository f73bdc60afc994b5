/**
 * Benchmark (not a test): compareRuns on 1M requests / 50M token timestamps per side.
 *   pnpm build && node bench/bench-compare.ts [--requests N] [--tokens-per-request K] [--dir /tmp/vf-cmp-bench] [--peer]
 * Synthetic run dirs are generated once into --dir by a child process (not timed); the comparison then runs
 * in a fresh child process so its peak RSS is its own. Prints wall time, peak RSS and, with --peer, the
 * time metrics-io's row-object reader (readTokenTimestamps) needs just to iterate the same real token file.
 */
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

type Api = typeof import("../src/index.js");
type MetricsIo = typeof import("@vf/metrics-io");

const self = fileURLToPath(import.meta.url);
const argv = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? (argv[i + 1] as string) : fallback;
};
const nRequests = Number(flag("--requests", "1000000"));
const perRequest = Number(flag("--tokens-per-request", "50"));
const root = flag("--dir", "/tmp/vf-cmp-bench");
const tag = `${nRequests}x${perRequest}`;
const dataDir = join(root, tag);

function generateSide(dir: string, kind: "real" | "vidur", speed: number): void {
  mkdirSync(dir, { recursive: true });
  let state = kind === "real" ? 1 : 2;
  const u = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  const manifest = {
    schema_version: 1,
    kind,
    run_id: `bench-${kind}`,
    created_at: "2026-11-28T00:00:00.000Z",
    workload_id: `bench-${tag}`,
    tool_versions: {},
    git_sha: null,
    command: "bench",
    config: {},
    host: { hostname: "bench", platform: "linux", arch: "x64", cpus: 2, cpu_model: "bench", memory_bytes: 0 },
    weights: "random",
  };
  writeFileSync(join(dir, "run.json"), JSON.stringify(manifest));
  const rm = openSync(join(dir, "request_metrics.csv"), "w");
  const tok = openSync(join(dir, "token_timestamps.csv"), "w");
  writeSync(rm, "request_id,arrived_at,sent_at,first_token_at,completed_at,ttft,e2e,tpot,queue_time,num_prefill_tokens,num_decode_tokens,num_output_tokens,status,error\n");
  writeSync(tok, "request_id,token_index,t\n");
  let rmBuf = "";
  let tokBuf = "";
  for (let id = 0; id < nRequests; id++) {
    const arrived = id * 0.01;
    const ttft = speed * (0.03 + 0.02 * u());
    const first = arrived + ttft;
    let t = first;
    for (let k = 0; k < perRequest; k++) {
      if (k > 0) t += speed * (0.01 + 0.004 * u());
      tokBuf += `${id},${k},${t.toFixed(6)}\n`;
    }
    const tpot = perRequest > 1 ? (t - first) / (perRequest - 1) : 0;
    rmBuf += `${id},${arrived.toFixed(6)},,${first.toFixed(6)},${t.toFixed(6)},${ttft.toFixed(6)},${(t - arrived).toFixed(6)},${tpot.toFixed(6)},,128,${perRequest},${perRequest},ok,\n`;
    if (tokBuf.length > 1 << 22) {
      writeSync(tok, tokBuf);
      tokBuf = "";
    }
    if (rmBuf.length > 1 << 22) {
      writeSync(rm, rmBuf);
      rmBuf = "";
    }
  }
  writeSync(tok, tokBuf);
  writeSync(rm, rmBuf);
  closeSync(tok);
  closeSync(rm);
  // ~1 engine step per 10 output tokens.
  const it = openSync(join(dir, "iterations.csv"), "w");
  let itBuf = "step,start,end,gpu_time,num_prefill_tokens,num_decode_tokens,batch_size,kv_tokens_in_use\n";
  let clock = 0;
  const steps = Math.floor((nRequests * perRequest) / 10 / 50);
  for (let s = 0; s < steps; s++) {
    const prefill = s % 4 === 0 ? Math.floor(512 * u()) : 0;
    const decode = 1 + Math.floor(64 * u());
    const gpu = speed * (0.004 + prefill * 2e-5 + decode * 5e-5);
    const wall = gpu + (kind === "real" ? 0.002 : 0);
    itBuf += `${s},${clock.toFixed(6)},${(clock + wall).toFixed(6)},${kind === "real" ? gpu.toFixed(6) : ""},${prefill},${decode},${decode},\n`;
    clock += wall + 0.0005;
    if (itBuf.length > 1 << 22) {
      writeSync(it, itBuf);
      itBuf = "";
    }
  }
  writeSync(it, itBuf);
  closeSync(it);
}

async function runCompare(): Promise<void> {
  const api = (await import(new URL("../dist/index.js", import.meta.url).href)) as Api;
  const t0 = performance.now();
  const { comparison } = await api.compareRuns({ realDir: join(dataDir, "real"), simDir: join(dataDir, "sim"), outDir: join(dataDir, "out") });
  const seconds = (performance.now() - t0) / 1000;
  const usage = process.resourceUsage();
  const peakMiB = usage.maxRSS / 1024;
  const cpuS = (usage.userCPUTime + usage.systemCPUTime) / 1e6;
  // Main thread alone; the rest ran in the two token workers, in parallel with each other.
  const main = process.threadCpuUsage();
  const mainS = (main.user + main.system) / 1e6;
  const criticalS = mainS + (cpuS - mainS) / 2;
  const tbt = comparison.metrics.tbt;
  console.log(
    `compareRuns: ${comparison.requests.compared} requests, ${tbt?.nReal ?? 0} + ${tbt?.nSim ?? 0} TBT gaps, ` +
      `${comparison.tokens.realRows ?? 0} + ${comparison.tokens.simRows ?? 0} token rows: ${seconds.toFixed(1)} s wall, ${cpuS.toFixed(1)} s CPU (all threads, incl. module load; main thread ${mainS.toFixed(1)} s, so ~${criticalS.toFixed(0)} s on 2 idle cores), peak RSS ${peakMiB.toFixed(0)} MiB; load average ${loadavg()[0]?.toFixed(1)}`,
  );
}

async function runPeer(): Promise<void> {
  const io = (await import("@vf/metrics-io")) as MetricsIo;
  const api = (await import(new URL("../dist/index.js", import.meta.url).href)) as Api;
  const path = join(dataDir, "real", "token_timestamps.csv");
  let t0 = performance.now();
  let rows = 0;
  for await (const _row of io.readTokenTimestamps(path)) rows++;
  const peer = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const include = new Uint8Array(nRequests).fill(1);
  const g = await api.readTokenGaps(path, include, nRequests * (perRequest - 1));
  const ours = (performance.now() - t0) / 1000;
  console.log(`one token file (${rows} rows): metrics-io readTokenTimestamps iterate ${peer.toFixed(1)} s; readTokenGaps ${ours.toFixed(1)} s (${(peer / ours).toFixed(1)}x), ${g.pooled.length} gaps`);
}

const mode = argv[0];
if (mode === "generate") {
  generateSide(join(dataDir, "real"), "real", 1);
  generateSide(join(dataDir, "sim"), "vidur", 0.93);
} else if (mode === "compare") {
  await runCompare();
} else if (mode === "peer") {
  await runPeer();
} else {
  const rest = argv;
  if (!existsSync(join(dataDir, "sim", "iterations.csv"))) {
    const t0 = performance.now();
    spawnSync(process.execPath, [self, "generate", ...rest], { stdio: "inherit" });
    console.log(`generated ${dataDir} in ${((performance.now() - t0) / 1000).toFixed(0)} s (not part of the figure)`);
  }
  // A larger young generation cuts scavenge time on the million-row request tables.
  const heap = ["--max-old-space-size=3500", "--max-semi-space-size=64"];
  spawnSync(process.execPath, [...heap, self, "compare", ...rest], { stdio: "inherit" });
  if (argv.includes("--peer")) spawnSync(process.execPath, [...heap, self, "peer", ...rest], { stdio: "inherit" });
}

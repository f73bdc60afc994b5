/**
 * Test fixtures written to temp dirs: a small profile in Vidur's exact CSV schema for the tiny Qwen3 config
 * (analytic times, so the expected prediction is computable from the rows), and workload dirs written file by
 * file in the shared workload layout.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";

export const PKG_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const REPO_ROOT = resolve(PKG_DIR, "..", "..");
export const PYTHON = join(REPO_ROOT, ".venv", "bin", "python");
export const TINY_CONFIG = join(REPO_ROOT, "packages", "gpu-harness", "src", "gpu_harness", "configs", "qwen3-tiny.json");
export const TINY_MODEL = "test/qwen3-tiny";
export const TEST_DEVICE = { name: "cpu-test", memoryGb: 1, fp16Tflops: 1 };
export const GPU_HARNESS = join(REPO_ROOT, ".venv", "bin", "gpu-harness");

/**
 * Profiles the tiny config on CPU with the gpu-harness profiler (`--quick`: num_tokens <= 128, chunks <= 64,
 * kv <= 96, decode batch <= 4) into `<root>/compute/cpu-test/test/qwen3-tiny/`; returns that dir.
 */
export async function runHarnessProfiler(root: string): Promise<string> {
  await execa(GPU_HARNESS, [
    "profile",
    "--model-config", TINY_CONFIG,
    "--model-name", TINY_MODEL,
    "--device-name", TEST_DEVICE.name,
    "--device", "cpu",
    "--dtype", "float32",
    "--quick",
    "--out", root,
  ]);
  return join(root, "compute", TEST_DEVICE.name, TINY_MODEL);
}

const MLP_OPS = [
  "emb",
  "input_layernorm",
  "attn_pre_proj",
  "attn_rope",
  "attn_post_proj",
  "post_attention_layernorm",
  "mlp_up_proj",
  "mlp_act",
  "mlp_down_proj",
  "add",
];
const ATTN_OPS = ["attn_input_reshape", "attn_kv_cache_save", "attn_prefill", "attn_decode", "attn_output_reshape"];
const stats = (ops: string[]): string[] => ops.flatMap((o) => ["min", "max", "mean", "median", "std"].map((s) => `time_stats.${o}.${s}`));
const five = (v: number): number[] => [v, v, v, v, 0];

/** Tiny-model dims as they appear in profile rows (from qwen3-tiny.json). */
export interface TinyDims {
  n_head: number;
  n_kv_head: number;
  n_embd: number;
  n_expanded_embd: number;
  vocab_size: number;
  num_layers: number;
}

export async function readTinyDims(): Promise<TinyDims> {
  const cfg = JSON.parse(await readFile(TINY_CONFIG, "utf8")) as Record<string, number>;
  return {
    n_head: cfg.num_attention_heads!,
    n_kv_head: cfg.num_key_value_heads!,
    n_embd: cfg.hidden_size!,
    n_expanded_embd: cfg.intermediate_size!,
    vocab_size: cfg.vocab_size!,
    num_layers: cfg.num_hidden_layers!,
  };
}

/**
 * Writes `<root>/compute/<device>/<model>/{mlp,attention}.csv`. Op times (ms) are linear in tokens; attention
 * prefill grows with chunk x (kv + chunk), decode with batch x kv. Intercepts dominate the slopes so that a
 * random forest (bootstrap: a grid point left out of a tree is predicted from its neighbour 8 tokens away)
 * stays well within 1% of the row value. Returns the profile dir.
 */
export async function writeTinyProfile(root: string, dims: TinyDims, opts: { nHeadOverride?: number } = {}): Promise<string> {
  const dir = join(root, "compute", TEST_DEVICE.name, TINY_MODEL);
  await mkdir(dir, { recursive: true });
  const nHead = opts.nHeadOverride ?? dims.n_head;
  const tokens = [1, 2, 4];
  for (let t = 8; t <= 1024; t += 8) tokens.push(t);
  for (let t = 1040; t <= 2048; t += 16) tokens.push(t);
  const mlp = [
    [
      ...stats(MLP_OPS),
      "n_head",
      "n_kv_head",
      "n_embd",
      "n_expanded_embd",
      "vocab_size",
      "use_gated_mlp",
      "num_tokens",
      "num_tensor_parallel_workers",
    ].join(","),
  ];
  for (const t of tokens) {
    const times = MLP_OPS.flatMap((_, i) => five(0.01 * (i + 1) + 0.00002 * (i + 1) * t));
    mlp.push([...times, nHead, dims.n_kv_head, dims.n_embd, dims.n_expanded_embd, dims.vocab_size, "True", t, 1].join(","));
  }
  const attn = [
    [
      ...stats(ATTN_OPS),
      "n_embd",
      "n_q_head",
      "n_kv_head",
      "block_size",
      "num_tensor_parallel_workers",
      "max_model_len",
      "batch_size",
      "prefill_chunk_size",
      "kv_cache_size",
      "is_prefill",
      "attention_backend",
    ].join(","),
  ];
  const tail = (b: number, c: number, k: number, isPrefill: boolean): (string | number)[] => [
    dims.n_embd,
    nHead,
    dims.n_kv_head,
    16,
    1,
    2048,
    b,
    c,
    k,
    isPrefill ? "True" : "False",
    "TORCH_SDPA",
  ];
  for (let c = 32; c <= 2048; c += 32) {
    for (let k = 0; k + c <= 2048; k += 64) {
      const vals = [0, 0.001 + 1e-5 * c, 0.03 + 2e-7 * c * (k + c), 0, 0];
      attn.push([...vals.flatMap(five), ...tail(1, c, k, true)].join(","));
    }
  }
  for (let b = 1; b <= 64; b++) {
    for (let k = 16; k <= 2048; k += 64) {
      const vals = [0, 0.001 + 1e-5 * b, 0, 0.02 + 1e-6 * b * k, 0];
      attn.push([...vals.flatMap(five), ...tail(b, 0, k, false)].join(","));
    }
  }
  await writeFile(join(dir, "mlp.csv"), `${mlp.join("\n")}\n`);
  await writeFile(join(dir, "attention.csv"), `${attn.join("\n")}\n`);
  return dir;
}

/** A request of a test workload. */
export interface WorkloadRequest {
  arrived_at: number;
  num_prefill_tokens: number;
  num_decode_tokens: number;
}

/** Deterministic LCG in [0, 1). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Poisson arrivals (rate rps) with uniform lengths, arrival times rounded to 1 µs like the workload writer. */
export function makeRequests(n: number, rateRps: number, seed: number, maxPrompt = 600, maxDecode = 60): WorkloadRequest[] {
  const rnd = lcg(seed);
  const out: WorkloadRequest[] = [];
  let t = 0;
  for (let i = 0; i < n; i++) {
    t += -Math.log(1 - rnd()) / rateRps;
    out.push({
      arrived_at: Math.round(t * 1e6) / 1e6,
      num_prefill_tokens: 16 + Math.floor(rnd() * (maxPrompt - 16)),
      num_decode_tokens: 2 + Math.floor(rnd() * (maxDecode - 2)),
    });
  }
  return out;
}

/** Writes the shared workload-dir files (workload.json, requests.jsonl, trace CSVs, vidur_trace.csv). */
export async function writeWorkloadDir(dir: string, requests: readonly WorkloadRequest[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  const fmt = (v: number): string => String(Math.round(v * 1e6) / 1e6);
  const jsonl = requests.map((r, i) =>
    JSON.stringify({
      request_id: i,
      prompt_token_ids: Array.from({ length: r.num_prefill_tokens }, (_, k) => (k * 7 + i) % 500),
      num_prefill_tokens: r.num_prefill_tokens,
      num_decode_tokens: r.num_decode_tokens,
      arrived_at: r.arrived_at,
    }),
  );
  await writeFile(join(dir, "requests.jsonl"), `${jsonl.join("\n")}\n`);
  await writeFile(
    join(dir, "workload.json"),
    `${JSON.stringify({ schema_version: 1, id: `test-${requests.length}`, model: TINY_MODEL, num_requests: requests.length }, null, 2)}\n`,
  );
  const lengths = ["request_id,num_prefill_tokens,num_decode_tokens", ...requests.map((r, i) => `${i},${r.num_prefill_tokens},${r.num_decode_tokens}`)];
  const intervals = [
    "request_id,arrived_at,inter_request_time",
    ...requests.map((r, i) => `${i},${fmt(r.arrived_at)},${fmt(i === 0 ? r.arrived_at : r.arrived_at - requests[i - 1]!.arrived_at)}`),
  ];
  const vidur = ["arrived_at,num_prefill_tokens,num_decode_tokens", ...requests.map((r) => `${fmt(r.arrived_at)},${r.num_prefill_tokens},${r.num_decode_tokens}`)];
  await writeFile(join(dir, "trace_lengths.csv"), `${lengths.join("\n")}\n`);
  await writeFile(join(dir, "trace_intervals.csv"), `${intervals.join("\n")}\n`);
  await writeFile(join(dir, "vidur_trace.csv"), `${vidur.join("\n")}\n`);
}

/** Parses a CSV with a header into objects of strings (test-side reader, independent of the library). */
export async function readCsvObjects(path: string): Promise<Record<string, string>[]> {
  const [head, ...rows] = (await readFile(path, "utf8")).trim().split("\n");
  const cols = head!.split(",");
  return rows.map((line) => {
    const cells = line.split(",");
    return Object.fromEntries(cols.map((c, i) => [c, cells[i] ?? ""]));
  });
}

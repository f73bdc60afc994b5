#!/usr/bin/env node
/**
 * runner: the thin CLI. argv -> command, the one top-level catch, exit codes. Logic lives in the libraries; the
 * commands in ./commands only wire them together. Progress and logs go to stderr; results to files.
 */
import { resolve } from "node:path";
import { Command, CommanderError, Option } from "commander";
import type { ShareGptDecodePolicy, SourceSpec } from "@vf/workload-spec";
import { bench, type Endpoint } from "./commands/bench.js";
import { calibrate } from "./commands/calibrate.js";
import { compare } from "./commands/compare.js";
import { demo, demoCalibration, demoExperimentPath } from "./commands/demo.js";
import { profile } from "./commands/profile.js";
import { runExperiment, type Step, STEPS } from "./commands/run.js";
import { simulate } from "./commands/simulate.js";
import { describeTally } from "./commands/spread.js";
import { formatWorkloadSummary, makeWorkload } from "./commands/workload.js";
import { classifyError, EXIT, UsageError } from "./errors.js";
import { readExperiment } from "./experiment.js";
import { parseArrivals, parseDecodePolicy, parseDirList, parseDistribution, parseNumberFlag } from "./flags.js";
import { findRepoRoot, projectPaths } from "./paths.js";
import { log } from "./progress.js";
import { gitSha } from "@vf/metrics-io";
import { readFileSync } from "node:fs";

const EXIT_CODES_HELP = `
Exit codes:
  0    success
  1    unexpected error (a bug; the stack is printed)
  2    bad flags, experiment file or input files (the message names the flag/file/line)
  3    a step failed (Vidur, the server, the profiler, the benchmark)
  130  interrupted by Ctrl-C (what was measured was written)`;

/** Ctrl-C: the first aborts the running step (which writes what it measured), the second exits at once. */
function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  process.on("SIGINT", () => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    log("\ninterrupted: finishing and writing what was measured (Ctrl-C again to quit at once)");
    controller.abort();
  });
  return controller.signal;
}

function contextLimitFrom(configPath: string): number {
  try {
    const json = JSON.parse(readFileSync(configPath, "utf8")) as { max_position_embeddings?: number };
    if (typeof json.max_position_embeddings === "number") return json.max_position_embeddings;
  } catch (e) {
    throw new UsageError(`--model-config ${configPath}: ${(e as Error).message}`);
  }
  throw new UsageError(`--model-config ${configPath}: max_position_embeddings missing; give --context-limit`);
}

/** `--decode` of a ShareGPT source: a distribution, or `from-response[:FALLBACK]` (the response's token count). */
function shareGptDecodeFrom(raw: string): ShareGptDecodePolicy {
  if (raw === "from-response") return { kind: "from-response" };
  if (raw.startsWith("from-response:")) {
    const fallback = parseDecodePolicy("--decode", raw.slice("from-response:".length));
    if (fallback.kind === "per-prompt") throw new UsageError(`--decode ${JSON.stringify(raw)}: the fallback must be fixed:N or a distribution`);
    return { kind: "from-response", fallback };
  }
  const policy = parseDecodePolicy("--decode", raw);
  if (policy.kind === "per-prompt") {
    throw new UsageError(`--decode ${JSON.stringify(raw)}: ShareGPT has no per-prompt lengths; use from-response[:FALLBACK], fixed:N or a distribution`);
  }
  return policy;
}

/** The id in `<dir>/workload.json`, or null when the file has none. */
function readWorkloadId(dir: string): string | null {
  try {
    const json = JSON.parse(readFileSync(resolve(dir, "workload.json"), "utf8")) as { id?: unknown };
    return typeof json.id === "string" ? json.id : null;
  } catch (e) {
    throw new UsageError(`--workload ${dir}: cannot read workload.json (${(e as Error).message})`);
  }
}

function sourceFromFlags(o: Record<string, string | undefined>): SourceSpec {
  const given = ["prompts", "sharegpt", "azure", "mooncake", "synthetic"].filter((k) => o[k] !== undefined);
  if (given.length !== 1) {
    throw new UsageError(
      `give exactly one of --prompts, --sharegpt, --azure, --mooncake, --synthetic${given.length > 1 ? ` (got ${given.map((k) => `--${k}`).join(", ")})` : ""}`,
    );
  }
  const offset = o.offset === undefined ? {} : { offset: parseNumberFlag("--offset", o.offset, { int: true, min: 0 }) };
  const limit = o.limit === undefined ? {} : { limit: parseNumberFlag("--limit", o.limit, { int: true, min: 1 }) };
  if (o.prompts !== undefined) {
    const count = o.count === undefined ? {} : { count: parseNumberFlag("--count", o.count, { int: true, min: 1 }) };
    return { kind: "prompts", path: resolve(o.prompts), decode: parseDecodePolicy("--decode", o.decode ?? "per-prompt:128"), ...count };
  }
  if (o.sharegpt !== undefined) {
    // --limit caps the requests kept (after empty prompts are skipped), through the build options.
    return { kind: "sharegpt", path: resolve(o.sharegpt), decode: shareGptDecodeFrom(o.decode ?? "lognormal:128:0.6:16:1024"), ...offset };
  }
  if (o.azure !== undefined) return { kind: "azure", path: resolve(o.azure), ...offset, ...limit };
  if (o.mooncake !== undefined) return { kind: "mooncake", path: resolve(o.mooncake), ...offset, ...limit };
  return {
    kind: "synthetic",
    count: parseNumberFlag("--synthetic", o.synthetic ?? "", { int: true, min: 1 }),
    prefill: parseDistribution("--prefill", o.prefill ?? "lognormal:512:0.8:16:4096"),
    decode: parseDistribution("--decode", o.decode ?? "lognormal:128:0.8:8:1024"),
  };
}

function buildProgram(): Command {
  const paths = projectPaths(findRepoRoot());
  const command = `runner ${process.argv.slice(2).join(" ")}`;
  const program = new Command("runner")
    .description("Measure how far the Vidur simulator is from a real GPU serving the same requests.")
    .addHelpText("after", EXIT_CODES_HELP)
    .showHelpAfterError()
    // Throw instead of exiting, so commander's own flag errors also exit 2 (subcommands inherit this).
    .exitOverride();

  program
    .command("workload")
    .description("Build a workload dir (tokenized lengths + seeded arrival schedule) and print its summary.")
    .option("--prompts <file>", "prompts JSONL (prompt_id, text, optional num_decode_tokens)")
    .option("--sharegpt <file>", "ShareGPT JSON array ({id, conversations:[{from, value}]}): first human turn = prompt")
    .option("--azure <file>", "Azure LLM inference trace CSV (TIMESTAMP,ContextTokens,GeneratedTokens)")
    .option("--mooncake <file>", "Mooncake trace JSONL (timestamp ms, input_length, output_length)")
    .option("--synthetic <count>", "this many synthetic requests (lengths from --prefill/--decode)")
    .option("--decode <spec>", "output tokens: per-prompt[:DEFAULT] | fixed:N | uniform:MIN:MAX | lognormal:MEDIAN:SIGMA[:MIN:MAX]; sharegpt also from-response[:FALLBACK] (default lognormal:128:0.6:16:1024) (tokens)")
    .option("--prefill <spec>", "synthetic prompt tokens: fixed:N | uniform:MIN:MAX | lognormal:MEDIAN:SIGMA[:MIN:MAX]")
    .option("--count <n>", "prompts: number of requests (prompts reused in order)")
    .option("--offset <n>", "traces: skip this many data rows; sharegpt: this many array entries")
    .option("--limit <n>", "keep at most this many requests")
    .addOption(new Option("--arrival <kind>", "arrival process").choices(["poisson", "gamma", "constant", "trace"]))
    .option("--rate <rps>", "mean arrival rate, requests/s (trace: rescale to this rate)")
    .option("--cv <cv>", "gamma: coefficient of variation of the gaps (1 = Poisson, >1 burstier)")
    .option("--time-scale <x>", "trace: multiply trace offsets by x (0.5 = twice the rate)")
    .option("--seed <n>", "seed of every random choice", "0")
    .option("--model <name>", "model name recorded in workload.json", "Qwen/Qwen3-0.6B")
    .option("--model-config <file>", "HF config.json giving the context limit", paths.qwen3Config)
    .option("--context-limit <tokens>", "prompt + decode limit (default: the config's max_position_embeddings)")
    .addOption(new Option("--over-context <policy>", "requests over the limit").choices(["error", "drop"]).default("error"))
    .option("--out <dir>", "output dir (default tmp/workloads/<workload id>)")
    .addHelpText("after", "\nWrites workload.json, requests.jsonl, trace_lengths.csv, trace_intervals.csv, vidur_trace.csv.\nSame inputs + seed -> byte-identical files.")
    .action(async (o: Record<string, string | undefined>) => {
      const source = sourceFromFlags(o);
      const arrivalKind = o.arrival ?? (source.kind === "azure" || source.kind === "mooncake" ? "trace" : "poisson");
      const arrivals = parseArrivals(arrivalKind, o.rate ?? (arrivalKind === "trace" ? undefined : "1"), o.cv, o.timeScale);
      const contextLimit =
        o.contextLimit !== undefined ? parseNumberFlag("--context-limit", o.contextLimit, { int: true, min: 1 }) : contextLimitFrom(o.modelConfig ?? paths.qwen3Config);
      const w = await makeWorkload(
        {
          source,
          arrivals,
          seed: parseNumberFlag("--seed", o.seed ?? "0", { int: true, min: 0 }),
          contextLimit,
          model: o.model ?? "Qwen/Qwen3-0.6B",
          ...(o.limit !== undefined && source.kind !== "azure" && source.kind !== "mooncake" ? { limit: parseNumberFlag("--limit", o.limit, { int: true, min: 1 }) } : {}),
          ...(o.overContext !== undefined ? { overContext: o.overContext as "error" | "drop" } : {}),
        },
        { workloadsRoot: paths.workloads, ...(o.out !== undefined ? { outDir: resolve(o.out) } : {}) },
      );
      process.stdout.write(`${formatWorkloadSummary(w.dir, w.summary)}\n`);
    });

  program
    .command("profile")
    .description("Profile the model's operators on this machine's GPU (or CPU) into Vidur's CSV schema (gpu-harness profile).")
    .allowUnknownOption()
    .helpOption(false)
    .argument("[args...]", "passed to `gpu-harness profile` (see `runner profile --help`)")
    .action(async (args: string[]) => profile(paths.gpuHarness, args));

  program
    .command("simulate")
    .description("Simulate a workload with the real Vidur (project venv) on a profile; writes tmp/vidur_runs/<id>.")
    .requiredOption("--workload <dir>", "workload dir")
    .option("--profile-root <dir>", "profiling root (compute/<device>/<org>/<model>/...)", paths.h200ProfileRoot)
    .option("--device <sku>", "Vidur device SKU (a40, a100, h100, l40, h200)", "h200")
    .option("--model <name>", "model name as in the profile path", "Qwen/Qwen3-0.6B")
    .option("--model-config <file>", "HF config.json of the model", paths.qwen3Config)
    .addOption(new Option("--scheduler <kind>", "Vidur replica scheduler").choices(["sarathi", "vllm", "orca"]).default("sarathi"))
    .option("--chunk-size <tokens>", "sarathi: token budget per iteration", "512")
    .option("--batch-cap <n>", "max requests per batch", "128")
    .option("--max-tokens-in-batch <tokens>", "vllm: padded tokens per prefill batch", "4096")
    .option("--block-size <tokens>", "KV block size (tokens)")
    .option("--num-blocks <n>", "KV blocks (default: derived from memory with the real head_dim)")
    .option("--tp <n>", "tensor parallel size", "1")
    .option("--pp <n>", "pipeline stages", "1")
    .option("--seed <n>", "simulation seed", "0")
    .addOption(new Option("--grid <grid>", "random-forest hyper-parameter grid").choices(["pinned", "full"]).default("pinned"))
    .option("--cache-dir <dir>", "predictor cache root", paths.vidurCache)
    .option("--out <dir>", "run dir (default tmp/vidur_runs/<id>)")
    .action(async (o: Record<string, string>) => {
      const int = (flag: string, v: string) => parseNumberFlag(flag, v, { int: true, min: 1 });
      const scheduler =
        o.scheduler === "vllm"
          ? { kind: "vllm" as const, batchSizeCap: int("--batch-cap", o.batchCap!), maxTokensInBatch: int("--max-tokens-in-batch", o.maxTokensInBatch!) }
          : o.scheduler === "orca"
            ? { kind: "orca" as const, batchSizeCap: int("--batch-cap", o.batchCap!) }
            : { kind: "sarathi" as const, chunkSize: int("--chunk-size", o.chunkSize!), batchSizeCap: int("--batch-cap", o.batchCap!) };
      const { newRunId, runDirPath } = await import("@vf/metrics-io");
      const runId = newRunId("vidur");
      const workloadId = readWorkloadId(resolve(o.workload!));
      const result = await simulate({
        python: paths.python,
        workloadDir: resolve(o.workload!),
        runDir: o.out !== undefined ? resolve(o.out) : runDirPath(paths.root, "vidur", runId),
        profilingRoot: resolve(o.profileRoot!),
        device: o.device!,
        modelName: o.model!,
        modelConfigPath: resolve(o.modelConfig!),
        scheduler,
        kvCache: {
          ...(o.blockSize !== undefined ? { blockSize: int("--block-size", o.blockSize) } : {}),
          ...(o.numBlocks !== undefined ? { numBlocks: int("--num-blocks", o.numBlocks) } : {}),
        },
        tensorParallelSize: int("--tp", o.tp!),
        pipelineStages: int("--pp", o.pp!),
        seed: parseNumberFlag("--seed", o.seed!, { int: true, min: 0 }),
        predictor: { grid: o.grid as "pinned" | "full" },
        cacheDir: resolve(o.cacheDir!),
        runId,
        ...(workloadId !== null ? { workloadId } : {}),
        command,
        gitSha: gitSha(paths.root),
      });
      process.stdout.write(`${result.runDir}\n`);
    });

  program
    .command("bench")
    .description("Replay a workload open-loop against an OpenAI-compatible streaming server; writes tmp/real_runs/<id>.")
    .requiredOption("--workload <dir>", "workload dir")
    .option("--endpoint <url>", "server base URL, e.g. http://127.0.0.1:8000 (API key: env VF_API_KEY or OPENAI_API_KEY)")
    .option("--engine-timeline", "the endpoint is a gpu-harness server: reset and download its engine timeline")
    .option("--serve <builtin>", "start the built-in reference server (`builtin`) instead of --endpoint")
    .option("--server-arg <arg...>", "extra arguments for `gpu-harness serve` (with --serve builtin)")
    .option("--model <name>", "model field of each request", "Qwen/Qwen3-0.6B")
    .option("--model-config <file>", "model config for --serve builtin", paths.qwen3Config)
    .option("--concurrency <n>", "max requests in flight (queueing recorded separately as queue_time)")
    .option("--warmup <n>", "warm-up requests sent before the schedule, excluded", "8")
    .option("--preconnect <n>", "keep-alive connections opened before the schedule (default min(connections, 64); 0: none)")
    .option("--timeout-s <s>", "per-request timeout, seconds", "600")
    .addOption(new Option("--prompt-mode <mode>", "send token ids or text").choices(["token_ids", "text"]).default("token_ids"))
    .option("--out <dir>", "run dir (default tmp/real_runs/<id>)")
    .action(async (o: Record<string, string | string[] | boolean | undefined>) => {
      const str = (k: string) => o[k] as string | undefined;
      let endpoint: Endpoint;
      if (str("serve") !== undefined) {
        if (str("serve") !== "builtin") throw new UsageError(`--serve ${str("serve")}: expected "builtin"`);
        if (str("endpoint") !== undefined) throw new UsageError("give --endpoint or --serve builtin, not both");
        endpoint = { kind: "builtin", command: paths.gpuHarness, args: ["serve", "--model-config", resolve(str("modelConfig")!), ...((o.serverArg as string[] | undefined) ?? [])] };
      } else if (str("endpoint") !== undefined) {
        endpoint = { kind: "url", url: str("endpoint")!, engineTimeline: o.engineTimeline === true };
      } else throw new UsageError("give --endpoint URL or --serve builtin");
      const { newRunId, runDirPath } = await import("@vf/metrics-io");
      const runId = newRunId("real");
      const apiKey = process.env.VF_API_KEY ?? process.env.OPENAI_API_KEY;
      const result = await bench(endpoint, {
        model: str("model")!,
        workloadDir: resolve(str("workload")!),
        outDir: str("out") !== undefined ? resolve(str("out")!) : runDirPath(paths.root, "real", runId),
        runId,
        warmupRequests: parseNumberFlag("--warmup", str("warmup")!, { int: true, min: 0 }),
        requestTimeoutS: parseNumberFlag("--timeout-s", str("timeoutS")!, { min: Number.MIN_VALUE }),
        promptMode: str("promptMode") as "token_ids" | "text",
        ...(str("concurrency") !== undefined ? { maxConcurrency: parseNumberFlag("--concurrency", str("concurrency")!, { int: true, min: 1 }) } : {}),
        ...(str("preconnect") !== undefined ? { preconnect: parseNumberFlag("--preconnect", str("preconnect")!, { int: true, min: 0 }) } : {}),
        ...(apiKey !== undefined && apiKey !== "" ? { apiKey } : {}),
        signal: interruptSignal(),
        command,
        gitSha: gitSha(paths.root),
        manifestExtra: endpoint.kind === "builtin" ? { server: "gpu-harness (builtin)" } : {},
      });
      process.stdout.write(`${result.runDir}\n`);
      if (result.aborted) process.exitCode = EXIT.interrupted;
    });

  program
    .command("compare")
    .description("Compare a simulated run with a real one: summary.md, report.html, comparison.json, percentiles.csv.")
    .requiredOption("--real <dir>", "real run dir")
    .requiredOption("--sim <dir>", "simulated run dir")
    .option("--out <dir>", "output dir (default tmp/comparisons/<id>)")
    .option("--margin <fraction>", "TOST equivalence margin on paired relative differences", "0.1")
    .option("--bootstrap <B>", "bootstrap replicates for percentile-error CIs", "2000")
    .option("--allow-workload-mismatch", "compare runs of different workloads (reported loudly)")
    .option("--repeat <dirs>", "more recorded real runs of the same workload (comma list): the real run-to-run spread and a verdict per P50 / P90 cell (5 % / band / off) in every report")
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const { newRunId, runDirPath } = await import("@vf/metrics-io");
      const id = newRunId("cmp");
      const outDir = typeof o.out === "string" ? resolve(o.out) : runDirPath(paths.root, "comparison", id);
      const repeatDirs = typeof o.repeat === "string" ? parseDirList("--repeat", o.repeat) : undefined;
      const r = await compare({
        realDir: resolve(o.real as string),
        simDir: resolve(o.sim as string),
        outDir,
        ...(repeatDirs !== undefined ? { repeatDirs } : {}),
        options: {
          marginRel: parseNumberFlag("--margin", o.margin as string, { min: Number.MIN_VALUE }),
          bootstrapReplicates: parseNumberFlag("--bootstrap", o.bootstrap as string, { int: true, min: 10 }),
          allowWorkloadMismatch: o.allowWorkloadMismatch === true,
          command,
          gitSha: gitSha(paths.root),
        },
      });
      process.stdout.write(`${resolve(outDir, "report.html")}\n`);
      void r;
    });

  program
    .command("run")
    .description("Run every step of an experiment file (YAML or JSON); resumes from completed steps.")
    .argument("<experiment>", "experiment file")
    .option("--force", "redo steps that are already complete")
    .option("--steps <list>", `comma-separated subset of ${STEPS.join(",")}`)
    .option("--endpoint <url>", "override bench.endpoint (a running server's base URL)")
    .option("--engine-timeline", "with --endpoint: the server is gpu-harness; reset and download its engine timeline")
    .option("--record", "bench every load even where loads[].realRunDir names a recorded run (to re-record it)")
    .action(async (file: string, o: { force?: boolean; steps?: string; endpoint?: string; engineTimeline?: boolean; record?: boolean }) => {
      const { experiment, baseDir } = await readExperiment(resolve(file));
      if (o.record === true) for (const load of experiment.loads) delete load.realRunDir;
      if (o.endpoint !== undefined) {
        experiment.bench = { warmupRequests: 8, serverArgs: [], requestTimeoutS: 600, ...experiment.bench, endpoint: o.endpoint, engineTimeline: o.engineTimeline === true };
      }
      let steps: Set<Step> | undefined;
      if (o.steps !== undefined) {
        steps = new Set();
        for (const s of o.steps.split(",")) {
          if (!(STEPS as readonly string[]).includes(s)) throw new UsageError(`--steps ${o.steps}: unknown step ${JSON.stringify(s)}, expected ${STEPS.join(", ")}`);
          steps.add(s as Step);
        }
      }
      const apiKey = process.env.VF_API_KEY ?? process.env.OPENAI_API_KEY;
      const signal = interruptSignal();
      const outcome = await runExperiment(experiment, {
        baseDir,
        paths,
        command,
        signal,
        ...(o.force !== undefined ? { force: o.force } : {}),
        ...(steps !== undefined ? { steps } : {}),
        ...(apiKey !== undefined && apiKey !== "" ? { apiKey } : {}),
      });
      for (const l of outcome.loads) process.stdout.write(`${l.name}: ${l.reportPath}\n`);
      if (outcome.loadsDir !== null) process.stdout.write(`loads: ${resolve(outcome.loadsDir, "loads.html")}\n`);
      // Ctrl-C stops the experiment after writing what was measured: exit 130 as documented, not 0.
      if (signal.aborted) process.exitCode = EXIT.interrupted;
    });

  program
    .command("calibrate")
    .description(
      "Fit a signed per-step correction to Vidur's step times (and the serving path's delivery delay) on one load of an experiment and report before/after errors on every load (fit vs held-out); or, with --frozen, apply another experiment's fit unchanged (a prediction).",
    )
    .argument("<experiment>", "experiment file")
    .option("--fit <load>", "name of the load (loads[].name) whose real engine steps the overhead is derived from; a comma list pools several loads' steps")
    .option("--fit-also <dirs>", "more recorded real runs of the --fit load (repeats, other server starts; comma list): their steps are pooled with the load's own run")
    .option("--frozen <dir>", "a calibration dir written by an earlier calibrate (…/<name>-calibration): use its cpu_overheads.csv as is; every load is 'predicted'")
    .addOption(
      new Option("--mode <mode>", "split: decode-only curve + extra for batches with prefill; single: one batch-size curve (plain Vidur schema)")
        .choices(["split", "single"])
        .default("split"),
    )
    .addOption(
      new Option("--statistic <stat>", "a batch-size bin's residuals -> its overhead: mean (1 %-trimmed; the queue drains at the mean step time) or median")
        .choices(["mean", "median"])
        .default("mean"),
    )
    .option("--min-steps <n>", "a batch-size bin counts only with at least n real steps of that kind (else interpolated)", "5")
    .option("--no-jitter", "do not write the step-time jitter columns (the simulated steps then take one time per composition)")
    .option("--no-delivery-delay", "do not add the fit load's engine -> client delivery delay (nor its admission delay) to the simulated token times")
    .option(
      "--no-admission-delay",
      "keep the delivery delay but leave out the admission delay (arrival -> the engine taking the request in, read off the fit load's step timeline)",
    )
    .option(
      "--no-prefix-term",
      "leave out the prefill-prefix term (how much faster a chunk step's time grows with its chunks' prompt prefix on the real engine than in Vidur, fitted on the fit load's mixed steps)",
    )
    .option(
      "--inter-step-gap",
      "also fold the engine loop's time between steps (handing out a step's tokens, taking in requests: real steps are not back to back, Vidur's are) into the fit load's real steps before the fit",
    )
    .option(
      "--step-size-term",
      "also fit the step-size term (how a mixed step's time departs from Vidur's by the class of its prefill + decode tokens, <= 32, 48, 64, 96, 128, ..., 384, 512 tokens, on the real engine and in Vidur, fitted on the fit load's mixed steps); helps with an engine-shaped profile (gpu-harness profile's default)",
    )
    .option(
      "--step-host-speed",
      "take every fit step's host phases (schedule, prepare, process) at the fit's probe level before the fit: x the level over the median in-band probe (iterations.csv host_probe_time) of the 50 steps on either side, removing the CPU's slow stretches from the table's shape; needs runs with the probe",
    )
    .option(
      "--speed-jitter",
      "with --step-host-speed: keep in the jitter columns the host time each fit step's scaling took out (less its bin's centre), so the simulated steps vary with the CPU's slow and fast stretches as the fit's real steps did (the table's level stays at one speed)",
    )
    .addOption(
      new Option(
        "--host-tail <steps>",
        "which decode-only steps the table's tail (past the fit load's largest batch) takes each host phase's growth per request from: all, upper = those of the two largest batch-size bins (the growth where the table ends; the host's growth per request falls as the batch grows), or flat = none: every column held at the last knot's (the step's whole correction stops growing), or level = the overhead held as flat but its host phases grown as all, the model-time bias taking the difference (the level at the fit's host speed is flat's; a load's --host-scale scales the grown host time)",
      )
        .choices(["all", "upper", "flat", "level"])
        .default("all"),
    )
    .option(
      "--tail-from <dirs>",
      "with --decode-grid, measure the table's tail instead of continuing it: real runs on the fit's server (comma list of run dirs) whose batches reach past the fit load's, e.g. another workload at 85 % of its capacity; their decode-only steps' residuals against the grid and host phases (taken like the fit's) in bins of 16 requests above the fit's last knot, each bin's growth over the steps around that knot added to it (not with --host-tail)",
    )
    .option(
      "--decode-kv-term",
      "also fit the decode KV term (how much faster Vidur's decode-only step grows with the KV it reads than the real engine's device wait, both fitted within exact batch sizes on the fit load's decode-only steps): added per 1,000 KV tokens of every decode-only step, so workloads of shorter or longer contexts than the fit's are not carried the fit's excess",
    )
    .option("--no-bin-misfit", "take each bin's residual against the linear model of Vidur's step time alone, without correcting it by the model's misfit to Vidur's own predictions in that bin")
    .option(
      "--misfit-by-size",
      "take each bin's misfit at the fit's real batch sizes: the simulated steps' departure from the line per exact batch size, averaged over the bin's real steps, so the uncalibrated simulation's larger batches within a bin (its steps are slower) do not bias the correction",
    )
    .option(
      "--decode-grid <csv>",
      "take every decode-only step from the engine's measured decode step (a CSV of batch, kv_tokens, step_ms: scripts/gpu/decode_grid.py; data/h200-qwen3-0.6b/engine/decode_grid.csv) instead of Vidur's prediction, in the fit's residuals and in every simulation of the table (not with --decode-kv-term)",
    )
    .option(
      "--machine-probe",
      "scale each load's calibrated step times by the median ratio of its real run's machine probe (server_run.json, gpu-harness serve --probe-repeats) to the fit runs' pooled probe (with --frozen: the one its calibration recorded); every run needs a probe",
    )
    .addOption(
      new Option(
        "--host-scale <source>",
        "simulate each load with the table's host phases (schedule, prepare, process) x its real run's host speed over the fit's: probe = the in-band host probe (iterations.csv host_probe_time; a prediction conditioned on the host's speed), phases = the run's own measured host phases (attribution, not a prediction); with --frozen, the reference its calibration recorded",
      ).choices(["probe", "phases"]),
    )
    .option(
      "--no-probe-size",
      "with --host-scale probe, take a probe of another size than the fit's (another token budget or batch cap) as a plain level ratio; by default it is read per int, and the load's own list conversion replaces the fit's in the preparation",
    )
    .option(
      "--admission-backlog",
      "make the admission delay grow with the server front's backlog: the front as one worker serving every token at a per-token time fitted on the fit runs' delivery delays; each request's admission delay is the fitted constant less the fit runs' mean backlog plus the backlog at its arrival in the simulation (with --frozen: as its calibration recorded)",
    )
    .option(
      "--front-per-step",
      "with --admission-backlog, the front's worker pays a time per engine step as well as per token: the per-token time read off the fit runs' steps' spread (a step's last token reaches the client later than its first), the per-step time fitted on their delivery delays; the backlog then grows with the step rate, not with the token rate alone",
    )
    .option(
      "--admission-in-sim",
      "with --admission-backlog, move each request's arrival inside the simulation by its admission delay (a front gate in Vidur's event loop, fed each simulated step's tokens once the next step is launched) instead of moving its token times afterwards, so it joins the step a real engine takes it into; the constant is fitted with each fit request's own backlog taken out",
    )
    .addOption(
      new Option(
        "--path-host-scale <how>",
        "with --host-scale, simulate each load's serving path outside the engine at its host speed too: the delivery delays, the admission constant, the front's per-token and per-step times and the hand-over x the load's host scale (all of it CPU work on the server's host, fitted at the fit runs' speed); ratio = x the scale, slower = x the scale only where it is above 1 (a host slower than the fit's); with --fit or --frozen",
      ).choices(["ratio", "slower"]),
    )
    .option("--force", "redo the uncalibrated steps too (the calibrated simulations are always redone)")
    .addHelpText("after", "\nWrites tmp/comparisons/<name>-calibration/{cpu_overheads.csv,calibration.md,calibration.json},\ntmp/vidur_runs/<name>-<load>-cal and tmp/comparisons/<name>-<load>-cal.")
    .action(async (file: string, o: { fit?: string; fitAlso?: string; frozen?: string; mode: "split" | "single"; statistic: "mean" | "median"; jitter: boolean; binMisfit: boolean; misfitBySize?: boolean; decodeGrid?: string; prefixTerm: boolean; interStepGap?: boolean; stepSizeTerm?: boolean; stepHostSpeed?: boolean; speedJitter?: boolean; hostTail: "all" | "upper" | "flat" | "level"; tailFrom?: string; decodeKvTerm?: boolean; machineProbe?: boolean; hostScale?: "probe" | "phases"; probeSize: boolean; minSteps: string; deliveryDelay: boolean; admissionDelay: boolean; admissionBacklog?: boolean; frontPerStep?: boolean; admissionInSim?: boolean; pathHostScale?: "ratio" | "slower"; force?: boolean }) => {
      if ((o.fit === undefined) === (o.frozen === undefined)) throw new UsageError("calibrate: give exactly one of --fit <load> and --frozen <dir>");
      const { experiment, baseDir } = await readExperiment(resolve(file));
      const outcome = await calibrate(experiment, {
        baseDir,
        paths,
        command,
        ...(o.fit !== undefined ? { fitLoad: o.fit } : {}),
        ...(o.fitAlso !== undefined ? { fitAlso: o.fitAlso.split(",").map((d) => resolve(d.trim())) } : {}),
        ...(o.frozen !== undefined ? { frozenDir: resolve(o.frozen) } : {}),
        mode: o.mode,
        statistic: o.statistic,
        jitter: o.jitter,
        binMisfit: o.binMisfit,
        ...(o.misfitBySize === true ? { misfitBySize: true } : {}),
        ...(o.decodeGrid !== undefined ? { decodeGrid: resolve(o.decodeGrid) } : {}),
        prefixTerm: o.prefixTerm,
        ...(o.interStepGap === true ? { interStepGap: true } : {}),
        ...(o.stepSizeTerm === true ? { stepSizeTerm: true } : {}),
        ...(o.stepHostSpeed === true ? { stepHostSpeed: true } : {}),
        ...(o.speedJitter === true ? { speedJitter: true } : {}),
        ...(o.hostTail !== "all" ? { hostTail: o.hostTail } : {}),
        ...(o.tailFrom !== undefined ? { tailFrom: o.tailFrom.split(",").map((d) => resolve(d.trim())) } : {}),
        ...(o.decodeKvTerm === true ? { decodeKvTerm: true } : {}),
        minStepsPerBin: parseNumberFlag("--min-steps", o.minSteps, { int: true, min: 1 }),
        deliveryDelay: o.deliveryDelay,
        admissionDelay: o.admissionDelay,
        ...(o.admissionBacklog === true ? { admissionBacklog: true } : {}),
        ...(o.frontPerStep === true ? { frontPerStep: true } : {}),
        ...(o.admissionInSim === true ? { admissionInSim: true } : {}),
        ...(o.machineProbe === true ? { machineProbe: true } : {}),
        ...(o.hostScale !== undefined ? { hostScale: o.hostScale } : {}),
        ...(o.probeSize === false ? { probeSize: false } : {}),
        ...(o.pathHostScale !== undefined ? { pathHostScale: o.pathHostScale } : {}),
        signal: interruptSignal(),
        ...(o.force !== undefined ? { force: o.force } : {}),
      });
      process.stdout.write(`${outcome.markdownPath}\n`);
    });

  program
    .command("demo")
    .description("The embedded default (no GPU): example workload -> real Vidur on the committed H200 profile -> compare with the committed H200 runs.")
    .option("--force", "redo the simulation and comparison")
    .option(
      "--no-calibrated",
      "skip the calibration (by default the recommended correction is fitted on the middle load and every load is re-simulated and judged against the committed repeats: runner calibrate --fit <middle load> --step-host-speed --speed-jitter --host-tail level --decode-kv-term --misfit-by-size --front-per-step --admission-in-sim --admission-backlog --host-scale probe --path-host-scale slower)",
    )
    .option("--no-host-scale", "calibrate blind: no in-band host probe (leaves out --host-scale probe, --path-host-scale slower, --step-host-speed and --speed-jitter)")
    .option("--no-admission-backlog", "keep the admission delay constant instead of growing it with the server front's backlog (leaves out --admission-backlog, --front-per-step and --admission-in-sim)")
    .action(async (o: { force?: boolean; calibrated?: boolean; hostScale?: boolean; admissionBacklog?: boolean }) => {
      const signal = interruptSignal();
      const outcome = await demo(paths, { command, signal, ...(o.force !== undefined ? { force: o.force } : {}) });
      for (const l of outcome.loads) process.stdout.write(`${l.name}: ${l.reportPath}\n`);
      if (outcome.loadsDir !== null) process.stdout.write(`loads: ${resolve(outcome.loadsDir, "loads.html")}\n`);
      if (o.calibrated !== false) {
        const { experiment, baseDir } = await readExperiment(demoExperimentPath(paths));
        // The middle load, as for the experiments: the held-out loads lie on both sides of it.
        const fitLoad = experiment.loads[Math.floor((experiment.loads.length - 1) / 2)]!.name;
        const cal = await calibrate(experiment, {
          baseDir,
          paths,
          command,
          fitLoad,
          signal,
          ...demoCalibration(o),
        });
        for (const l of cal.loads) process.stdout.write(`${l.name} (calibrated, ${l.role}): ${resolve(l.after.comparisonDir, "report.html")}\n`);
        process.stdout.write(`calibration: ${cal.markdownPath}\n`);
        const held = cal.verdicts["held-out"];
        if (held !== undefined) {
          process.stdout.write(`held-out cells against the recorded runs: calibrated ${describeTally(held.after)}; uncalibrated ${describeTally(held.before)}\n`);
        }
      }
    });

  return program;
}

async function main(): Promise<void> {
  // A reader that stops early (`runner --help | head`) closes the pipe: stop quietly instead of crashing on EPIPE.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") throw e;
    process.exit(process.exitCode ?? 0);
  });
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander already printed its message (and the usage); help and version keep their own code.
      const help = ["commander.helpDisplayed", "commander.help", "commander.version"].includes(e.code);
      process.exitCode = help ? e.exitCode : EXIT.usage;
      return;
    }
    const { code, message, stack } = classifyError(e);
    process.stderr.write(`runner: error: ${message}\n`);
    if (stack !== undefined) process.stderr.write(`${stack}\n`);
    process.exitCode = code;
  }
}

void main();

/** The experiment file (YAML or JSON), validated with zod: everything `runner run` needs for every step. */
import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { ArrivalSpecSchema, OverContextPolicySchema, SourceSpecSchema } from "@vf/workload-spec";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { UsageError } from "./errors.js";

const positiveInt = z.number().int().min(1);

/** Vidur's replica scheduler, matched to the real engine's policy. */
export const SchedulerSpecSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("sarathi"), chunkSize: positiveInt, batchSizeCap: positiveInt }),
  z.strictObject({ kind: z.literal("vllm"), batchSizeCap: positiveInt, maxTokensInBatch: positiveInt }),
  z.strictObject({ kind: z.literal("orca"), batchSizeCap: positiveInt }),
]);

/** One load point: an arrival process, and optionally an already recorded real run of it. */
export const LoadSpecSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]+$/, "letters, digits, '.', '_' and '-' only"),
  arrivals: ArrivalSpecSchema,
  /** A recorded real run dir of exactly this workload (skips the bench step). */
  realRunDir: z.string().optional(),
  /**
   * More recorded real runs of this load (repeats, other server starts; relative paths: from the experiment file):
   * `runner calibrate` reports the real run-to-run spread and a verdict beside every error (within 5 % of realRunDir's
   * run, inside the runs' band, or off).
   */
  realRepeatDirs: z.array(z.string().min(1)).min(1).optional(),
  /**
   * The order the simulation takes the requests in: "arrival" (default), the workload's; "real", the order the real
   * run's server admitted them (its first tokens' order; arrival times stay in place). For a burst sent at once,
   * which the server's HTTP front takes in an order of its own: the saturation run.
   */
  admissionOrder: z.enum(["arrival", "real"]).default("arrival"),
});

export const ExperimentSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]+$/, "letters, digits, '.', '_' and '-' only"),
  model: z.strictObject({
    /** Name as in the profile path and requests (`org/name`). */
    name: z.string().default("Qwen/Qwen3-0.6B"),
    /** Hugging Face config.json (relative paths: from the experiment file). */
    config: z.string(),
    /** prompt + decode limit in tokens (default: the config's max_position_embeddings). */
    contextLimit: positiveInt.optional(),
  }),
  /** Vidur device SKU (h200 is registered by vidur-bridge). */
  device: z.string().default("h200"),
  workload: z.strictObject({
    source: SourceSpecSchema,
    seed: z.number().int().min(0),
    limit: positiveInt.optional(),
    overContext: OverContextPolicySchema.optional(),
  }),
  loads: z.array(LoadSpecSchema).min(1),
  /** How the loads were chosen: the measured capacity (highest rate meeting the bound) and the fractions of it. */
  capacity: z
    .strictObject({
      rateRps: z.number().positive(),
      bound: z.string(),
      fractions: z.array(z.number().positive()).min(1),
    })
    .optional(),
  scheduler: SchedulerSpecSchema.default({ kind: "sarathi", chunkSize: 512, batchSizeCap: 128 }),
  kvCache: z.strictObject({ blockSize: positiveInt.optional(), numBlocks: positiveInt.optional() }).default({}),
  /** Profiling root holding compute/<device>/<org>/<model>/{mlp,attention}.csv (default: the committed H200 one). */
  profileRoot: z.string().optional(),
  bench: z
    .strictObject({
      /** An OpenAI-compatible server, or "builtin" to start gpu-harness serve. */
      endpoint: z.string(),
      /** The endpoint is a gpu-harness server: reset and download its engine timeline around each run. */
      engineTimeline: z.boolean().default(false),
      /** Extra arguments for the built-in server (`gpu-harness serve ...`). */
      serverArgs: z.array(z.string()).default([]),
      /** `model` field of each request (default: model.name). */
      servedModel: z.string().optional(),
      warmupRequests: z.number().int().min(0).default(8),
      maxConcurrency: positiveInt.optional(),
      requestTimeoutS: z.number().positive().default(600),
    })
    .optional(),
  simulate: z
    .strictObject({
      seed: z.number().int().min(0).default(0),
      grid: z.enum(["pinned", "full"]).default("pinned"),
      /**
       * Vidur's extra on decode attention for batches of more than one request on GQA models (its default 0.1). A
       * profile that times the serving engine's own batched decode kernel already holds that cost: set 0.
       */
      attentionDecodeBatchingOverheadFraction: z.number().min(0).optional(),
      /**
       * Every simulated step's time x this (Vidur's prediction and the calibration's correction alike): a measured
       * ratio between the engine the profile timed and this experiment's server configuration or machine, which the
       * per-op profile does not see (`scripts/gpu/slot_ab.py` prints one for two slot counts). Default 1.
       */
      stepTimeScale: z.number().positive().optional(),
    })
    .default({ seed: 0, grid: "pinned" }),
  compare: z
    .strictObject({ marginRel: z.number().positive().lt(1).default(0.1), bootstrapReplicates: positiveInt.default(2000) })
    .default({ marginRel: 0.1, bootstrapReplicates: 2000 }),
});
/** A validated experiment. */
export type Experiment = z.infer<typeof ExperimentSchema>;
/** An experiment as written in the file. */
export type ExperimentInput = z.input<typeof ExperimentSchema>;

/** Validates an experiment object; errors name the field path and the file. */
export function parseExperiment(value: unknown, where: string): Experiment {
  const parsed = ExperimentSchema.safeParse(value);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new UsageError(`${where}: invalid experiment file:\n${lines.join("\n")}`);
  }
  return parsed.data;
}

/** Reads a YAML or JSON experiment file; relative paths inside it are resolved against its folder. */
export async function readExperiment(path: string): Promise<{ experiment: Experiment; baseDir: string }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read experiment file ${path}: ${(e as Error).message}`);
  }
  let value: unknown;
  try {
    value = /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new UsageError(`${path}: not valid ${/\.json$/i.test(path) ? "JSON" : "YAML"}: ${(e as Error).message}`);
  }
  return { experiment: parseExperiment(value, path), baseDir: dirname(resolve(path)) };
}

/** Resolves `p` against `baseDir` unless absolute. */
export function resolveFrom(baseDir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(baseDir, p);
}

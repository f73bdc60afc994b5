import { describe, expect, it } from "vitest";
import { buildVidurArgs, type VidurArgsInput } from "./args.js";
import { deriveGridLimits } from "./limits.js";
import { PINNED_FOREST_GRID } from "./options.js";

const base: VidurArgsInput = {
  seed: 3,
  modelName: "Qwen/Qwen3-0.6B",
  deviceName: "h200",
  nodeName: "h200_dgx",
  tensorParallelSize: 1,
  pipelineStages: 1,
  scheduler: { kind: "vllm", batchSizeCap: 16, maxTokensInBatch: 2048 },
  kvCache: { blockSize: 32, numBlocks: 1000 },
  tracePath: "/w/trace.csv",
  limits: deriveGridLimits(
    [{ requestId: 0, arrivedAtS: 0, arrivedAtText: "0", numPrefillTokens: 10, numDecodeTokens: 5 }],
    { kind: "vllm", batchSizeCap: 16, maxTokensInBatch: 2048 },
    64,
  ),
  grid: PINNED_FOREST_GRID,
  kFoldCvSplits: 2,
  trainingJobs: 1,
  cacheDir: "/c",
  outputDir: "/o",
  chromeTrace: false,
};

const value = (args: string[], flag: string): string | undefined => {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
};

describe("buildVidurArgs", () => {
  it("emits only the selected scheduler's flags, with the cache and trace settings", () => {
    const a = buildVidurArgs(base);
    expect(value(a, "--replica_scheduler_config_type")).toBe("vllm");
    expect(value(a, "--vllm_scheduler_config_max_tokens_in_batch")).toBe("2048");
    expect(value(a, "--vllm_scheduler_config_batch_size_cap")).toBe("16");
    expect(a.some((f) => f.startsWith("--sarathi_"))).toBe(false);
    expect(value(a, "--cache_config_block_size")).toBe("32");
    expect(value(a, "--cache_config_num_blocks")).toBe("1000");
    expect(value(a, "--trace_request_generator_config_max_tokens")).toBe("15");
    expect(value(a, "--random_forrest_execution_time_predictor_config_cache_dir")).toBe("/c");
    expect(a).toContain("--no-metrics_config_store_plots");
    expect(a).toContain("--no-metrics_config_enable_chrome_trace");
  });

  it("sets Vidur's GQA decode batching overhead only when given", () => {
    const flag = "--random_forrest_execution_time_predictor_config_attention_decode_batching_overhead_fraction";
    expect(buildVidurArgs(base)).not.toContain(flag);
    expect(value(buildVidurArgs({ ...base, attentionDecodeBatchingOverheadFraction: 0 }), flag)).toBe("0");
    expect(value(buildVidurArgs({ ...base, attentionDecodeBatchingOverheadFraction: 0.25 }), flag)).toBe("0.25");
  });

  it("passes forest grids as space-separated lists", () => {
    const a = buildVidurArgs({ ...base, grid: { numEstimators: [250, 500], maxDepth: [8], minSamplesSplit: [2, 5] } });
    const i = a.indexOf("--random_forrest_execution_time_predictor_config_num_estimators");
    expect(a.slice(i + 1, i + 3)).toEqual(["250", "500"]);
    const j = a.indexOf("--random_forrest_execution_time_predictor_config_min_samples_split");
    expect(a.slice(j + 1, j + 3)).toEqual(["2", "5"]);
  });

  it("leaves num_blocks to the sidecar when unset and adds the sarathi chunk", () => {
    const a = buildVidurArgs({ ...base, kvCache: {}, scheduler: { kind: "sarathi", chunkSize: 256, batchSizeCap: 8 } });
    expect(a).not.toContain("--cache_config_num_blocks");
    expect(value(a, "--sarathi_scheduler_config_chunk_size")).toBe("256");
  });
});

/**
 * Builds the exact Vidur 0.0.26 command-line flags for one trace-replay run (pure; no I/O).
 * Flags of unselected scheduler/predictor types are never emitted (Vidur ignores them silently).
 */
import type { GridLimits } from "./limits.js";
import type { ForestGrid, KvCacheOptions, SchedulerOptions } from "./options.js";
import { TRACE_DATE } from "./trace.js";

/** Inputs of buildVidurArgs (all paths absolute). */
export interface VidurArgsInput {
  seed: number;
  modelName: string;
  deviceName: string;
  nodeName: string;
  tensorParallelSize: number;
  pipelineStages: number;
  scheduler: SchedulerOptions;
  kvCache: KvCacheOptions;
  tracePath: string;
  limits: GridLimits;
  grid: ForestGrid;
  kFoldCvSplits: number;
  trainingJobs: number;
  attentionDecodeBatchingOverheadFraction?: number;
  cacheDir: string;
  outputDir: string;
  chromeTrace: boolean;
}

const RF = "--random_forrest_execution_time_predictor_config_";

/** Returns the flag list (without the program name). */
export function buildVidurArgs(i: VidurArgsInput): string[] {
  const a: string[] = [
    "--seed", String(i.seed),
    "--replica_config_model_name", i.modelName,
    "--replica_config_device", i.deviceName,
    "--replica_config_network_device", i.nodeName,
    "--replica_config_tensor_parallel_size", String(i.tensorParallelSize),
    "--replica_config_num_pipeline_stages", String(i.pipelineStages),
    "--cluster_config_num_replicas", "1",
    "--global_scheduler_config_type", "round_robin",
    "--replica_scheduler_config_type", i.scheduler.kind,
    `--${i.scheduler.kind}_scheduler_config_batch_size_cap`, String(i.scheduler.batchSizeCap),
  ];
  if (i.scheduler.kind === "sarathi") a.push("--sarathi_scheduler_config_chunk_size", String(i.scheduler.chunkSize));
  if (i.scheduler.kind === "vllm") a.push("--vllm_scheduler_config_max_tokens_in_batch", String(i.scheduler.maxTokensInBatch));
  a.push("--cache_config_block_size", String(i.kvCache.blockSize ?? 16));
  if (i.kvCache.numBlocks !== undefined) a.push("--cache_config_num_blocks", String(i.kvCache.numBlocks));
  if (i.kvCache.watermarkBlocksFraction !== undefined) {
    a.push("--cache_config_watermark_blocks_fraction", String(i.kvCache.watermarkBlocksFraction));
  }
  a.push("--cache_config_memory_margin_fraction", String(i.kvCache.memoryMarginFraction ?? 0.1));
  a.push(
    "--request_generator_config_type", "trace_replay",
    "--trace_request_generator_config_trace_file", i.tracePath,
    "--trace_request_generator_config_date", TRACE_DATE,
    "--trace_request_generator_config_max_tokens", String(i.limits.traceMaxTokens),
    "--trace_request_generator_config_prefill_scale_factor", "1",
    "--trace_request_generator_config_decode_scale_factor", "1",
    "--trace_request_generator_config_time_scale_factor", "1",
    "--execution_time_predictor_config_type", "random_forrest",
    `${RF}num_estimators`, ...i.grid.numEstimators.map(String),
    `${RF}max_depth`, ...i.grid.maxDepth.map(String),
    `${RF}min_samples_split`, ...i.grid.minSamplesSplit.map(String),
    `${RF}k_fold_cv_splits`, String(i.kFoldCvSplits),
    `${RF}num_training_job_threads`, String(i.trainingJobs),
    `${RF}prediction_max_tokens_per_request`, String(i.limits.predictionMaxTokensPerRequest),
    `${RF}prediction_max_prefill_chunk_size`, String(i.limits.predictionMaxPrefillChunkSize),
    `${RF}prediction_max_batch_size`, String(i.limits.predictionMaxBatchSize),
    `${RF}kv_cache_prediction_granularity`, String(i.limits.kvCachePredictionGranularity),
    `${RF}cache_dir`, i.cacheDir,
    "--no-random_forrest_execution_time_predictor_config_upload_predictions",
  );
  if (i.attentionDecodeBatchingOverheadFraction !== undefined) {
    a.push(`${RF}attention_decode_batching_overhead_fraction`, String(i.attentionDecodeBatchingOverheadFraction));
  }
  a.push(
    "--metrics_config_output_dir", i.outputDir,
    "--no-metrics_config_store_plots",
    // Our recorder writes every batch; Vidur's batch CDFs cost about a tenth of the simulation time.
    "--no-metrics_config_store_batch_metrics",
    "--no-metrics_config_save_table_to_wandb",
    i.chromeTrace ? "--metrics_config_enable_chrome_trace" : "--no-metrics_config_enable_chrome_trace",
  );
  return a;
}

/** @vf/vidur-bridge: runs the PyPI Vidur simulator on our workloads and profiles (explicit re-exports only). */

/** Builds Vidur 0.0.26's exact flag list for one trace-replay run. */
export { buildVidurArgs } from "./args.js";
export type { VidurArgsInput } from "./args.js";
/**
 * Calibration: per-batch-size step correction (ms) = real step wall − Vidur's predicted step time; the delivery delay
 * by batch size; the admission delay read off the engine's timeline.
 */
export {
  DECODE_KV_MIN_GROUP,
  DECODE_KV_MIN_STEPS,
  deliveryDelayFromRuns,
  fitFrontWorker,
  admissionConstantS,
  frontBacklog,
  frontHandoff,
  frontTokenSpread,
  frontWorkerDone,
  deriveAdmissionDelay,
  deriveCpuOverheads,
  deriveDeliveryDelay,
  fitLine,
  fitStepTimeModel,
  foldInterStepGaps,
  formatCpuOverheadsCsv,
  HOST_SPEED_HALF_WINDOW,
  INTER_STEP_GAP_MAX_S,
  normalizeHostSpeed,
  summarizeHostSpeed,
  modelTimeBiasMs,
  STEP_CLASS_MIN_STEPS,
  stepClassBounds,
  prefillPrefixWork,
  JITTER_LEVELS,
  predictStepMs,
  trimmedMean,
  writeCpuOverheadsFromRuns,
} from "./calibrate.js";
export type { AdmissionDelay, DecodeGrid, DecodeKvTerm, MeasuredTail, StepSizeTerm, CpuOverheadTable, DeliveryDelayTable, DeriveCpuOverheadsOptions, HostPhasesMs, HostSpeedSummary, InterStepGap, OverheadBin, OverheadRow, PrefixTerm, StepPhasesMs, StepTimeModel } from "./calibrate.js";
/** Machine probes: the fit runs' probes pooled (per-key median p50, ms) and a target machine's step-time ratio to them. */
export { machineProbeRatio, poolMachineProbes } from "./calibrate.js";
export { DECODE_GRID_COLUMNS, decodeGridLookup, formatDecodeGridCsv, readDecodeGrid, TAIL_ANCHOR_HALF_WIDTH, TAIL_BIN_WIDTH, TAIL_MIN_STEPS } from "./calibrate.js";
export type { MachineProbeRatio } from "./calibrate.js";
/** The host's speed in a real run against the fit's (in-band probe, or the measured phases) and the table scaled by it. */
export { HOST_INDEX_MIN_REF_STEPS, hostReference, hostScale, probeSizeDiffers, scaleHostPhases, scaleServingPath } from "./calibrate.js";
export type { HostReference, HostScale, HostScaleSource } from "./calibrate.js";
/** Verifies the venv's Python imports vidur and reports versions; the offline env of every Python child. */
export { checkVidurEnv, sidecarEnv } from "./env.js";
export type { VidurEnv } from "./env.js";
/** The error class of this package, its codes and guard. */
export { isVidurBridgeError, VidurBridgeError } from "./errors.js";
export type { VidurBridgeErrorCode } from "./errors.js";
/** Prediction-grid limits (tokens) derived from a workload and scheduler. */
export { deriveGridLimits } from "./limits.js";
export type { GridLimits } from "./limits.js";
/** Normalizes a finished Vidur run dir into request/token/iteration records (seconds). */
export { findVidurOutputDir, normalizeVidurRun } from "./normalize.js";
export type { NormalizeSummary } from "./normalize.js";
/** Option types, device tables (GB, TFLOPs) and forest grids. */
export { BUILTIN_DEVICES, DEFAULT_SCHEDULER, EXTRA_DEVICES, FULL_FOREST_GRID, PINNED_FOREST_GRID } from "./options.js";
export type {
  DeviceSpec,
  ForestGrid,
  KvCacheOptions,
  NodeSpec,
  PredictorOptions,
  DeliveryDelayOption,
  RunVidurOptions,
  SchedulerOptions,
  VidurProgress,
} from "./options.js";
/** Profile / CPU-overhead file location and content hashes (sha256). */
export { hashFile, hashProfile, locateCpuOverhead, locateProfile, readProfilePredictorDefaults } from "./profile.js";
export type { ProfileFiles, ProfilePredictorDefaults } from "./profile.js";
/** Runs one simulation end to end (subprocess) and writes the run dir. */
export { runVidur } from "./run-vidur.js";
export type { RunVidurResult } from "./run-vidur.js";
/** Reads a workload's vidur_trace.csv (row i = request i) and writes Vidur 0.0.26's trace format. */
export { readVidurTrace, reorderTrace, TRACE_DATE, writeVidur026Trace } from "./trace.js";
export type { TraceRow } from "./trace.js";

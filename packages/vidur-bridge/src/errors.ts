/** VidurBridgeError: the one error class of @vf/vidur-bridge, with a closed set of codes. */

export type VidurBridgeErrorCode =
  | "VIDUR_NO_PYTHON"
  | "VIDUR_VENV_BROKEN"
  | "VIDUR_BAD_OPTION"
  | "VIDUR_WORKLOAD_INVALID"
  | "VIDUR_MODEL_CONFIG_INVALID"
  | "VIDUR_UNKNOWN_DEVICE"
  | "VIDUR_DEVICE_MEMORY"
  | "VIDUR_PROFILE_MISSING"
  | "VIDUR_PROFILE_INVALID"
  | "VIDUR_PROFILE_NO_ROWS"
  | "VIDUR_WORKLOAD_OUTSIDE_PROFILE"
  | "VIDUR_EXIT_NONZERO"
  | "VIDUR_OUTPUT_INVALID"
  | "VIDUR_CALIBRATION_INPUT";

const CODES: ReadonlySet<string> = new Set<VidurBridgeErrorCode>([
  "VIDUR_NO_PYTHON",
  "VIDUR_VENV_BROKEN",
  "VIDUR_BAD_OPTION",
  "VIDUR_WORKLOAD_INVALID",
  "VIDUR_MODEL_CONFIG_INVALID",
  "VIDUR_UNKNOWN_DEVICE",
  "VIDUR_DEVICE_MEMORY",
  "VIDUR_PROFILE_MISSING",
  "VIDUR_PROFILE_INVALID",
  "VIDUR_PROFILE_NO_ROWS",
  "VIDUR_WORKLOAD_OUTSIDE_PROFILE",
  "VIDUR_EXIT_NONZERO",
  "VIDUR_OUTPUT_INVALID",
  "VIDUR_CALIBRATION_INPUT",
]);

export class VidurBridgeError extends Error {
  override readonly name = "VidurBridgeError";
  readonly code: VidurBridgeErrorCode;
  constructor(code: VidurBridgeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** True when `e` is a VidurBridgeError (optionally with the given code). */
export function isVidurBridgeError(e: unknown, code?: VidurBridgeErrorCode): e is VidurBridgeError {
  return e instanceof VidurBridgeError && (code === undefined || e.code === code);
}

/** Narrows a code string reported by the Python sidecar; unknown codes become VIDUR_EXIT_NONZERO. */
export function toErrorCode(code: string): VidurBridgeErrorCode {
  return CODES.has(code) ? (code as VidurBridgeErrorCode) : "VIDUR_EXIT_NONZERO";
}

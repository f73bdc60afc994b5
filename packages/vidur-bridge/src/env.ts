/** Checks that a Python interpreter can import the pinned vidur; does not create or repair the venv. */
import { access, constants } from "node:fs/promises";
import { execa } from "execa";
import { VidurBridgeError } from "./errors.js";

/** What checkVidurEnv found. */
export interface VidurEnv {
  python: string;
  pythonVersion: string;
  vidurVersion: string;
  vidurPath: string;
}

const SETUP_HINT = "run `scripts/setup.sh` from the repository root to (re)create the venv";

/** Offline environment for every Python child: no wandb, no Hugging Face hub, no bytecode in site-packages. */
export function sidecarEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    WANDB_MODE: "disabled",
    WANDB_SILENT: "true",
    HF_HUB_OFFLINE: "1",
    HF_DATASETS_OFFLINE: "1",
    TRANSFORMERS_OFFLINE: "1",
    PYTHONDONTWRITEBYTECODE: "1",
    PYTHONUNBUFFERED: "1",
    PYTHONHASHSEED: "0",
    ...extra,
  };
}

/**
 * Verifies that `python` (a path, e.g. `<repo>/.venv/bin/python`) runs and imports vidur.
 * Throws VIDUR_NO_PYTHON when the file is missing, VIDUR_VENV_BROKEN when vidur does not import.
 */
export function checkVidurEnv(python: string): Promise<VidurEnv> {
  // One probe per interpreter per process; a failed probe is retried next time (the venv may be repaired).
  let pending = probes.get(python);
  if (!pending) {
    pending = probeVidurEnv(python);
    probes.set(python, pending);
    pending.catch(() => probes.delete(python));
  }
  return pending;
}

const probes = new Map<string, Promise<VidurEnv>>();

async function probeVidurEnv(python: string): Promise<VidurEnv> {
  try {
    await access(python, constants.X_OK);
  } catch (e) {
    throw new VidurBridgeError("VIDUR_NO_PYTHON", `no executable Python at ${python}; ${SETUP_HINT}`, { cause: e });
  }
  const probe =
    "import json,sys,vidur;print(json.dumps({'python':sys.version.split()[0],'vidur':vidur.__version__,'path':vidur.__path__[0]}))";
  const r = await execa(python, ["-c", probe], { reject: false, env: sidecarEnv(), timeout: 120_000 });
  if (r.exitCode !== 0) {
    const tail = String(r.stderr).split("\n").slice(-5).join("\n");
    throw new VidurBridgeError("VIDUR_VENV_BROKEN", `${python} cannot import vidur (exit ${r.exitCode}): ${tail}\n${SETUP_HINT}`);
  }
  const lastLine = String(r.stdout).trim().split("\n").pop() ?? "";
  let parsed: { python?: unknown; vidur?: unknown; path?: unknown };
  try {
    parsed = JSON.parse(lastLine) as typeof parsed;
  } catch (e) {
    throw new VidurBridgeError("VIDUR_VENV_BROKEN", `${python}: unexpected probe output ${JSON.stringify(lastLine)}; ${SETUP_HINT}`, {
      cause: e,
    });
  }
  return {
    python,
    pythonVersion: String(parsed.python),
    vidurVersion: String(parsed.vidur),
    vidurPath: String(parsed.path),
  };
}

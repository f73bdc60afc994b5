/** Locates the profile CSVs Vidur will read and hashes their content (the predictor cache key). */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { VidurBridgeError } from "./errors.js";

/** Absolute paths of the profile files one run reads (network files only when TP/PP > 1). */
export interface ProfileFiles {
  mlp: string;
  attention: string;
  allReduce: string | null;
  sendRecv: string | null;
}

async function mustExist(path: string, what: string): Promise<void> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new Error("not a file");
  } catch (e) {
    throw new VidurBridgeError(
      "VIDUR_PROFILE_MISSING",
      `${what} profile ${path} does not exist; run \`gpu-harness profile\` for this model/device or fix profilingRoot`,
      { cause: e },
    );
  }
}

/** Resolves and checks `<root>/compute/<device>/<model>/{mlp,attention}.csv` and the network files when needed. */
export async function locateProfile(root: string, device: string, model: string, node: string, tp: number, pp: number): Promise<ProfileFiles> {
  const dir = join(root, "compute", device, model);
  const files: ProfileFiles = {
    mlp: join(dir, "mlp.csv"),
    attention: join(dir, "attention.csv"),
    allReduce: tp > 1 ? join(root, "network", node, "all_reduce.csv") : null,
    sendRecv: pp > 1 ? join(root, "network", node, "send_recv.csv") : null,
  };
  await mustExist(files.mlp, "compute (mlp)");
  await mustExist(files.attention, "attention");
  if (files.allReduce) await mustExist(files.allReduce, "all-reduce (TP > 1)");
  if (files.sendRecv) await mustExist(files.sendRecv, "send/recv (PP > 1)");
  return files;
}

/** Predictor settings a profile declares for itself (its `profile.json`'s `vidur_predictor`), and where from. */
export interface ProfilePredictorDefaults {
  /** Vidur's extra on batched decode attention that suits the profile's decode rows (0: they time the batch). */
  attentionDecodeBatchingOverheadFraction?: number;
  /** The profile.json read, or null when the profile has none or it declares nothing. */
  source: string | null;
}

/**
 * Reads `profile.json` beside the compute CSVs: a profile made by `gpu-harness profile` declares there
 * (`vidur_predictor.attention_decode_batching_overhead_fraction`) that its decode attention rows time the batched
 * kernel at each batch size, so Vidur's own extra for batching on GQA models would count that cost twice. Profiles
 * without the file or the key (Vidur's own, older ones) declare nothing.
 */
export async function readProfilePredictorDefaults(files: ProfileFiles): Promise<ProfilePredictorDefaults> {
  const path = join(dirname(files.mlp), "profile.json");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return { source: null };
  }
  let value: unknown;
  try {
    value = (JSON.parse(text) as { vidur_predictor?: Record<string, unknown> }).vidur_predictor?.attention_decode_batching_overhead_fraction;
  } catch (e) {
    throw new VidurBridgeError("VIDUR_PROFILE_INVALID", `${path}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  if (value === undefined) return { source: null };
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new VidurBridgeError("VIDUR_PROFILE_INVALID", `${path}: vidur_predictor.attention_decode_batching_overhead_fraction = ${JSON.stringify(value)}, expected a number >= 0`);
  }
  return { attentionDecodeBatchingOverheadFraction: value, source: path };
}

/**
 * The CPU-overhead file to use: an explicit path (must exist), none for "off", or for "auto" the conventional
 * `<root>/cpu_overhead/<node>/<model>/cpu_overheads.csv` when present.
 */
export async function locateCpuOverhead(root: string, node: string, model: string, choice: string): Promise<string | null> {
  if (choice === "off") return null;
  if (choice !== "auto") {
    await mustExist(choice, "CPU overhead");
    return choice;
  }
  const path = join(root, "cpu_overhead", node, model, "cpu_overheads.csv");
  try {
    return (await stat(path)).isFile() ? path : null;
  } catch {
    return null;
  }
}

/** sha256 (hex) of one file's bytes, streamed. */
export async function hashFile(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** sha256 of each profile file present (keys: mlp, attention, all_reduce, send_recv). */
export async function hashProfile(files: ProfileFiles): Promise<Record<string, string>> {
  const out: Record<string, string> = { mlp: await hashFile(files.mlp), attention: await hashFile(files.attention) };
  if (files.allReduce) out.all_reduce = await hashFile(files.allReduce);
  if (files.sendRecv) out.send_recv = await hashFile(files.sendRecv);
  return out;
}

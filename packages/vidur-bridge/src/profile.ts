/** Locates the profile CSVs Vidur will read and hashes their content (the predictor cache key). */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
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

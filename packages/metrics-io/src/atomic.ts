/** Atomic file writes: write a temp file beside the target, then rename, so readers never see half a file. */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { MetricsIoError } from "./errors.js";

function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
}

/** Writes `data` to `path` atomically (temp file + rename); creates the parent directory. */
export async function atomicWriteFile(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (cause) {
    await rm(tmp, { force: true });
    throw new MetricsIoError("METRICS_WRITE_FAILED", `could not write ${path}: ${String(cause)}`, { cause });
  }
}

/** A line writer that streams to a temp file and renames it into place on `close()`; `abort()` removes it. */
export interface AtomicLineWriter {
  write(line: string): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}

/** Opens an AtomicLineWriter for `path` (for files too large to build in memory). Lines get a trailing "\n". */
export async function openAtomicLineWriter(path: string): Promise<AtomicLineWriter> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  const stream = createWriteStream(tmp);
  let buffer: string[] = [];
  let buffered = 0;
  const flush = async (): Promise<void> => {
    if (buffer.length === 0) return;
    const chunk = buffer.join("");
    buffer = [];
    buffered = 0;
    if (!stream.write(chunk)) {
      await new Promise<void>((resolve) => stream.once("drain", resolve));
    }
  };
  return {
    async write(line: string) {
      buffer.push(line, "\n");
      buffered += line.length + 1;
      if (buffered >= 1 << 16) await flush();
    },
    async close() {
      await flush();
      await new Promise<void>((resolve, reject) => stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
      await rename(tmp, path);
    },
    async abort() {
      // The stream opens its file asynchronously: removing it before the stream has closed can race the open and
      // leave the temp file behind (seen under load), so wait for the close first.
      if (!stream.closed) {
        await new Promise<void>((resolve) => {
          stream.once("close", () => resolve());
          stream.destroy();
        });
      }
      await rm(tmp, { force: true });
    },
  };
}

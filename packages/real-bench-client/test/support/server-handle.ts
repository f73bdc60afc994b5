/** Test-side handle of the scripted server (started on the test's own event loop). */
import type { Script, ServerLogEntry } from "./scripted-server.ts";

export type { Script, ServerLogEntry };

export interface ServerHandle {
  url: string;
  port: number;
  log(): Promise<ServerLogEntry[]>;
  close(): Promise<void>;
}

/**
 * Starts the scripted server on this thread's event loop. The client then reads each chunk in the same
 * loop turn that wrote it, so stamp accuracy is tested without cross-thread OS wake-up noise (which on a
 * loaded 2-core CI host is several ms and is no property of the client's bookkeeping).
 */
export async function startInProcessServer(scripts: Record<string, Script>): Promise<ServerHandle> {
  const { startServer } = (await import("./scripted-server.ts" as string)) as typeof import("./scripted-server.ts");
  const log: ServerLogEntry[] = [];
  let server: import("node:http").Server | undefined;
  const port = await new Promise<number>((resolve) => {
    server = startServer(scripts, 0, log, resolve);
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    log: async () => log,
    close: () =>
      new Promise<void>((resolve) => {
        server?.closeAllConnections();
        server?.close(() => resolve());
      }),
  };
}

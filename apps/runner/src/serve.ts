/** Starts and stops the built-in reference server (gpu-harness serve) as a child process. */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { StepError } from "./errors.js";

/** A running reference server. */
export interface BuiltinServer {
  url: string;
  /** SIGTERM, then wait for exit (the server flushes its timeline to its --log-dir). */
  stop(): Promise<void>;
  /** Last lines of the server's stderr (for error messages). */
  stderrTail(): string;
}

/** Spawns `command args... --port 0 --log-dir logDir` and waits for its `READY http://HOST:PORT` line. */
export async function startBuiltinServer(opts: {
  command: string;
  args: readonly string[];
  logDir: string;
  readyTimeoutS?: number;
  onLog?: (line: string) => void;
}): Promise<BuiltinServer> {
  const args = [...opts.args, "--port", "0", "--log-dir", opts.logDir];
  const child: ChildProcess = spawn(opts.command, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PYTHONUNBUFFERED: "1" } });
  const tail: string[] = [];
  const stderr = createInterface({ input: child.stderr! });
  stderr.on("line", (l) => {
    tail.push(l);
    if (tail.length > 40) tail.shift();
    opts.onLog?.(l);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new StepError(`server did not print READY within ${opts.readyTimeoutS ?? 600} s:\n${tail.join("\n")}`)),
      (opts.readyTimeoutS ?? 600) * 1000,
    );
    const stdout = createInterface({ input: child.stdout! });
    stdout.on("line", (l) => {
      const m = /^READY (http:\/\/\S+)/.exec(l.trim());
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(m[1]);
      } else opts.onLog?.(l);
    });
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(new StepError(`cannot start ${opts.command}: ${e.message}`));
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new StepError(`server exited with code ${code} before READY:\n${tail.join("\n")}`));
    });
  });
  return {
    url,
    stderrTail: () => tail.join("\n"),
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

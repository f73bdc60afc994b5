/** Progress on stderr: one line rewritten in place on a terminal, a line every few seconds otherwise. */

/** Writes progress lines; `done()` ends the line. */
export interface ProgressLine {
  update(text: string): void;
  done(text?: string): void;
}

/** A throttled progress line on stderr (`label: text`). */
export function createProgressLine(label: string, minIntervalMs = 1000): ProgressLine {
  const tty = process.stderr.isTTY === true;
  let last = 0;
  let pending = "";
  const write = (text: string, final: boolean) => {
    if (tty) process.stderr.write(`\r\x1b[2K${label}: ${text}${final ? "\n" : ""}`);
    else process.stderr.write(`${label}: ${text}\n`);
  };
  return {
    update(text) {
      pending = text;
      const now = Date.now();
      if (now - last >= (tty ? 100 : minIntervalMs * 5)) {
        last = now;
        write(text, false);
      }
    },
    done(text) {
      write(text ?? pending, true);
    },
  };
}

/** Logs one line to stderr. */
export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** `12.3 s`, `4 m 05 s`. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return "?";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  return `${m} m ${String(Math.round(seconds - m * 60)).padStart(2, "0")} s`;
}

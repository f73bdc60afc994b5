/** FIFO concurrency gate for the optional in-flight cap; waiting is cancellable by an AbortSignal. */

/** A counting semaphore with FIFO wake-up. */
export class ConcurrencyLimiter {
  private active = 0;
  private readonly waiters: Array<(granted: boolean) => void> = [];
  constructor(private readonly limit: number) {}

  /** Resolves true when a slot is taken, false when `signal` aborted while waiting. */
  acquire(signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve) => {
      const waiter = (granted: boolean): void => {
        signal?.removeEventListener("abort", onAbort);
        resolve(granted);
      };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(false);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Frees a slot, handing it straight to the oldest waiter if any. */
  release(): void {
    const next = this.waiters.shift();
    if (next) next(true);
    else this.active--;
  }
}

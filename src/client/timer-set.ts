type Handle = ReturnType<typeof setTimeout>;

/**
 * Every timer the client starts, so `close()` can stop them all and leave nothing that
 * keeps a process (or a test runner) alive.
 */
export class TimerSet {
  private readonly handles = new Set<Handle>();
  private readonly sleepers = new Set<() => void>();
  private stopped = false;

  /** Runs `fn` once after `ms`; returns a function that cancels it. */
  after(ms: number, fn: () => void): () => void {
    if (this.stopped) return () => undefined;
    const handle = setTimeout(() => {
      this.handles.delete(handle);
      fn();
    }, ms);
    this.handles.add(handle);
    return () => {
      clearTimeout(handle);
      this.handles.delete(handle);
    };
  }

  /** Resolves after `ms`, or at once when the set is cleared, so no await is left hanging. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve();
      const wake = () => {
        this.sleepers.delete(wake);
        cancel();
        resolve();
      };
      const cancel = this.after(ms, wake);
      this.sleepers.add(wake);
    });
  }

  clear(): void {
    this.stopped = true;
    for (const handle of this.handles) clearTimeout(handle);
    this.handles.clear();
    for (const wake of [...this.sleepers]) wake();
  }
}

/** Exponential backoff: `base`, `2 * base`, ... capped at `max`. */
export function backoff(attempt: number, base: number, max: number): number {
  return Math.min(max, base * 2 ** Math.min(attempt, 16));
}

/** Something tests can wait on: whoever changes observable state calls `notify()`. */
export class Signal {
  private readonly waiters = new Set<() => void>();

  notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  subscribe(waiter: () => void): () => void {
    this.waiters.add(waiter);
    return () => {
      this.waiters.delete(waiter);
    };
  }
}

/**
 * Resolves as soon as `check()` holds, re-checking whenever one of the signals fires;
 * rejects at the deadline. The deadline is a bound, never a wait: a passing test never
 * reaches it.
 */
export function waitUntil(
  signals: readonly Signal[],
  check: () => boolean,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const unsubscribers: (() => void)[] = [];
    const finish = (error?: Error) => {
      clearTimeout(timer);
      for (const unsubscribe of unsubscribers) unsubscribe();
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(
      () => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
    const test = () => {
      try {
        if (check()) finish();
      } catch (error) {
        finish(error instanceof Error ? error : new Error(String(error)));
      }
    };
    for (const signal of signals) unsubscribers.push(signal.subscribe(test));
    test();
  });
}

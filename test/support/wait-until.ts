export interface WaitOptions {
  /** Default 10 s. */
  timeoutMs?: number;
  /** Pause between checks, default 10 ms; predicates that cost a request or a process take longer. */
  intervalMs?: number;
  /** The state the predicate last saw, added to the timeout message. */
  detail?: () => string;
  /** How time passes between checks: a real timer unless the test drives a clock of its own. */
  pause?: (ms: number) => Promise<void>;
}

const realPause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Resolves once `predicate` holds; rejects after the timeout naming `what`. The third
 * argument is the timeout in ms or the full options. A predicate may throw to give up early
 * (a process it waits on exited).
 */
export async function waitUntil(
  predicate: () => boolean | Promise<boolean>,
  what: string,
  options: number | WaitOptions = {},
): Promise<void> {
  const {
    timeoutMs = 10_000,
    intervalMs = 10,
    detail,
    pause = realPause,
  } = typeof options === 'number' ? { timeoutMs: options } : options;
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) {
      const seen = detail ? `: ${detail()}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${seen}`);
    }
    await pause(intervalMs);
  }
}

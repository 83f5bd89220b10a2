import { backoff, type TimerSet } from './timer-set.js';

/**
 * The waits between a loop's tries, each longer than the last up to `maxMs`. Jittered: the
 * streams an instance drops when it dies must not all come back at once.
 */
export class JitteredBackoff {
  private attempt = 0;
  private wake: (() => void) | undefined;

  constructor(
    private readonly timers: TimerSet,
    private readonly baseMs: number,
    private readonly maxMs: number,
  ) {}

  /**
   * Waits `askedMs` when the server said how long, else the next backoff; either way the
   * wait after it is longer. `interrupt()` cuts it short.
   */
  wait(askedMs?: number): Promise<void> {
    const delay =
      askedMs ?? backoff(this.attempt, this.baseMs, this.maxMs) * (0.5 + Math.random() / 2);
    this.attempt += 1;
    const interrupted = new Promise<void>((resolve) => {
      this.wake = resolve;
    });
    return Promise.race([this.timers.sleep(delay), interrupted]);
  }

  /** A try worked: the next wait is the shortest again. */
  reset(): void {
    this.attempt = 0;
  }

  /** Ends the current wait now. */
  interrupt(): void {
    this.wake?.();
  }
}

import type { TimerSet } from './timer-set.js';

/**
 * Runs `tick` every `intervalMs` while started, never two at once: the next period starts
 * when the previous tick has settled, so a slow server is not piled up on. A tick may
 * resolve with a longer wait (a server's `retryAfterMs`), which the next period honours.
 */
export class PollLoop {
  private generation = 0;
  private active = false;

  constructor(
    private readonly timers: TimerSet,
    private readonly intervalMs: number,
    private readonly tick: () => Promise<number | void>,
  ) {}

  get running(): boolean {
    return this.active;
  }

  start(): void {
    if (this.active) return;
    this.active = true;
    this.run(this.generation);
  }

  stop(): void {
    if (!this.active) return;
    this.active = false;
    // A tick still in flight belongs to the old generation and will not schedule another.
    this.generation += 1;
  }

  private run(generation: number): void {
    if (!this.active || generation !== this.generation) return;
    void this.tick()
      .catch(() => undefined)
      .then((waitMs) => {
        this.timers.after(Math.max(this.intervalMs, waitMs ?? 0), () => this.run(generation));
      });
  }
}

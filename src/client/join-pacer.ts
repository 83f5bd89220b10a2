import type { TimerSet } from './timer-set.js';

/** Sends one join and settles once its answer is in (never rejects); undefined when there was nothing to send. */
export type JoinStart = () => Promise<void> | undefined;

/**
 * Spreads a connection's joins: at most `limit` wait for their answer at once, the next
 * one starts when an answer arrives. A client following many threads joins all of them
 * on every connect, and the server refuses joins past its own concurrency limit; each
 * refusal would cost a round trip and a token of the connection's event budget.
 */
export class JoinPacer {
  private readonly waiting: JoinStart[] = [];
  private running = 0;
  /** Bumped by `reset`, so answers from the previous connection free no slot. */
  private generation = 0;
  private heldUntil = 0;
  private cancelHold: (() => void) | undefined;

  constructor(
    private readonly limit: number,
    private readonly timers: TimerSet,
    private readonly now: () => number = Date.now,
  ) {}

  /** Joins sent and not answered yet. */
  get outstanding(): number {
    return this.running;
  }

  /** Runs `start` in its turn; it decides then whether there is still something to send. */
  enqueue(start: JoinStart): void {
    this.waiting.push(start);
    this.pump();
  }

  /**
   * Starts nothing new for `ms`: the server said it refuses joins that long, and every
   * queued one would be refused as well.
   */
  holdFor(ms: number): void {
    const until = this.now() + ms;
    if (until <= this.heldUntil) return;
    this.heldUntil = until;
    this.cancelHold?.();
    this.cancelHold = this.timers.after(ms, () => {
      this.cancelHold = undefined;
      // Timers may fire a millisecond before the clock says so; the hold is over either way.
      this.heldUntil = 0;
      this.pump();
    });
  }

  /** The connection is gone: the next one queues every thread again, in a fresh budget. */
  reset(): void {
    this.generation += 1;
    this.waiting.length = 0;
    this.running = 0;
    this.heldUntil = 0;
    this.cancelHold?.();
    this.cancelHold = undefined;
  }

  private pump(): void {
    if (this.now() < this.heldUntil) return;
    while (this.running < this.limit) {
      const start = this.waiting.shift();
      if (!start) return;
      const request = start();
      if (!request) continue;
      this.running += 1;
      const generation = this.generation;
      const done = () => {
        if (generation !== this.generation) return;
        this.running -= 1;
        this.pump();
      };
      void request.then(done, done);
    }
  }
}

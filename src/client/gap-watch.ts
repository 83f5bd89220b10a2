import { toClientError, type ThreadRelayClientError } from './client-error.js';
import type { ThreadCursor } from './thread-cursor.js';
import { backoff, type TimerSet } from './timer-set.js';

const MAX_BACKOFF_MS = 10_000;

export interface GapWatchHooks {
  /** Reads the log after the cursor; resolves with how many events it delivered. */
  read(): Promise<{ delivered: number }>;
  error(error: ThreadRelayClientError): void;
}

/**
 * Fills a thread's gaps from its log: waits `gapGraceMs` for reordered events still in
 * flight, and reads history only when the cursor stood still that long. Failed or
 * fruitless reads back off.
 */
export class GapWatch {
  private stopped = false;
  private cancelCheck: (() => void) | undefined;
  private attempts = 0;
  /** The last failed read's `retryAfterMs`: the next one waits at least that long. */
  private retryAfterMs = 0;

  constructor(
    private readonly threadId: string,
    private readonly cursor: ThreadCursor,
    private readonly timers: TimerSet,
    private readonly gapGraceMs: number,
    private readonly hooks: GapWatchHooks,
  ) {}

  /** Plans a read if the cursor has a gap and none is planned yet. */
  check(): void {
    if (this.stopped || this.cancelCheck || !this.cursor.hasGap) return;
    const seen = this.cursor.lastSeq;
    const { gapGraceMs } = this;
    const delay = Math.max(
      backoff(this.attempts, gapGraceMs, Math.max(gapGraceMs, MAX_BACKOFF_MS)),
      this.retryAfterMs,
    );
    this.retryAfterMs = 0;
    this.cancelCheck = this.timers.after(delay, () => {
      this.cancelCheck = undefined;
      if (this.stopped || !this.cursor.hasGap) return;
      if (this.cursor.lastSeq > seen) {
        this.attempts = 0;
        return this.check();
      }
      void this.hooks
        .read()
        .then(
          ({ delivered }) => {
            this.attempts = delivered > 0 ? 0 : this.attempts + 1;
          },
          (error: unknown) => {
            this.attempts += 1;
            const failure = toClientError(
              error,
              'NETWORK',
              `gap in thread ${this.threadId}`,
              this.threadId,
            );
            this.retryAfterMs = failure.retryAfterMs ?? 0;
            this.hooks.error(failure);
          },
        )
        .finally(() => this.check());
    });
  }

  /** Drops the planned read (a reset reloads the whole log instead). */
  cancel(): void {
    this.cancelCheck?.();
    this.cancelCheck = undefined;
  }

  /** The thread is gone: no read is planned again. */
  stop(): void {
    this.stopped = true;
    this.cancel();
  }
}

import type { TimerSet } from './timer-set.js';

/**
 * Sends `true` when the ack went out (or was refused for good, so there is no point in
 * repeating it), `false` when it could not go out now (no socket, not joined): it is
 * then kept and sent by the next flush.
 */
export type AckSender = (threadId: string, seq: number) => Promise<boolean>;

interface ThreadAcks {
  delivered: number;
  acked: number;
  inFlight: Promise<void> | undefined;
}

/**
 * Cumulative delivery acks: one `thread:ack` per thread per batch window carrying the
 * highest delivered seq, and only when it moved since the last one the server answered.
 */
export class AckBatcher {
  private readonly threads = new Map<string, ThreadAcks>();
  private cancelTimer: (() => void) | undefined;

  constructor(
    private readonly windowMs: number,
    private readonly timers: TimerSet,
    private readonly send: AckSender,
  ) {}

  note(threadId: string, seq: number): void {
    let state = this.threads.get(threadId);
    if (!state) {
      state = { delivered: 0, acked: 0, inFlight: undefined };
      this.threads.set(threadId, state);
    }
    if (seq <= state.delivered) return;
    state.delivered = seq;
    this.schedule();
  }

  /** Starts a batch window unless one is open; call when sending became possible again. */
  schedule(): void {
    if (this.cancelTimer) return;
    this.cancelTimer = this.timers.after(this.windowMs, () => {
      this.cancelTimer = undefined;
      for (const threadId of this.threads.keys()) void this.flushThread(threadId);
    });
  }

  /** Sends the thread's outstanding ack now and waits for the answer. */
  async flushThread(threadId: string): Promise<void> {
    const state = this.threads.get(threadId);
    if (!state) return;
    if (state.inFlight) await state.inFlight;
    // The thread may have been forgotten (left, or its log replaced) while waiting.
    if (this.threads.get(threadId) !== state || state.inFlight) return;
    const seq = state.delivered;
    if (seq <= state.acked) return;
    const attempt = this.send(threadId, seq).then(
      (done) => {
        if (!done) return;
        state.acked = Math.max(state.acked, seq);
        // Deliveries during the round trip need their own ack; failures wait for `schedule`.
        if (state.delivered > seq) this.schedule();
      },
      () => undefined,
    );
    state.inFlight = attempt.finally(() => {
      state.inFlight = undefined;
    });
    await state.inFlight;
  }

  /** Forgets the thread, after a leave or when its log was replaced (seqs start over). */
  forget(threadId: string): void {
    this.threads.delete(threadId);
  }

  close(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }
}

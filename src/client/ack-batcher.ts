import type { TimerSet } from './timer-set.js';

/**
 * Sends `true` when the ack went out (or was refused for good, so there is no point in
 * repeating it), `false` when it could not go out now (no socket, not joined): it is
 * then kept and sent by the next flush. With `confirm` it resolves once the server has
 * recorded it (or refused it), not when it left.
 */
export type AckSender = (threadId: string, seq: number, confirm: boolean) => Promise<boolean>;

interface ThreadAcks {
  delivered: number;
  acked: number;
  /** When the last ack of the thread went out (`-Infinity` before the first). */
  sentAt: number;
  inFlight: Promise<void> | undefined;
}

/**
 * Cumulative delivery acks: one `thread:ack` per thread carrying the highest delivered seq,
 * only when it moved since the last one, `windowMs` after a delivery, and no sooner than
 * `intervalMs` after the thread's previous ack. A thread that gets one event now and then
 * is acked `windowMs` after each; a thread streaming events is acked a few times a second
 * instead of once per event, which is what acks cost the server and Redis under load.
 */
export class AckBatcher {
  private readonly threads = new Map<string, ThreadAcks>();
  private cancelTimer: (() => void) | undefined;
  private timerDueAt = Infinity;

  constructor(
    private readonly windowMs: number,
    private readonly intervalMs: number,
    private readonly timers: TimerSet,
    private readonly send: AckSender,
    private readonly now: () => number = Date.now,
  ) {}

  note(threadId: string, seq: number): void {
    let state = this.threads.get(threadId);
    if (!state) {
      state = { delivered: 0, acked: 0, sentAt: -Infinity, inFlight: undefined };
      this.threads.set(threadId, state);
    }
    if (seq <= state.delivered) return;
    state.delivered = seq;
    this.schedule();
  }

  /** Starts a batch window unless one is open; call when sending became possible again. */
  schedule(delayMs = this.windowMs): void {
    const dueAt = this.now() + delayMs;
    if (this.cancelTimer && this.timerDueAt <= dueAt) return;
    this.cancelTimer?.();
    this.timerDueAt = dueAt;
    this.cancelTimer = this.timers.after(delayMs, () => {
      this.cancelTimer = undefined;
      this.timerDueAt = Infinity;
      this.flushDue();
    });
  }

  /**
   * Sends the thread's outstanding ack now, whatever its interval. With `confirm` (before
   * a leave or a close) it waits for the server's answer: socket.io drops a packet that
   * arrives together with the disconnect, so an unanswered last ack could be lost.
   */
  async flushThread(threadId: string, confirm = false): Promise<void> {
    const state = this.threads.get(threadId);
    if (!state) return;
    if (state.inFlight) await state.inFlight;
    // The thread may have been forgotten (left, or its log replaced) while waiting.
    if (this.threads.get(threadId) !== state || state.inFlight) return;
    const seq = state.delivered;
    if (seq <= state.acked) return;
    const previousSentAt = state.sentAt;
    state.sentAt = this.now();
    const attempt = this.send(threadId, seq, confirm).then(
      (done) => {
        if (!done) {
          // It never went out: the next chance to send should not wait an interval for it.
          state.sentAt = previousSentAt;
          return;
        }
        state.acked = Math.max(state.acked, seq);
        // Deliveries while it was on its way need their own ack; failures wait for `schedule`.
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
    this.timerDueAt = Infinity;
  }

  /** Acks every thread whose interval has passed; comes back for the others when theirs has. */
  private flushDue(): void {
    const now = this.now();
    let nextInMs = Infinity;
    for (const [threadId, state] of this.threads) {
      if (state.delivered <= state.acked || state.inFlight) continue;
      const waitMs = state.sentAt + this.intervalMs - now;
      if (waitMs <= 0) void this.flushThread(threadId);
      else nextInMs = Math.min(nextInMs, waitMs);
    }
    if (nextInMs !== Infinity) this.schedule(nextInMs);
  }
}

import { SetsByKey } from '../sets-by-key.js';
import type { ThreadLine } from './thread-line.js';

interface HeadWaiter {
  epoch: string;
  seq: number;
  done(reached: boolean): void;
}

/** Who waits for a thread's line to reach a seq of an epoch (replays, before joining the room). */
export class HeadWaiters {
  private readonly waiting = new SetsByKey<string, HeadWaiter>();

  /**
   * Resolves true once `line` (the thread's, now) reaches `seq` of `epoch`, false after
   * `timeoutMs` or once the thread's line moves to another epoch or goes away (`settle`).
   */
  wait(
    line: ThreadLine | undefined,
    threadId: string,
    epoch: string,
    seq: number,
    timeoutMs: number,
  ): Promise<boolean> {
    if (!line || line.epoch !== epoch) return Promise.resolve(false);
    if (line.head >= seq) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const waiter: HeadWaiter = {
        epoch,
        seq,
        done: (reached) => {
          clearTimeout(timer);
          this.waiting.delete(threadId, waiter);
          resolve(reached);
        },
      };
      const timer = setTimeout(() => waiter.done(false), timeoutMs);
      this.waiting.add(threadId, waiter);
    });
  }

  has(threadId: string): boolean {
    return this.waiting.has(threadId);
  }

  /** Tells the waiters of the thread whose seq `line` reached (or can no longer reach). */
  settle(threadId: string, line: ThreadLine | undefined): void {
    const waiters = this.waiting.get(threadId);
    if (!waiters) return;
    for (const waiter of [...waiters]) {
      if (!line || line.epoch !== waiter.epoch) waiter.done(false);
      else if (line.head >= waiter.seq) waiter.done(true);
    }
  }
}

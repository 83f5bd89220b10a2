import { toError } from '../errors/to-error.js';

/** One (thread, user) cursor raise and everyone waiting for its stored value. */
export interface CursorRaise {
  threadId: string;
  userId: string;
  seq: number;
  /** The log epoch `seq` counts in. */
  epoch: string;
  /** Called once with the cursor as stored after the write, or with the write's error. */
  settle(error: Error | null, cursor: number): void;
}

/** Writes a batch; must call `settle` on every raise exactly once. */
export type CursorRaiseWriter = (raises: CursorRaise[]) => void;

interface Waiter {
  resolve(cursor: number): void;
  reject(error: Error): void;
}

interface Pending {
  seq: number;
  epoch: string;
  waiters: Waiter[];
}

/**
 * Collects the cursor raises asked for during one turn of the event loop and writes them
 * together after its I/O phase. Acks arrive one socket read at a time: written one by one,
 * each costs its own store round trip and write syscall on both ends. Raises of the same
 * (thread, user) and epoch in one batch collapse into the highest seq, which is what a
 * cumulative cursor would store anyway.
 */
export class CursorRaiseBatch {
  private pending = new Map<string, Map<string, Pending>>();
  private scheduled = false;

  constructor(private readonly write: CursorRaiseWriter) {}

  raise(threadId: string, userId: string, seq: number, epoch: string): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      let ofThread = this.pending.get(threadId);
      if (!ofThread) {
        ofThread = new Map();
        this.pending.set(threadId, ofThread);
      }
      const entry = ofThread.get(userId);
      if (entry?.epoch === epoch) {
        entry.seq = Math.max(entry.seq, seq);
        entry.waiters.push({ resolve, reject });
      } else if (entry) {
        // The log changed epoch within the turn: the later raise is the current one.
        Object.assign(entry, { seq, epoch });
        entry.waiters.push({ resolve, reject });
      } else {
        ofThread.set(userId, { seq, epoch, waiters: [{ resolve, reject }] });
      }
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Writes what is pending now instead of after the I/O phase (shutdown). */
  flush(): void {
    this.scheduled = false;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const raises: CursorRaise[] = [];
    for (const [threadId, ofThread] of batch) {
      for (const [userId, { seq, epoch, waiters }] of ofThread) {
        raises.push({
          threadId,
          userId,
          seq,
          epoch,
          settle: (error, cursor) => {
            for (const waiter of waiters) {
              if (error) waiter.reject(error);
              else waiter.resolve(cursor);
            }
          },
        });
      }
    }
    try {
      this.write(raises);
    } catch (error) {
      const failure = toError(error);
      for (const raise of raises) raise.settle(failure, 0);
    }
  }
}

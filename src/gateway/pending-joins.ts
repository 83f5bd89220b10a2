import { SetsByKey } from '../sets-by-key.js';

/** A join between its first store read and the moment it counts as joined. */
export interface PendingJoin {
  readonly threadId: string;
  readonly connectionId: string;
  /** The connection left the thread meanwhile: the join must not complete. */
  cancelled: boolean;
  /** Who may use the thread may have changed meanwhile: check access again before joining. */
  recheck: boolean;
}

/**
 * Joins in progress on this instance, by thread. A change of a thread's access, or a leave,
 * that happens while a join is between its admission and its membership would otherwise be
 * missed by both: the join decided on the old state, and the recheck did not see it yet.
 */
export class PendingJoins {
  private readonly byThread = new SetsByKey<string, PendingJoin>();

  open(threadId: string, connectionId: string): PendingJoin {
    const pending: PendingJoin = { threadId, connectionId, cancelled: false, recheck: false };
    this.byThread.add(threadId, pending);
    return pending;
  }

  close(pending: PendingJoin): void {
    this.byThread.delete(pending.threadId, pending);
  }

  /** Every pending join of the thread checks access again before it completes. */
  flagRecheck(threadId: string): void {
    for (const pending of this.byThread.get(threadId) ?? []) pending.recheck = true;
  }

  /** The connection's pending joins of the thread do not complete. */
  cancel(threadId: string, connectionId: string): void {
    for (const pending of this.byThread.get(threadId) ?? []) {
      if (pending.connectionId === connectionId) pending.cancelled = true;
    }
  }
}

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
  private readonly byThread = new Map<string, Set<PendingJoin>>();

  open(threadId: string, connectionId: string): PendingJoin {
    const pending: PendingJoin = { threadId, connectionId, cancelled: false, recheck: false };
    const set = this.byThread.get(threadId);
    if (set) set.add(pending);
    else this.byThread.set(threadId, new Set([pending]));
    return pending;
  }

  close(pending: PendingJoin): void {
    const set = this.byThread.get(pending.threadId);
    if (!set) return;
    set.delete(pending);
    if (set.size === 0) this.byThread.delete(pending.threadId);
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

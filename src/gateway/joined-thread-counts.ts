/**
 * How many local connections joined each thread, kept as joins and leaves happen, so the
 * `relay_joined_threads` gauge is read in O(1) instead of walking every connection.
 */
export class JoinedThreadCounts {
  private readonly counts = new Map<string, number>();

  add(threadId: string): void {
    this.counts.set(threadId, (this.counts.get(threadId) ?? 0) + 1);
  }

  remove(threadId: string): void {
    const count = this.counts.get(threadId);
    if (count === undefined) return;
    if (count <= 1) this.counts.delete(threadId);
    else this.counts.set(threadId, count - 1);
  }

  /** Distinct threads joined by at least one local connection. */
  get size(): number {
    return this.counts.size;
  }
}

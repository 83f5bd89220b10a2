/**
 * Which local connections joined each thread, kept as joins and leaves happen: the
 * `relay_joined_threads` gauge reads its size in O(1), and a change of a thread's access
 * rechecks only its own members.
 */
export class LocalThreadMembers {
  private readonly members = new Map<string, Set<string>>();

  add(threadId: string, connectionId: string): void {
    const set = this.members.get(threadId);
    if (set) set.add(connectionId);
    else this.members.set(threadId, new Set([connectionId]));
  }

  remove(threadId: string, connectionId: string): void {
    const set = this.members.get(threadId);
    if (!set) return;
    set.delete(connectionId);
    if (set.size === 0) this.members.delete(threadId);
  }

  of(threadId: string): string[] {
    return [...(this.members.get(threadId) ?? [])];
  }

  threads(): string[] {
    return [...this.members.keys()];
  }

  /** Distinct threads joined by at least one local connection. */
  get size(): number {
    return this.members.size;
  }
}

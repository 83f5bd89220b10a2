import { SetsByKey } from '../sets-by-key.js';

/**
 * Which local connections joined each thread, kept as joins and leaves happen: the
 * `relay_joined_threads` gauge reads its size in O(1), and a change of a thread's access
 * rechecks only its own members.
 */
export class LocalThreadMembers {
  private readonly members = new SetsByKey<string, string>();

  add(threadId: string, connectionId: string): void {
    this.members.add(threadId, connectionId);
  }

  remove(threadId: string, connectionId: string): void {
    this.members.delete(threadId, connectionId);
  }

  of(threadId: string): string[] {
    return [...(this.members.get(threadId) ?? [])];
  }

  threads(): string[] {
    return this.members.keys();
  }

  /** Distinct threads joined by at least one local connection. */
  get size(): number {
    return this.members.keyCount;
  }
}

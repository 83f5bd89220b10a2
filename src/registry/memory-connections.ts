import type { ConnectionRecord, Page } from './registry.types.js';
import type { ConnectionLimits } from './registry-store.interface.js';
import { page } from './memory-paging.js';
import { SetsByKey } from '../sets-by-key.js';

interface StoredConnection {
  /** Position in the listing order; see `page`. */
  order: number;
  record: Omit<ConnectionRecord, 'threads'>;
  threads: Set<string>;
}

/**
 * The connections and instances of the in-process registry, with the indexes by thread,
 * user and instance that the module reads. Synchronous: the store wraps each answer.
 */
export class MemoryConnections {
  private readonly connections = new Map<string, StoredConnection>();
  private readonly threadConns = new SetsByKey<string, string>();
  private readonly userConns = new SetsByKey<string, string>();
  private readonly instanceConns = new SetsByKey<string, string>();
  /** instanceId -> time its heartbeat lapses. */
  private readonly instances = new Map<string, number>();

  constructor(
    private readonly now: () => number,
    private readonly nextOrder: () => number,
  ) {}

  put(record: ConnectionRecord, limits: ConnectionLimits = {}): boolean {
    const previous = this.connections.get(record.connectionId);
    const held = this.userConns.get(record.userId)?.size ?? 0;
    if (!previous && limits.maxPerUser !== undefined && held >= limits.maxPerUser) {
      return false;
    }
    // A replaced record must not leave its old user, instance or threads pointing at it.
    if (previous) this.unindex(record.connectionId, previous);
    const { threads, ...rest } = record;
    const stored: StoredConnection = {
      order: previous?.order ?? this.nextOrder(),
      record: { ...rest },
      threads: new Set(threads),
    };
    this.connections.set(record.connectionId, stored);
    this.userConns.add(record.userId, record.connectionId);
    this.instanceConns.add(record.instanceId, record.connectionId);
    for (const threadId of stored.threads) this.threadConns.add(threadId, record.connectionId);
    return true;
  }

  get(connectionId: string): ConnectionRecord | null {
    const stored = this.connections.get(connectionId);
    return stored ? copyConnection(stored) : null;
  }

  touch(connectionId: string, lastSeenAt: number, transport?: string): void {
    const stored = this.connections.get(connectionId);
    if (stored) {
      stored.record.lastSeenAt = lastSeenAt;
      if (transport !== undefined) stored.record.transport = transport;
    }
  }

  delete(connectionId: string): boolean {
    const stored = this.connections.get(connectionId);
    if (!stored) return false;
    this.unindex(connectionId, stored);
    this.connections.delete(connectionId);
    return true;
  }

  addThread(connectionId: string, threadId: string): void {
    const stored = this.connections.get(connectionId);
    // Joining after the connection was removed would leave a ghost in the thread index.
    if (stored) {
      stored.threads.add(threadId);
      this.threadConns.add(threadId, connectionId);
    }
  }

  removeThread(connectionId: string, threadId: string): void {
    this.connections.get(connectionId)?.threads.delete(threadId);
    this.threadConns.delete(threadId, connectionId);
  }

  ofThread(threadId: string): string[] {
    return [...(this.threadConns.get(threadId) ?? [])];
  }

  countOfThread(threadId: string): number {
    return this.threadConns.get(threadId)?.size ?? 0;
  }

  ofUser(userId: string): string[] {
    return [...(this.userConns.get(userId) ?? [])];
  }

  ofInstance(instanceId: string): string[] {
    return [...(this.instanceConns.get(instanceId) ?? [])];
  }

  list(cursor: string | null, limit: number): Page<ConnectionRecord> {
    return page(this.connections, cursor, limit, copyConnection);
  }

  heartbeat(instanceId: string, ttlMs: number): void {
    this.instances.set(instanceId, this.now() + ttlMs);
  }

  deadInstances(): string[] {
    const now = this.now();
    const dead: string[] = [];
    for (const [instanceId, lapsesAt] of this.instances) {
      if (lapsesAt <= now) dead.push(instanceId);
    }
    return dead;
  }

  removeInstance(instanceId: string): number {
    let removed = 0;
    for (const connectionId of [...(this.instanceConns.get(instanceId) ?? [])]) {
      const stored = this.connections.get(connectionId);
      if (!stored) continue;
      this.unindex(connectionId, stored);
      this.connections.delete(connectionId);
      removed += 1;
    }
    this.instanceConns.deleteKey(instanceId);
    this.instances.delete(instanceId);
    return removed;
  }

  private unindex(connectionId: string, stored: StoredConnection): void {
    this.userConns.delete(stored.record.userId, connectionId);
    this.instanceConns.delete(stored.record.instanceId, connectionId);
    for (const threadId of stored.threads) this.threadConns.delete(threadId, connectionId);
  }
}

function copyConnection(stored: StoredConnection): ConnectionRecord {
  return { ...stored.record, threads: [...stored.threads] };
}

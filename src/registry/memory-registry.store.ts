import { BadRequestError } from '../errors/bad-request.error.js';
import type { RegistryStore } from './registry-store.interface.js';
import type { ClaimResult, ConnectionRecord, Page, ThreadRecord } from './registry.types.js';

export interface MemoryRegistryStoreOptions {
  /** Clock for instance liveness; tests inject a fake one instead of waiting. */
  now?: () => number;
}

interface StoredConnection {
  /** Position in the listing order; see `page`. */
  order: number;
  record: Omit<ConnectionRecord, 'threads'>;
  threads: Set<string>;
}

interface StoredThread {
  order: number;
  record: ThreadRecord;
}

/**
 * The registry of one process. Every method finishes synchronously before its promise
 * resolves, so claims and cursor raises are atomic without locks. Liveness is kept by
 * timestamps, like the Redis store's TTL keys, so both pass the same contract suite.
 */
export class MemoryRegistryStore implements RegistryStore {
  private readonly now: () => number;
  private nextOrder = 1;

  private readonly threads = new Map<string, StoredThread>();
  private readonly userThreads = new Map<string, Set<string>>();
  private readonly runs = new Map<string, string>();
  private readonly threadRuns = new Map<string, Set<string>>();
  private readonly connections = new Map<string, StoredConnection>();
  private readonly threadConns = new Map<string, Set<string>>();
  private readonly userConns = new Map<string, Set<string>>();
  private readonly instanceConns = new Map<string, Set<string>>();
  /** instanceId -> time its heartbeat lapses. */
  private readonly instances = new Map<string, number>();
  /** threadId -> userId -> delivered cursor and the log epoch it counts in. */
  private readonly delivered = new Map<string, Map<string, { epoch: string; seq: number }>>();

  constructor(options: MemoryRegistryStoreOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  claimThread(record: ThreadRecord): Promise<ClaimResult> {
    const existing = this.threads.get(record.threadId);
    if (existing) return Promise.resolve({ created: false, record: copyThread(existing.record) });
    const stored = copyThread(record);
    this.threads.set(record.threadId, { order: this.nextOrder++, record: stored });
    addTo(this.userThreads, record.ownerId, record.threadId);
    return Promise.resolve({ created: true, record: copyThread(stored) });
  }

  getThread(threadId: string): Promise<ThreadRecord | null> {
    const stored = this.threads.get(threadId);
    return Promise.resolve(stored ? copyThread(stored.record) : null);
  }

  deleteThread(threadId: string): Promise<boolean> {
    const stored = this.threads.get(threadId);
    if (!stored) return Promise.resolve(false);
    this.threads.delete(threadId);
    removeFrom(this.userThreads, stored.record.ownerId, threadId);
    for (const runId of this.threadRuns.get(threadId) ?? []) this.runs.delete(runId);
    this.threadRuns.delete(threadId);
    // A thread registered again later starts a new log; old cursors would claim acks it never had.
    this.delivered.delete(threadId);
    return Promise.resolve(true);
  }

  listThreads(cursor: string | null, limit: number): Promise<Page<ThreadRecord>> {
    return settle(() => page(this.threads, cursor, limit, (s) => copyThread(s.record)));
  }

  threadsOfUser(userId: string): Promise<string[]> {
    return Promise.resolve([...(this.userThreads.get(userId) ?? [])]);
  }

  putRun(runId: string, threadId: string): Promise<string> {
    const existing = this.runs.get(runId);
    if (existing !== undefined) return Promise.resolve(existing);
    this.runs.set(runId, threadId);
    addTo(this.threadRuns, threadId, runId);
    return Promise.resolve(threadId);
  }

  getRunThread(runId: string): Promise<string | null> {
    return Promise.resolve(this.runs.get(runId) ?? null);
  }

  runsOfThread(threadId: string): Promise<string[]> {
    return Promise.resolve([...(this.threadRuns.get(threadId) ?? [])]);
  }

  deleteRun(runId: string): Promise<boolean> {
    const threadId = this.runs.get(runId);
    if (threadId === undefined) return Promise.resolve(false);
    this.runs.delete(runId);
    removeFrom(this.threadRuns, threadId, runId);
    return Promise.resolve(true);
  }

  putConnection(record: ConnectionRecord): Promise<void> {
    const previous = this.connections.get(record.connectionId);
    // A replaced record must not leave its old user, instance or threads pointing at it.
    if (previous) this.unindex(record.connectionId, previous);
    const { threads, ...rest } = record;
    const stored: StoredConnection = {
      order: previous?.order ?? this.nextOrder++,
      record: { ...rest },
      threads: new Set(threads),
    };
    this.connections.set(record.connectionId, stored);
    addTo(this.userConns, record.userId, record.connectionId);
    addTo(this.instanceConns, record.instanceId, record.connectionId);
    for (const threadId of stored.threads) addTo(this.threadConns, threadId, record.connectionId);
    return Promise.resolve();
  }

  getConnection(connectionId: string): Promise<ConnectionRecord | null> {
    const stored = this.connections.get(connectionId);
    return Promise.resolve(stored ? copyConnection(stored) : null);
  }

  touchConnection(connectionId: string, lastSeenAt: number, transport?: string): Promise<void> {
    const stored = this.connections.get(connectionId);
    if (stored) {
      stored.record.lastSeenAt = lastSeenAt;
      if (transport !== undefined) stored.record.transport = transport;
    }
    return Promise.resolve();
  }

  deleteConnection(connectionId: string): Promise<boolean> {
    const stored = this.connections.get(connectionId);
    if (!stored) return Promise.resolve(false);
    this.unindex(connectionId, stored);
    this.connections.delete(connectionId);
    return Promise.resolve(true);
  }

  addConnectionThread(connectionId: string, threadId: string): Promise<void> {
    const stored = this.connections.get(connectionId);
    // Joining after the connection was removed would leave a ghost in the thread index.
    if (stored) {
      stored.threads.add(threadId);
      addTo(this.threadConns, threadId, connectionId);
    }
    return Promise.resolve();
  }

  removeConnectionThread(connectionId: string, threadId: string): Promise<void> {
    this.connections.get(connectionId)?.threads.delete(threadId);
    removeFrom(this.threadConns, threadId, connectionId);
    return Promise.resolve();
  }

  connectionsOfThread(threadId: string): Promise<string[]> {
    return Promise.resolve([...(this.threadConns.get(threadId) ?? [])]);
  }

  countConnectionsOfThread(threadId: string): Promise<number> {
    return Promise.resolve(this.threadConns.get(threadId)?.size ?? 0);
  }

  connectionsOfUser(userId: string): Promise<string[]> {
    return Promise.resolve([...(this.userConns.get(userId) ?? [])]);
  }

  connectionsOfInstance(instanceId: string): Promise<string[]> {
    return Promise.resolve([...(this.instanceConns.get(instanceId) ?? [])]);
  }

  listConnections(cursor: string | null, limit: number): Promise<Page<ConnectionRecord>> {
    return settle(() => page(this.connections, cursor, limit, copyConnection));
  }

  heartbeatInstance(instanceId: string, ttlMs: number): Promise<void> {
    this.instances.set(instanceId, this.now() + ttlMs);
    return Promise.resolve();
  }

  deadInstances(): Promise<string[]> {
    const now = this.now();
    const dead: string[] = [];
    for (const [instanceId, lapsesAt] of this.instances) {
      if (lapsesAt <= now) dead.push(instanceId);
    }
    return Promise.resolve(dead);
  }

  removeInstance(instanceId: string): Promise<number> {
    let removed = 0;
    for (const connectionId of [...(this.instanceConns.get(instanceId) ?? [])]) {
      const stored = this.connections.get(connectionId);
      if (!stored) continue;
      this.unindex(connectionId, stored);
      this.connections.delete(connectionId);
      removed += 1;
    }
    this.instanceConns.delete(instanceId);
    this.instances.delete(instanceId);
    return Promise.resolve(removed);
  }

  recordDelivered(threadId: string, userId: string, seq: number, epoch: string): Promise<number> {
    let cursors = this.delivered.get(threadId);
    if (!cursors) {
      cursors = new Map();
      this.delivered.set(threadId, cursors);
    }
    const current = cursors.get(userId);
    if (current?.epoch === epoch && current.seq >= seq) return Promise.resolve(current.seq);
    cursors.set(userId, { epoch, seq });
    return Promise.resolve(seq);
  }

  deliveredCursors(threadId: string, epoch: string): Promise<Record<string, number>> {
    const cursors: Record<string, number> = {};
    for (const [userId, cursor] of this.delivered.get(threadId) ?? []) {
      if (cursor.epoch === epoch) cursors[userId] = cursor.seq;
    }
    return Promise.resolve(cursors);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private unindex(connectionId: string, stored: StoredConnection): void {
    removeFrom(this.userConns, stored.record.userId, connectionId);
    removeFrom(this.instanceConns, stored.record.instanceId, connectionId);
    for (const threadId of stored.threads) removeFrom(this.threadConns, threadId, connectionId);
  }
}

/**
 * The cursor is the `order` of the last item returned, not an offset, so removing items
 * between pages never makes a later page skip one that is still there. Maps iterate in
 * insertion order and `order` only grows, so the scan resumes where it stopped.
 */
function page<S extends { order: number }, T>(
  source: Map<string, S>,
  cursor: string | null,
  limit: number,
  project: (stored: S) => T,
): Page<T> {
  const after = parseCursor(cursor);
  const size = Math.max(1, Math.floor(limit));
  const items: T[] = [];
  let last = after;
  let more = false;
  for (const stored of source.values()) {
    if (stored.order <= after) continue;
    if (items.length === size) {
      more = true;
      break;
    }
    items.push(project(stored));
    last = stored.order;
  }
  return { items, nextCursor: more ? String(last) : null };
}

function parseCursor(cursor: string | null): number {
  if (cursor === null || cursor === '0') return 0;
  if (!/^\d{1,15}$/.test(cursor))
    throw new BadRequestError(`Invalid page cursor ${JSON.stringify(cursor.slice(0, 40))}`);
  return Number(cursor);
}

/** Turns a throw into a rejection, as an async store would report it. */
function settle<T>(compute: () => T): Promise<T> {
  return new Promise((resolve) => resolve(compute()));
}

function addTo(index: Map<string, Set<string>>, key: string, value: string): void {
  const set = index.get(key);
  if (set) set.add(value);
  else index.set(key, new Set([value]));
}

function removeFrom(index: Map<string, Set<string>>, key: string, value: string): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) index.delete(key);
}

function copyThread(record: ThreadRecord): ThreadRecord {
  return { ...record, metadata: { ...record.metadata } };
}

function copyConnection(stored: StoredConnection): ConnectionRecord {
  return { ...stored.record, threads: [...stored.threads] };
}

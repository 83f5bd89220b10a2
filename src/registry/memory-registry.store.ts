import type * as Store from './registry-store.interface.js';
import type { ConnectionRecord, Page } from './registry.types.js';
import type { ThreadRecord } from '../thread-record.js';
import { MemoryConnections } from './memory-connections.js';
import { done, page, settle } from './memory-paging.js';
import { SetsByKey } from '../sets-by-key.js';

export interface MemoryRegistryStoreOptions {
  /** Clock for liveness and leases; tests inject a fake one instead of waiting. */
  now?: () => number;
  /**
   * Called synchronously when a claim creates a thread, before anyone can use it: the
   * module drops the in-memory log of an earlier thread under the same id there.
   */
  onThreadCreated?: (threadId: string) => void;
}

interface StoredThread {
  order: number;
  record: ThreadRecord;
  /** Clock time the lease runs out; null for a permanent thread. */
  leaseUntil: number | null;
}

/**
 * The registry of one process. Every method finishes synchronously before its promise
 * resolves, so claims and cursor raises are atomic without locks. Liveness and leases are
 * kept by timestamps, like the Redis store's TTL keys, so both pass the same contract suite.
 */
export class MemoryRegistryStore implements Store.RegistryStore {
  private readonly now: () => number;
  private readonly onThreadCreated: (threadId: string) => void;
  private nextOrder = 1;

  private readonly threads = new Map<string, StoredThread>();
  private readonly userThreads = new SetsByKey<string, string>();
  /** Leased (auto-registered) threads per owner, for the per-user cap. */
  private readonly userLeased = new SetsByKey<string, string>();
  private readonly leased = new Set<string>();
  private readonly runs = new Map<string, string>();
  private readonly threadRuns = new SetsByKey<string, string>();
  /** threadId -> userId -> delivered cursor and the log epoch it counts in. */
  private readonly delivered = new Map<string, Map<string, { epoch: string; seq: number }>>();
  private readonly connections: MemoryConnections;

  constructor(options: MemoryRegistryStoreOptions = {}) {
    this.now = options.now ?? Date.now;
    this.onThreadCreated = options.onThreadCreated ?? (() => undefined);
    this.connections = new MemoryConnections(this.now, () => this.nextOrder++);
  }

  claimThread(record: ThreadRecord, lease?: Store.ThreadLease): Promise<Store.ClaimResult> {
    const runThread = this.runs.get(record.threadId);
    if (runThread !== undefined) return done({ outcome: 'run_id', threadId: runThread });
    const existing = this.liveThread(record.threadId);
    if (existing) {
      if (existing.record.ownerId === record.ownerId && existing.leaseUntil !== null) {
        if (lease) this.extend(existing, lease.ttlSeconds);
        else this.adopt(existing);
      }
      return done({ outcome: 'existing', record: copyThread(existing.record) });
    }
    if (lease && this.liveLeasedOf(record.ownerId) >= lease.maxPerUser) {
      return done({ outcome: 'limit', limit: lease.maxPerUser });
    }
    const stored: StoredThread = {
      order: this.nextOrder++,
      record: copyThread(record),
      leaseUntil: lease ? this.now() + lease.ttlSeconds * 1000 : null,
    };
    if (lease) stored.record.autoRegistered = true;
    else delete stored.record.autoRegistered;
    // Nothing an earlier thread under this id left behind belongs to the new one.
    this.delivered.delete(record.threadId);
    this.onThreadCreated(record.threadId);
    this.threads.set(record.threadId, stored);
    this.userThreads.add(record.ownerId, record.threadId);
    if (lease) {
      this.userLeased.add(record.ownerId, record.threadId);
      this.leased.add(record.threadId);
    }
    return done({ outcome: 'created', record: copyThread(stored.record) });
  }

  getThread(threadId: string): Promise<ThreadRecord | null> {
    const stored = this.liveThread(threadId);
    return done(stored ? copyThread(stored.record) : null);
  }

  touchThread(threadId: string, ttlSeconds: number): Promise<void> {
    const stored = this.liveThread(threadId);
    if (stored && stored.leaseUntil !== null) this.extend(stored, ttlSeconds);
    return done(undefined);
  }

  deleteThread(threadId: string): Promise<boolean> {
    const stored = this.liveThread(threadId);
    if (!stored) return done(false);
    this.forget(threadId, stored);
    return done(true);
  }

  listThreads(cursor: string | null, limit: number): Promise<Page<ThreadRecord>> {
    this.expireDue();
    return settle(() => page(this.threads, cursor, limit, (s) => copyThread(s.record)));
  }

  threadsOfUser(userId: string): Promise<string[]> {
    const ids = [...(this.userThreads.get(userId) ?? [])];
    return done(ids.filter((id) => this.liveThread(id) !== undefined));
  }

  sweepExpiredThreads(): Promise<string[]> {
    return done(this.expireDue());
  }

  putRun(runId: string, threadId: string): Promise<Store.RunClaim> {
    if (this.liveThread(runId)) return done({ outcome: 'thread_id' });
    const existing = this.runs.get(runId);
    if (existing !== undefined) return done({ outcome: 'mapped', threadId: existing });
    this.runs.set(runId, threadId);
    this.threadRuns.add(threadId, runId);
    return done({ outcome: 'mapped', threadId });
  }

  getRunThread(runId: string): Promise<string | null> {
    return done(this.runs.get(runId) ?? null);
  }

  lookupId(id: string): Promise<Store.IdLookup> {
    const runThread = this.runs.get(id);
    if (runThread !== undefined) return done({ kind: 'run', threadId: runThread });
    return done(this.liveThread(id) ? { kind: 'thread' } : null);
  }

  runsOfThread(threadId: string): Promise<string[]> {
    return done([...(this.threadRuns.get(threadId) ?? [])]);
  }

  deleteRun(runId: string): Promise<boolean> {
    const threadId = this.runs.get(runId);
    if (threadId === undefined) return done(false);
    this.runs.delete(runId);
    this.threadRuns.delete(threadId, runId);
    return done(true);
  }

  putConnection(record: ConnectionRecord, limits: Store.ConnectionLimits = {}): Promise<boolean> {
    return done(this.connections.put(record, limits));
  }

  getConnection(connectionId: string): Promise<ConnectionRecord | null> {
    return done(this.connections.get(connectionId));
  }

  touchConnection(connectionId: string, lastSeenAt: number, transport?: string): Promise<void> {
    return done(this.connections.touch(connectionId, lastSeenAt, transport));
  }

  deleteConnection(connectionId: string): Promise<boolean> {
    return done(this.connections.delete(connectionId));
  }

  addConnectionThread(connectionId: string, threadId: string): Promise<void> {
    return done(this.connections.addThread(connectionId, threadId));
  }

  removeConnectionThread(connectionId: string, threadId: string): Promise<void> {
    return done(this.connections.removeThread(connectionId, threadId));
  }

  connectionsOfThread(threadId: string): Promise<string[]> {
    return done(this.connections.ofThread(threadId));
  }

  countConnectionsOfThread(threadId: string): Promise<number> {
    return done(this.connections.countOfThread(threadId));
  }

  connectionsOfUser(userId: string): Promise<string[]> {
    return done(this.connections.ofUser(userId));
  }

  connectionsOfInstance(instanceId: string): Promise<string[]> {
    return done(this.connections.ofInstance(instanceId));
  }

  listConnections(cursor: string | null, limit: number): Promise<Page<ConnectionRecord>> {
    return settle(() => this.connections.list(cursor, limit));
  }

  heartbeatInstance(instanceId: string, ttlMs: number): Promise<void> {
    return done(this.connections.heartbeat(instanceId, ttlMs));
  }

  deadInstances(): Promise<string[]> {
    return done(this.connections.deadInstances());
  }

  removeInstance(instanceId: string): Promise<number> {
    return done(this.connections.removeInstance(instanceId));
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

  /** The thread if it exists and its lease (if any) has not run out; an expired one is forgotten now. */
  private liveThread(threadId: string): StoredThread | undefined {
    const stored = this.threads.get(threadId);
    if (stored && stored.leaseUntil !== null && stored.leaseUntil <= this.now()) {
      this.forget(threadId, stored);
      return undefined;
    }
    return stored;
  }

  private liveLeasedOf(userId: string): number {
    let live = 0;
    for (const threadId of [...(this.userLeased.get(userId) ?? [])]) {
      if (this.liveThread(threadId)) live += 1;
    }
    return live;
  }

  private extend(stored: StoredThread, ttlSeconds: number): void {
    const until = this.now() + ttlSeconds * 1000;
    if (stored.leaseUntil !== null && until > stored.leaseUntil) stored.leaseUntil = until;
  }

  private adopt(stored: StoredThread): void {
    stored.leaseUntil = null;
    delete stored.record.autoRegistered;
    this.leased.delete(stored.record.threadId);
    this.userLeased.delete(stored.record.ownerId, stored.record.threadId);
  }

  private expireDue(): string[] {
    const expired: string[] = [];
    for (const threadId of [...this.leased]) {
      const stored = this.threads.get(threadId);
      if (stored && !this.liveThread(threadId)) expired.push(threadId);
    }
    return expired;
  }

  /** Removes a thread with everything that hangs off it; connections keep their joins. */
  private forget(threadId: string, stored: StoredThread): void {
    this.threads.delete(threadId);
    this.leased.delete(threadId);
    this.userThreads.delete(stored.record.ownerId, threadId);
    this.userLeased.delete(stored.record.ownerId, threadId);
    for (const runId of this.threadRuns.get(threadId) ?? []) this.runs.delete(runId);
    this.threadRuns.deleteKey(threadId);
    // A thread registered again later starts a new log; old cursors would claim acks it never had.
    this.delivered.delete(threadId);
  }
}

function copyThread(record: ThreadRecord): ThreadRecord {
  return { ...record, metadata: { ...record.metadata } };
}

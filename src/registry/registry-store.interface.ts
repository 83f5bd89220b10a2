import type { ClaimResult, ConnectionRecord, Page, ThreadRecord } from './registry.types.js';

/**
 * Where the registry keeps threads, runs, connections, instances and delivered cursors.
 * Implementations: `MemoryRegistryStore` (one process) and `RedisRegistryStore`
 * (shared by every instance). Both pass `describeRegistryStore`. Inputs are already
 * validated by `ThreadRegistryService`; stores do not re-check ids.
 */
export interface RegistryStore {
  /** Sets the owner once, atomically: a second claim returns the existing record with `created: false`. */
  claimThread(record: ThreadRecord): Promise<ClaimResult>;
  getThread(threadId: string): Promise<ThreadRecord | null>;
  /** Removes the thread, its runs and its owner index entry. Returns false when it did not exist. */
  deleteThread(threadId: string): Promise<boolean>;
  listThreads(cursor: string | null, limit: number): Promise<Page<ThreadRecord>>;
  threadsOfUser(userId: string): Promise<string[]>;

  /** Maps run -> thread once; returns the thread the run is mapped to after the call (the existing one if it was set already). */
  putRun(runId: string, threadId: string): Promise<string>;
  getRunThread(runId: string): Promise<string | null>;
  runsOfThread(threadId: string): Promise<string[]>;
  deleteRun(runId: string): Promise<boolean>;

  putConnection(record: ConnectionRecord): Promise<void>;
  getConnection(connectionId: string): Promise<ConnectionRecord | null>;
  /** Updates `lastSeenAt`, and `transport` when given (after an upgrade); a missing connection stays missing. */
  touchConnection(connectionId: string, lastSeenAt: number, transport?: string): Promise<void>;
  /** Removes the connection and every index that names it. Returns false when it did not exist. */
  deleteConnection(connectionId: string): Promise<boolean>;
  addConnectionThread(connectionId: string, threadId: string): Promise<void>;
  removeConnectionThread(connectionId: string, threadId: string): Promise<void>;
  connectionsOfThread(threadId: string): Promise<string[]>;
  countConnectionsOfThread(threadId: string): Promise<number>;
  connectionsOfUser(userId: string): Promise<string[]>;
  connectionsOfInstance(instanceId: string): Promise<string[]>;
  listConnections(cursor: string | null, limit: number): Promise<Page<ConnectionRecord>>;

  /** Marks the instance alive for `ttlMs`. */
  heartbeatInstance(instanceId: string, ttlMs: number): Promise<void>;
  /** Instances that registered once and whose heartbeat has lapsed. */
  deadInstances(): Promise<string[]>;
  /** Forgets the instance and deletes every connection it held; returns how many. */
  removeInstance(instanceId: string): Promise<number>;

  /**
   * Raises the delivered cursor of (thread, user) to `seq` of log `epoch`: upward within an
   * epoch, while a cursor of another epoch is replaced (the caller made sure `epoch` is the
   * log's current one). Returns the cursor after the call.
   */
  recordDelivered(threadId: string, userId: string, seq: number, epoch: string): Promise<number>;
  /** Delivered cursors per user in log `epoch`; cursors of other epochs are left out. */
  deliveredCursors(threadId: string, epoch: string): Promise<Record<string, number>>;

  /** Releases what the store created (not clients passed in by the user). */
  close(): Promise<void>;
}

export const REGISTRY_STORE = Symbol('REGISTRY_STORE');

import type { ConnectionRecord, Page } from './registry.types.js';
import type { ThreadRecord } from '../thread-record.js';

/**
 * Where the registry keeps threads, runs, connections, instances and delivered cursors.
 * Implementations: `MemoryRegistryStore` (one process) and `RedisRegistryStore`
 * (shared by every instance). Both pass `describeRegistryStore`. Inputs are already
 * validated by `ThreadRegistryService`; stores do not re-check ids.
 *
 * An id is a thread or a run, never both: `claimThread` refuses a registered run's id and
 * `putRun` a registered thread's, each decided atomically with the other.
 */
export interface RegistryStore {
  /**
   * Sets the owner once, atomically. With `lease` the claim is an auto-registration: it
   * counts against the owner's cap and expires `lease.ttlSeconds` after its last use; a
   * repeated leased claim by the owner renews it. Without `lease` the thread is permanent,
   * and a permanent claim by the owner of a leased thread makes it permanent (adopts it).
   * A new thread starts clean: runs, cursors and whatever `onThreadCreated` clears (the
   * log) of an earlier thread under the same id are gone.
   */
  claimThread(record: ThreadRecord, lease?: ThreadLease): Promise<ClaimResult>;
  /** Null for unknown and expired threads. */
  getThread(threadId: string): Promise<ThreadRecord | null>;
  /** Extends a leased thread's life to `ttlSeconds` from now; permanent or missing threads are left alone. */
  touchThread(threadId: string, ttlSeconds: number): Promise<void>;
  /** Removes the thread, its runs, its cursors and its owner index entries. Returns false when it did not exist. */
  deleteThread(threadId: string): Promise<boolean>;
  listThreads(cursor: string | null, limit: number): Promise<Page<ThreadRecord>>;
  threadsOfUser(userId: string): Promise<string[]>;
  /**
   * Forgets leased threads whose lease ran out (their index entries, runs and cursors);
   * returns their ids. Bounded work per call; callers repeat it periodically.
   */
  sweepExpiredThreads(): Promise<string[]>;

  /** Maps run -> thread once (an earlier mapping wins); refuses an id that is a registered thread. */
  putRun(runId: string, threadId: string): Promise<RunClaim>;
  getRunThread(runId: string): Promise<string | null>;
  /** Whether `id` is a registered thread, a registered run (and of which thread), or nothing. */
  lookupId(id: string): Promise<IdLookup>;
  runsOfThread(threadId: string): Promise<string[]>;
  deleteRun(runId: string): Promise<boolean>;

  /**
   * Stores the connection; with `limits.maxPerUser`, atomically refuses (returns false,
   * stores nothing) a new connection of a user who already holds that many.
   */
  putConnection(record: ConnectionRecord, limits?: ConnectionLimits): Promise<boolean>;
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

/** How an auto-registration is bounded: it expires when unused and counts against the owner's cap. */
export interface ThreadLease {
  /** The thread expires this long after its last use (claim, touch). */
  ttlSeconds: number;
  /** Most live auto-registered threads one user may own. */
  maxPerUser: number;
}

export type ClaimResult =
  /** `created`: this call registered it; `existing`: it was registered already (by anyone). */
  | { outcome: 'created' | 'existing'; record: ThreadRecord }
  /** The id is a registered run (of `threadId`): ids are threads or runs, never both. */
  | { outcome: 'run_id'; threadId: string }
  /** A leased claim when the owner already has `limit` live auto-registered threads. */
  | { outcome: 'limit'; limit: number };

export type RunClaim =
  /** The run maps to `threadId` after the call (an earlier mapping wins). */
  | { outcome: 'mapped'; threadId: string }
  /** The run id is a registered thread id. */
  | { outcome: 'thread_id' };

/** What an id names in the registry, read in one step. */
export type IdLookup = { kind: 'thread' } | { kind: 'run'; threadId: string } | null;

export interface ConnectionLimits {
  /** Most connections one user may hold at once, over every instance; absent = no cap. */
  maxPerUser?: number;
}

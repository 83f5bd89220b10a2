import type { RedisClient } from './redis-client.js';
import { RedisKeys } from './redis-keys.js';
import { RedisConnectionRecords } from './redis-registry.connections.js';
import { RedisDeliveredCursors, type CursorAnnouncements } from './redis-registry.cursors.js';
import { RedisInstances } from './redis-registry.instances.js';
import { RedisLeaseSweep } from './redis-registry.lease-sweep.js';
import { RedisRegistryListings } from './redis-registry.listings.js';
import { RedisRuns } from './redis-registry.runs.js';
import { RedisThreads } from './redis-registry.threads.js';
import type * as Store from '../registry/registry-store.interface.js';
import type { ConnectionRecord, Page } from '../registry/registry.types.js';
import type { ThreadRecord } from '../thread-record.js';

export interface RedisRegistryStoreOptions {
  /** Cursors live this long after their last raise: as long as the log they count (default 1 day). */
  deliveredTtlSeconds?: number;
  /**
   * Keys of the thread's slot that a new thread must not inherit from an earlier one under
   * the same id (the module passes the message log's keys); deleted in the claim itself.
   */
  threadDataKeys?: (threadId: string) => string[];
  /** Leased threads examined per sweep (default 200). */
  sweepBatch?: number;
  /** Where each cursor raise is published, in the raise itself (producers wait on it). */
  announceCursors?: CursorAnnouncements;
}

/**
 * The registry shared by every instance. The per-id keys decide (a thread's hash, a run's
 * key, in the same slot for the same id, so one script keeps ids one meaning); the global
 * hashes and per-user sets are indexes written after the decision. Key layout and who
 * removes each key: `redis-keys.ts`.
 *
 * Each concern is its own object over the same client and key layout (threads, runs,
 * lease sweep, connections, instances, delivered cursors, listings); this class is the
 * `RegistryStore` that hands each call to its concern.
 */
export class RedisRegistryStore implements Store.RegistryStore {
  private readonly threads: RedisThreads;
  private readonly runs: RedisRuns;
  private readonly leaseSweep: RedisLeaseSweep;
  private readonly connections: RedisConnectionRecords;
  private readonly instances: RedisInstances;
  private readonly cursors: RedisDeliveredCursors;
  private readonly listings: RedisRegistryListings;

  constructor(client: RedisClient, keyPrefix = '', options: RedisRegistryStoreOptions = {}) {
    const keys = new RedisKeys(keyPrefix);
    this.runs = new RedisRuns(client, keys);
    this.threads = new RedisThreads(client, keys, this.runs, options.threadDataKeys ?? (() => []));
    this.leaseSweep = new RedisLeaseSweep(client, keys, this.threads, options.sweepBatch ?? 200);
    this.connections = new RedisConnectionRecords(client, keys);
    this.instances = new RedisInstances(client, keys, this.connections);
    this.cursors = new RedisDeliveredCursors(
      client,
      keys,
      options.deliveredTtlSeconds ?? 86_400,
      options.announceCursors,
    );
    this.listings = new RedisRegistryListings(client, keys, this.connections);
  }

  claimThread(record: ThreadRecord, lease?: Store.ThreadLease): Promise<Store.ClaimResult> {
    return this.threads.claimThread(record, lease);
  }

  getThread(threadId: string): Promise<ThreadRecord | null> {
    return this.threads.getThread(threadId);
  }

  touchThread(threadId: string, ttlSeconds: number): Promise<void> {
    return this.threads.touchThread(threadId, ttlSeconds);
  }

  deleteThread(threadId: string): Promise<boolean> {
    return this.threads.deleteThread(threadId);
  }

  listThreads(cursor: string | null, limit: number): Promise<Page<ThreadRecord>> {
    return this.listings.listThreads(cursor, limit);
  }

  threadsOfUser(userId: string): Promise<string[]> {
    return this.threads.threadsOfUser(userId);
  }

  sweepExpiredThreads(): Promise<string[]> {
    return this.leaseSweep.sweepExpiredThreads();
  }

  putRun(runId: string, threadId: string): Promise<Store.RunClaim> {
    return this.runs.putRun(runId, threadId);
  }

  getRunThread(runId: string): Promise<string | null> {
    return this.runs.getRunThread(runId);
  }

  lookupId(id: string): Promise<Store.IdLookup> {
    return this.runs.lookupId(id);
  }

  runsOfThread(threadId: string): Promise<string[]> {
    return this.runs.runsOfThread(threadId);
  }

  deleteRun(runId: string): Promise<boolean> {
    return this.runs.deleteRun(runId);
  }

  putConnection(record: ConnectionRecord, limits?: Store.ConnectionLimits): Promise<boolean> {
    return this.connections.putConnection(record, limits);
  }

  getConnection(connectionId: string): Promise<ConnectionRecord | null> {
    return this.connections.getConnection(connectionId);
  }

  touchConnection(connectionId: string, lastSeenAt: number, transport?: string): Promise<void> {
    return this.connections.touchConnection(connectionId, lastSeenAt, transport);
  }

  deleteConnection(connectionId: string): Promise<boolean> {
    return this.connections.deleteConnection(connectionId);
  }

  addConnectionThread(connectionId: string, threadId: string): Promise<void> {
    return this.connections.addConnectionThread(connectionId, threadId);
  }

  removeConnectionThread(connectionId: string, threadId: string): Promise<void> {
    return this.connections.removeConnectionThread(connectionId, threadId);
  }

  connectionsOfThread(threadId: string): Promise<string[]> {
    return this.connections.connectionsOfThread(threadId);
  }

  countConnectionsOfThread(threadId: string): Promise<number> {
    return this.connections.countConnectionsOfThread(threadId);
  }

  connectionsOfUser(userId: string): Promise<string[]> {
    return this.connections.connectionsOfUser(userId);
  }

  connectionsOfInstance(instanceId: string): Promise<string[]> {
    return this.connections.connectionsOfInstance(instanceId);
  }

  listConnections(cursor: string | null, limit: number): Promise<Page<ConnectionRecord>> {
    return this.listings.listConnections(cursor, limit);
  }

  heartbeatInstance(instanceId: string, ttlMs: number): Promise<void> {
    return this.instances.heartbeatInstance(instanceId, ttlMs);
  }

  deadInstances(): Promise<string[]> {
    return this.instances.deadInstances();
  }

  removeInstance(instanceId: string): Promise<number> {
    return this.instances.removeInstance(instanceId);
  }

  recordDelivered(threadId: string, userId: string, seq: number, epoch: string): Promise<number> {
    return this.cursors.recordDelivered(threadId, userId, seq, epoch);
  }

  deliveredCursors(threadId: string, epoch: string): Promise<Record<string, number>> {
    return this.cursors.deliveredCursors(threadId, epoch);
  }

  /** The client belongs to whoever passed it in; pending cursor raises go out first. */
  close(): Promise<void> {
    this.cursors.flush();
    return Promise.resolve();
  }
}

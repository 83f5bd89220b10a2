import type { RedisClient } from './redis-client.js';
import { toError } from '../errors/to-error.js';
import { CursorRaiseBatch, type CursorRaise } from './cursor-raise-batch.js';
import { INDEX_BUCKETS, RedisKeys } from './redis-keys.js';
import {
  bucketCursor,
  scanCount,
  scanCursor,
  toConnectionRecord,
  toThreadRecord,
} from './redis-registry.records.js';
import {
  ADMIT_CONNECTION,
  CLAIM_THREAD,
  DROP_RUN_OF,
  HDEL_IF,
  JOIN_THREAD,
  PUT_RUN,
  RAISE_CURSOR,
  RESERVE_LEASE,
  SWEEP_THREAD,
  TAKE_CONNECTION,
  TAKE_RUN,
  TAKE_THREAD,
  TOUCH_CONNECTION,
  TOUCH_THREAD,
} from './redis-registry.scripts.js';
import {
  asArray,
  asHash,
  asInteger,
  asNullableString,
  asString,
  asStringArray,
  exec,
  toPairs,
} from './redis-replies.js';
import type { RegistryStore } from '../registry/registry-store.interface.js';
import type {
  ClaimResult,
  ConnectionLimits,
  ConnectionRecord,
  IdLookup,
  Page,
  RunClaim,
  ThreadLease,
} from '../registry/registry.types.js';
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
  announceCursors?: { channelOf: (threadId: string) => string; command: string };
}

/**
 * The registry shared by every instance. The per-id keys decide (a thread's hash, a run's
 * key, in the same slot for the same id, so one script keeps ids one meaning); the global
 * hashes and per-user sets are indexes written after the decision. Key layout and who
 * removes each key: `redis-registry.keys.ts`.
 */
export class RedisRegistryStore implements RegistryStore {
  private readonly keys: RedisKeys;
  private readonly deliveredTtlSeconds: number;
  private readonly threadDataKeys: (threadId: string) => string[];
  private readonly sweepBatch: number;

  private readonly cursorRaises = new CursorRaiseBatch((raises) => this.writeCursorRaises(raises));

  private readonly announceCursors: RedisRegistryStoreOptions['announceCursors'];

  constructor(
    private readonly client: RedisClient,
    keyPrefix = '',
    options: RedisRegistryStoreOptions = {},
  ) {
    this.keys = new RedisKeys(keyPrefix);
    this.deliveredTtlSeconds = options.deliveredTtlSeconds ?? 86_400;
    this.threadDataKeys = options.threadDataKeys ?? (() => []);
    this.sweepBatch = options.sweepBatch ?? 200;
    this.announceCursors = options.announceCursors;
  }

  async claimThread(record: ThreadRecord, lease?: ThreadLease): Promise<ClaimResult> {
    const { threadId, ownerId } = record;
    let reserved = 0;
    if (lease) {
      reserved = await this.reserveLease(ownerId, threadId, lease.maxPerUser);
      if (reserved === 0) return { outcome: 'limit', limit: lease.maxPerUser };
    }
    const reply = asArray(
      await CLAIM_THREAD.run(
        this.client,
        [
          this.keys.thread(threadId),
          this.keys.run(threadId),
          this.keys.threadRuns(threadId),
          this.keys.threadDelivered(threadId),
          ...this.threadDataKeys(threadId),
        ],
        [ownerId, record.createdAt, JSON.stringify(record.metadata), lease?.ttlSeconds ?? 0],
      ),
    );
    const outcome = asString(reply[0]);
    if (outcome === 'created') {
      await this.dropRuns(threadId, asStringArray(reply[1]));
      await Promise.all([
        this.client.hset(this.keys.threadRegistry, threadId, ownerId),
        this.client.sadd(this.keys.userThreads(ownerId), threadId),
        lease
          ? this.client.zadd(this.keys.threadLeases(threadId), leaseEnd(lease.ttlSeconds), threadId)
          : null,
      ]);
      const created: ThreadRecord = { ...record, metadata: { ...record.metadata } };
      if (lease) created.autoRegistered = true;
      else delete created.autoRegistered;
      return { outcome: 'created', record: created };
    }
    // Someone else's reservation, or a place held for a claim that did not create.
    const undo = async () => {
      if (reserved === 2) await this.client.srem(this.keys.userLeased(ownerId), threadId);
    };
    if (outcome === 'run_id') {
      await undo();
      return { outcome: 'run_id', threadId: asString(reply[1]) };
    }
    const existing = toThreadRecord(threadId, {
      ownerId: asString(reply[1]),
      createdAt: asString(reply[2]),
      metadata: asString(reply[3]),
      auto: asString(reply[4]),
    });
    if (!existing) throw new Error('Unexpected Redis reply: claim without an owner');
    if (existing.ownerId !== ownerId || !existing.autoRegistered) await undo();
    if (existing.ownerId === ownerId) await this.reindex(existing, lease);
    return { outcome: 'existing', record: existing };
  }

  async getThread(threadId: string): Promise<ThreadRecord | null> {
    return toThreadRecord(threadId, await this.client.hgetall(this.keys.thread(threadId)));
  }

  async touchThread(threadId: string, ttlSeconds: number): Promise<void> {
    const owner = asNullableString(
      await TOUCH_THREAD.run(this.client, [this.keys.thread(threadId)], [ttlSeconds]),
    );
    if (owner === null) return;
    // Also heals the indexes, should a sweep have raced with a renewal.
    await Promise.all([
      this.client.zadd(this.keys.threadLeases(threadId), 'GT', leaseEnd(ttlSeconds), threadId),
      this.client.hset(this.keys.threadRegistry, threadId, owner),
      this.client.sadd(this.keys.userThreads(owner), threadId),
      this.client.sadd(this.keys.userLeased(owner), threadId),
    ]);
  }

  async deleteThread(threadId: string): Promise<boolean> {
    const taken = await TAKE_THREAD.run(this.client, [
      this.keys.thread(threadId),
      this.keys.threadRuns(threadId),
      this.keys.threadDelivered(threadId),
    ]);
    if (taken === null) return false;
    const [owner, runs] = asArray(taken);
    await this.unindex(threadId, asString(owner), asStringArray(runs));
    return true;
  }

  async listThreads(cursor: string | null, limit: number): Promise<Page<ThreadRecord>> {
    const [next, flat] = await this.client.hscan(
      this.keys.threadRegistry,
      scanCursor(cursor),
      'COUNT',
      scanCount(limit),
    );
    const pairs = toPairs(flat);
    // One command per thread: on a cluster each is in its own slot.
    const hashes = await Promise.all(
      pairs.map(([threadId]) => this.client.hgetall(this.keys.thread(threadId))),
    );
    const items: ThreadRecord[] = [];
    pairs.forEach(([threadId], i) => {
      // An index entry whose thread lapsed and is not swept yet is not a thread.
      const record = toThreadRecord(threadId, asHash(hashes[i]));
      if (record) items.push(record);
    });
    return { items, nextCursor: next === '0' ? null : next };
  }

  async threadsOfUser(userId: string): Promise<string[]> {
    const ids = await this.client.smembers(this.keys.userThreads(userId));
    const live = await this.existing(ids.map((id) => this.keys.thread(id)));
    return ids.filter((_, i) => live[i]);
  }

  async sweepExpiredThreads(): Promise<string[]> {
    const now = Date.now();
    // One sweeper at a time across instances; the lock lapses by itself.
    const locked = await this.client.set(this.keys.sweepLock, '1', 'PX', 5_000, 'NX');
    if (locked !== 'OK') return [];
    const swept: string[] = [];
    let budget = this.sweepBatch;
    for (let bucket = 0; bucket < INDEX_BUCKETS && budget > 0; bucket++) {
      const leases = this.keys.threadLeasesBucket(bucket);
      const due = await this.client.zrangebyscore(leases, '-inf', now, 'LIMIT', 0, budget);
      budget -= due.length;
      for (const threadId of due) {
        if (await this.sweepThread(leases, threadId, now)) swept.push(threadId);
      }
    }
    await this.client.del(this.keys.sweepLock);
    return swept;
  }

  async putRun(runId: string, threadId: string): Promise<RunClaim> {
    const stored = asNullableString(
      await PUT_RUN.run(this.client, [this.keys.run(runId), this.keys.thread(runId)], [threadId]),
    );
    if (stored === null) return { outcome: 'thread_id' };
    // Also when the run existed: re-adding heals an index write that was interrupted.
    if (stored === threadId) await this.client.sadd(this.keys.threadRuns(threadId), runId);
    return { outcome: 'mapped', threadId: stored };
  }

  getRunThread(runId: string): Promise<string | null> {
    return this.client.get(this.keys.run(runId));
  }

  async lookupId(id: string): Promise<IdLookup> {
    // Both keys are in the id's slot: one round trip, one instant.
    const [runThread, isThread] = await exec(
      this.client.pipeline().get(this.keys.run(id)).hexists(this.keys.thread(id), 'ownerId'),
    );
    const threadId = asNullableString(runThread);
    if (threadId !== null) return { kind: 'run', threadId };
    return isThread === 1 ? { kind: 'thread' } : null;
  }

  runsOfThread(threadId: string): Promise<string[]> {
    return this.client.smembers(this.keys.threadRuns(threadId));
  }

  async deleteRun(runId: string): Promise<boolean> {
    const threadId = asNullableString(await TAKE_RUN.run(this.client, [this.keys.run(runId)]));
    if (threadId === null) return false;
    await this.client.srem(this.keys.threadRuns(threadId), runId);
    return true;
  }

  async putConnection(record: ConnectionRecord, limits: ConnectionLimits = {}): Promise<boolean> {
    const { connectionId: id } = record;
    const admitted = await ADMIT_CONNECTION.run(
      this.client,
      [this.keys.userConns(record.userId)],
      [id, limits.maxPerUser ?? -1],
    );
    if (admitted !== 1) return false;
    const [previous, previousThreads] = await exec(
      this.client
        .pipeline()
        .hmget(this.keys.conn(id), 'userId', 'instanceId')
        .smembers(this.keys.connThreads(id)),
    );
    const [oldUser, oldInstance] = asArray(previous).map(asNullableString);
    const threads = new Set(record.threads);
    // A replaced record must not leave its old user, instance or threads pointing at it.
    const writes: Promise<unknown>[] = [];
    if (oldUser != null && oldUser !== record.userId) {
      writes.push(this.client.srem(this.keys.userConns(oldUser), id));
    }
    if (oldInstance != null && oldInstance !== record.instanceId) {
      writes.push(this.client.srem(this.keys.instanceConns(oldInstance), id));
    }
    for (const threadId of asStringArray(previousThreads)) {
      if (!threads.has(threadId))
        writes.push(this.client.srem(this.keys.threadConns(threadId), id));
    }
    // The connection's own keys (one slot) in one transaction, so the record and its thread
    // set are replaced together; the indexes live in other slots and follow.
    const own = this.client
      .multi()
      .del(this.keys.connThreads(id))
      .hset(this.keys.conn(id), {
        userId: record.userId,
        instanceId: record.instanceId,
        transport: record.transport,
        connectedAt: String(record.connectedAt),
        lastSeenAt: String(record.lastSeenAt),
      });
    if (threads.size > 0) own.sadd(this.keys.connThreads(id), ...threads);
    writes.push(exec(own));
    for (const threadId of threads)
      writes.push(this.client.sadd(this.keys.threadConns(threadId), id));
    writes.push(
      this.client.sadd(this.keys.userConns(record.userId), id),
      this.client.sadd(this.keys.instanceConns(record.instanceId), id),
      this.client.hset(this.keys.connections(id), id, record.instanceId),
    );
    await Promise.all(writes);
    return true;
  }

  async getConnection(connectionId: string): Promise<ConnectionRecord | null> {
    const [hash, threads] = await exec(
      this.client
        .pipeline()
        .hgetall(this.keys.conn(connectionId))
        .smembers(this.keys.connThreads(connectionId)),
    );
    return toConnectionRecord(connectionId, asHash(hash), asStringArray(threads));
  }

  async touchConnection(connectionId: string, lastSeenAt: number, transport = ''): Promise<void> {
    await TOUCH_CONNECTION.run(
      this.client,
      [this.keys.conn(connectionId)],
      [String(lastSeenAt), transport],
    );
  }

  async deleteConnection(connectionId: string): Promise<boolean> {
    return (await this.deleteConnections([connectionId])) === 1;
  }

  async addConnectionThread(connectionId: string, threadId: string): Promise<void> {
    const joined = await JOIN_THREAD.run(
      this.client,
      [this.keys.conn(connectionId), this.keys.connThreads(connectionId)],
      [threadId],
    );
    if (joined !== 1) return;
    // In this order, each answered before the next: the two keys may be on different nodes.
    await this.client.sadd(this.keys.threadConns(threadId), connectionId);
    const stillThere = await this.client.exists(this.keys.conn(connectionId));
    // Deleted between the join and the thread index write: undo, or the thread keeps a ghost.
    if (stillThere === 0) await this.client.srem(this.keys.threadConns(threadId), connectionId);
  }

  async removeConnectionThread(connectionId: string, threadId: string): Promise<void> {
    await Promise.all([
      this.client.srem(this.keys.connThreads(connectionId), threadId),
      this.client.srem(this.keys.threadConns(threadId), connectionId),
    ]);
  }

  connectionsOfThread(threadId: string): Promise<string[]> {
    return this.client.smembers(this.keys.threadConns(threadId));
  }

  countConnectionsOfThread(threadId: string): Promise<number> {
    return this.client.scard(this.keys.threadConns(threadId));
  }

  connectionsOfUser(userId: string): Promise<string[]> {
    return this.client.smembers(this.keys.userConns(userId));
  }

  connectionsOfInstance(instanceId: string): Promise<string[]> {
    return this.client.smembers(this.keys.instanceConns(instanceId));
  }

  /**
   * Pages through the buckets of the `connections` index in order; the cursor is
   * `<bucket>:<HSCAN cursor>`. A page is filled from the next buckets when one ends early.
   */
  async listConnections(cursor: string | null, limit: number): Promise<Page<ConnectionRecord>> {
    let [bucket, scan] = bucketCursor(cursor);
    const ids: string[] = [];
    while (bucket < INDEX_BUCKETS && ids.length < limit) {
      const [next, flat] = await this.client.hscan(
        this.keys.connectionsBucket(bucket),
        scan,
        'COUNT',
        scanCount(limit - ids.length),
      );
      ids.push(...toPairs(flat).map(([id]) => id));
      if (next === '0') {
        bucket += 1;
        scan = '0';
      } else {
        scan = next;
      }
    }
    const records = await Promise.all(ids.map((id) => this.getConnection(id)));
    // Deleted after the scan saw it: leave it out rather than show a half record.
    const items = records.filter((record): record is ConnectionRecord => record !== null);
    return { items, nextCursor: bucket >= INDEX_BUCKETS ? null : `${bucket}:${scan}` };
  }

  async heartbeatInstance(instanceId: string, ttlMs: number): Promise<void> {
    const now = Date.now();
    // The liveness key first: a sweeper that finds the index entry must find the key too, and
    // on a cluster the two are on different nodes.
    await this.client.set(
      this.keys.instance(instanceId),
      String(now),
      'PX',
      Math.max(1, Math.ceil(ttlMs)),
    );
    await this.client.hset(this.keys.instances, instanceId, String(now));
  }

  async deadInstances(): Promise<string[]> {
    const instanceIds = await this.client.hkeys(this.keys.instances);
    const alive = await this.existing(instanceIds.map((id) => this.keys.instance(id)));
    return instanceIds.filter((_, i) => !alive[i]);
  }

  async removeInstance(instanceId: string): Promise<number> {
    const connectionIds = await this.client.smembers(this.keys.instanceConns(instanceId));
    const removed = await this.deleteConnections(connectionIds);
    await Promise.all([
      this.client.del(this.keys.instance(instanceId), this.keys.instanceConns(instanceId)),
      this.client.hdel(this.keys.instances, instanceId),
    ]);
    return removed;
  }

  recordDelivered(threadId: string, userId: string, seq: number, epoch: string): Promise<number> {
    return this.cursorRaises.raise(threadId, userId, seq, epoch);
  }

  async deliveredCursors(threadId: string, epoch: string): Promise<Record<string, number>> {
    const hash = await this.client.hgetall(this.keys.threadDelivered(threadId));
    const cursors: Record<string, number> = {};
    for (const [userId, value] of Object.entries(hash)) {
      const sep = value.lastIndexOf(':');
      if (sep > 0 && value.slice(0, sep) === epoch) cursors[userId] = Number(value.slice(sep + 1));
    }
    return cursors;
  }

  /** The client belongs to whoever passed it in; pending cursor raises go out first. */
  close(): Promise<void> {
    this.cursorRaises.flush();
    return Promise.resolve();
  }

  /**
   * One EVALSHA per raise, issued back to back. Not an ioredis pipeline: a pipeline object
   * per batch made the process spend about five times as long in young-generation GC
   * (measured with appends, see RedisConnections), for a few saved write syscalls.
   */
  private writeCursorRaises(raises: CursorRaise[]): void {
    for (const raise of raises) {
      RAISE_CURSOR.run(
        this.client,
        [this.keys.threadDelivered(raise.threadId)],
        [
          raise.userId,
          String(raise.seq),
          raise.epoch,
          this.deliveredTtlSeconds,
          this.announceCursors?.channelOf(raise.threadId) ?? '',
          this.announceCursors?.command ?? 'PUBLISH',
        ],
      ).then(
        (after) => settleWithReply(raise, after),
        (error: unknown) => raise.settle(toError(error), 0),
      );
    }
  }

  /** Deletes connections and every index naming them; returns how many existed. */
  private async deleteConnections(connectionIds: string[]): Promise<number> {
    if (connectionIds.length === 0) return 0;
    const taken = await Promise.all(
      connectionIds.map(async (id) =>
        asArray(
          await TAKE_CONNECTION.run(this.client, [this.keys.conn(id), this.keys.connThreads(id)]),
        ),
      ),
    );
    const unlisted = await Promise.all(
      connectionIds.map((id) => this.client.hdel(this.keys.connections(id), id)),
    );
    const writes: Promise<unknown>[] = [];
    connectionIds.forEach((id, i) => {
      const [, userId, instanceId, threads] = taken[i] ?? [];
      for (const threadId of asStringArray(threads)) {
        writes.push(this.client.srem(this.keys.threadConns(threadId), id));
      }
      const user = asNullableString(userId);
      if (user !== null) writes.push(this.client.srem(this.keys.userConns(user), id));
      const instance = asNullableString(instanceId);
      if (instance !== null) writes.push(this.client.srem(this.keys.instanceConns(instance), id));
    });
    await Promise.all(writes);
    return connectionIds.filter((_, i) => taken[i]?.[0] === 1 || unlisted[i] === 1).length;
  }

  /** 1: the owner holds a place for the thread already; 2: taken now; 0: the cap is reached. */
  private async reserveLease(ownerId: string, threadId: string, cap: number): Promise<number> {
    const key = this.keys.userLeased(ownerId);
    const reserve = async () =>
      asInteger(await RESERVE_LEASE.run(this.client, [key], [threadId, cap]));
    const first = await reserve();
    if (first !== 0) return first;
    // Full: members whose lease ran out may not be swept yet; drop them and try once more.
    // A member without its thread is only lapsed if the lease index says its lease ended:
    // one without an entry there is another claim's reservation, not yet made a thread.
    const members = await this.client.smembers(key);
    const live = await this.existing(members.map((id) => this.keys.thread(id)));
    const ends = await Promise.all(
      members.map((id) => this.client.zscore(this.keys.threadLeases(id), id)),
    );
    const now = Date.now();
    const lapsed = members.filter((_, i) => {
      const end = ends[i];
      return !live[i] && end !== null && end !== undefined && Number(end) <= now;
    });
    if (lapsed.length === 0) return 0;
    await this.client.srem(key, ...lapsed);
    return reserve();
  }

  /** An owner's claim of its own thread: renew or adopt the lease in the indexes too. */
  private async reindex(existing: ThreadRecord, lease: ThreadLease | undefined): Promise<void> {
    const { threadId, ownerId } = existing;
    const leases = this.keys.threadLeases(threadId);
    const writes: Promise<unknown>[] = [
      this.client.hset(this.keys.threadRegistry, threadId, ownerId),
    ];
    if (existing.autoRegistered && lease) {
      writes.push(
        this.client.zadd(leases, 'GT', leaseEnd(lease.ttlSeconds), threadId),
        this.client.sadd(this.keys.userLeased(ownerId), threadId),
      );
    } else if (!existing.autoRegistered) {
      writes.push(
        this.client.zrem(leases, threadId),
        this.client.srem(this.keys.userLeased(ownerId), threadId),
      );
    }
    await Promise.all(writes);
  }

  /** Removes a thread that is gone from every index, and its runs. */
  private async unindex(threadId: string, owner: string | null, runs: string[]): Promise<void> {
    await this.dropRuns(threadId, runs);
    await Promise.all([
      this.client.zrem(this.keys.threadLeases(threadId), threadId),
      owner !== null ? this.client.srem(this.keys.userThreads(owner), threadId) : null,
      owner !== null ? this.client.srem(this.keys.userLeased(owner), threadId) : null,
    ]);
    if (owner !== null) {
      // Only while the entry still names this owner: a new claim may have indexed it anew.
      await HDEL_IF.run(this.client, [this.keys.threadRegistry], [threadId, owner]);
    }
  }

  /** Sweeps one listed lease; true when its thread had lapsed and is now unindexed. */
  private async sweepThread(leases: string, threadId: string, now: number): Promise<boolean> {
    const [lapsed, detail] = asArray(
      await SWEEP_THREAD.run(this.client, [
        this.keys.thread(threadId),
        this.keys.threadRuns(threadId),
        this.keys.threadDelivered(threadId),
      ]),
    );
    if (lapsed === 0) {
      // Renewed or adopted since it was listed: follow the key's own TTL.
      const pttl = asInteger(detail);
      if (pttl > 0) await this.client.zadd(leases, now + pttl, threadId);
      else await this.client.zrem(leases, threadId);
      return false;
    }
    const owner = await this.client.hget(this.keys.threadRegistry, threadId);
    await this.unindex(threadId, owner, asStringArray(detail));
    return true;
  }

  /** Deletes the runs' keys that still map to the thread (each in its own slot). */
  private async dropRuns(threadId: string, runs: string[]): Promise<void> {
    await Promise.all(
      runs.map((runId) => DROP_RUN_OF.run(this.client, [this.keys.run(runId)], [threadId])),
    );
  }

  /** EXISTS of each key (one command each: on a cluster they may be on different nodes). */
  private async existing(keys: string[]): Promise<boolean[]> {
    const found = await Promise.all(keys.map((key) => this.client.exists(key)));
    return found.map((count) => count === 1);
  }
}

function leaseEnd(ttlSeconds: number): number {
  return Date.now() + ttlSeconds * 1000;
}

/** The script answers the stored cursor as a string, so large seqs keep every digit. */
function settleWithReply(raise: CursorRaise, reply: unknown): void {
  try {
    raise.settle(null, Number(asString(reply)));
  } catch (error) {
    raise.settle(toError(error), 0);
  }
}

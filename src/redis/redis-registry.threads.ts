import type { RedisClient } from './redis-client.js';
import { keysExist } from './keys-exist.js';
import type { RedisKeys } from './redis-keys.js';
import { toThreadRecord } from './redis-registry.records.js';
import type { RedisRuns } from './redis-registry.runs.js';
import {
  CLAIM_THREAD,
  HDEL_IF,
  RESERVE_LEASE,
  TAKE_THREAD,
  TOUCH_THREAD,
} from './redis-registry.scripts.js';
import { asArray, asInteger, asNullableString, asString, asStringArray } from './redis-replies.js';
import type { ClaimResult, ThreadLease } from '../registry/registry-store.interface.js';
import type { ThreadRecord } from '../thread-record.js';

/**
 * Threads of the registry. The thread's hash decides (one script over its id's slot, which
 * also holds a run of the same id); the owner's sets, the lease index and
 * `thread_registry` are indexes written after the decision, and undone with the thread.
 */
export class RedisThreads {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
    private readonly runs: RedisRuns,
    /** Keys of the thread's slot a new thread must not inherit (the message log's). */
    private readonly threadDataKeys: (threadId: string) => string[],
  ) {}

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
          this.keys.thread(threadId, 'runs'),
          this.keys.thread(threadId, 'delivered'),
          ...this.threadDataKeys(threadId),
        ],
        [ownerId, record.createdAt, JSON.stringify(record.metadata), lease?.ttlSeconds ?? 0],
      ),
    );
    const outcome = asString(reply[0]);
    if (outcome === 'created') {
      await this.runs.dropRuns(threadId, asStringArray(reply[1]));
      await Promise.all([
        this.client.hset(this.keys.threadRegistry, threadId, ownerId),
        this.client.sadd(this.keys.user(ownerId, 'threads'), threadId),
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
      if (reserved === 2) await this.client.srem(this.keys.user(ownerId, 'leased'), threadId);
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
      this.client.sadd(this.keys.user(owner, 'threads'), threadId),
      this.client.sadd(this.keys.user(owner, 'leased'), threadId),
    ]);
  }

  async deleteThread(threadId: string): Promise<boolean> {
    const taken = await TAKE_THREAD.run(this.client, [
      this.keys.thread(threadId),
      this.keys.thread(threadId, 'runs'),
      this.keys.thread(threadId, 'delivered'),
    ]);
    if (taken === null) return false;
    const [owner, runs] = asArray(taken);
    await this.unindex(threadId, asString(owner), asStringArray(runs));
    return true;
  }

  async threadsOfUser(userId: string): Promise<string[]> {
    const ids = await this.client.smembers(this.keys.user(userId, 'threads'));
    const live = await keysExist(
      this.client,
      ids.map((id) => this.keys.thread(id)),
    );
    return ids.filter((_, i) => live[i]);
  }

  /** Removes a thread that is gone from every index, and its runs. */
  async unindex(threadId: string, owner: string | null, runs: string[]): Promise<void> {
    await this.runs.dropRuns(threadId, runs);
    await Promise.all([
      this.client.zrem(this.keys.threadLeases(threadId), threadId),
      owner !== null ? this.client.srem(this.keys.user(owner, 'threads'), threadId) : null,
      owner !== null ? this.client.srem(this.keys.user(owner, 'leased'), threadId) : null,
    ]);
    if (owner !== null) {
      // Only while the entry still names this owner: a new claim may have indexed it anew.
      await HDEL_IF.run(this.client, [this.keys.threadRegistry], [threadId, owner]);
    }
  }

  /** 1: the owner holds a place for the thread already; 2: taken now; 0: the cap is reached. */
  private async reserveLease(ownerId: string, threadId: string, cap: number): Promise<number> {
    const key = this.keys.user(ownerId, 'leased');
    const reserve = async () =>
      asInteger(await RESERVE_LEASE.run(this.client, [key], [threadId, cap]));
    const first = await reserve();
    if (first !== 0) return first;
    // Full: members whose lease ran out may not be swept yet; drop them and try once more.
    // A member without its thread is only lapsed if the lease index says its lease ended:
    // one without an entry there is another claim's reservation, not yet made a thread.
    const members = await this.client.smembers(key);
    const live = await keysExist(
      this.client,
      members.map((id) => this.keys.thread(id)),
    );
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
        this.client.sadd(this.keys.user(ownerId, 'leased'), threadId),
      );
    } else if (!existing.autoRegistered) {
      writes.push(
        this.client.zrem(leases, threadId),
        this.client.srem(this.keys.user(ownerId, 'leased'), threadId),
      );
    }
    await Promise.all(writes);
  }
}

function leaseEnd(ttlSeconds: number): number {
  return Date.now() + ttlSeconds * 1000;
}

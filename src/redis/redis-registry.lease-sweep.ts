import type { RedisClient } from './redis-client.js';
import { INDEX_BUCKETS, type RedisKeys } from './redis-keys.js';
import type { RedisThreads } from './redis-registry.threads.js';
import { SWEEP_THREAD } from './redis-registry.scripts.js';
import { asArray, asInteger, asStringArray } from './redis-replies.js';

/**
 * Forgets leased threads whose lease ran out. A leased thread's hash expires by itself;
 * what the sweep removes are the indexes, runs and cursors it leaves behind, found through
 * the bucketed lease index.
 */
export class RedisLeaseSweep {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
    private readonly threads: RedisThreads,
    /** Leased threads examined per sweep. */
    private readonly sweepBatch: number,
  ) {}

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

  /** Sweeps one listed lease; true when its thread had lapsed and is now unindexed. */
  private async sweepThread(leases: string, threadId: string, now: number): Promise<boolean> {
    const [lapsed, detail] = asArray(
      await SWEEP_THREAD.run(this.client, [
        this.keys.thread(threadId),
        this.keys.thread(threadId, 'runs'),
        this.keys.thread(threadId, 'delivered'),
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
    await this.threads.unindex(threadId, owner, asStringArray(detail));
    return true;
  }
}

import type { RedisClient } from './redis-client.js';
import { INDEX_BUCKETS, type RedisKeys } from './redis-keys.js';
import type { RedisConnectionRecords } from './redis-registry.connections.js';
import { bucketCursor, scanCount, scanCursor, toThreadRecord } from './redis-registry.records.js';
import { asHash, toPairs } from './redis-replies.js';
import type { ConnectionRecord, Page } from '../registry/registry.types.js';
import type { ThreadRecord } from '../thread-record.js';

/**
 * Pages through the global indexes for operators (the debug routes): HSCAN over an index,
 * then each listed record read from its own key, so an entry whose record is gone is left
 * out. HSCAN's COUNT is a hint: a page may hold a few more or fewer items than asked.
 */
export class RedisRegistryListings {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
    private readonly connections: RedisConnectionRecords,
  ) {}

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
    const records = await Promise.all(ids.map((id) => this.connections.getConnection(id)));
    // Deleted after the scan saw it: leave it out rather than show a half record.
    const items = records.filter((record): record is ConnectionRecord => record !== null);
    return { items, nextCursor: bucket >= INDEX_BUCKETS ? null : `${bucket}:${scan}` };
  }
}

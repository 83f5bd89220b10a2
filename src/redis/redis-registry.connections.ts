import type { RedisClient } from './redis-client.js';
import type { RedisKeys } from './redis-keys.js';
import { toConnectionRecord } from './redis-registry.records.js';
import {
  ADMIT_CONNECTION,
  JOIN_THREAD,
  TAKE_CONNECTION,
  TOUCH_CONNECTION,
} from './redis-registry.scripts.js';
import { asArray, asHash, asNullableString, asStringArray, exec } from './redis-replies.js';
import type { ConnectionRecord } from '../registry/registry.types.js';
import type { ConnectionLimits } from '../registry/registry-store.interface.js';

/**
 * Connections of the registry. A connection's own keys (`conn:{C}` and its thread set)
 * are the record; the sets of its user, instance and threads and the bucketed
 * `connections` hash are indexes in other slots, written after it and cleared with it.
 */
export class RedisConnectionRecords {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async putConnection(record: ConnectionRecord, limits: ConnectionLimits = {}): Promise<boolean> {
    const { connectionId: id } = record;
    const admitted = await ADMIT_CONNECTION.run(
      this.client,
      [this.keys.user(record.userId, 'conns')],
      [id, limits.maxPerUser ?? -1],
    );
    if (admitted !== 1) return false;
    const [previous, previousThreads] = await exec(
      this.client
        .pipeline()
        .hmget(this.keys.conn(id), 'userId', 'instanceId')
        .smembers(this.keys.conn(id, 'threads')),
    );
    const [oldUser, oldInstance] = asArray(previous).map(asNullableString);
    const threads = new Set(record.threads);
    // A replaced record must not leave its old user, instance or threads pointing at it.
    const writes: Promise<unknown>[] = [];
    if (oldUser != null && oldUser !== record.userId) {
      writes.push(this.client.srem(this.keys.user(oldUser, 'conns'), id));
    }
    if (oldInstance != null && oldInstance !== record.instanceId) {
      writes.push(this.client.srem(this.keys.instance(oldInstance, 'conns'), id));
    }
    for (const threadId of asStringArray(previousThreads)) {
      if (!threads.has(threadId))
        writes.push(this.client.srem(this.keys.thread(threadId, 'conns'), id));
    }
    // The connection's own keys (one slot) in one transaction, so the record and its thread
    // set are replaced together; the indexes live in other slots and follow.
    const own = this.client
      .multi()
      .del(this.keys.conn(id, 'threads'))
      .hset(this.keys.conn(id), {
        userId: record.userId,
        instanceId: record.instanceId,
        transport: record.transport,
        connectedAt: String(record.connectedAt),
        lastSeenAt: String(record.lastSeenAt),
      });
    if (threads.size > 0) own.sadd(this.keys.conn(id, 'threads'), ...threads);
    writes.push(exec(own));
    for (const threadId of threads)
      writes.push(this.client.sadd(this.keys.thread(threadId, 'conns'), id));
    writes.push(
      this.client.sadd(this.keys.user(record.userId, 'conns'), id),
      this.client.sadd(this.keys.instance(record.instanceId, 'conns'), id),
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
        .smembers(this.keys.conn(connectionId, 'threads')),
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

  /** Deletes connections and every index naming them; returns how many existed. */
  async deleteConnections(connectionIds: string[]): Promise<number> {
    if (connectionIds.length === 0) return 0;
    const taken = await Promise.all(
      connectionIds.map(async (id) =>
        asArray(
          await TAKE_CONNECTION.run(this.client, [
            this.keys.conn(id),
            this.keys.conn(id, 'threads'),
          ]),
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
        writes.push(this.client.srem(this.keys.thread(threadId, 'conns'), id));
      }
      const user = asNullableString(userId);
      if (user !== null) writes.push(this.client.srem(this.keys.user(user, 'conns'), id));
      const instance = asNullableString(instanceId);
      if (instance !== null)
        writes.push(this.client.srem(this.keys.instance(instance, 'conns'), id));
    });
    await Promise.all(writes);
    return connectionIds.filter((_, i) => taken[i]?.[0] === 1 || unlisted[i] === 1).length;
  }

  async addConnectionThread(connectionId: string, threadId: string): Promise<void> {
    const joined = await JOIN_THREAD.run(
      this.client,
      [this.keys.conn(connectionId), this.keys.conn(connectionId, 'threads')],
      [threadId],
    );
    if (joined !== 1) return;
    // In this order, each answered before the next: the two keys may be on different nodes.
    await this.client.sadd(this.keys.thread(threadId, 'conns'), connectionId);
    const stillThere = await this.client.exists(this.keys.conn(connectionId));
    // Deleted between the join and the thread index write: undo, or the thread keeps a ghost.
    if (stillThere === 0) await this.client.srem(this.keys.thread(threadId, 'conns'), connectionId);
  }

  async removeConnectionThread(connectionId: string, threadId: string): Promise<void> {
    await Promise.all([
      this.client.srem(this.keys.conn(connectionId, 'threads'), threadId),
      this.client.srem(this.keys.thread(threadId, 'conns'), connectionId),
    ]);
  }

  connectionsOfThread(threadId: string): Promise<string[]> {
    return this.client.smembers(this.keys.thread(threadId, 'conns'));
  }

  countConnectionsOfThread(threadId: string): Promise<number> {
    return this.client.scard(this.keys.thread(threadId, 'conns'));
  }

  connectionsOfUser(userId: string): Promise<string[]> {
    return this.client.smembers(this.keys.user(userId, 'conns'));
  }

  connectionsOfInstance(instanceId: string): Promise<string[]> {
    return this.client.smembers(this.keys.instance(instanceId, 'conns'));
  }
}

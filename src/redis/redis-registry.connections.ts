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

  /** Deletes connections and every index naming them; returns how many existed. */
  async deleteConnections(connectionIds: string[]): Promise<number> {
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
}

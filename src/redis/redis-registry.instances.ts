import type { RedisClient } from './redis-client.js';
import { keysExist } from './keys-exist.js';
import type { RedisKeys } from './redis-keys.js';
import type { RedisConnectionRecords } from './redis-registry.connections.js';

/**
 * Instance liveness: each instance keeps its `instance:{I}` key alive with heartbeats and
 * is listed in `instances`; a listed instance without its key is dead, and removing it
 * deletes the connections it held.
 */
export class RedisInstances {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
    private readonly connections: RedisConnectionRecords,
  ) {}

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
    const alive = await keysExist(
      this.client,
      instanceIds.map((id) => this.keys.instance(id)),
    );
    return instanceIds.filter((_, i) => !alive[i]);
  }

  async removeInstance(instanceId: string): Promise<number> {
    const connectionIds = await this.client.smembers(this.keys.instance(instanceId, 'conns'));
    const removed = await this.connections.deleteConnections(connectionIds);
    await Promise.all([
      this.client.del(this.keys.instance(instanceId), this.keys.instance(instanceId, 'conns')),
      this.client.hdel(this.keys.instances, instanceId),
    ]);
    return removed;
  }
}

import type { Redis } from 'ioredis';
import { hashSlot } from './hash-slot.js';
import { isClusterClient, type RedisClient } from './redis-client.js';

/**
 * The connection that writes `key`: the client itself on one Redis; on a cluster the
 * connection to the master that owns the key's slot in the client's slot map (null while
 * the map has no owner). WAIT must go there: it counts the writes of its own connection.
 */
export function writerOf(client: RedisClient, key: string): Redis | null {
  if (!isClusterClient(client)) return client;
  const owner = client.slots[hashSlot(key)]?.[0];
  if (owner === undefined) return null;
  return (
    client
      .nodes('master')
      .find(({ options }) => `${options.host ?? ''}:${options.port ?? ''}` === owner) ?? null
  );
}

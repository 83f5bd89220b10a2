import type { RedisClient } from './redis-client.js';

/** EXISTS of each key (one command each: on a cluster they may be on different nodes). */
export async function keysExist(client: RedisClient, keys: string[]): Promise<boolean[]> {
  const found = await Promise.all(keys.map((key) => client.exists(key)));
  return found.map((count) => count === 1);
}

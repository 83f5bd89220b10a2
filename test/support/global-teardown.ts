import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';

/**
 * Stops the redis-server global setup started, or deletes this run's keys from the shared
 * Redis: registry keys have no TTL, and CI runs against the same Redis every time.
 */
export default async function globalTeardown(): Promise<void> {
  const child = (globalThis as { __relayRedisChild?: ChildProcess }).__relayRedisChild;
  if (child) {
    child.kill('SIGTERM');
    return;
  }
  const url = process.env.REDIS_URL;
  const run = process.env.RELAY_TEST_RUN;
  if (!url || !run) return;
  // As testRunPrefix() in redis.ts: global hooks are loaded without jest's module mapping.
  const pattern = `test:${run}:*`;
  const redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

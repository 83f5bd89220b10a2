import type { RedisClient } from './redis-client.js';

/**
 * Resolves true once `client` is ready, false if it is not by `deadline` (epoch ms). A
 * write issued while the client is reconnecting would sit in ioredis's offline queue and
 * run whenever Redis returns, long after its caller was told it failed; waiting here
 * instead lets the caller give up without leaving such a write behind.
 */
export function waitUntilReady(client: RedisClient, deadline: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  const remaining = deadline - Date.now();
  if (remaining <= 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish(false), remaining);
    const onReady = () => finish(true);
    const finish = (ready: boolean) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      resolve(ready);
    };
    client.on('ready', onReady);
  });
}

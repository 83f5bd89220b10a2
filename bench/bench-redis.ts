/**
 * The Redis the bench runs on: a private redis-server (no persistence) keeps other users of
 * a shared Redis out of the numbers; `--redis-url` (or REDIS_URL) uses an existing one.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { Redis } from 'ioredis';
import { runSettings } from './run-settings.js';
import { sleep } from './common.js';

/** Set by `startRedis`. */
export const redis = { url: '', kind: '' };

let ownRedis: ChildProcess | null = null;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function startRedis(): Promise<void> {
  if (runSettings.redisUrl) {
    redis.url = runSettings.redisUrl;
    redis.kind = 'given (--redis-url / REDIS_URL)';
    return;
  }
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
    redis.url = 'redis://127.0.0.1:6379';
    redis.kind = 'shared 127.0.0.1:6379 (no redis-server on PATH)';
    return;
  }
  const port = await freePort();
  ownRedis = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  redis.url = `redis://127.0.0.1:${port}`;
  redis.kind = `private redis-server on port ${port}, no persistence`;
  const deadline = Date.now() + 10_000;
  while (!(await pingRedis(port))) {
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`);
    await sleep(50);
  }
}

function pingRedis(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

/** Stops the private redis-server, if the bench started one. */
export function stopRedis(): void {
  ownRedis?.kill();
}

/** Removes the keys of this run (`bench:<runId>:*`): a given Redis outlives the bench. */
export async function cleanRedis(runId: string): Promise<void> {
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `bench:${runId}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

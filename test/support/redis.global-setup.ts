import { randomBytes } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';

export const INSTALL_HINT =
  'Tests need Redis. Set REDIS_URL, run redis-server on 127.0.0.1:6379, or install it so it is on PATH (Debian/Ubuntu: apt-get install -y redis-server; macOS: brew install redis).';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read a free port'));
      });
    });
  });
}

/** Sends PING over a raw socket so the check needs no client library. */
export function pingRedis(url: string, timeoutMs = 1000): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname || '127.0.0.1', port: Number(port || 6379) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

export function redisServerOnPath(): boolean {
  const result = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return result.status === 0;
}

/**
 * Finds the Redis every test shares: REDIS_URL, else 127.0.0.1:6379, else a redis-server
 * started here on a free port. Without any of them the run fails with an install hint,
 * so a green run always means the Redis paths were exercised.
 */
export default async function globalSetup(): Promise<void> {
  // Every key of this run starts with test:<run id>: (see uniquePrefix); teardown deletes them.
  process.env.RELAY_TEST_RUN ??= randomBytes(4).toString('hex');
  const candidates = [process.env.REDIS_URL, 'redis://127.0.0.1:6379'].filter(
    (url): url is string => typeof url === 'string' && url.length > 0,
  );
  for (const url of candidates) {
    if (await pingRedis(url)) {
      process.env.REDIS_URL = url;
      return;
    }
  }
  if (process.env.REDIS_URL) {
    throw new Error(`REDIS_URL=${process.env.REDIS_URL} does not answer PING. ${INSTALL_HINT}`);
  }
  if (!redisServerOnPath()) throw new Error(INSTALL_HINT);
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore', detached: false },
  );
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (!(await pingRedis(url, 200))) {
    if (Date.now() > deadline) throw new Error(`started redis-server but ${url} does not answer`);
    await new Promise((r) => setTimeout(r, 25));
  }
  process.env.REDIS_URL = url;
  (globalThis as { __relayRedisChild?: typeof child }).__relayRedisChild = child;
}

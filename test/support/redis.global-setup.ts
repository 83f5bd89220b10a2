import { randomBytes } from 'node:crypto';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

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
 * A redis-server of the test's own, on a free port, for tests that stop, kill or restart
 * Redis. The shared server is never touched.
 */
export class OwnRedisServer {
  private child: ChildProcess | null = null;
  private readonly dir = mkdtempSync(path.join(tmpdir(), 'relay-redis-'));

  private constructor(
    readonly port: number,
    private readonly persistent: boolean,
  ) {}

  static async start(options: { persistent?: boolean } = {}): Promise<OwnRedisServer> {
    if (!redisServerOnPath()) throw new Error(INSTALL_HINT);
    const server = new OwnRedisServer(await freePort(), options.persistent ?? false);
    await server.startProcess();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async startProcess(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir];
    args.push('--save', '', '--appendonly', this.persistent ? 'yes' : 'no');
    if (this.persistent) args.push('--appendfsync', 'always');
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.child = child;
    const deadline = Date.now() + 10_000;
    while (!(await pingRedis(this.url, 200))) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${this.url}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Stops the process (SIGKILL when `hard`), keeping its data dir for a restart. */
  async stop(hard = false): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(hard ? 'SIGKILL' : 'SIGTERM');
    await exited;
    this.child = null;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.startProcess();
  }

  async dispose(): Promise<void> {
    await this.stop(true);
    rmSync(this.dir, { recursive: true, force: true });
  }
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

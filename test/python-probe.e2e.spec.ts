import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { signUserToken } from '../src/auth/sign-token.js';
import { startReferenceServer, type ReferenceServer } from './demo/support/reference-server.js';
import { expectCompleteRun, requirePython, runPythonProbe } from './support/python-probe.js';
import { freePort } from './support/redis.global-setup.js';

/** The probe sending `ping` as `userId` to `url`, with `extra` flags. */
function pingProbe(userId: string, url: string, ...extra: string[]) {
  return runPythonProbe(['--user-id', userId, '--message', 'ping', '--url', url, ...extra]);
}

const PROD_SECRET = 'a-production-secret-of-at-least-32-bytes';

type Mode = 'refuse' | 'hold';

/**
 * An HTTP proxy in front of the server that breaks the event stream (`refuse`: 502 like a
 * gateway without SSE support; `hold`: never answers, like one that buffers it) and
 * passes everything else through.
 */
async function startSseBreakingProxy(
  target: string,
  mode: Mode,
): Promise<{
  url: string;
  close(): Promise<void>;
}> {
  const upstream = new URL(target);
  const held = new Set<ServerResponse>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (/^\/threads\/[^/]+\/events/.test(req.url ?? '')) {
      if (mode === 'refuse') {
        res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>502 Bad Gateway</h1>');
      } else {
        held.add(res);
      }
      return;
    }
    const forward = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.once('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('scripts/test_websocket_delivery.py against the reference server (development mode)', () => {
  let server: ReferenceServer;
  const proxies: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    requirePython();
    server = await startReferenceServer({});
  });
  afterEach(async () => {
    for (const proxy of proxies.splice(0)) await proxy.close();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('signs in, sends, and prints the agent run over SSE in seq order with latencies (exit 0)', async () => {
    const run = await pingProbe('test', server.url);
    expectCompleteRun(run);
    expect(run.stdout).toMatch(/^probe: http:\/\/127\.0\.0\.1:\d+ as test, timeout 15000 ms$/m);
    expect(run.stdout).toMatch(/\] signed in as test$/m);
    expect(run.stdout).toMatch(/\] sent "ping" as seq 1 on thread_[0-9a-f]{16} \(epoch \w+\)$/m);
    expect(run.stdout).toMatch(/\] following thread_[0-9a-f]{16} over SSE after seq 0$/m);
    expect(run.stdout).not.toContain('polling');
    expect(run.stderr).toBe('');
  });

  it('follows by REST polling when told to (--transport polling, exit 0)', async () => {
    const run = await runPythonProbe([
      '--user-id',
      'poller',
      '--message',
      'ping by polling',
      '--url',
      server.url,
      '--transport',
      'polling',
    ]);
    expectCompleteRun(run);
    expect(run.stdout).toMatch(/\] following thread_[0-9a-f]{16} by REST polling after seq 0$/m);
    expect(run.stdout).not.toContain('over SSE');
  });

  it('falls back to REST polling when a proxy refuses the event stream (exit 0)', async () => {
    const proxy = await startSseBreakingProxy(server.url, 'refuse');
    proxies.push(proxy);
    const run = await pingProbe('u1', proxy.url);
    expectCompleteRun(run);
    expect(run.stdout).toMatch(
      /\] SSE unusable \(GET \/threads\/thread_[0-9a-f]{16}\/events answered 502 text\/html\): following by REST polling after seq 0$/m,
    );
  });

  it('falls back to REST polling when a proxy holds the event stream back (exit 0)', async () => {
    const proxy = await startSseBreakingProxy(server.url, 'hold');
    proxies.push(proxy);
    const run = await pingProbe('u2', proxy.url);
    expectCompleteRun(run);
    expect(run.stdout).toMatch(
      /\] SSE unusable \(no answer within 3 s\): following by REST polling/,
    );
  });

  it('fails when SSE is required and cannot be used (--transport sse, exit 1)', async () => {
    const proxy = await startSseBreakingProxy(server.url, 'refuse');
    proxies.push(proxy);
    const run = await pingProbe('u3', proxy.url, '--transport', 'sse');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^probe: FAILED \(REFUSED\): the event stream cannot be used: GET \/threads\/\S+\/events answered 502/,
    );
  });

  it('uses a given thread again: the second run starts after the first one', async () => {
    const threadId = 'runbook-thread.1';
    const args = ['--user-id', 'reuser', '--message', 'again', '--url', server.url];
    const first = await runPythonProbe([...args, '--thread-id', threadId]);
    expectCompleteRun(first);
    expect(first.stdout).toContain(`events on ${threadId}, run ${threadId}_run_`);
    const second = await runPythonProbe([...args, '--thread-id', threadId]);
    expectCompleteRun(second, (first.events.at(-1)?.seq ?? 0) + 1);
  });

  it('exits 1 UNAUTHORIZED with a token the server refuses', async () => {
    const run = await pingProbe('x', server.url, '--token', 'not-a-jwt');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^probe: FAILED \(UNAUTHORIZED\): the server refused the token/);
    expect(run.events).toEqual([]);
  });

  it('exits 1 SERVER_DOWN, naming the URL and the cause, when nothing listens', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const run = await pingProbe('x', url);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`probe: FAILED (SERVER_DOWN): cannot reach ${url}: ECONNREFUSED`);
  });

  it('exits 1 TIMEOUT when the run does not come through in time', async () => {
    const proxy = await startSseBreakingProxy(server.url, 'hold');
    proxies.push(proxy);
    const run = await pingProbe('slow', proxy.url, '--transport', 'sse', '--timeout-ms', '1000');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^probe: FAILED \(TIMEOUT\): timed out after 1000 ms waiting for agent_completed \(got 0 event\(s\): none\)/,
    );
  });

  it.each([
    [[], '--user-id is required'],
    [['--user-id', 'test'], '--message is required'],
    [['--user-id', 'not valid', '--message', 'x'], '--user-id must be 1-200 letters'],
    [['--user-id', 'test', '--message', 'x', '--timeout-ms', '0'], '--timeout-ms must be'],
    [['--user-id', 'test', '--message', 'x', '--timeout-ms', '1.5s'], '--timeout-ms must be'],
    [['--user-id', 'test', '--message', 'x', '--url', 'localhost:8000'], '--url must be'],
    [['--user-id', 'test', '--message', 'x', '--thread-id', 'a b'], '--thread-id must be'],
    [
      ['--user-id', 'test', '--message', 'x', '--thread-id', 't_run_1700000000000_abcd'],
      '--thread-id t_run_1700000000000_abcd has the run form',
    ],
    [['--user-id', 'test', '--message', 'x', '--transport', 'websocket'], '--transport must be'],
    [['--user-id', 'test', '--message', 'x', '--bogus'], 'unrecognized arguments: --bogus'],
  ])('exits 2 for bad arguments %j', async (args, message) => {
    const run = await runPythonProbe(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`probe: ${message}`);
    expect(run.stderr).toContain('usage: python scripts/test_websocket_delivery.py');
    expect(run.stdout).toBe('');
  });
});

describe('scripts/test_websocket_delivery.py against the reference server in production', () => {
  let server: ReferenceServer;

  beforeAll(async () => {
    requirePython();
    server = await startReferenceServer({ NODE_ENV: 'production', RELAY_JWT_SECRET: PROD_SECRET });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('says dev sign-in is off without --token (exit 1)', async () => {
    const run = await pingProbe('ops', server.url);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^probe: FAILED \(DEV_TOKEN_UNAVAILABLE\): .*pass --token/);
  });

  it('comes through with a token the server accepts (--token, exit 0)', async () => {
    const token = await signUserToken('ops', PROD_SECRET);
    const run = await pingProbe('ops', server.url, '--token', token);
    expectCompleteRun(run);
    expect(run.stdout).toMatch(/\] using the given token$/m);
  });
});

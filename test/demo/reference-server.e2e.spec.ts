import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer } from 'node:net';
import {
  ProbeError,
  runDeliveryProbe,
  type ProbeReport,
} from '../../scripts/lib/delivery-probe.js';
import type { ThreadEvent } from '../../src/client/index.js';
import {
  buildWebPage,
  startReferenceServer,
  type BuiltWebPage,
  type ReferenceServer,
} from './support/reference-server.js';

const AGENT_STEPS = ['agent_started', 'agent_thinking', 'tool_executing', 'tool_completed'];

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function probeError(promise: Promise<unknown>): Promise<ProbeError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ProbeError) return error;
    throw error;
  }
  throw new Error('the probe succeeded but was expected to fail');
}

/** A port nothing listens on: bound once, then released. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve, reject) =>
    server.close((error) => (error ? reject(error) : resolve())),
  );
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('reference server (in-memory)', () => {
  let server: ReferenceServer;
  let web: BuiltWebPage;

  beforeAll(async () => {
    web = await buildWebPage();
    server = await startReferenceServer({}, web.dir);
  });

  afterAll(async () => {
    await server?.close();
    await web?.remove();
  });

  it('the probe sees the agent run for a user message in order, addressed by run id', async () => {
    const reports: ProbeReport[] = [];
    const result = await runDeliveryProbe({
      url: server.url,
      userId: 'probe-user',
      message: 'ping from the e2e test',
      timeoutMs: 10_000,
      report: (line) => reports.push(line),
    });

    const { threadId } = result;
    expect(threadId).toMatch(/^thread_[0-9a-f]{16}$/);
    const events: ThreadEvent[] = result.events.map((r) => r.event);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.every((e) => e.threadId === threadId)).toBe(true);

    const [userMessage, ...agent] = events;
    expect(userMessage?.type).toBe('user_message');
    expect(userMessage?.seq).toBe(result.sentSeq);
    expect(userMessage?.payload).toMatchObject({ text: 'ping from the e2e test' });

    const types = agent.map((e) => e.type);
    expect(types.slice(0, AGENT_STEPS.length)).toEqual(AGENT_STEPS);
    expect(types.at(-1)).toBe('agent_completed');
    const answers = agent.slice(AGENT_STEPS.length, -1);
    expect(answers.length).toBeGreaterThanOrEqual(2);
    expect(answers.every((e) => e.type === 'assistant_message')).toBe(true);
    const finals = answers.map((e) => (e.payload as { final?: unknown }).final);
    expect(finals.slice(0, -1).every((f) => f === false)).toBe(true);
    expect(finals.at(-1)).toBe(true);
    const chunks = answers
      .slice(0, -1)
      .map((e) => (e.payload as { delta?: unknown }).delta)
      .join('');
    const finalText = (answers.at(-1)?.payload as { text?: unknown }).text;
    expect(finalText).toContain('ping from the e2e test');
    expect(chunks.trim()).toBe(finalText);

    // Every agent event is addressed by the run id, which resolves to the thread.
    const runPattern = new RegExp(`^${escapeRegExp(threadId)}_run_\\d{10,16}_[0-9a-f]+$`);
    expect(result.runId).toMatch(runPattern);
    for (const event of agent) expect(event.runId).toBe(result.runId);

    // Each event was reported once, with a latency.
    const reported = reports.filter((r) => r.kind === 'event');
    expect(reported).toHaveLength(events.length);
    for (const line of result.events) expect(line.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('two users probing at once each see only their own thread', async () => {
    const [a, b] = await Promise.all([
      runDeliveryProbe({ url: server.url, userId: 'alice', message: 'a', timeoutMs: 10_000 }),
      runDeliveryProbe({ url: server.url, userId: 'bob', message: 'b', timeoutMs: 10_000 }),
    ]);
    expect(a.threadId).not.toBe(b.threadId);
    expect(a.events.every((r) => r.event.threadId === a.threadId)).toBe(true);
    expect(b.events.every((r) => r.event.threadId === b.threadId)).toBe(true);
  });

  it('the probe fails with UNAUTHORIZED when the server refuses the token', async () => {
    const error = await probeError(
      runDeliveryProbe({
        url: server.url,
        userId: 'x',
        message: 'ping',
        timeoutMs: 5_000,
        token: 'not-a-jwt',
      }),
    );
    expect(error.code).toBe('UNAUTHORIZED');
  });

  it('the probe fails with SERVER_DOWN when nothing listens', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const error = await probeError(
      runDeliveryProbe({ url, userId: 'x', message: 'ping', timeoutMs: 5_000 }),
    );
    expect(error.code).toBe('SERVER_DOWN');
    expect(error.message).toContain(url);
  });

  it('the dev-token route refuses a bad user id', async () => {
    const response = await fetch(`${server.url}/auth/dev-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'not valid' }),
    });
    expect(response.status).toBe(400);
  });

  it.each([
    ['/', 'text/html', '<title>thread-relay demo</title>'],
    ['/app.js', 'text/javascript', 'thread:join'],
    ['/app.css', 'text/css', '.status'],
  ])('serves the web page: GET %s', async (path, contentType, content) => {
    const response = await fetch(`${server.url}${path}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain(contentType);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await response.text()).toContain(content);
  });

  it('serves nothing else from the web root', async () => {
    const response = await fetch(`${server.url}/index.html.map`);
    expect(response.status).toBe(404);
  });
});

describe('reference server without a built page', () => {
  it('answers 404 at / with a hint to build', async () => {
    const server = await startReferenceServer({});
    try {
      const response = await fetch(`${server.url}/`);
      expect(response.status).toBe(404);
      expect(await response.text()).toContain('npm run build');
    } finally {
      await server.close();
    }
  });
});

describe('reference server in production', () => {
  let server: ReferenceServer;

  beforeAll(async () => {
    server = await startReferenceServer({
      NODE_ENV: 'production',
      RELAY_JWT_SECRET: 'a-production-secret-of-at-least-32-bytes',
    });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('has no dev-token route (404)', async () => {
    const response = await fetch(`${server.url}/auth/dev-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'mallory' }),
    });
    expect(response.status).toBe(404);
  });

  it('the probe says dev sign-in is off', async () => {
    const error = await probeError(
      runDeliveryProbe({ url: server.url, userId: 'x', message: 'ping', timeoutMs: 5_000 }),
    );
    expect(error.code).toBe('DEV_TOKEN_UNAVAILABLE');
  });
});

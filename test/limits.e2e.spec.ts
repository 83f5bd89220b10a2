import type { LoggerService } from '@nestjs/common';
import { io, type Socket } from 'socket.io-client';
import { RelayMetrics, UserMessageService, type UserMessage } from '../src/index.js';
import { RawSocketIoClient } from './support/raw-socketio-client.js';
import {
  connectSocket,
  instanceModes,
  type RelayApp,
  type TestRelayOptions,
} from './support/relay-app.js';
import { useRelayApps } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';

interface LogLine {
  level: 'log' | 'warn' | 'error';
  fields: Record<string, unknown>;
}

/** Collects the module's structured log lines. */
function capturingLogger(lines: LogLine[]): LoggerService {
  const record = (level: LogLine['level']) => (message: unknown) => {
    if (typeof message === 'object' && message !== null) {
      lines.push({ level, fields: message as Record<string, unknown> });
    }
  };
  return { log: record('log'), warn: record('warn'), error: record('error') };
}

type Answer = { ok: boolean; error?: { code: string; message: string; retryAfterMs?: number } };

async function errorCount(app: RelayApp, code: string): Promise<number> {
  const metric = await app.app.get(RelayMetrics).errors.get();
  return metric.values.filter((v) => v.labels.code === code).reduce((sum, v) => sum + v.value, 0);
}

describe.each(instanceModes('limits'))('limits (%s)', (mode, instances, config) => {
  const sockets: Socket[] = [];
  const raws: RawSocketIoClient[] = [];
  const lines: LogLine[] = [];
  const userMessages: UserMessage[] = [];

  const open = async (userId: string, app = apps[0]!) => {
    const socket = await connectSocket(app.url, await app.token(userId));
    sockets.push(socket);
    return socket;
  };
  const refusals = (code: string) =>
    lines.filter((l) => l.fields.msg === 'request refused' && l.fields.code === code);

  const apps = useRelayApps(
    instances,
    (): TestRelayOptions => ({
      ...config(),
      logger: capturingLogger(lines),
      limits: {
        clientEvents: { perSecond: 20, burst: 20 },
        connectionAttempts: { perMinute: 60, burst: 6 },
        httpRequests: { perSecond: 1, burst: 5 },
        userMessages: { perMinute: 6, burst: 3 },
        joinedThreadsPerConnection: 3,
        concurrentJoinsPerConnection: 2,
        connectionsPerUser: 3,
        autoRegisteredThreadsPerUser: 4,
      },
      backpressure: {
        highWaterBytes: 4096,
        maxBufferedBytes: 8 * 1024 * 1024,
        stallTimeoutMs: 20_000,
      },
    }),
    (i) => ({ instanceId: `limits-${mode}-${i}` }),
  );
  beforeAll(() => {
    for (const app of apps) {
      app.app.get(UserMessageService).onMessage((message) => {
        userMessages.push(message);
      });
    }
  });
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    await Promise.all(raws.splice(0).map((raw) => raw.close()));
  });

  it('refuses client events over the per-connection rate, then cuts a client that keeps flooding', async () => {
    const flooder = await open('flooder');
    const errors: Answer['error'][] = [];
    flooder.on('relay:error', (notice: { error: Answer['error'] }) => errors.push(notice.error));
    const disconnected = new Promise<string>((resolve) => flooder.on('disconnect', resolve));
    const answers = (await Promise.all(
      Array.from({ length: 25 }, () => flooder.emitWithAck('thread:leave', { threadId: 'x' })),
    )) as Answer[];
    const limited = answers.filter((a) => a.error?.code === 'RATE_LIMITED');
    expect(answers.filter((a) => a.ok)).toHaveLength(20);
    expect(limited).toHaveLength(5);
    expect(limited[0]?.error?.retryAfterMs).toBeGreaterThan(0);
    // Without an ack asked for, the refusal is said at most once a second.
    for (let i = 0; i < 10; i++) flooder.emit('thread:leave', { threadId: 'x' });
    await waitUntil(() => errors.length >= 1, 'a rate-limit notice');
    // More than ten bursts refused within a minute: the connection is cut.
    for (let i = 0; i < 250; i++) flooder.emit('thread:leave', { threadId: 'x' });
    await expect(disconnected).resolves.toBe('transport close');
    expect(errors.every((e) => e?.code === 'RATE_LIMITED')).toBe(true);
    expect(errors.length).toBeLessThanOrEqual(2);
    // One warning line for all of it, and another user is served all along.
    expect(refusals('RATE_LIMITED').filter((l) => l.fields.userId === 'flooder')).toHaveLength(1);
    const other = await open('bystander');
    expect(await other.emitWithAck('thread:join', { threadId: `${mode}-bystander` })).toMatchObject(
      {
        ok: true,
      },
    );
  });

  it('bounds reconnect cycling by the connection-attempt rate', async () => {
    // Six connection attempts, then refused until the minute's rate lets another in.
    const app = apps[0]!;
    for (let i = 0; i < 6; i++) (await open('attempts')).close();
    const outcome = await connectSocket(app.url, await app.token('attempts')).then(
      (socket) => {
        sockets.push(socket);
        return null;
      },
      (error: Error & { data?: unknown }) => error,
    );
    expect(outcome?.message).toBe('rate_limited');
    expect(outcome?.data).toMatchObject({ code: 'RATE_LIMITED' });
  });

  it('answers BAD_REQUEST to unknown events that ask for an ack, and ignores the rest', async () => {
    const socket = await open('curious');
    expect(await socket.emitWithAck('thread:delete', { threadId: 'x' })).toMatchObject({
      ok: false,
      error: { code: 'BAD_REQUEST', message: expect.stringContaining('unknown event') as unknown },
    });
    socket.emit('no:ack', 1);
    expect(await socket.emitWithAck('thread:leave', { threadId: 'x' })).toEqual({ ok: true });
  });

  it('caps user messages per user over every instance; refused ones store nothing', async () => {
    const threadId = `${mode}-chatty`;
    await apps[0]!.registry.registerThread(threadId, 'chatty');
    const results: Answer[] = [];
    const perApp = await Promise.all(apps.map((app) => open('chatty', app)));
    for (let i = 0; i < 6; i++) {
      const socket = perApp[i % perApp.length]!;
      results.push(
        (await socket.emitWithAck('user:message', {
          threadId,
          text: `hello ${i}`,
          clientMessageId: `chatty-${i}`,
        })) as Answer,
      );
    }
    expect(results.map((r) => r.ok)).toEqual([true, true, true, false, false, false]);
    expect(results[3]?.error).toMatchObject({ code: 'RATE_LIMITED' });
    const rest = await fetch(`${apps[apps.length - 1]!.url}/threads/${threadId}/messages`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await apps[0]!.token('chatty')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ text: 'rest', clientMessageId: 'chatty-rest' }),
    });
    expect(rest.status).toBe(429);
    expect(Number(rest.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const page = await apps[0]!.delivery.history(threadId, 0, 100);
    expect(page.messages.map((m) => (m.payload as { text: string }).text)).toEqual([
      'hello 0',
      'hello 1',
      'hello 2',
    ]);
    expect(userMessages.filter((m) => m.userId === 'chatty')).toHaveLength(3);
  });

  it('caps requests to the user routes per user with 429 and Retry-After', async () => {
    const app = apps[0]!;
    await app.registry.registerThread(`${mode}-polled`, 'poller');
    const headers = { authorization: `Bearer ${await app.token('poller')}` };
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    const started = Date.now();
    for (let i = 0; i < 8; i++) {
      const response = await fetch(`${app.url}/threads/${mode}-polled/messages`, { headers });
      statuses.push(response.status);
      if (response.status === 429) {
        retryAfter = response.headers.get('retry-after');
        expect(await response.json()).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } });
      }
    }
    // The burst is served, then one more request a second: a slow machine may earn a token
    // or two between the requests, never more than the time they took.
    const refilled = Math.floor((Date.now() - started) / 1000);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5).filter((status) => status === 200).length).toBeLessThanOrEqual(
      refilled,
    );
    expect(statuses.slice(5).every((status) => status === 200 || status === 429)).toBe(true);
    expect(statuses).toContain(429);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    // Per user: another one is served meanwhile.
    await app.registry.registerThread(`${mode}-other-polled`, 'other-poller');
    const other = await fetch(`${app.url}/threads/${mode}-other-polled/messages`, {
      headers: { authorization: `Bearer ${await app.token('other-poller')}` },
    });
    expect(other.status).toBe(200);
  });

  it('caps threads joined per connection; a rejoin is free and a leave frees a place', async () => {
    const socket = await open('joiner');
    for (let i = 0; i < 3; i++) {
      expect(
        await socket.emitWithAck('thread:join', { threadId: `${mode}-join-${i}` }),
      ).toMatchObject({ ok: true });
    }
    expect(await socket.emitWithAck('thread:join', { threadId: `${mode}-join-3` })).toMatchObject({
      ok: false,
      error: { code: 'LIMIT_EXCEEDED' },
    });
    expect(await socket.emitWithAck('thread:join', { threadId: `${mode}-join-1` })).toMatchObject({
      ok: true,
    });
    await socket.emitWithAck('thread:leave', { threadId: `${mode}-join-0` });
    expect(await socket.emitWithAck('thread:join', { threadId: `${mode}-join-3` })).toMatchObject({
      ok: true,
    });
    expect(await apps[0]!.registry.getThread(`${mode}-join-3`)).toMatchObject({
      ownerId: 'joiner',
    });
  });

  it('queues joins past those in progress, and refuses past the queue, while replays wait for a client that does not read', async () => {
    const app = apps[0]!;
    const threads = Array.from({ length: 6 }, (_, i) => `${mode}-replay-heavy-${i}`);
    for (const threadId of threads) {
      await app.registry.registerThread(threadId, 'heavy');
      for (let i = 0; i < 10; i++) {
        await app.delivery.sendToThread(threadId, 'chunk', { data: 'x'.repeat(20_000) });
      }
    }
    const raw = await RawSocketIoClient.connect(app.url, await app.token('heavy'));
    raws.push(raw);
    const before = await errorCount(app, 'RATE_LIMITED');
    raw.pauseReading();
    const joins = threads.map((threadId) =>
      raw.emitWithAck('thread:join', { threadId, lastSeq: 0 }, 20_000),
    );
    // Two replays stall on the unread buffer, three joins wait their turn (the queue holds
    // as many as the connection may join threads), the sixth is refused.
    await waitUntil(async () => (await errorCount(app, 'RATE_LIMITED')) - before === 1, 'refusal');
    raw.resumeReading();
    const answers = (await Promise.all(joins)) as Answer[];
    const codes = answers.map((a) => (a.ok ? 'ok' : a.error?.code));
    // The queued ones run once slots free, up to the joined-threads cap of 3.
    expect(codes.filter((c) => c === 'ok')).toHaveLength(3);
    expect(codes.filter((c) => c === 'LIMIT_EXCEEDED')).toHaveLength(2);
    expect(codes.filter((c) => c === 'RATE_LIMITED')).toHaveLength(1);
    await raw.waitForThreadEvents(30);
  });

  it('caps connections per user over every instance', async () => {
    const held: Socket[] = [];
    for (let i = 0; i < 3; i++) held.push(await open('many-tabs', apps[i % apps.length]));
    for (const socket of held) {
      expect(await socket.emitWithAck('thread:leave', { threadId: 'x' })).toEqual({ ok: true });
    }
    const last = apps[apps.length - 1]!;
    // Listeners first: the refusal may arrive in the same read as the connect.
    const extra = io(last.url, {
      auth: { token: await last.token('many-tabs') },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      autoConnect: false,
    });
    sockets.push(extra);
    const notice = new Promise<Answer['error']>((resolve) =>
      extra.on('relay:error', (n: { error: Answer['error'] }) => resolve(n.error)),
    );
    const closed = new Promise<string>((resolve) => extra.on('disconnect', resolve));
    extra.connect();
    await expect(notice).resolves.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    await expect(closed).resolves.toBe('io server disconnect');
    await waitUntil(
      async () => (await apps[0]!.store.connectionsOfUser('many-tabs')).length === 3,
      'three registered connections',
    );
    // A closed tab frees its place.
    held[0]!.close();
    await waitUntil(
      async () => (await apps[0]!.store.connectionsOfUser('many-tabs')).length === 2,
      'the closed tab unregistered',
    );
    const next = await open('many-tabs');
    expect(await next.emitWithAck('thread:leave', { threadId: 'x' })).toEqual({ ok: true });
  });

  it('caps auto-registered threads per user; threads the app registers do not count', async () => {
    const app = apps[0]!;
    await app.registry.registerThread(`${mode}-app-owned`, 'hoarder');
    const socket = await open('hoarder');
    for (let i = 0; i < 3; i++) {
      expect(
        await socket.emitWithAck('thread:join', { threadId: `${mode}-hoard-${i}` }),
      ).toMatchObject({
        ok: true,
      });
      await socket.emitWithAck('thread:leave', { threadId: `${mode}-hoard-${i}` });
    }
    const post = await fetch(`${app.url}/threads/${mode}-hoard-3/messages`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await app.token('hoarder')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ text: 'x', clientMessageId: 'hoard-3' }),
    });
    expect(post.status).toBe(200);
    expect(await socket.emitWithAck('thread:join', { threadId: `${mode}-hoard-4` })).toMatchObject({
      ok: false,
      error: { code: 'LIMIT_EXCEEDED' },
    });
    const refused = await fetch(`${app.url}/threads/${mode}-hoard-5/messages`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await app.token('hoarder')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ text: 'x', clientMessageId: 'hoard-5' }),
    });
    expect(refused.status).toBe(429);
    expect(await app.registry.getThread(`${mode}-hoard-4`)).toBeNull();
    expect(await app.registry.getThread(`${mode}-hoard-5`)).toBeNull();
    // Joining one it has is not a new one; the app-registered thread joins as ever.
    expect(await socket.emitWithAck('thread:join', { threadId: `${mode}-hoard-1` })).toMatchObject({
      ok: true,
    });
    expect(
      await socket.emitWithAck('thread:join', { threadId: `${mode}-app-owned` }),
    ).toMatchObject({ ok: true });
  });

  it('logs one warning per connection and code per minute, however many refusals', async () => {
    const socket = await open('noisy');
    const start = lines.length;
    const answers = (await Promise.all(
      Array.from({ length: 15 }, (_, i) =>
        socket.emitWithAck('thread:ack', { threadId: `not-joined-${i}`, seq: 1 }),
      ),
    )) as Answer[];
    expect(answers.every((a) => a.error?.code === 'BAD_REQUEST')).toBe(true);
    const mine = lines.slice(start).filter((l) => l.fields.userId === 'noisy');
    expect(mine.filter((l) => l.fields.code === 'BAD_REQUEST')).toHaveLength(1);
  });
});

import { jest } from '@jest/globals';
import net from 'node:net';
import { signUserToken } from '../src/index.js';
import { LiveThreadEvents } from '../src/delivery/live-thread-events.service.js';
import { SseStreams } from '../src/sse/sse-streams.service.js';
import { openSse, type SseConnection } from './support/sse-client.js';
import { TEST_JWT_SECRET } from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';

/** A promise the test opens when it chooses. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** What a hostile or broken client, or a flaky access rule, must not get from a stream. */
describe('Server-Sent Events, hardened', () => {
  const open: SseConnection[] = [];
  /** The access rule of this app: owner only, unless a test says otherwise. */
  let rule: (userId: string, ownerId: string | undefined) => Promise<boolean> = (u, o) =>
    Promise.resolve(u === o);

  const relay = useRelayApp({
    threadAccess: (userId, _threadId, thread) => rule(userId, thread?.ownerId),
    backpressure: {
      highWaterBytes: 16 * 1024,
      maxBufferedBytes: 4 * 1024 * 1024,
      stallTimeoutMs: 300,
    },
    limits: { readBytes: { perSecond: 64 * 1024, burst: 64 * 1024 } },
  });
  afterEach(() => {
    rule = (u, o) => Promise.resolve(u === o);
    for (const connection of open.splice(0)) connection.close();
  });

  async function stream(path: string, token?: string): Promise<SseConnection> {
    const connection = await openSse(`${relay.url}${path}`, {
      authorization: `Bearer ${token ?? (await relay.token('alice'))}`,
    });
    open.push(connection);
    return connection;
  }

  const seqs = (c: SseConnection) =>
    c.frames
      .filter((f) => f.event === 'thread.event')
      .map((f) => (JSON.parse(f.data ?? '{}') as { seq: number }).seq);

  it('ends the stream when a re-check of access fails, as a refusal', async () => {
    await relay.registry.registerThread('hard-throws', 'alice');
    const c = await stream('/threads/hard-throws/events');
    await relay.delivery.sendToThread('hard-throws', 'tick', { n: 1 });
    await c.waitFor(() => seqs(c).length === 1, 'the first event');
    rule = () => Promise.reject(new Error('access service down'));
    relay.registry.revalidateAccess('hard-throws');
    await c.ended;
    expect(JSON.parse(c.frames.at(-1)?.data ?? '{}')).toEqual({ reason: 'access_revoked' });
  });

  it('sees an access change that lands while the stream is being admitted', async () => {
    await relay.registry.registerThread('hard-race', 'alice');
    const admitting = gate();
    const answer = gate();
    let calls = 0;
    rule = async (u, o) => {
      calls += 1;
      // The admission's check answers late; the app revokes alice meanwhile.
      if (calls === 1) {
        admitting.open();
        await answer.opened;
        return u === o;
      }
      return false;
    };
    const opening = stream('/threads/hard-race/events');
    await admitting.opened;
    relay.registry.revalidateAccess('hard-race');
    answer.open();
    const c = await opening;
    await c.ended;
    expect(JSON.parse(c.frames.at(-1)?.data ?? '{}')).toEqual({ reason: 'access_revoked' });
    await relay.delivery.sendToThread('hard-race', 'secret', {});
    expect(seqs(c)).toEqual([]);
  });

  it('leaves nothing behind for a client that leaves before the stream starts', async () => {
    await relay.registry.registerThread('hard-abort', 'alice');
    const streams = relay.app.get(SseStreams);
    const live = relay.app.get(LiveThreadEvents);
    const follow = jest.spyOn(streams, 'follow');
    const answer = gate();
    let checks = 0;
    rule = async (u, o) => {
      checks += 1;
      await answer.opened;
      return u === o;
    };
    const { port } = new URL(relay.url);
    for (let i = 1; i <= 3; i++) {
      const socket = net.connect(Number(port), '127.0.0.1');
      socket.write(
        `GET /threads/hard-abort/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${await relay.token('alice')}\r\n\r\n`,
      );
      // Gone while its admission waits for the access rule.
      await waitUntil(() => checks === i, 'the admission to ask the access rule');
      const gone = new Promise((resolve) => socket.once('close', resolve));
      socket.destroy();
      await gone;
    }
    answer.open();
    await waitUntil(() => follow.mock.calls.length === 3, 'the three admissions to finish');
    await Promise.allSettled(follow.mock.results.map((r) => r.value as Promise<void>));
    follow.mockRestore();
    expect(streams.size).toBe(0);
    expect(live.watchedThreads()).not.toContain('hard-abort');
  });

  it('keeps a stream whose token expires weeks from now', async () => {
    await relay.registry.registerThread('hard-long-token', 'alice');
    const token = await signUserToken('alice', TEST_JWT_SECRET, { expiresIn: '30d' });
    const c = await stream('/threads/hard-long-token/events', token);
    await relay.delivery.sendToThread('hard-long-token', 'tick', {});
    await c.waitFor(() => seqs(c).length === 1, 'the event');
    // A timer that overflowed would have fired 1 ms after the stream started: a later event
    // still arriving shows the stream outlived it.
    await relay.delivery.sendToThread('hard-long-token', 'tick', {});
    await c.waitFor(() => seqs(c).length === 2, 'the second event');
    expect(c.frames.some((f) => f.event === 'relay.closed')).toBe(false);
  });

  it('starts a new thread’s stream on its first event without a reset', async () => {
    await relay.registry.registerThread('hard-new', 'alice');
    const c = await stream('/threads/hard-new/events');
    await relay.delivery.sendToThread('hard-new', 'tick', {});
    await c.waitFor(() => seqs(c).length === 1, 'the first event');
    expect(c.frames.filter((f) => f.event === 'thread.reset')).toEqual([]);
  });

  it('charges its reads to the user’s read budget, as history reads are', async () => {
    await relay.registry.registerThread('hard-budget', 'alice');
    const big = 'x'.repeat(16 * 1024);
    for (let n = 1; n <= 12; n++)
      await relay.delivery.sendToThread('hard-budget', 'chunk', { n, big });
    // ~200 KiB of log against 64 KiB a second: the replay takes seconds, not one read.
    const started = Date.now();
    const c = await stream('/threads/hard-budget/events');
    await c.waitFor(() => seqs(c).length === 12, 'the whole log', 15_000);
    expect(Date.now() - started).toBeGreaterThan(1_500);
    const history = await fetch(`${relay.url}/threads/hard-budget/messages?limit=50`, {
      headers: { authorization: `Bearer ${await relay.token('alice')}` },
    });
    expect(history.status).toBe(429);
  });
});

describe('Server-Sent Events, a reader that stalls', () => {
  const relay = useRelayApp({
    backpressure: {
      highWaterBytes: 16 * 1024,
      maxBufferedBytes: 64 * 1024 * 1024,
      stallTimeoutMs: 300,
    },
    limits: { readBytes: { perSecond: 1e9, burst: 1e9 } },
  });

  it('cuts a client that stops reading during a replay after the stall timeout', async () => {
    await relay.registry.registerThread('hard-stall', 'bob');
    // More than the sockets' buffers hold, less than maxBufferedBytes: only the stall cuts it.
    const big = 'y'.repeat(32 * 1024);
    for (let n = 1; n <= 1000; n++) {
      await relay.delivery.sendToThread('hard-stall', 'chunk', { n, big });
    }
    const streams = relay.app.get(SseStreams);
    const { port } = new URL(relay.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    socket.pause();
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(
      `GET /threads/hard-stall/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${await relay.token('bob')}\r\n\r\n`,
    );
    await waitUntil(() => streams.size === 1, 'the stream to open');
    await waitUntil(() => streams.size === 0, 'the stalled stream to be cut', 10_000);
    socket.resume();
    await closed;
  });
});

/** A user who opens streams and tickets in a loop: held to the per-user caps, nobody else is. */
describe('Server-Sent Events, flooded', () => {
  const open: SseConnection[] = [];

  afterAll(() => {
    for (const connection of open.splice(0)) connection.close();
  });
  const relay = useRelayApp({
    limits: { connectionsPerUser: 2, httpRequests: { perSecond: 1, burst: 6 } },
  });
  beforeAll(async () => {
    await relay.registry.registerThread('flood-mine', 'mallory');
    await relay.registry.registerThread('flood-other', 'olga');
  });

  async function stream(userId: string, threadId: string): Promise<SseConnection> {
    const connection = await openSse(`${relay.url}/threads/${threadId}/events`, {
      authorization: `Bearer ${await relay.token(userId)}`,
    });
    open.push(connection);
    return connection;
  }

  it('caps open streams per user, then the request rate, and leaves other users alone', async () => {
    const first = await stream('mallory', 'flood-mine');
    const second = await stream('mallory', 'flood-mine');
    expect([first.status, second.status]).toEqual([200, 200]);
    const third = await stream('mallory', 'flood-mine');
    expect(third.status).toBe(429);
    expect(third.body).toMatchObject({ ok: false, error: { code: 'LIMIT_EXCEEDED' } });

    // Each refused attempt still costs a request: the bucket runs dry, tickets included.
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const ticket = await fetch(`${relay.url}/threads/flood-mine/stream-tickets`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await relay.token('mallory')}` },
      });
      statuses.push(ticket.status);
    }
    expect(statuses).toContain(429);
    const limited = await stream('mallory', 'flood-mine');
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ error: { code: 'RATE_LIMITED' } });

    // Another user on the same instance is not held to mallory's caps.
    const olga = await stream('olga', 'flood-other');
    expect(olga.status).toBe(200);
  });
});

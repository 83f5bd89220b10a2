import net from 'node:net';
import { signUserToken } from '../src/index.js';
import { SseStreams } from '../src/sse/sse-streams.service.js';
import { openSse, type SseConnection } from './support/sse-client.js';
import { startRelayApp, TEST_JWT_SECRET, waitUntil, type RelayApp } from './support/relay-app.js';

interface StreamedEvent {
  seq: number;
  epoch: string;
  payload: { n: number };
}

/** `GET /threads/:threadId/events` and its tickets, on one instance in memory. */
describe('Server-Sent Events', () => {
  let relay: RelayApp;
  const open: SseConnection[] = [];

  beforeAll(async () => {
    relay = await startRelayApp({
      sse: { heartbeatMs: 200 },
      backpressure: { highWaterBytes: 16 * 1024, maxBufferedBytes: 64 * 1024 },
    });
  });
  afterEach(() => {
    for (const connection of open.splice(0)) connection.close();
  });
  afterAll(async () => {
    await relay.close();
  });

  async function stream(
    path: string,
    options: { user?: string | null; headers?: Record<string, string> } = {},
  ): Promise<SseConnection> {
    const user = options.user === undefined ? 'alice' : options.user;
    const headers = { ...(options.headers ?? {}) };
    if (user !== null) headers.authorization = `Bearer ${await relay.token(user)}`;
    const connection = await openSse(`${relay.url}${path}`, headers);
    open.push(connection);
    return connection;
  }

  async function thread(threadId: string, events: number, owner = 'alice'): Promise<string> {
    await relay.registry.registerThread(threadId, owner);
    let epoch = '';
    for (let n = 1; n <= events; n++) {
      epoch = (await relay.delivery.sendToThread(threadId, 'tick', { n })).epoch;
    }
    return epoch;
  }

  const seqs = (c: SseConnection) =>
    c.frames
      .filter((f) => f.event === 'thread.event')
      .map((f) => (JSON.parse(f.data ?? '{}') as StreamedEvent).seq);

  it('streams the log, then live events, each once, with <epoch>:<seq> ids', async () => {
    const epoch = await thread('sse-live', 3);
    const c = await stream('/threads/sse-live/events');
    expect(c.status).toBe(200);
    expect(c.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await c.waitFor(() => seqs(c).length === 3, 'the log');
    for (let n = 4; n <= 6; n++) await relay.delivery.sendToThread('sse-live', 'tick', { n });
    await c.waitFor(() => seqs(c).length === 6, 'the live events');
    expect(seqs(c)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(c.frames.filter((f) => f.event === 'thread.event').map((f) => f.id)).toEqual(
      [1, 2, 3, 4, 5, 6].map((seq) => `${epoch}:${seq}`),
    );
    await c.waitFor((frames) => frames.some((f) => f.comment === 'keep-alive'), 'a heartbeat');
  });

  it('resumes after Last-Event-ID (or ?lastEventId=) with exactly the missed events', async () => {
    const epoch = await thread('sse-resume', 10);
    const byHeader = await stream('/threads/sse-resume/events', {
      headers: { 'last-event-id': `${epoch}:4` },
    });
    const byQuery = await stream(`/threads/sse-resume/events?lastEventId=${epoch}:7`);
    await byHeader.waitFor(() => seqs(byHeader).length === 6, 'events 5..10');
    await byQuery.waitFor(() => seqs(byQuery).length === 3, 'events 8..10');
    await relay.delivery.sendToThread('sse-resume', 'tick', { n: 11 });
    await byHeader.waitFor(() => seqs(byHeader).includes(11), 'the live event');
    await byQuery.waitFor(() => seqs(byQuery).includes(11), 'the live event');
    expect(seqs(byHeader)).toEqual([5, 6, 7, 8, 9, 10, 11]);
    expect(seqs(byQuery)).toEqual([8, 9, 10, 11]);
    expect(byHeader.frames.some((f) => f.event === 'thread.reset')).toBe(false);
  });

  it('sends thread.reset for a cursor it cannot serve, then the log it has', async () => {
    const epoch = await thread('sse-reset', 3);
    for (const cursor of ['0123456789abcdef:2', `${epoch}:99`]) {
      const c = await stream('/threads/sse-reset/events', { headers: { 'last-event-id': cursor } });
      await c.waitFor(() => seqs(c).length === 3, 'the whole log');
      const reset = c.frames.find((f) => f.event === 'thread.reset');
      expect(JSON.parse(reset?.data ?? '{}')).toMatchObject({
        threadId: 'sse-reset',
        reason: 'cursor_unavailable',
        epoch,
        headSeq: 3,
        firstSeq: 1,
      });
      expect(seqs(c)).toEqual([1, 2, 3]);
    }
    const bad = await stream('/threads/sse-reset/events', { headers: { 'last-event-id': 'nope' } });
    expect(bad.status).toBe(400);
  });

  it('refuses without a token, with a bad one, and on another user’s thread', async () => {
    await thread('sse-private', 1, 'bob');
    expect((await stream('/threads/sse-private/events', { user: null })).status).toBe(401);
    const forged = await openSse(`${relay.url}/threads/sse-private/events`, {
      authorization: `Bearer ${await signUserToken('bob', 'another-secret-of-32-bytes-or-more!!')}`,
    });
    expect(forged.status).toBe(401);
    const other = await stream('/threads/sse-private/events', { user: 'alice' });
    expect(other.status).toBe(403);
    expect(other.body).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect((await stream('/threads/sse-private/events?format=xml', { user: 'bob' })).status).toBe(
      400,
    );
  });

  it('takes a single-use ticket for EventSource, bound to its thread', async () => {
    await thread('sse-ticket', 2);
    await thread('sse-ticket-other', 1);
    const issue = async (threadId: string, user = 'alice') =>
      fetch(`${relay.url}/threads/${threadId}/stream-tickets`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await relay.token(user)}` },
      });
    const issued = await issue('sse-ticket');
    expect(issued.status).toBe(201);
    const { ticket, expiresInMs } = (await issued.json()) as {
      ticket: string;
      expiresInMs: number;
    };
    expect(expiresInMs).toBe(60_000);
    const first = await stream(`/threads/sse-ticket/events?ticket=${ticket}`, { user: null });
    expect(first.status).toBe(200);
    await first.waitFor(() => seqs(first).length === 2, 'the log');
    const again = await stream(`/threads/sse-ticket/events?ticket=${ticket}`, { user: null });
    expect(again.status).toBe(401);
    const { ticket: forOther } = (await (await issue('sse-ticket-other')).json()) as {
      ticket: string;
    };
    expect(
      (await stream(`/threads/sse-ticket/events?ticket=${forOther}`, { user: null })).status,
    ).toBe(401);
    expect((await stream('/threads/sse-ticket/events?ticket=short', { user: null })).status).toBe(
      401,
    );
    expect((await issue('sse-ticket', 'mallory')).status).toBe(403);
    const anonymous = await fetch(`${relay.url}/threads/sse-ticket/stream-tickets`, {
      method: 'POST',
    });
    expect(anonymous.status).toBe(401);
  });

  it('ends the stream when the token expires, and when the user loses the thread', async () => {
    await thread('sse-expiry', 1);
    const token = await signUserToken('alice', TEST_JWT_SECRET, { expiresIn: '1s' });
    const expiring = await openSse(`${relay.url}/threads/sse-expiry/events`, {
      authorization: `Bearer ${token}`,
    });
    open.push(expiring);
    await expiring.ended;
    expect(expiring.frames.at(-1)).toMatchObject({ event: 'relay.closed' });
    expect(JSON.parse(expiring.frames.at(-1)?.data ?? '{}')).toEqual({ reason: 'token_expired' });

    await thread('sse-revoked', 1);
    const revoked = await stream('/threads/sse-revoked/events');
    await revoked.waitFor(() => seqs(revoked).length === 1, 'the log');
    await relay.registry.unregisterThread('sse-revoked');
    await revoked.ended;
    expect(JSON.parse(revoked.frames.at(-1)?.data ?? '{}')).toEqual({ reason: 'access_revoked' });
  });

  it('cuts a client that stops reading instead of buffering for it', async () => {
    await thread('sse-slow', 0);
    const streams = relay.app.get(SseStreams);
    const before = streams.size;
    const { port } = new URL(relay.url);
    // A client that sends its request and never reads a byte of the answer.
    const socket = net.connect(Number(port), '127.0.0.1');
    socket.pause();
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(
      `GET /threads/sse-slow/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${await relay.token('alice')}\r\n\r\n`,
    );
    await waitUntil(() => streams.size === before + 1, 'the stream to open');
    const big = 'x'.repeat(8 * 1024);
    // Far more than the socket buffers and the 64 KiB allowed unsent.
    for (let n = 1; n <= 400 && streams.size > before; n++) {
      await relay.delivery.sendToThread('sse-slow', 'chunk', { n, big });
    }
    await waitUntil(() => streams.size === before, 'the slow stream to be cut');
    socket.resume();
    await closed;
  });
});

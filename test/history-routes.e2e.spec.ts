import type { Socket } from 'socket.io-client';
import { signUserToken, type HistoryPage, type ThreadEvent } from '../src/index.js';
import { HISTORY_LIMIT_CAP } from '../src/http/history.controller.js';
import { testRedisUrl, uniquePrefix } from './support/redis.js';
import { connectSocket } from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';

type ErrorAnswer = { ok: false; error: { code: string; message: string } };

describe.each([
  ['memory', () => ({})],
  ['redis', () => ({ redis: testRedisUrl(), keyPrefix: uniquePrefix('history') })],
])('history routes (%s)', (_mode, config) => {
  const sockets: Socket[] = [];
  const threadId = 'history-thread';
  const total = HISTORY_LIMIT_CAP + 100;

  const get = async (path: string, userId: string | null, token?: string) => {
    const bearer = token ?? (userId === null ? undefined : await relay.token(userId));
    return fetch(`${relay.url}${path}`, {
      headers: bearer === undefined ? {} : { authorization: `Bearer ${bearer}` },
    });
  };
  const post = async (path: string, userId: string | null, body: string) =>
    fetch(`${relay.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(userId === null ? {} : { authorization: `Bearer ${await relay.token(userId)}` }),
      },
      body,
    });

  const relay = useRelayApp(() => ({ ...config(), history: { maxPerThread: 5000 } }));
  beforeAll(async () => {
    await relay.registry.registerThread(threadId, 'olive');
    for (let i = 1; i <= total; i += 1) {
      await relay.delivery.sendToThread(threadId, 'tick', { i, secret: `olive-only-${i}` });
    }
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });

  it('GET pages with after/limit, capping limit', async () => {
    const first = await get(`/threads/${threadId}/messages?after=0&limit=10`, 'olive');
    expect(first.status).toBe(200);
    const page = (await first.json()) as HistoryPage;
    expect(page).toMatchObject({ threadId, headSeq: total, epoch: expect.any(String) as unknown });
    expect(page.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(page.messages[0]).toMatchObject({ type: 'tick', payload: { i: 1 }, epoch: page.epoch });

    const tail = (await (
      await get(`/threads/${threadId}/messages?after=${total - 3}`, 'olive')
    ).json()) as HistoryPage;
    expect(tail.messages.map((m) => m.seq)).toEqual([total - 2, total - 1, total]);

    const capped = (await (
      await get(`/threads/${threadId}/messages?after=0&limit=100000`, 'olive')
    ).json()) as HistoryPage;
    expect(capped.messages).toHaveLength(HISTORY_LIMIT_CAP);
    expect(capped.messages.at(-1)?.seq).toBe(HISTORY_LIMIT_CAP);

    const defaults = (await (
      await get(`/threads/${threadId}/messages`, 'olive')
    ).json()) as HistoryPage;
    expect(defaults.messages[0]?.seq).toBe(1);

    const past = (await (
      await get(`/threads/${threadId}/messages?after=${total + 50}`, 'olive')
    ).json()) as HistoryPage;
    expect(past).toMatchObject({ headSeq: total, messages: [] });

    // Following `after` through the whole log yields every seq once.
    const seen: number[] = [];
    let after = 0;
    for (;;) {
      const p = (await (
        await get(
          `/threads/${threadId}/messages?after=${after}&limit=${HISTORY_LIMIT_CAP}`,
          'olive',
        )
      ).json()) as HistoryPage;
      if (p.messages.length === 0) break;
      seen.push(...p.messages.map((m) => m.seq));
      after = p.messages.at(-1)?.seq ?? after;
    }
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  });

  it('opens an unregistered thread for its first writer; a read of one registers nothing (404)', async () => {
    const fresh = 'history-fresh-thread';
    const first = await get(`/threads/${fresh}/messages`, 'olive');
    expect(first.status).toBe(404);
    expect(((await first.json()) as ErrorAnswer).error.code).toBe('THREAD_NOT_FOUND');
    expect(await relay.registry.getThread(fresh)).toBeNull();

    const posted = 'history-fresh-post';
    const sent = await post(
      `/threads/${posted}/messages`,
      'olive',
      JSON.stringify({ text: 'hi', clientMessageId: 'cm-fresh' }),
    );
    expect(sent.status).toBe(200);
    expect(await sent.json()).toMatchObject({ ok: true, seq: 1 });
    expect(await relay.registry.getThread(posted)).toMatchObject({
      ownerId: 'olive',
      autoRegistered: true,
    });
    const read = await get(`/threads/${posted}/messages`, 'olive');
    expect(read.status).toBe(200);
    expect(((await read.json()) as HistoryPage).headSeq).toBe(1);
    expect((await get(`/threads/${posted}/messages`, 'mallory')).status).toBe(403);
    expect(
      (
        await post(
          `/threads/${posted}/messages`,
          'mallory',
          JSON.stringify({ text: 'x', clientMessageId: 'cm-m' }),
        )
      ).status,
    ).toBe(403);
  });

  it('GET refuses: 401 without or with a bad bearer, 403 for another user (no data), 400 bad after/limit', async () => {
    const path = `/threads/${threadId}/messages`;
    expect((await get(path, null)).status).toBe(401);
    expect((await get(path, null, 'not-a-jwt')).status).toBe(401);
    const forged = await signUserToken('olive', 'a-different-secret-that-is-32-bytes-long');
    expect((await get(path, null, forged)).status).toBe(401);
    const noScheme = await fetch(`${relay.url}${path}`, {
      headers: { authorization: await relay.token('olive') },
    });
    expect(noScheme.status).toBe(401);

    const other = await get(path, 'mallory');
    expect(other.status).toBe(403);
    const otherText = await other.text();
    expect(JSON.parse(otherText)).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(otherText).not.toContain('olive-only');
    expect(otherText).not.toContain('messages');

    for (const bad of [
      'after=-1',
      'after=abc',
      'after=1.5',
      'after=1e3',
      'limit=-5',
      'limit=x',
      'limit=0',
    ]) {
      const response = await get(`${path}?${bad}`, 'olive');
      expect([bad, response.status]).toEqual([bad, 400]);
      expect(((await response.json()) as ErrorAnswer).error.code).toBe('BAD_REQUEST');
    }
    expect((await get('/threads/bad%20id!/messages', 'olive')).status).toBe(400);
  });

  it('POST stores a user message once per clientMessageId and delivers it to the owner’s sockets', async () => {
    const thread = 'history-post-thread';
    await relay.registry.registerThread(thread, 'olive');
    const socket = await connectSocket(relay.url, await relay.token('olive'));
    sockets.push(socket);
    const events: ThreadEvent[] = [];
    socket.on('thread:event', (e: ThreadEvent) => events.push(e));
    expect(await socket.emitWithAck('thread:join', { threadId: thread })).toMatchObject({
      ok: true,
    });

    const body = JSON.stringify({ text: 'hello agent', clientMessageId: 'cm-1' });
    const first = await post(`/threads/${thread}/messages`, 'olive', body);
    expect(first.status).toBe(200);
    const stored = (await first.json()) as Record<string, unknown>;
    expect(stored).toMatchObject({ ok: true, seq: 1, duplicate: false });
    const again = await post(`/threads/${thread}/messages`, 'olive', body);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({
      ok: true,
      seq: 1,
      messageId: stored.messageId,
      duplicate: true,
    });

    await waitUntil(() => events.length === 1, 'the user message on the socket');
    expect(events[0]).toMatchObject({
      seq: 1,
      type: 'user_message',
      payload: { text: 'hello agent', clientMessageId: 'cm-1', userId: 'olive' },
    });
    const page = (await (await get(`/threads/${thread}/messages`, 'olive')).json()) as HistoryPage;
    expect(page.headSeq).toBe(1);
    expect(page.messages).toHaveLength(1);
  });

  it('POST refuses: 401 unauthenticated, 403 another user (nothing stored), 400 bad bodies', async () => {
    const thread = 'history-refuse-thread';
    await relay.registry.registerThread(thread, 'olive');
    const path = `/threads/${thread}/messages`;
    const good = JSON.stringify({ text: 'hi', clientMessageId: 'cm-x' });

    expect((await post(path, null, good)).status).toBe(401);
    const forbidden = await post(path, 'mallory', good);
    expect(forbidden.status).toBe(403);
    expect(((await forbidden.json()) as ErrorAnswer).error.code).toBe('FORBIDDEN');

    const badBodies = [
      '{}',
      JSON.stringify({ text: 'hi' }),
      JSON.stringify({ clientMessageId: 'cm-1' }),
      JSON.stringify({ text: '', clientMessageId: 'cm-1' }),
      JSON.stringify({ text: 42, clientMessageId: 'cm-1' }),
      JSON.stringify({ text: 'hi', clientMessageId: '' }),
      JSON.stringify({ text: 'hi', clientMessageId: 'has spaces' }),
      JSON.stringify({ text: 'hi', clientMessageId: 'x'.repeat(101) }),
      JSON.stringify(['hi']),
      '{"text": ',
    ];
    for (const body of badBodies) {
      const response = await post(path, 'olive', body);
      expect([body.slice(0, 60), response.status]).toEqual([body.slice(0, 60), 400]);
    }
    // The text limit is in bytes, the event's: 21,800 three-byte characters are over it.
    const tooLong = await post(
      path,
      'olive',
      JSON.stringify({ text: '€'.repeat(21_800), clientMessageId: 'cm-1' }),
    );
    expect(tooLong.status).toBe(413);
    expect(((await tooLong.json()) as ErrorAnswer).error).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      message: expect.stringContaining('65136-byte limit') as unknown,
    });

    const page = (await (await get(path, 'olive')).json()) as HistoryPage;
    expect(page.headSeq).toBe(0);
  });
});

describe('REST and socket joins with autoRegisterThreads off', () => {
  const relay = useRelayApp({ autoRegisterThreads: false });

  it('answers THREAD_NOT_FOUND for an unregistered thread and registers nothing', async () => {
    const headers = { authorization: `Bearer ${await relay.token('olive')}` };
    const read = await fetch(`${relay.url}/threads/never-made/messages`, { headers });
    expect(read.status).toBe(404);
    expect(((await read.json()) as ErrorAnswer).error.code).toBe('THREAD_NOT_FOUND');
    const write = await fetch(`${relay.url}/threads/never-made/messages`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'hi', clientMessageId: 'cm-1' }),
    });
    expect(write.status).toBe(404);
    const socket = await connectSocket(relay.url, await relay.token('olive'));
    try {
      expect(await socket.emitWithAck('thread:join', { threadId: 'never-made' })).toMatchObject({
        ok: false,
        error: { code: 'THREAD_NOT_FOUND' },
      });
    } finally {
      socket.close();
    }
    expect(await relay.registry.getThread('never-made')).toBeNull();

    await relay.registry.registerThread('made', 'olive');
    expect((await fetch(`${relay.url}/threads/made/messages`, { headers })).status).toBe(200);
  });
});

import type { HistoryPage, ThreadEvent } from '../src/index.js';
import { connectSocket, instanceModes } from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';

/** About 60 KB of JSON per event: a page of 500 of them would be 30 MB. */
const BIG = 'x'.repeat(60_000);
const EVENTS = 40;

/**
 * Reading the log is what a user can make the shared store do in bulk, so pages are bounded
 * in bytes as well as in events, and a user's reads (history pages and join replays) are
 * paid from a per-user byte budget: over it, history answers 429 and replays slow down.
 */
describe.each(instanceModes('read-budget'))('reading the log (%s)', (mode, _count, config) => {
  const threadId = `${mode}-big-thread`;

  const get = async (userId: string, after: number, limit = 500) => {
    const response = await fetch(
      `${relay.url}/threads/${threadId}/messages?after=${after}&limit=${limit}`,
      { headers: { authorization: `Bearer ${await relay.token(userId)}` } },
    );
    const text = await response.text();
    return { status: response.status, bytes: text.length, body: JSON.parse(text) as unknown };
  };

  const relay = useRelayApp(() => ({
    ...config(),
    // 1 MB/s with a 3 MB burst: the whole thread (2.4 MB) once, then a second a second.
    limits: { readBytes: { perSecond: 1_000_000, burst: 3_000_000 } },
    // A thread's other readers (the SDK tests' owner) are never this user.
    threadAccess: (userId, id, thread) =>
      id === threadId ? userId.startsWith('reader') : thread === null || thread.ownerId === userId,
  }));
  beforeAll(async () => {
    await relay.registry.registerThread(threadId, 'reader-a');
    for (let i = 0; i < EVENTS; i++) {
      await relay.delivery.sendToThread(threadId, 'tool_completed', { i, data: BIG });
    }
  });

  it('ends a history page at about 1 MiB, however many events were asked for', async () => {
    const seqs: number[] = [];
    let after = 0;
    let pages = 0;
    while (after < EVENTS) {
      const page = await get('reader-a', after);
      expect(page.status).toBe(200);
      // One event may take a page past the bound by itself; pages stop at it otherwise.
      expect(page.bytes).toBeLessThan(1024 * 1024 + 70_000);
      const { messages } = page.body as HistoryPage;
      expect(messages.length).toBeGreaterThan(0);
      seqs.push(...messages.map((m) => m.seq));
      after = messages.at(-1)?.seq ?? after;
      pages += 1;
    }
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(seqs).toEqual(Array.from({ length: EVENTS }, (_, i) => i + 1));
  });

  it('refuses a reader past its byte budget with 429, and only that reader', async () => {
    // reader-a spent most of its burst on the whole thread above; pages asked for together
    // outrun the refill (1 MB/s) however slowly this machine runs, so some are refused.
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let round = 0; round < 5 && !statuses.includes(429); round++) {
      const responses = await Promise.all(
        Array.from({ length: 8 }, async () =>
          fetch(`${relay.url}/threads/${threadId}/messages?after=0&limit=500`, {
            headers: { authorization: `Bearer ${await relay.token('reader-a')}` },
          }),
        ),
      );
      for (const response of responses) {
        statuses.push(response.status);
        if (response.status === 429) {
          retryAfter = response.headers.get('retry-after');
          expect(await response.json()).toMatchObject({ error: { code: 'RATE_LIMITED' } });
        } else {
          await response.text();
        }
      }
    }
    expect(statuses).toContain(429);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect((await get('reader-b', 0)).status).toBe(200);
  });

  it('shares the budget between reads that run at once: they cannot overspend it together', async () => {
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 40 }, () => get('reader-d', 0)));
    const served = answers.filter((a) => a.status === 200).reduce((sum, a) => sum + a.bytes, 0);
    expect(answers.filter((a) => a.status === 429).length).toBeGreaterThan(0);
    // The burst, what refilled meanwhile, and one page of slack for the JSON around events.
    const refilled = ((Date.now() - started) / 1000) * 1_000_000;
    expect(served).toBeLessThan(3_000_000 + refilled + 1_100_000);
  });

  it('slows a join replay to the reader’s budget instead of refusing it', async () => {
    const socket = await connectSocket(relay.url, await relay.token('reader-c'));
    try {
      const events: ThreadEvent[] = [];
      socket.on('thread:event', (event: ThreadEvent) => events.push(event));
      const started = Date.now();
      const first = socket.emitWithAck('thread:join', { threadId, lastSeq: 0 });
      await expect(first).resolves.toMatchObject({ ok: true });
      // Twice the thread: 4.8 MB against a 3 MB burst at 1 MB/s takes over 1.5 s.
      await waitUntil(() => events.length >= EVENTS, 'the whole replay', 20_000);
      await socket.emitWithAck('thread:leave', { threadId });
      events.length = 0;
      await socket.emitWithAck('thread:join', { threadId, lastSeq: 0 });
      await waitUntil(() => events.length >= EVENTS, 'the whole replay', 20_000);
      expect(Date.now() - started).toBeGreaterThan(1_500);
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: EVENTS }, (_, i) => i + 1));
    } finally {
      socket.close();
    }
  });
});

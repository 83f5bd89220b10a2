import { ClientHarness, range } from './support/client-harness.js';
import { FakeRelayServer } from './support/fake-relay-server.js';

describe('ThreadRelayClient under server limits', () => {
  let server: FakeRelayServer;
  let harness: ClientHarness | undefined;

  afterEach(async () => {
    await harness?.client.close();
    harness = undefined;
    await server.close();
  });

  describe('join pacing', () => {
    beforeEach(async () => {
      server = await FakeRelayServer.start();
      // Long enough that joins sent together are all unanswered at once.
      server.joinDelayMs = 40;
    });

    const threads = range(1, 30).map((i) => `t${i}`);

    it('has at most 4 joins unanswered on the wire while it joins 30 threads, and again on reconnect', async () => {
      const h = (harness = new ClientHarness(server));
      for (const threadId of threads) server.append(threadId);
      // Asked for before the connection is up: all 30 go out on the connect.
      const joined = Promise.all(threads.map((threadId) => h.client.join(threadId)));
      await h.client.connect();
      const results = await joined;

      expect(results.map((result) => result.threadId)).toEqual(threads);
      expect(results.every((result) => result.headSeq === 1)).toBe(true);
      expect(server.maxPendingJoins).toBe(4);
      expect(server.joins.map((join) => join.threadId)).toEqual(threads);

      server.maxPendingJoins = 0;
      server.disconnectAll();
      await h.status('reconnecting');
      await h.until(() => server.joins.length === 60 && server.pendingJoins === 0, 're-joins');
      expect(server.maxPendingJoins).toBe(4);
      for (const threadId of threads) server.publish(threadId);
      await h.until(() => h.events.length === 60, 'every event');
      for (const threadId of threads) expect(h.seqs(threadId)).toEqual([1, 2]);
      expect(h.errors).toEqual([]);
    });

    it('holds to maxConcurrentJoins when joined one by one on a live connection', async () => {
      const h = (harness = new ClientHarness(server, { maxConcurrentJoins: 3 }));
      await h.client.connect();
      const results = await Promise.all(threads.map((threadId) => h.client.join(threadId)));
      expect(results).toHaveLength(30);
      expect(server.maxPendingJoins).toBe(3);
    });
  });

  describe('RATE_LIMITED', () => {
    beforeEach(async () => {
      server = await FakeRelayServer.start();
      server.retryAfterMs = 400;
    });

    it("retries a refused join after the server's retryAfterMs, and reports the refusal once", async () => {
      const h = (harness = new ClientHarness(server));
      await h.client.connect();
      server.rateLimitedJoins = 1;
      const first = h.client.join('t1');
      const second = h.client.join('t2');

      await expect(first).resolves.toMatchObject({ threadId: 't1' });
      await expect(second).resolves.toMatchObject({ threadId: 't2' });
      const [refused, ...rest] = server.joins;
      expect(refused).toMatchObject({ threadId: 't1', refused: 'RATE_LIMITED' });
      // t2 was already on the wire; what came after the refusal waited for retryAfterMs.
      const t1Retry = rest.find((join) => join.threadId === 't1');
      expect((t1Retry?.at ?? 0) - (refused?.at ?? 0)).toBeGreaterThanOrEqual(400 - 5);
      expect(h.errors.map((error) => error.code)).toEqual(['RATE_LIMITED']);
      expect(h.errors[0]).toMatchObject({ retryable: true, retryAfterMs: 400, threadId: 't1' });
    });

    it('holds back queued joins for retryAfterMs after a refusal', async () => {
      const h = (harness = new ClientHarness(server, { maxConcurrentJoins: 1 }));
      await h.client.connect();
      server.rateLimitedJoins = 1;
      await Promise.all(['t1', 't2', 't3'].map((threadId) => h.client.join(threadId)));
      const [refused, next] = server.joins;
      expect(refused).toMatchObject({ threadId: 't1', refused: 'RATE_LIMITED' });
      expect((next?.at ?? 0) - (refused?.at ?? 0)).toBeGreaterThanOrEqual(400 - 5);
    });

    it('retries a refused user:message after retryAfterMs, even though the status changes', async () => {
      const h = (harness = new ClientHarness(server));
      await h.client.connect();
      server.rateLimitedMessages = 1;
      const sent = h.client.send('t1', 'hi');
      await h.until(() => server.messages.length === 1, 'the first attempt');
      // A reconnect meanwhile must not cut the wait short: the limit is not the connection's.
      server.disconnectAll();

      await expect(sent).resolves.toMatchObject({ seq: 1 });
      expect(server.messages).toHaveLength(2);
      const [first = 0, second = 0] = server.messageTimes;
      expect(second - first).toBeGreaterThanOrEqual(400 - 5);
      expect(server.storedEvents('t1')).toHaveLength(1);
    });

    it('gives up at once when retryAfterMs lies past sendTimeoutMs', async () => {
      server.retryAfterMs = 60_000;
      const h = (harness = new ClientHarness(server));
      await h.client.connect();
      server.rateLimitedMessages = 1;
      const startedAt = Date.now();
      await expect(h.client.send('t1', 'hi')).rejects.toMatchObject({
        code: 'SEND_TIMEOUT',
        cause: { code: 'RATE_LIMITED', retryAfterMs: 60_000 },
      });
      expect(Date.now() - startedAt).toBeLessThan(1000);
      expect(server.messages).toHaveLength(1);
    });
  });

  describe('over REST polling', () => {
    beforeEach(async () => {
      // The server only speaks long-polling; the client insists on websocket.
      server = await FakeRelayServer.start({ transports: ['polling'] });
    });

    it('waits out a 429 Retry-After on POST before sending again', async () => {
      server.retryAfterMs = 1000;
      const h = (harness = new ClientHarness(server, { pollAfterMs: 50 }));
      await h.client.connect();
      server.rateLimitedPosts = 1;
      await expect(h.client.send('t1', 'hi')).resolves.toMatchObject({ seq: 1 });
      const [first = 0, second = 0] = server.messageTimes;
      expect(second - first).toBeGreaterThanOrEqual(1000 - 5);
    });

    it('rejects at once on a 429 LIMIT_EXCEEDED: a quota, not a rate', async () => {
      const h = (harness = new ClientHarness(server, { pollAfterMs: 50 }));
      await h.client.connect();
      server.rateLimitedPosts = 1;
      server.rateLimitedPostBody = {
        ok: false,
        error: { code: 'LIMIT_EXCEEDED', message: 'too many threads' },
      };
      await expect(h.client.send('t1', 'hi')).rejects.toMatchObject({
        code: 'LIMIT_EXCEEDED',
        retryable: false,
      });
      expect(server.messages).toHaveLength(1);
    });

    it('polls again only after retryAfterMs once a read was refused, and keeps the thread', async () => {
      server.retryAfterMs = 500;
      const h = (harness = new ClientHarness(server, { pollAfterMs: 50, pollIntervalMs: 50 }));
      server.append('t1');
      await h.client.connect();
      server.rateLimitedReads = 1;
      const joined = h.client.join('t1');
      await h.until(() => server.history.length >= 2, 'the read after the refused one');

      await expect(joined).resolves.toMatchObject({ threadId: 't1', headSeq: 1, replayed: 1 });
      const [refusedAt = 0, nextAt = 0] = server.historyTimes;
      expect(nextAt - refusedAt).toBeGreaterThanOrEqual(500 - 5);
      expect(h.errors.map((error) => error.code)).toEqual(['RATE_LIMITED']);
      expect(h.seqs('t1')).toEqual([1]);
    });

    it('joins a thread that has no log yet (404 THREAD_NOT_FOUND) and gets its events once it has one', async () => {
      const h = (harness = new ClientHarness(server, { pollAfterMs: 50, pollIntervalMs: 50 }));
      await h.client.connect();
      expect(h.client.status).toBe('polling');

      await expect(h.client.join('fresh')).resolves.toEqual({
        threadId: 'fresh',
        epoch: '',
        headSeq: 0,
        replayed: 0,
      });
      // Still polled: the thread was not dropped for the 404s.
      await h.until(() => server.history.length >= 3, 'more polls of the new thread');
      const sent = await h.client.send('fresh', 'the first message');
      expect(sent.seq).toBe(1);
      server.publish('fresh');
      await h.received('fresh', 2);

      expect(h.seqs('fresh')).toEqual([1, 2]);
      expect(h.events[0]).toMatchObject({ type: 'user_message' });
      expect(h.client.cursor('fresh')).toEqual({ epoch: server.epochOf('fresh'), lastSeq: 2 });
      expect(h.errors).toEqual([]);
      expect(h.resets).toEqual([]);
    });

    it('resets to an empty thread when a saved cursor names a thread that has no log', async () => {
      const h = (harness = new ClientHarness(server, { pollAfterMs: 50, pollIntervalMs: 50 }));
      await h.client.connect();
      await h.client.join('gone', { lastSeq: 7, epoch: 'old-epoch' });
      await h.until(() => h.resets.length === 1, 'the reset');

      expect(h.resets[0]).toMatchObject({ threadId: 'gone', epoch: '', headSeq: 0, events: [] });
      server.publish('gone');
      await h.received('gone', 1);
      expect(h.seqs('gone')).toEqual([1]);
      expect(h.errors).toEqual([]);
    });

    it('does not take a 404 without THREAD_NOT_FOUND (a wrong URL) for an empty thread', async () => {
      const h = (harness = new ClientHarness(server, {
        url: `${server.url}/not-the-relay`,
        pollAfterMs: 50,
      }));
      await h.client.connect();
      await expect(h.client.join('t1')).rejects.toMatchObject({ code: 'NOT_FOUND', status: 404 });
    });
  });
});

import { jest } from '@jest/globals';
import { ClientHarness, range } from './support/client-harness.js';
import { FakeRelayServer } from './support/fake-relay-server.js';

describe('ThreadRelayClient connection', () => {
  let server: FakeRelayServer;
  let harness: ClientHarness | undefined;

  afterEach(async () => {
    await harness?.client.close();
    harness = undefined;
    await server.close();
  });

  describe('polling fallback', () => {
    it('polls REST when the websocket is refused: every event once, send() via POST', async () => {
      // The server only speaks long-polling; the client insists on websocket.
      server = await FakeRelayServer.start({ transports: ['polling'] });
      const h = (harness = new ClientHarness(server, { pollAfterMs: 200 }));
      server.append('t1');
      server.append('t1');

      await h.client.connect();
      expect(h.client.status).toBe('polling');
      await expect(h.client.join('t1')).resolves.toMatchObject({ headSeq: 2, replayed: 2 });
      server.publish('t1');
      await h.received('t1', 3);

      const sent = await h.client.send('t1', 'hello');
      expect(sent.seq).toBe(4);
      expect(server.messages).toEqual([
        expect.objectContaining({ threadId: 't1', text: 'hello', via: 'rest' }),
      ]);
      server.publish('t1');
      await h.received('t1', 5);

      expect(h.seqs('t1')).toEqual(range(1, 5));
      expect(h.events[3]).toMatchObject({ type: 'user_message', payload: { text: 'hello' } });
      expect(server.joins).toEqual([]);
      expect(server.history.every((read) => read.limit === 200)).toBe(true);
    });

    it('polls while an established socket stays down and returns to the socket', async () => {
      server = await FakeRelayServer.start();
      const h = (harness = new ClientHarness(server, { pollAfterMs: 250 }));
      await h.client.connect();
      await h.client.join('t1');
      server.publish('t1');
      await h.received('t1', 1);

      server.block();
      server.dropTransports();
      await h.status('polling');
      server.publish('t1');
      server.publish('t1');
      await h.received('t1', 3);
      await h.client.send('t1', 'while polling');
      await h.received('t1', 4);

      server.unblock();
      await h.status('connected');
      await h.until(() => server.joins.length === 2, 'the re-join');
      server.publish('t1');
      await h.received('t1', 5);

      expect(h.seqs('t1')).toEqual(range(1, 5));
      expect(server.joins[1]).toMatchObject({ lastSeq: 4, epoch: server.epochOf('t1') });
      expect(server.messages.map((message) => message.via)).toEqual(['rest']);
      expect(h.statuses).toEqual([
        'connecting',
        'connected',
        'reconnecting',
        'polling',
        'connected',
      ]);
      // Acks held back while polling go out once the socket is back.
      await h.until(() => server.acks.at(-1)?.seq === 5, 'the ack of seq 5');
    });

    it('resets from polling too when the saved cursor is ahead of the log', async () => {
      server = await FakeRelayServer.start({ transports: ['polling'] });
      const h = (harness = new ClientHarness(server, { pollAfterMs: 100 }));
      server.append('t1');
      await h.client.connect();
      await h.client.join('t1', { fromSeq: 6 });
      await h.until(() => h.resets.length === 1, 'the reset');
      expect(h.resets[0]).toMatchObject({ reason: 'ahead_of_log', headSeq: 1 });
      server.append('t1');
      await h.received('t1', 1);
      expect(h.seqs('t1')).toEqual([2]);
    });

    it('retries a failed POST with the same clientMessageId', async () => {
      server = await FakeRelayServer.start({ transports: ['polling'] });
      const h = (harness = new ClientHarness(server, { pollAfterMs: 100 }));
      await h.client.connect();
      server.failingPosts = 1;

      const sent = await h.client.send('t1', 'once');

      expect(server.messages).toHaveLength(2);
      expect(server.messages[0]?.clientMessageId).toBe(server.messages[1]?.clientMessageId);
      expect(server.storedEvents('t1')).toHaveLength(1);
      expect(sent).toMatchObject({ seq: 1, epoch: server.epochOf('t1') });
    });
  });

  describe('send()', () => {
    beforeEach(async () => {
      server = await FakeRelayServer.start();
    });

    it('retries an unanswered user:message with the same clientMessageId', async () => {
      const h = (harness = new ClientHarness(server, { requestTimeoutMs: 300 }));
      await h.client.connect();
      await h.client.join('t1');
      server.unansweredMessages = 1;

      const sent = await h.client.send('t1', 'hi');

      expect(server.messages).toHaveLength(2);
      expect(new Set(server.messages.map((message) => message.clientMessageId)).size).toBe(1);
      expect(server.storedEvents('t1')).toHaveLength(1);
      expect(sent).toMatchObject({ seq: 1, messageId: server.storedEvents('t1')[0]?.id });
      await h.received('t1', 1);
      expect(h.seqs('t1')).toEqual([1]);
    });

    it('waits for the connection when sent while reconnecting', async () => {
      const h = (harness = new ClientHarness(server));
      await h.client.connect();
      server.disconnectAll();
      await h.status('reconnecting');

      const sent = await h.client.send('t1', 'later', { clientMessageId: 'my-id' });

      expect(sent.seq).toBe(1);
      expect(server.messages).toEqual([
        { threadId: 't1', text: 'later', clientMessageId: 'my-id', via: 'socket' },
      ]);
    });

    it('rejects at once when the server refuses the message', async () => {
      const h = (harness = new ClientHarness(server));
      await h.client.connect();
      server.io.of('/').sockets.forEach((socket) => {
        socket.removeAllListeners('user:message');
        socket.on('user:message', (_payload: unknown, ack: (answer: object) => void) =>
          ack({ ok: false, error: { code: 'FORBIDDEN', message: 'not yours' } }),
        );
      });
      await expect(h.client.send('t1', 'x')).rejects.toMatchObject({
        code: 'FORBIDDEN',
        retryable: false,
      });
    });
  });

  describe('tokens', () => {
    beforeEach(async () => {
      server = await FakeRelayServer.start();
    });

    it('asks the token function again for every reconnect', async () => {
      let issued = 0;
      const token = jest.fn(() => `tok-${(issued += 1)}`);
      const h = (harness = new ClientHarness(server, { token }));
      await h.client.connect();
      server.disconnectAll();
      await h.status('reconnecting');
      await h.status('connected');

      expect(server.handshakes).toEqual([
        { token: 'tok-1', accepted: true },
        { token: 'tok-2', accepted: true },
      ]);
      expect(token).toHaveBeenCalledTimes(2);
    });

    it('rejects connect() on a refused token and recovers once the token function has a good one', async () => {
      const tokens = ['expired', 'tok-fresh'];
      const h = (harness = new ClientHarness(server, {
        token: async () => Promise.resolve(tokens.shift() ?? 'tok-fresh'),
      }));
      await expect(h.client.connect()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
      expect(h.errors.map((error) => error.code)).toContain('UNAUTHORIZED');

      await h.status('connected');
      expect(server.handshakes.map((handshake) => handshake.accepted)).toEqual([false, true]);
    });
  });

  it('sends the token as a Bearer header to the REST routes', async () => {
    server = await FakeRelayServer.start({ transports: ['polling'] });
    const fetchSpy = jest.fn<typeof fetch>((input, init) => fetch(input, init));
    const h = (harness = new ClientHarness(server, {
      token: async () => Promise.resolve('tok-rest'),
      fetch: fetchSpy,
      pollAfterMs: 50,
    }));
    await h.client.connect();
    await h.client.join('t1');
    const [url, init] = fetchSpy.mock.calls[0] ?? [];
    expect(url).toBe(`${server.url}/threads/t1/messages?after=0&limit=200`);
    expect(new Headers(init?.headers).get('authorization')).toBe('Bearer tok-rest');
  });

  it('reports every status change and ends closed', async () => {
    server = await FakeRelayServer.start();
    const h = (harness = new ClientHarness(server));
    expect(h.client.status).toBe('idle');
    await h.client.connect();
    const joined = h.client.join('t1');
    await joined;
    await h.client.close();
    expect(h.statuses).toEqual(['connecting', 'connected', 'closed']);
    await expect(h.client.join('t2')).rejects.toMatchObject({ code: 'CLOSED' });
  });
});

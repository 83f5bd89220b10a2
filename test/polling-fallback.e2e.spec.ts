import { ThreadRelayClient, type ClientStatus, type ThreadEvent } from '../src/client/index.js';
import { testRedisUrl, uniquePrefix } from './support/redis.js';
import { type TestRelayOptions } from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';
import { TcpProxy } from './support/tcp-proxy.js';

const BATCH = 50;

describe.each([
  ['memory', (): TestRelayOptions => ({})],
  ['redis', (): TestRelayOptions => ({ redis: testRedisUrl(), keyPrefix: uniquePrefix('poll') })],
])('polling fallback (%s)', (mode, config) => {
  let proxy: TcpProxy;
  let client: ThreadRelayClient | undefined;

  afterAll(async () => {
    await client?.close();
    await proxy.close();
  });
  const relay = useRelayApp(config);
  beforeAll(async () => {
    // A proxy that passes HTTP but refuses websocket handshakes, like some corporate proxies.
    proxy = await TcpProxy.start(Number(new URL(relay.url).port));
  });

  it('delivers every event once, in order, over REST while the websocket is blocked, and switches back without duplicates', async () => {
    const threadId = `poll-${mode}`;
    const userId = 'paula';
    await relay.registry.registerThread(threadId, userId);
    proxy.blockSocketIo = true;

    const requests: { method: string; url: string }[] = [];
    const statuses: ClientStatus[] = [];
    const seqs: number[] = [];
    const types: string[] = [];
    const wire: ThreadEvent[] = [];
    client = new ThreadRelayClient({
      url: proxy.url,
      token: () => relay.token(userId),
      pollAfterMs: 200,
      pollIntervalMs: 50,
      // REST polling alone, the last resort; test/sdk-fallback.e2e.spec.ts covers SSE first.
      sse: false,
      socketOptions: {
        transports: ['websocket'],
        reconnectionDelay: 50,
        reconnectionDelayMax: 200,
      },
      fetch: (input, init) => {
        requests.push({
          method: init?.method ?? 'GET',
          url: typeof input === 'string' ? input : input instanceof URL ? input.href : input.url,
        });
        return fetch(input, init);
      },
    });
    const c = client;
    c.onStatus((status) => statuses.push(status));
    c.onEvent((event) => {
      seqs.push(event.seq);
      types.push(event.type);
    });
    const connected = c.connect();
    c.socket?.on('thread:event', (event: ThreadEvent) => wire.push(event));
    await connected;

    // Phase 1: the socket cannot get through; polling carries everything.
    expect(c.status).toBe('polling');
    expect(c.socket?.connected).toBe(false);
    expect(proxy.refused).toBeGreaterThan(0);
    await expect(c.join(threadId)).resolves.toMatchObject({ threadId, headSeq: 0 });
    for (let i = 1; i <= BATCH; i++) {
      await relay.delivery.sendToThread(threadId, 'agent_thinking', { i });
      await new Promise<void>((r) => setImmediate(r));
    }
    await waitUntil(() => seqs.length >= BATCH, `${BATCH} events while polling`);
    expect(seqs).toEqual(Array.from({ length: BATCH }, (_, i) => i + 1));
    expect(wire).toEqual([]);

    const postsBefore = requests.filter((r) => r.method === 'POST').length;
    const sent = await c.send(threadId, 'hello from behind a proxy');
    expect(sent.seq).toBe(BATCH + 1);
    const posts = requests.filter((r) => r.method === 'POST');
    expect(posts).toHaveLength(postsBefore + 1);
    expect(posts.at(-1)?.url).toBe(`${proxy.url}/threads/${threadId}/messages`);
    const stored = await relay.delivery.history(threadId, BATCH, 10);
    expect(stored.messages).toHaveLength(1);
    expect(stored.messages[0]).toMatchObject({
      seq: BATCH + 1,
      type: 'user_message',
      payload: { text: 'hello from behind a proxy', userId },
    });
    await waitUntil(() => seqs.length >= BATCH + 1, 'the user message, polled back');
    expect(types.at(-1)).toBe('user_message');
    expect(statuses).toContain('polling');
    expect(statuses).not.toContain('connected');

    // Phase 2: the websocket gets through again, while the producer keeps sending.
    proxy.blockSocketIo = false;
    const total = 2 * BATCH + 1;
    for (let i = BATCH + 2; i <= total; i++) {
      await relay.delivery.sendToThread(threadId, 'agent_thinking', { i });
      await new Promise<void>((r) => setImmediate(r));
    }
    await waitUntil(() => c.status === 'connected', 'the socket to take over', 15_000);
    await waitUntil(() => seqs.length >= total, `${total} events`);
    // The owner's cursor reaches the head only through socket acks: the socket is in use.
    await expect(relay.delivery.waitForDelivery(threadId, total, 10_000)).resolves.toBe(total);

    const gets = () => requests.filter((r) => r.method === 'GET').length;
    const getsAfterSwitch = gets();
    const afterSwitch = await c.send(threadId, 'and now over the socket');
    expect(requests.filter((r) => r.method === 'POST')).toHaveLength(postsBefore + 1);
    for (let i = total + 2; i <= total + 1 + BATCH; i++) {
      await relay.delivery.sendToThread(threadId, 'agent_thinking', { i });
    }
    const end = total + 1 + BATCH;
    expect(afterSwitch.seq).toBe(total + 1);
    await waitUntil(() => seqs.length >= end, `${end} events`);
    await expect(relay.delivery.waitForDelivery(threadId, end, 10_000)).resolves.toBe(end);
    expect(seqs).toEqual(Array.from({ length: end }, (_, i) => i + 1));
    // The last batch came over the websocket, and nobody polled for it.
    expect(gets()).toBe(getsAfterSwitch);
    expect(wire.filter((e) => e.seq > total + 1).map((e) => e.seq)).toEqual(
      Array.from({ length: BATCH }, (_, i) => total + 2 + i),
    );
    expect(c.status).toBe('connected');
    expect(statuses.slice(statuses.indexOf('polling'))).toContain('connected');
  });
});

import {
  ThreadRelayClient,
  type ClientStatus,
  type ClientTransport,
  type ThreadEvent,
  type ThreadRelayClientError,
  type ThreadRelayClientOptions,
} from '../src/client/index.js';
import { testRedisUrl, uniquePrefix } from './support/redis.js';
import { type RelayApp, type TestRelayOptions } from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';
import { TcpProxy } from './support/tcp-proxy.js';
import { SseStreams } from '../src/sse/sse-streams.service.js';

const BATCH = 40;

interface Request {
  url: string;
  method: string;
  lastEventId: string | undefined;
}

/** The SDK as an application sees it, behind a proxy that refuses websockets. */
class Follower {
  readonly client: ThreadRelayClient;
  readonly events: ThreadEvent[] = [];
  readonly statuses: ClientStatus[] = [];
  readonly transports: (ClientTransport | null)[] = [];
  readonly errors: ThreadRelayClientError[] = [];
  readonly requests: Request[] = [];

  constructor(
    relay: RelayApp,
    url: string,
    userId: string,
    options: Partial<ThreadRelayClientOptions> & { eventsAnswer?: typeof fetch } = {},
  ) {
    const { eventsAnswer, ...rest } = options;
    this.client = new ThreadRelayClient({
      url,
      token: () => relay.token(userId),
      pollAfterMs: 200,
      pollIntervalMs: 50,
      socketOptions: {
        transports: ['websocket'],
        reconnectionDelay: 50,
        reconnectionDelayMax: 200,
      },
      fetch: (input, init) => {
        const href =
          typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
        const headers = (init?.headers ?? {}) as Record<string, string>;
        this.requests.push({
          url: href,
          method: init?.method ?? 'GET',
          lastEventId: headers['Last-Event-ID'],
        });
        if (eventsAnswer && href.endsWith('/events')) return eventsAnswer(input, init);
        return fetch(input, init);
      },
      ...rest,
    });
    this.client.onEvent((event) => this.events.push(event));
    this.client.onStatus((status) => this.statuses.push(status));
    this.client.onTransport((transport) => this.transports.push(transport));
    this.client.onError((error) => this.errors.push(error));
  }

  seqs(threadId: string): number[] {
    return this.events.filter((e) => e.threadId === threadId).map((e) => e.seq);
  }

  count(kind: 'events' | 'messages'): number {
    return this.requests.filter((r) => r.method === 'GET' && r.url.includes(`/${kind}`)).length;
  }
}

const upTo = (n: number, from = 1) => Array.from({ length: n - from + 1 }, (_, i) => from + i);

async function produce(relay: RelayApp, threadId: string, from: number, to: number) {
  for (let i = from; i <= to; i++) {
    await relay.delivery.sendToThread(threadId, 'agent_thinking', { i });
    // Spread over event-loop turns, so the streams carry them live rather than in one read.
    await new Promise<void>((r) => setImmediate(r));
  }
}

describe.each([
  ['memory', (): TestRelayOptions => ({})],
  ['redis', (): TestRelayOptions => ({ redis: testRedisUrl(), keyPrefix: uniquePrefix('fb') })],
])('SDK fallback order: websocket, then SSE, then polling (%s)', (mode, config) => {
  let proxy: TcpProxy;
  const followers: Follower[] = [];

  afterAll(async () => {
    await proxy.close();
  });
  const relay = useRelayApp(config);
  beforeAll(async () => {
    proxy = await TcpProxy.start(Number(new URL(relay.url).port));
  });
  afterEach(async () => {
    await Promise.all(followers.splice(0).map((f) => f.client.close()));
    proxy.blockSocketIo = false;
  });

  function follower(userId: string, options?: ConstructorParameters<typeof Follower>[3]) {
    const f = new Follower(relay, proxy.url, userId, options);
    followers.push(f);
    return f;
  }

  it('websockets refused: SSE carries every event once, in order, across a cut stream, then the socket takes over', async () => {
    const threadId = `fb-sse-${mode}`;
    await relay.registry.registerThread(threadId, 'sara');
    await produce(relay, threadId, 1, 5);
    proxy.blockSocketIo = true;
    const f = follower('sara');
    const c = f.client;
    await c.connect();
    expect(c.status).toBe('polling');
    await expect(c.join(threadId)).resolves.toMatchObject({ threadId, headSeq: 5, replayed: 5 });
    await waitUntil(() => c.transport === 'sse', 'the event stream to open');
    expect(c.status).toBe('streaming');
    const [opened] = f.requests.filter((r) => r.url.endsWith('/events'));
    expect(opened?.lastEventId).toMatch(/^.+:5$/);

    // Live over SSE, and nobody polls meanwhile.
    const polls = f.count('messages');
    await produce(relay, threadId, 6, BATCH);
    await waitUntil(() => f.seqs(threadId).length >= BATCH, `${BATCH} events over SSE`);
    expect(f.count('messages')).toBe(polls);
    const sent = await c.send(threadId, 'posted while streaming', { clientMessageId: 'cm-1' });
    expect(sent).toMatchObject({ seq: BATCH + 1, duplicate: false });
    // The same message again (a retry after a lost answer): its first result, nothing stored.
    await expect(
      c.send(threadId, 'posted while streaming', { clientMessageId: 'cm-1' }),
    ).resolves.toMatchObject({ seq: BATCH + 1, duplicate: true });
    await waitUntil(() => f.seqs(threadId).length >= BATCH + 1, 'the user message back');

    // A network cut while the producer keeps going: the stream resumes after the cursor.
    const streamsBefore = f.count('events');
    const cut = produce(relay, threadId, BATCH + 2, 2 * BATCH);
    proxy.cutAll();
    await cut;
    await waitUntil(() => f.seqs(threadId).length >= 2 * BATCH, 'the events around the cut');
    await waitUntil(() => c.transport === 'sse', 'the stream to be open again');
    const resumed = f.requests.filter((r) => r.url.endsWith('/events')).slice(streamsBefore);
    expect(resumed.length).toBeGreaterThan(0);
    expect(resumed.every((r) => /^.+:\d+$/.test(r.lastEventId ?? ''))).toBe(true);

    // The websocket gets through again: it takes over from the cursor.
    proxy.blockSocketIo = false;
    await waitUntil(() => c.status === 'connected', 'the socket to take over', 15_000);
    expect(c.transport).toBe('websocket');
    const streams = f.count('events');
    await produce(relay, threadId, 2 * BATCH + 1, 3 * BATCH);
    await waitUntil(() => f.seqs(threadId).length >= 3 * BATCH, 'events over the socket');
    await expect(relay.delivery.waitForDelivery(threadId, 3 * BATCH, 10_000)).resolves.toBe(
      3 * BATCH,
    );
    expect(f.count('events')).toBe(streams);
    expect(f.seqs(threadId)).toEqual(upTo(3 * BATCH));
    expect(f.statuses).toEqual(expect.arrayContaining(['polling', 'streaming', 'connected']));
    expect(f.transports).toEqual(expect.arrayContaining(['polling', 'sse', 'websocket']));
    expect(f.errors.filter((e) => e.code !== 'NETWORK')).toEqual([]);
  });

  it('SSE refused too (a proxy answers 403 with its own page): REST polling, every event once, in order', async () => {
    const threadId = `fb-poll-${mode}`;
    await relay.registry.registerThread(threadId, 'pete');
    proxy.blockSocketIo = true;
    const f = follower('pete', {
      eventsAnswer: () =>
        Promise.resolve(
          new Response('<html><body>Blocked by policy</body></html>', {
            status: 403,
            headers: { 'content-type': 'text/html' },
          }),
        ),
    });
    const c = f.client;
    await c.connect();
    await produce(relay, threadId, 1, 3);
    await c.join(threadId);
    await waitUntil(() => f.count('events') === 1, 'one attempt at the event stream');
    await produce(relay, threadId, 4, BATCH);
    await c.send(threadId, 'posted while polling');
    await waitUntil(() => f.seqs(threadId).length >= BATCH + 1, `${BATCH + 1} events polled`);
    expect(f.seqs(threadId)).toEqual(upTo(BATCH + 1));
    // The refusal stands: no second attempt at SSE while polling carries the thread.
    expect(f.count('events')).toBe(1);
    expect(c.status).toBe('polling');
    expect(c.transport).toBe('polling');
    expect(f.statuses).not.toContain('streaming');
    expect(f.errors).toEqual([]);
  });

  it('a proxy that buffers the stream (headers, then nothing): polling takes over', async () => {
    const threadId = `fb-buffered-${mode}`;
    await relay.registry.registerThread(threadId, 'bea');
    proxy.blockSocketIo = true;
    let gaveUp = false;
    const f = follower('bea', {
      requestTimeoutMs: 400,
      // The relay's answer, with its body held back until the client gives up on it.
      eventsAnswer: async (input, init) => {
        const real = await fetch(input, init);
        const held = new ReadableStream<Uint8Array>({
          start(controller) {
            init?.signal?.addEventListener('abort', () => {
              gaveUp = true;
              controller.error(new Error('aborted'));
              real.body?.cancel().catch(() => undefined);
            });
          },
        });
        return new Response(held, { status: 200, headers: real.headers });
      },
    });
    const c = f.client;
    await c.connect();
    await produce(relay, threadId, 1, 2);
    await c.join(threadId);
    await waitUntil(() => f.count('events') === 1, 'the stream attempt');
    await waitUntil(() => gaveUp, 'the client to give up on the silent stream');
    const polls = f.count('messages');
    await produce(relay, threadId, 3, 20);
    await waitUntil(() => f.seqs(threadId).length >= 20, '20 events polled');
    await waitUntil(() => f.count('messages') >= polls + 5, 'more polling rounds');
    expect(f.seqs(threadId)).toEqual(upTo(20));
    expect(c.transport).toBe('polling');
    expect(f.count('events')).toBe(1);
  });

  it('access revoked while streaming: the thread is dropped with THREAD_LEFT, the others go on', async () => {
    const kept = `fb-kept-${mode}`;
    const revoked = `fb-revoked-${mode}`;
    await relay.registry.registerThread(kept, 'rita');
    await relay.registry.registerThread(revoked, 'rita');
    await produce(relay, kept, 1, 1);
    await produce(relay, revoked, 1, 1);
    const streams = relay.app.get(SseStreams);
    await waitUntil(() => streams.size === 0, 'the earlier tests’ streams to end');
    proxy.blockSocketIo = true;
    const f = follower('rita');
    await f.client.connect();
    await Promise.all([f.client.join(kept), f.client.join(revoked)]);
    // Both streams admitted and open on the relay: a revocation before that would only be
    // a thread that is not there (404, polled as empty), not a stream to take away.
    await waitUntil(() => streams.size === 2 && f.client.transport === 'sse', 'both streams');
    await relay.registry.unregisterThread(revoked);
    await waitUntil(
      () => f.errors.some((e) => e.code === 'THREAD_LEFT' && e.threadId === revoked),
      'THREAD_LEFT for the revoked thread',
    );
    expect(f.client.cursor(revoked)).toBeUndefined();
    await produce(relay, kept, 2, 10);
    await waitUntil(() => f.seqs(kept).length >= 10, 'the kept thread goes on');
    expect(f.seqs(kept)).toEqual(upTo(10));
  });

  it('follows at most maxEventStreams threads over SSE and polls the others, every event once', async () => {
    const threads = Array.from({ length: 5 }, (_, i) => `fb-many-${mode}-${i}`);
    for (const threadId of threads) await relay.registry.registerThread(threadId, 'mia');
    proxy.blockSocketIo = true;
    const f = follower('mia', { maxEventStreams: 2 });
    await f.client.connect();
    await Promise.all(threads.map((threadId) => f.client.join(threadId)));
    await waitUntil(() => f.count('events') === 2 && f.client.transport === 'sse', 'two streams');
    await Promise.all(threads.map((threadId) => produce(relay, threadId, 1, 15)));
    await waitUntil(
      () => threads.every((threadId) => f.seqs(threadId).length >= 15),
      'every thread, streamed or polled',
    );
    for (const threadId of threads) expect(f.seqs(threadId)).toEqual(upTo(15));
    expect(f.count('events')).toBe(2);
  });

  it('a thread of another user is refused on the fallback as on the socket', async () => {
    await relay.registry.registerThread(`fb-theirs-${mode}`, 'owner');
    proxy.blockSocketIo = true;
    const f = follower('intruder');
    await f.client.connect();
    await expect(f.client.join(`fb-theirs-${mode}`)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(f.count('events')).toBe(0);
  });
});

describe('SDK over SSE across two instances behind a round-robin balancer, no stickiness', () => {
  const prefix = uniquePrefix('fb-rr');
  let balancer: TcpProxy;
  let f: Follower | undefined;

  afterAll(async () => {
    await f?.client.close();
    await balancer.close();
  });
  const a = useRelayApp(() => ({ redis: testRedisUrl(), keyPrefix: prefix, instanceId: 'fb-a' }));
  const b = useRelayApp(() => ({ redis: testRedisUrl(), keyPrefix: prefix, instanceId: 'fb-b' }));
  beforeAll(async () => {
    balancer = await TcpProxy.balance([a, b].map((r) => Number(new URL(r.url).port)));
    balancer.blockSocketIo = true;
  });

  it('every event once, in order, while each reconnect lands on the other instance and producers use both', async () => {
    const threadId = 'fb-rr-thread';
    await a.registry.registerThread(threadId, 'rob');
    f = new Follower(a, balancer.url, 'rob');
    const c = f.client;
    await c.connect();
    await c.join(threadId);
    await waitUntil(() => c.transport === 'sse', 'the stream');
    let next = 1;
    for (let round = 0; round < 4; round++) {
      const opened = f.count('events');
      const cut = (async () => {
        for (let i = 0; i < 15; i++, next++) {
          await (next % 2 === 0 ? a : b).delivery.sendToThread(threadId, 'tick', { next });
          await new Promise<void>((r) => setImmediate(r));
        }
      })();
      balancer.cutAll();
      await cut;
      await waitUntil(() => f!.seqs(threadId).length >= next - 1, `round ${round}`);
      await waitUntil(
        () => f!.count('events') > opened && c.transport === 'sse',
        `the stream reopened after cut ${round}`,
      );
    }
    expect(f.seqs(threadId)).toEqual(upTo(next - 1));
    const [hitsA, hitsB] = [a, b].map((r) => balancer.routed.get(Number(new URL(r.url).port)) ?? 0);
    expect(hitsA).toBeGreaterThan(0);
    expect(hitsB).toBeGreaterThan(0);
    expect(f.count('events')).toBeGreaterThanOrEqual(5);
  });
});

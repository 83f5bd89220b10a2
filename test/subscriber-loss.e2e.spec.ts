import { Redis } from 'ioredis';
import { io } from 'socket.io-client';
import { ThreadRelayClient, type ClientStatus, type ThreadEvent } from '../src/client/index.js';
import type { ThreadLeftNotice } from '../src/index.js';
import { OwnRedisServer } from './support/own-redis-server.js';
import { uniquePrefix } from './support/redis.js';
import { useRelayApp } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';

/**
 * Redis pub/sub keeps nothing for a subscriber that is away. An event another instance
 * publishes while this instance's subscriber reconnects is not heard; the instance must
 * say so (degraded, then realtime once resubscribed) and read what it missed from the log
 * (the SDK also reads the log on that notice), or the thread's last event would wait for
 * the next one.
 */
describe('the cross-instance subscriber connection drops', () => {
  let redis: OwnRedisServer;
  let admin: Redis;
  let client: ThreadRelayClient | undefined;
  const prefix = uniquePrefix('subscriber-loss');

  afterAll(async () => {
    await client?.close();
  });
  beforeAll(async () => {
    // Its own server: CLIENT KILL TYPE pubsub would cut every suite's subscribers on the shared one.
    redis = await OwnRedisServer.start();
    admin = new Redis(redis.url);
  });
  const relays = ['sub-a', 'sub-b'].map((instanceId) =>
    useRelayApp(() => ({ redis: redis.url, keyPrefix: prefix, instanceId })),
  );
  afterAll(async () => {
    admin.disconnect();
    await redis.dispose();
  });

  it('announces degraded then realtime, and the SDK picks up the event pub/sub dropped', async () => {
    const [a, b] = [relays[0]!, relays[1]!];
    const threadId = 'sub-loss-thread';
    await a.registry.registerThread(threadId, 'sol');
    const events: ThreadEvent[] = [];
    const statuses: ClientStatus[] = [];
    const c = new ThreadRelayClient({
      url: b.url,
      token: () => b.token('sol'),
      socketOptions: { transports: ['websocket'] },
    });
    client = c;
    c.onEvent((event) => events.push(event));
    c.onStatus((status) => statuses.push(status));
    await c.connect();
    await c.join(threadId);
    await a.delivery.sendToThread(threadId, 'before', {});
    await waitUntil(() => events.length === 1, 'the first event over pub/sub');

    // Every subscriber connection goes (only B's subscribes: A hosts no connection); Redis
    // has none when the next event is published.
    const killed = Number(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub'));
    expect(killed).toBeGreaterThanOrEqual(1);
    await a.delivery.sendToThread(threadId, 'during', {});

    await waitUntil(() => events.length === 2, 'the event published while B was not subscribed');
    expect(events.map((e) => [e.seq, e.type])).toEqual([
      [1, 'before'],
      [2, 'during'],
    ]);
    await waitUntil(() => statuses.at(-1) === 'connected', 'realtime again');
    expect(statuses).toContain('degraded');

    // Live delivery through the new subscription works again.
    await a.delivery.sendToThread(threadId, 'after', {});
    await waitUntil(() => events.length === 3, 'the next event over pub/sub');
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it('rechecks its joined threads when back, so a change announced meanwhile still applies', async () => {
    const [a, b] = [relays[0]!, relays[1]!];
    const threadId = 'sub-loss-transferred';
    await a.registry.registerThread(threadId, 'alice');
    const alice = io(b.url, {
      auth: { token: await b.token('alice') },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    try {
      const events: ThreadEvent[] = [];
      const left: ThreadLeftNotice[] = [];
      alice.on('thread:event', (event: ThreadEvent) => events.push(event));
      alice.on('thread:left', (notice: ThreadLeftNotice) => left.push(notice));
      await new Promise<void>((resolve) => alice.once('connect', () => resolve()));
      await alice.emitWithAck('thread:join', { threadId });

      // B's subscriber is away while A unregisters the thread and gives it to bob: B misses
      // the notice, and rechecks alice when it is realtime again.
      await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      await a.registry.unregisterThread(threadId);
      await a.registry.registerThread(threadId, 'bob');
      await waitUntil(() => left.length === 1, 'the removal after the resubscribe');
      expect(left[0]).toMatchObject({ threadId });
      await a.delivery.sendToThread(threadId, 'assistant_message', { secret: 'bob only' });
      expect(
        await alice.timeout(2_000).emitWithAck('thread:ack', { threadId, seq: 1 }),
      ).toMatchObject({ ok: false });
      expect(events).toEqual([]);
    } finally {
      alice.close();
    }
  });
});

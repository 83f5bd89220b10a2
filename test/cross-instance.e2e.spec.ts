import { Redis } from 'ioredis';
import type { Socket } from 'socket.io-client';
import type { ThreadEvent } from '../src/index.js';
import { testRedisUrl, uniquePrefix } from './support/redis.js';
import { connectSocket, startRelayApp, type RelayApp } from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';

describe('two instances sharing Redis', () => {
  const prefix = uniquePrefix('cross');
  let redis: Redis;
  const sockets: Socket[] = [];

  const options = (instanceId: string) => () => ({
    redis: testRedisUrl(),
    keyPrefix: prefix,
    history: { maxPerThread: 5000 },
    instanceId,
  });
  const a = useRelayApp(options('instance-a'));
  const b = useRelayApp(options('instance-b'));
  beforeAll(() => {
    redis = new Redis(testRedisUrl());
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('delivers a send on instance A to a client connected to instance B', async () => {
    await a.registry.registerThread('cross-thread', 'alice');
    const socket = await connectSocket(b.url, await b.token('alice'));
    sockets.push(socket);
    const events: ThreadEvent[] = [];
    socket.on('thread:event', (e: ThreadEvent) => events.push(e));
    expect(await socket.emitWithAck('thread:join', { threadId: 'cross-thread' })).toMatchObject({
      ok: true,
    });
    await waitUntil(
      async () => (await a.store.countConnectionsOfThread('cross-thread')) === 1,
      'join visible on A',
    );

    const receipt = await a.delivery.sendToThread('cross-thread', 'agent_started', { from: 'A' });
    expect(receipt.onlineConnections).toBe(1);
    await waitUntil(() => events.length === 1, 'the event on B');
    expect(events[0]).toMatchObject({
      seq: 1,
      type: 'agent_started',
      payload: { from: 'A' },
      epoch: receipt.epoch,
    });
  });

  it('assigns dense seqs across instances: 1,000 concurrent sends each give exactly 1..2000', async () => {
    await a.registry.registerThread('seq-thread', 'bob');
    const sends = (relay: RelayApp, tag: string) =>
      Promise.all(
        Array.from({ length: 1000 }, (_, i) =>
          relay.delivery.sendToThread('seq-thread', 'tick', { tag, i }),
        ),
      );
    const [fromA, fromB] = await Promise.all([sends(a, 'a'), sends(b, 'b')]);
    const seqs = [...fromA, ...fromB].map((r) => r.seq).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
    const history = await b.delivery.history('seq-thread', 0, 1000);
    expect(history.headSeq).toBe(2000);
    expect(history.messages.map((m) => m.seq)).toEqual(
      Array.from({ length: 1000 }, (_, i) => i + 1),
    );
  });

  it('keeps the registry in Redis: HGETALL thread_registry lists owners, hash-tagged per-thread keys', async () => {
    await a.registry.registerThread('visible-thread', 'carol');
    const registry = await redis.hgetall(`${prefix}thread_registry`);
    expect(registry['visible-thread']).toBe('carol');
    const keys = await redis.keys(`${prefix}thread:*visible-thread*`);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(key).toContain('{visible-thread}');
  });

  it('lets exactly one of two instances own a thread registered concurrently', async () => {
    const attempts = await Promise.allSettled(
      Array.from({ length: 100 }, (_, i) =>
        (i % 2 === 0 ? a : b).registry.registerThread('contested-thread', `user-${i}`),
      ),
    );
    const winners = attempts.filter((r) => r.status === 'fulfilled');
    expect(winners).toHaveLength(1);
    for (const loser of attempts.filter((r) => r.status === 'rejected')) {
      expect(loser.reason).toMatchObject({
        code: 'THREAD_OWNERSHIP_CONFLICT',
      });
    }
    const owner = (await b.registry.getThread('contested-thread'))?.ownerId;
    expect(owner).toBe((winners[0] as PromiseFulfilledResult<{ ownerId: string }>).value.ownerId);
  });
});

describe('registry survives an app restart', () => {
  it('resolves on app B what app A registered before it closed', async () => {
    const options = { redis: testRedisUrl(), keyPrefix: uniquePrefix('restart') };
    const first = await startRelayApp(options);
    await first.registry.registerThread('durable-thread', 'dora');
    await first.registry.registerRun('durable-run', 'durable-thread');
    await first.close();

    const second = await startRelayApp(options);
    try {
      expect(await second.registry.resolve('durable-thread')).toBe('durable-thread');
      expect(await second.registry.resolve('durable-run')).toBe('durable-thread');
      expect((await second.registry.getThread('durable-thread'))?.ownerId).toBe('dora');
    } finally {
      await second.close();
    }
  });
});

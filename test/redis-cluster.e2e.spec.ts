import { Cluster } from 'ioredis';
import type { Socket } from 'socket.io-client';
import type { ThreadEvent } from '../src/index.js';
import { createPublisher, type Publisher } from '../src/publisher/index.js';
import { OwnRedisCluster } from './support/redis-cluster.js';
import { uniquePrefix } from './support/redis.js';
import { connectSocket, type RelayApp } from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';

/** Two relay instances and producers on a real Redis Cluster (3 masters, 3 replicas). */
describe('relay on Redis Cluster', () => {
  const prefix = uniquePrefix('cluster-e2e');
  let cluster: OwnRedisCluster;
  let admin: Cluster;
  const sockets: Socket[] = [];
  const publishers: Publisher[] = [];

  afterAll(async () => {
    await Promise.all(publishers.map((publisher) => publisher.close()));
  });
  beforeAll(async () => {
    cluster = await OwnRedisCluster.start();
    // The second instance runs on a Cluster client of the application's, which it leaves open.
    admin = new Cluster(cluster.nodes);
  }, 90_000);
  const a = useRelayApp(() => ({
    redis: { cluster: cluster.nodes },
    keyPrefix: prefix,
    instanceId: 'cluster-a',
  }));
  const b = useRelayApp(() => ({ redis: admin, keyPrefix: prefix, instanceId: 'cluster-b' }));
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  afterAll(async () => {
    expect(admin.status).toBe('ready');
    await admin?.quit();
    await cluster?.dispose();
  });

  /** Thread ids whose slots are on each of the three masters. */
  async function threadsOnEveryMaster(label: string, perMaster: number): Promise<string[]> {
    const byMaster = new Map<string, string[]>();
    for (
      let i = 0;
      [...byMaster.values()].filter((ids) => ids.length >= perMaster).length < 3;
      i++
    ) {
      const threadId = `${label}-${i}`;
      const slot = Number(await admin.call('CLUSTER', 'KEYSLOT', `{${threadId}}`));
      const master = (admin as unknown as { slots: string[][] }).slots[slot]?.[0] ?? '';
      byMaster.set(master, [...(byMaster.get(master) ?? []), threadId]);
    }
    expect(byMaster.size).toBe(3);
    return [...byMaster.values()].flatMap((ids) => ids.slice(0, perMaster));
  }

  async function follow(relay: RelayApp, userId: string, threadIds: string[]) {
    const socket = await connectSocket(relay.url, await relay.token(userId));
    sockets.push(socket);
    const events: ThreadEvent[] = [];
    socket.on('thread:event', (event: ThreadEvent) => events.push(event));
    for (const threadId of threadIds) {
      expect(await socket.emitWithAck('thread:join', { threadId })).toMatchObject({ ok: true });
    }
    return { socket, events };
  }

  it('delivers sends on A to a client on B for threads on every master, in order, once', async () => {
    const threads = await threadsOnEveryMaster('spread', 2);
    for (const threadId of threads) await a.registry.registerThread(threadId, 'alice');
    const { events } = await follow(b, 'alice', threads);
    for (let i = 1; i <= 20; i++) {
      await Promise.all(
        threads.map((threadId) => a.delivery.sendToThread(threadId, 'tick', { i })),
      );
    }
    await waitUntil(() => events.length === 20 * threads.length, 'every event on B');
    for (const threadId of threads) {
      const seqs = events.filter((e) => e.threadId === threadId).map((e) => e.seq);
      expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    }
  });

  it('replays a reconnecting client exactly the missed events (history across instances)', async () => {
    await a.registry.registerThread('replay-thread', 'bob');
    for (let i = 1; i <= 30; i++) await a.delivery.sendToThread('replay-thread', 'tick', { i });
    const socket = await connectSocket(b.url, await b.token('bob'));
    sockets.push(socket);
    const replayed: ThreadEvent[] = [];
    socket.on('thread:event', (event: ThreadEvent) => replayed.push(event));
    await socket.emitWithAck('thread:join', { threadId: 'replay-thread', lastSeq: 12 });
    await waitUntil(() => replayed.length === 18, 'the replay');
    expect(replayed.map((e) => e.seq)).toEqual(Array.from({ length: 18 }, (_, i) => i + 13));
  });

  it('routes sendToUser, and a producer waits for delivery acknowledged on another instance', async () => {
    await a.registry.registerThread('ack-thread', 'carol');
    const { socket, events } = await follow(b, 'carol', ['ack-thread']);
    const userEvents: unknown[] = [];
    socket.on('user:event', (event: unknown) => userEvents.push(event));
    await a.delivery.sendToUser('carol', 'notice', { hello: true });
    await waitUntil(() => userEvents.length === 1, 'the user event on B');

    const receipt = await a.delivery.sendToThread('ack-thread', 'agent_completed', {});
    await waitUntil(() => events.length === 1, 'the event');
    const waiting = a.delivery.waitForDelivery('ack-thread', receipt.seq, 10_000);
    socket.emit('thread:ack', { threadId: 'ack-thread', seq: receipt.seq, epoch: receipt.epoch });
    await expect(waiting).resolves.toBeGreaterThanOrEqual(1);
  });

  it('takes events from publishers on the cluster, by seed nodes and by Cluster client', async () => {
    await a.registry.registerThread('publisher-thread', 'dave');
    const { events } = await follow(a, 'dave', ['publisher-thread']);
    const bySeeds = createPublisher({ redis: { cluster: cluster.nodes }, keyPrefix: prefix });
    const byClient = createPublisher({ redis: admin, keyPrefix: prefix });
    publishers.push(bySeeds, byClient);
    await bySeeds.sendToThread('publisher-thread', 'tick', { from: 'seeds' });
    await byClient.sendToThread('publisher-thread', 'tick', { from: 'client' });
    await waitUntil(() => events.length === 2, 'both published events');
    expect(events.map((e) => [e.seq, e.payload])).toEqual([
      [1, { from: 'seeds' }],
      [2, { from: 'client' }],
    ]);
  });

  it('keeps HGETALL thread_registry readable on the cluster, and /health up', async () => {
    await a.registry.registerThread('listed-thread', 'erin');
    await expect(admin.hget(`${prefix}thread_registry`, 'listed-thread')).resolves.toBe('erin');
    const response = await fetch(`${a.url}/health`);
    expect(response.status).toBe(200);
  });
});

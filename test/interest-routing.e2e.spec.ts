import type { Socket } from 'socket.io-client';
import type { ThreadEvent } from '../src/index.js';
import { type ClusterBus } from '../src/cluster/cluster-bus.js';
import { CLUSTER_BUS, RELAY_REDIS } from '../src/thread-relay.constants.js';
import { LiveThreadEvents } from '../src/delivery/live-thread-events.service.js';
import type { RedisBackend } from '../src/redis/redis-backend.js';
import { testRedisUrl, uniquePrefix } from './support/redis.js';
import { connectSocket, type RelayApp } from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';

/** Messages each instance's Redis subscriber received, per channel: what crossed the wire. */
function countMessages(relay: RelayApp): Map<string, number> {
  const counts = new Map<string, number>();
  const backend = relay.app.get<RedisBackend>(RELAY_REDIS);
  backend.connections.subscriber.on('message', (channel: string) => {
    counts.set(channel, (counts.get(channel) ?? 0) + 1);
  });
  return counts;
}

function eventsOf(socket: Socket, threadId: string): ThreadEvent[] {
  const events: ThreadEvent[] = [];
  socket.on('thread:event', (event: ThreadEvent) => {
    if (event.threadId === threadId) events.push(event);
  });
  return events;
}

const seqs = (events: ThreadEvent[]) => events.map((e) => e.seq);
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/**
 * An instance hears a thread's events only while one of its connections is joined to it,
 * so what each instance receives grows with its own connections, not with the cluster's
 * traffic. Asserted on what each instance's Redis subscriber actually received.
 */
describe('interest-routed fan-out', () => {
  const prefix = uniquePrefix('interest');
  const channel = (threadId: string) => `${prefix}thread:{${threadId}}:live`;
  let onA: Map<string, number>;
  let onB: Map<string, number>;
  const sockets: Socket[] = [];

  afterAll(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  const a = useRelayApp(() => ({
    redis: testRedisUrl(),
    keyPrefix: prefix,
    instanceId: 'interest-a',
  }));
  const b = useRelayApp(() => ({
    redis: testRedisUrl(),
    keyPrefix: prefix,
    instanceId: 'interest-b',
  }));
  beforeAll(() => {
    onA = countMessages(a);
    onB = countMessages(b);
  });

  const connect = async (relay: RelayApp, userId: string) => {
    const socket = await connectSocket(relay.url, await relay.token(userId));
    sockets.push(socket);
    return socket;
  };

  it('sends a thread joined only on A nothing on B, even when B produces it', async () => {
    await a.registry.registerThread('only-a', 'ann');
    const socket = await connect(a, 'ann');
    const events = eventsOf(socket, 'only-a');
    expect(await socket.emitWithAck('thread:join', { threadId: 'only-a' })).toMatchObject({
      ok: true,
    });
    for (let i = 0; i < 50; i++) await b.delivery.sendToThread('only-a', 'step', { i });
    await waitUntil(() => events.length === 50, 'the 50 events on A');
    expect(seqs(events)).toEqual(range(1, 50));
    expect(onA.get(channel('only-a'))).toBe(50);
    expect(onB.get(channel('only-a')) ?? 0).toBe(0);
    expect(b.app.get(LiveThreadEvents).watchedThreads()).not.toContain('only-a');
  });

  it('sends a thread joined on both instances each event once per instance', async () => {
    await a.registry.registerThread('both', 'bea');
    const [onFirst, onSecond, another] = [
      await connect(a, 'bea'),
      await connect(b, 'bea'),
      await connect(b, 'bea'),
    ];
    const seen = [onFirst, onSecond, another].map((s) => eventsOf(s, 'both'));
    for (const socket of [onFirst, onSecond, another]) {
      expect(await socket.emitWithAck('thread:join', { threadId: 'both' })).toMatchObject({
        ok: true,
      });
    }
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => a.delivery.sendToThread('both', 'step', { i })),
    );
    await waitUntil(() => seen.every((events) => events.length === 40), 'every socket got 40');
    for (const events of seen) expect(seqs(events)).toEqual(range(1, 40));
    // Two sockets on B, one subscription: each event crossed to B once.
    expect(onA.get(channel('both'))).toBe(40);
    expect(onB.get(channel('both'))).toBe(40);
  });

  it('stops sending an instance a thread after its last connection there leaves', async () => {
    await a.registry.registerThread('leaving', 'lou');
    const [first, second] = [await connect(a, 'lou'), await connect(a, 'lou')];
    for (const socket of [first, second]) {
      expect(await socket.emitWithAck('thread:join', { threadId: 'leaving' })).toMatchObject({
        ok: true,
      });
    }
    await a.delivery.sendToThread('leaving', 'step', { i: 0 });
    await waitUntil(() => onA.get(channel('leaving')) === 1, 'the first event on A');
    expect(await first.emitWithAck('thread:leave', { threadId: 'leaving' })).toMatchObject({
      ok: true,
    });
    await a.delivery.sendToThread('leaving', 'step', { i: 1 });
    await waitUntil(() => onA.get(channel('leaving')) === 2, 'still heard: one connection left');
    second.close();
    await waitUntil(
      () => !a.app.get(LiveThreadEvents).watchedThreads().includes('leaving'),
      'A lets go of the thread',
    );
    for (let i = 2; i < 12; i++) await b.delivery.sendToThread('leaving', 'step', { i });
    // Behind the ten sends on the same Redis: a message for A would have arrived by now.
    await b.delivery.sendToThread('only-a', 'marker', {});
    await waitUntil(() => onA.get(channel('only-a')) === 51, 'the marker on A');
    expect(onA.get(channel('leaving'))).toBe(2);
  });

  it('sends user events and cursor notices only where the user is connected or a producer waits', async () => {
    const socket = await connect(a, 'uma');
    const received: unknown[] = [];
    socket.on('user:event', (event: unknown) => received.push(event));
    // Live only (at most once): sent again until A's subscription, made on connect, is in place.
    await waitUntil(async () => {
      await b.delivery.sendToUser('uma', 'notice', { n: 1 });
      return received.length > 0;
    }, 'a user event on A');
    expect(onB.get(`${prefix}user:{uma}:live`) ?? 0).toBe(0);

    await a.registry.registerThread('acked', 'uma');
    expect(await socket.emitWithAck('thread:join', { threadId: 'acked' })).toMatchObject({
      ok: true,
    });
    const { seq } = await a.delivery.sendToThread('acked', 'step', {});
    const busOfB = b.app.get<ClusterBus>(CLUSTER_BUS);
    const before = busOfB.watchedChannels;
    const waiting = b.delivery.waitForDelivery('acked', seq, 10_000);
    await waitUntil(() => busOfB.watchedChannels > before, 'B listens for cursors of the thread');
    expect(await socket.emitWithAck('thread:ack', { threadId: 'acked', seq })).toMatchObject({
      ok: true,
    });
    await expect(waiting).resolves.toBe(seq);
    expect(onB.get(`${prefix}thread:{acked}:acks`)).toBeGreaterThanOrEqual(1);
    // A has no waiter: the cursor notices never reach it.
    expect(onA.get(`${prefix}thread:{acked}:acks`) ?? 0).toBe(0);
  });
});

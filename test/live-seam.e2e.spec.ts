import net from 'node:net';
import type { Socket } from 'socket.io-client';
import type { DeliveryReceipt, ThreadEvent } from '../src/index.js';
import type { RedisBackend } from '../src/redis/redis-backend.js';
import { RELAY_REDIS } from '../src/thread-relay.constants.js';
import { testRedisUrl, uniquePrefix } from './support/redis.js';
import { connectSocket, startRelayApp, type RelayApp } from './support/relay-app.js';
import { waitUntil } from './support/wait-until.js';
import { TcpProxy } from './support/tcp-proxy.js';

/** Plain socket.io clients: no SDK to drop repeats or fill gaps, so what they get is what was sent. */
function collect(socket: Socket, threadId: string): ThreadEvent[] {
  const events: ThreadEvent[] = [];
  socket.on('thread:event', (event: ThreadEvent) => {
    if (event.threadId === threadId) events.push(event);
  });
  return events;
}

const range = (from: number, to: number) =>
  Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('the replay/live seam and the bus, seen by raw socket.io clients', () => {
  const sockets: Socket[] = [];
  const apps: RelayApp[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    for (const app of apps.splice(0)) await app.close();
  });

  const connect = async (relay: RelayApp, userId: string) => {
    const socket = await connectSocket(relay.url, await relay.token(userId));
    sockets.push(socket);
    return socket;
  };

  it('gives a join with a cursor exactly lastSeq+1.. while another instance produces', async () => {
    const keyPrefix = uniquePrefix('seam');
    const a = await startRelayApp({ redis: testRedisUrl(), keyPrefix, instanceId: 'seam-a' });
    const b = await startRelayApp({ redis: testRedisUrl(), keyPrefix, instanceId: 'seam-b' });
    apps.push(a, b);
    const threadId = 'seam-thread';
    await a.registry.registerThread(threadId, 'sam');
    const receipts: DeliveryReceipt[] = [];
    let producing = true;
    const producer = (async () => {
      let i = 0;
      while (producing) {
        // A few in flight at once, as a streaming agent's tokens are.
        receipts.push(
          ...(await Promise.all(
            [0, 1, 2].map(() => a.delivery.sendToThread(threadId, 'token', { i: i++ })),
          )),
        );
      }
    })();
    const joins: { lastSeq: number; events: ThreadEvent[] }[] = [];
    for (let j = 0; j < 16; j++) {
      await waitUntil(() => receipts.length >= 10 * (j + 1), 'the stream to move on');
      const latest = receipts.at(-1)!;
      // Behind the head by 0 to 9 events: part of the join is replay, the rest is live.
      const lastSeq = Math.max(0, latest.seq - (j % 10));
      const socket = await connect(j % 2 === 0 ? b : a, 'sam');
      const events = collect(socket, threadId);
      joins.push({ lastSeq, events });
      expect(
        await socket.emitWithAck('thread:join', { threadId, lastSeq, epoch: latest.epoch }),
      ).toMatchObject({ ok: true });
    }
    producing = false;
    await producer;
    const head = Math.max(...receipts.map((r) => r.seq));
    await waitUntil(
      () => joins.every(({ events }) => (events.at(-1)?.seq ?? 0) >= head),
      'every join to reach the head',
    );
    for (const { lastSeq, events } of joins) {
      expect(events.map((e) => e.seq)).toEqual(range(lastSeq + 1, head));
    }
  });

  it('loses nothing and repeats nothing when an instance’s Redis connections are cut mid-stream', async () => {
    const redisPort = Number(new URL(testRedisUrl()).port || 6379);
    const proxy = await TcpProxy.start(redisPort);
    const keyPrefix = uniquePrefix('bus-cut');
    const a = await startRelayApp({ redis: testRedisUrl(), keyPrefix, instanceId: 'cut-a' });
    const b = await startRelayApp({
      redis: `redis://127.0.0.1:${proxy.port}`,
      keyPrefix,
      instanceId: 'cut-b',
    });
    apps.push(a, b);
    try {
      const threadId = 'cut-thread';
      await a.registry.registerThread(threadId, 'cy');
      const watchers = [await connect(b, 'cy'), await connect(b, 'cy'), await connect(a, 'cy')];
      const seen = watchers.map((socket) => collect(socket, threadId));
      for (const socket of watchers) {
        expect(await socket.emitWithAck('thread:join', { threadId })).toMatchObject({ ok: true });
      }
      const send = async (count: number) => {
        for (let i = 0; i < count; i++) await a.delivery.sendToThread(threadId, 'token', { i });
      };
      await send(20);
      await waitUntil(
        () => seen.every((events) => events.length === 20),
        'the first 20 everywhere',
      );

      // B's subscriber (and command connection) go, and cannot come back for a while:
      // whatever is published meanwhile never reaches B over pub/sub.
      const subscriber = b.app.get<RedisBackend>(RELAY_REDIS).connections.subscriber;
      proxy.targetPort = await closedPort();
      proxy.cutAll();
      await waitUntil(() => subscriber.status !== 'ready', 'B’s subscriber to drop');
      await send(30);
      proxy.targetPort = redisPort;
      await send(30);
      await waitUntil(() => subscriber.status === 'ready', 'B’s subscriber to come back');
      await waitUntil(
        () => seen.every((events) => (events.at(-1)?.seq ?? 0) >= 80),
        'all 80 events on every connection',
      );
      for (const events of seen) expect(events.map((e) => e.seq)).toEqual(range(1, 80));
    } finally {
      await proxy.close();
    }
  });
});

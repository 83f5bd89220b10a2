import type { Socket } from 'socket.io-client';
import type { ThreadEvent } from '../src/index.js';
import { CLUSTER_BUS } from '../src/thread-relay.constants.js';
import type { RedisClusterBus } from '../src/redis/redis-cluster-bus.js';
import { testRedisUrl, uniquePrefix } from './support/redis.js';
import { connectSocket, startRelayApp, type RelayApp } from './support/relay-app.js';
import { waitUntil } from './support/wait-until.js';

/**
 * A thread first watched before it had a log knows no epoch; the log a join then replays
 * is newer, and all its events are heard live from seq 1. The seam must wait for those
 * the replay read from the log, or they would reach the connection twice. Pub/sub that
 * lags the command connection by a few hundred ms is simulated by delaying the bus's
 * subscriber messages.
 */
describe('the replay/live seam when the line started before the thread had a log', () => {
  let relay: RelayApp;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    await relay?.close();
  });

  const setup = async () => {
    relay = await startRelayApp({ redis: testRedisUrl(), keyPrefix: uniquePrefix('rv-seam') });
    const bus = relay.app.get<RedisClusterBus>(CLUSTER_BUS);
    const { onMessage } = bus as unknown as {
      onMessage: (this: void, c: string, m: string) => void;
    };
    return {
      lagSubscriber: (ms: number) => {
        bus.subscriber.off('message', onMessage);
        bus.subscriber.on('message', (c: string, m: string) =>
          setTimeout(() => onMessage(c, m), ms),
        );
      },
    };
  };
  const connect = async (userId: string) => {
    const socket = await connectSocket(relay.url, await relay.token(userId));
    sockets.push(socket);
    const events: ThreadEvent[] = [];
    socket.on('thread:event', (e: ThreadEvent) => events.push(e));
    return { socket, events };
  };

  it('gives an exact seam on a thread that had a log when first watched', async () => {
    const { lagSubscriber } = await setup();
    await relay.registry.registerThread('t-with-log', 'ann');
    await relay.delivery.sendToThread('t-with-log', 'step', { n: 0 });
    const first = await connect('ann');
    await first.socket.emitWithAck('thread:join', { threadId: 't-with-log' });
    await waitUntil(() => first.events.length === 1, 'the first event');
    lagSubscriber(400);
    for (let n = 1; n <= 3; n++) await relay.delivery.sendToThread('t-with-log', 'step', { n });
    const second = await connect('ann');
    expect(
      await second.socket.emitWithAck('thread:join', { threadId: 't-with-log' }),
    ).toMatchObject({ ok: true });
    await waitUntil(() => first.events.length === 4, 'the live events on the first connection');
    // A last event behind the lagged ones: once it is in, any repeat would have come first.
    await relay.delivery.sendToThread('t-with-log', 'step', { n: 4 });
    await waitUntil(() => second.events.at(-1)?.seq === 5, 'the marker on the second');
    expect(second.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('gives a raw client joining while the first events are still in flight each once', async () => {
    const { lagSubscriber } = await setup();
    await relay.registry.registerThread('t-new', 'ann');
    // The first connection watches the thread before it has any log: the line is epoch ''.
    const first = await connect('ann');
    expect(await first.socket.emitWithAck('thread:join', { threadId: 't-new' })).toMatchObject({
      ok: true,
    });
    lagSubscriber(400);
    for (let n = 1; n <= 3; n++) await relay.delivery.sendToThread('t-new', 'step', { n });
    // A second plain socket.io connection joins without a cursor: replay 1..3, then live.
    const second = await connect('ann');
    expect(await second.socket.emitWithAck('thread:join', { threadId: 't-new' })).toMatchObject({
      ok: true,
      headSeq: 3,
    });
    await waitUntil(() => first.events.length >= 3, 'the live events on the first connection');
    // A last event behind the lagged ones: once it is in, any repeat would have come first.
    await relay.delivery.sendToThread('t-new', 'step', { n: 4 });
    await waitUntil(() => second.events.at(-1)?.seq === 4, 'the marker on the second');
    expect(first.events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(second.events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
  });
});

import type { Socket } from 'socket.io-client';
import type { DeliveryReceipt, ThreadEvent } from '../src/index.js';
import { spawnProducer, type ProducerProcess } from './support/producer-process.js';
import { testRedisUrl, uniquePrefix } from './support/redis.js';
import { connectSocket, type RelayApp } from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';

function eventsOf(socket: Socket, threadId: string): ThreadEvent[] {
  const events: ThreadEvent[] = [];
  socket.on('thread:event', (event: ThreadEvent) => {
    if (event.threadId === threadId) events.push(event);
  });
  return events;
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/**
 * Agents run in workers: a process with no socket.io server and no Nest app of its own
 * produces with `createPublisher`, and every guarantee holds for the clients on the
 * gateway instances.
 */
describe('a producer in a process of its own', () => {
  const keyPrefix = uniquePrefix('producer-process');
  let producer: ProducerProcess;
  /** Started up front: building and starting a child is slow on a loaded machine. */
  let doomed: ProducerProcess;
  const sockets: Socket[] = [];

  afterAll(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    await producer.close();
    await doomed.close();
  });
  const a = useRelayApp(() => ({ redis: testRedisUrl(), keyPrefix, instanceId: 'pp-a' }));
  const b = useRelayApp(() => ({ redis: testRedisUrl(), keyPrefix, instanceId: 'pp-b' }));
  beforeAll(async () => {
    const shared = { redis: testRedisUrl(), keyPrefix };
    producer = await spawnProducer(shared);
    doomed = await spawnProducer(shared);
  }, 120_000);

  const join = async (relay: RelayApp, userId: string, threadId: string) => {
    const socket = await connectSocket(relay.url, await relay.token(userId));
    sockets.push(socket);
    const events = eventsOf(socket, threadId);
    expect(await socket.emitWithAck('thread:join', { threadId })).toMatchObject({ ok: true });
    return { socket, events };
  };

  it('reaches clients on two instances exactly once, in order, with idempotent retries', async () => {
    await producer.call('registerThread', { threadId: 'pp-thread', ownerId: 'pia' });
    const onA = await join(a, 'pia', 'pp-thread');
    const onB = await join(b, 'pia', 'pp-thread');
    const receipts = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        producer.call<DeliveryReceipt>('send', {
          target: 'pp-thread',
          type: 'assistant_message',
          payload: { i },
          key: `pp-${i}`,
        }),
      ),
    );
    expect(receipts.map((r) => r.seq).sort((x, y) => x - y)).toEqual(range(1, 200));
    expect(receipts.every((r) => !r.duplicate)).toBe(true);
    // A retry after a lost answer: the same receipt, nothing appended.
    const again = await producer.call<DeliveryReceipt>('send', {
      target: 'pp-thread',
      type: 'assistant_message',
      payload: { i: 7 },
      key: 'pp-7',
    });
    expect(again).toMatchObject({ seq: receipts[7]!.seq, duplicate: true });
    await waitUntil(
      () => onA.events.length >= 200 && onB.events.length >= 200,
      'both instances’ clients to get the 200 events',
    );
    for (const { events } of [onA, onB]) {
      expect(events.map((e) => e.seq)).toEqual(range(1, 200));
      // Each event is the one the producer's receipt names.
      for (const receipt of receipts) {
        expect(events[receipt.seq - 1]?.id).toBe(receipt.messageId);
      }
    }
  });

  it('reaches live connections when the producer is SIGKILLed right after the append', async () => {
    await a.registry.registerThread('pp-doomed', 'dora');
    const onA = await join(a, 'dora', 'pp-doomed');
    const onB = await join(b, 'dora', 'pp-doomed');
    const answer = doomed.call('sendThenDie', {
      target: 'pp-doomed',
      type: 'agent_completed',
      payload: { last: true },
    });
    await expect(answer).rejects.toThrow('producer process exited');
    await doomed.exited;
    expect(doomed.process.signalCode).toBe('SIGKILL');
    await waitUntil(
      () => onA.events.length === 1 && onB.events.length === 1,
      'the last words on both instances',
    );
    for (const { events } of [onA, onB]) {
      expect(events[0]).toMatchObject({ seq: 1, type: 'agent_completed', payload: { last: true } });
    }
  });

  it('waits for delivery across processes', async () => {
    await producer.call('registerThread', { threadId: 'pp-acked', ownerId: 'ada' });
    const { socket, events } = await join(b, 'ada', 'pp-acked');
    const receipt = await producer.call<DeliveryReceipt>('send', {
      target: 'pp-acked',
      type: 'agent_started',
      payload: {},
    });
    const delivered = producer.call<number>('waitForDelivery', {
      threadId: 'pp-acked',
      seq: receipt.seq,
      timeoutMs: 10_000,
    });
    await waitUntil(() => events.length === 1, 'the event on B');
    socket.emit('thread:ack', { threadId: 'pp-acked', seq: receipt.seq });
    await expect(delivered).resolves.toBe(receipt.seq);
    await expect(
      producer.call('waitForDelivery', { threadId: 'pp-acked', seq: 99, timeoutMs: 50 }),
    ).rejects.toMatchObject({ code: 'DELIVERY_TIMEOUT' });
  });

  it('refuses what DeliveryService refuses, with the same codes', async () => {
    await expect(
      producer.call('send', { target: 'pp-nothing', type: 'x', payload: {} }),
    ).rejects.toMatchObject({ code: 'THREAD_NOT_FOUND' });
    await expect(
      producer.call('send', { target: 'bad id!', type: 'x', payload: {} }),
    ).rejects.toMatchObject({ code: 'INVALID_ID' });
    await expect(
      producer.call('send', {
        target: 'pp-thread',
        type: 'x',
        payload: { big: 'x'.repeat(70_000) },
      }),
    ).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
  });
});

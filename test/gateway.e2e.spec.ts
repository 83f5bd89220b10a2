import type { Socket } from 'socket.io-client';
import { signUserToken, type ThreadEvent } from '../src/index.js';
import { LiveThreadEvents } from '../src/delivery/live-thread-events.service.js';
import { LocalSockets } from '../src/sockets/local-sockets.js';
import { RelayConnectionHandler } from '../src/gateway/relay-connection.handler.js';
import { testRedisUrl, uniquePrefix } from './support/redis.js';
import { connectSocket } from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';

type AckAnswer = { ok: boolean; error?: { code: string; message: string } } & Record<
  string,
  unknown
>;

describe.each([
  [
    'memory',
    () => ({
      gateway: { maxPayloadBytes: 4_000_000 },
      history: { maxPerThread: 10_000 },
      // The connect/disconnect cycles hold up to 50 connections of one user at once, and
      // open 1,000 in a few seconds.
      limits: { connectionsPerUser: 100, connectionAttempts: { perMinute: 100_000, burst: 2000 } },
    }),
  ],
  [
    'redis',
    () => ({
      redis: testRedisUrl(),
      keyPrefix: uniquePrefix('gateway'),
      gateway: { maxPayloadBytes: 4_000_000 },
      history: { maxPerThread: 10_000 },
      limits: { connectionsPerUser: 100, connectionAttempts: { perMinute: 100_000, burst: 2000 } },
    }),
  ],
])('gateway (%s)', (_name, config) => {
  const sockets: Socket[] = [];
  const open = async (userId: string) => {
    const socket = await connectSocket(relay.url, await relay.token(userId));
    sockets.push(socket);
    return socket;
  };

  const relay = useRelayApp(config);
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });

  it('refuses handshakes without a valid token with connect_error "unauthorized"', async () => {
    const expired = await signUserToken('x', 'test-secret-that-is-at-least-32-bytes-long', {
      expiresIn: -60,
    });
    const wrongKey = await signUserToken('x', 'another-secret-that-is-at-least-32-bytes');
    for (const token of [undefined, '', 'garbage', expired, wrongKey]) {
      await expect(connectSocket(relay.url, token)).rejects.toMatchObject({
        message: 'unauthorized',
      });
    }
  });

  it('registers an unregistered thread to the joiner and refuses it to anyone else', async () => {
    const alice = await open('alice');
    const mallory = await open('mallory');
    expect(await alice.emitWithAck('thread:join', { threadId: 'alice-thread' })).toMatchObject({
      ok: true,
      threadId: 'alice-thread',
      headSeq: 0,
      replayed: 0,
      epoch: expect.any(String) as unknown,
    });
    expect((await relay.registry.getThread('alice-thread'))?.ownerId).toBe('alice');
    const refused = (await mallory.emitWithAck('thread:join', {
      threadId: 'alice-thread',
    })) as AckAnswer;
    expect(refused).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    const mallorysEvents: ThreadEvent[] = [];
    mallory.on('thread:event', (e: ThreadEvent) => mallorysEvents.push(e));
    const alicesEvents: ThreadEvent[] = [];
    alice.on('thread:event', (e: ThreadEvent) => alicesEvents.push(e));
    await relay.delivery.sendToThread('alice-thread', 'assistant_message', { text: 'secret' });
    await waitUntil(() => alicesEvents.length === 1, 'alice’s event');
    expect(mallorysEvents).toHaveLength(0);
    expect(
      await mallory.emitWithAck('thread:ack', { threadId: 'alice-thread', seq: 1 }),
    ).toMatchObject({ ok: false });
    expect(
      await mallory.emitWithAck('user:message', {
        threadId: 'alice-thread',
        text: 'hi',
        clientMessageId: 'm1',
      }),
    ).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
  });

  it('replays from the cursor then goes live with no gap and no duplicate, while events keep arriving', async () => {
    await relay.registry.registerThread('seam-thread', 'bob');
    const prefill = 2000;
    for (let i = 0; i < prefill; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, j) =>
          relay.delivery.sendToThread('seam-thread', 'tick', { i: i + j }),
        ),
      );
    }
    const socket = await open('bob');
    const seqs: number[] = [];
    socket.on('thread:event', (e: ThreadEvent) => seqs.push(e.seq));
    // The producer runs through the whole replay (several pages) and stops only once the
    // client has seen live events well past the prefilled head.
    let live = 0;
    const producer = (async () => {
      while (live < 5000 && (seqs.at(-1) ?? 0) < prefill + 100) {
        await relay.delivery.sendToThread('seam-thread', 'tick', { live });
        live += 1;
        // In memory mode a send resolves in microtasks only; yield so sockets get served.
        await new Promise((r) => setImmediate(r));
      }
    })();
    const ack = (await socket.emitWithAck('thread:join', {
      threadId: 'seam-thread',
      lastSeq: 100,
    })) as AckAnswer;
    expect(ack.ok).toBe(true);
    await producer;
    const head = prefill + live;
    await waitUntil(() => seqs.length >= head - 100, `${head - 100} events`);
    expect(seqs).toEqual(Array.from({ length: head - 100 }, (_, i) => 101 + i));
  });

  it('answers thread:reset when the epoch does not match, and with ahead_of_log', async () => {
    const socket = await open('carol');
    const ack = (await socket.emitWithAck('thread:join', {
      threadId: 'reset-thread',
    })) as AckAnswer;
    const resets: unknown[] = [];
    socket.on('thread:reset', (r: unknown) => resets.push(r));
    await socket.emitWithAck('thread:leave', { threadId: 'reset-thread' });
    const again = (await socket.emitWithAck('thread:join', {
      threadId: 'reset-thread',
      lastSeq: 0,
      epoch: 'not-the-epoch',
    })) as AckAnswer;
    expect(again).toMatchObject({ ok: true, reset: 'epoch_mismatch' });
    await waitUntil(() => resets.length === 1, 'thread:reset');
    expect(resets[0]).toMatchObject({
      threadId: 'reset-thread',
      epoch: ack.epoch,
      reason: 'epoch_mismatch',
    });
    await socket.emitWithAck('thread:join', {
      threadId: 'reset-thread',
      lastSeq: 99,
      epoch: ack.epoch,
    });
    await waitUntil(() => resets.length === 2, 'second thread:reset');
    expect(resets[1]).toMatchObject({ reason: 'ahead_of_log' });
  });

  it('stores user:message once per clientMessageId and hands it to the handler once', async () => {
    const socket = await open('dave');
    await socket.emitWithAck('thread:join', { threadId: 'chat-thread' });
    const first = (await socket.emitWithAck('user:message', {
      threadId: 'chat-thread',
      text: 'hello',
      clientMessageId: 'c-1',
    })) as AckAnswer;
    const retry = (await socket.emitWithAck('user:message', {
      threadId: 'chat-thread',
      text: 'hello',
      clientMessageId: 'c-1',
    })) as AckAnswer;
    expect(first).toMatchObject({ ok: true, seq: 1 });
    expect(retry).toMatchObject({ ok: true, seq: 1 });
    const history = await relay.delivery.history('chat-thread');
    expect(history.messages).toHaveLength(1);
    expect(history.messages[0]).toMatchObject({
      type: 'user_message',
      payload: { text: 'hello', userId: 'dave' },
    });
  });

  it('answers BAD_REQUEST to malformed input of every event and stays up for everyone', async () => {
    const fuzzer = await open('fuzzer');
    const bystander = await open('bystander');
    await bystander.emitWithAck('thread:join', { threadId: 'bystander-thread' });
    const bystanderEvents: ThreadEvent[] = [];
    bystander.on('thread:event', (e: ThreadEvent) => bystanderEvents.push(e));
    const huge = 'x'.repeat(1_048_576);
    const protoPayload = JSON.parse(
      '{"__proto__": {"polluted": true}, "threadId": {"__proto__": 1}}',
    ) as unknown;
    const generic: unknown[] = [
      null,
      undefined,
      0,
      42,
      'string',
      true,
      [],
      [1, 2],
      {},
      protoPayload,
      { threadId: null },
      { threadId: 42 },
      { threadId: '' },
      { threadId: 'a b' },
      { threadId: 'a{b}' },
      { threadId: huge },
      { threadId: { nested: { deeper: huge } } },
      { threadId: ['ok-thread'] },
    ];
    const specific: Record<string, unknown[]> = {
      'thread:join': [
        { threadId: 'ok-thread', lastSeq: -1 },
        { threadId: 'ok-thread', lastSeq: 1.5 },
        { threadId: 'ok-thread', lastSeq: 'one' },
        { threadId: 'ok-thread', lastSeq: 1e300 },
        { threadId: 'ok-thread', epoch: 5 },
        { threadId: 'ok-thread', epoch: huge },
      ],
      'thread:leave': [],
      'thread:ack': [
        { threadId: 'ok-thread' },
        { threadId: 'ok-thread', seq: -3 },
        { threadId: 'ok-thread', seq: 'x' },
        { threadId: 'ok-thread', seq: null },
      ],
      'user:message': [
        { threadId: 'ok-thread', clientMessageId: 'x' },
        { threadId: 'ok-thread', text: 7, clientMessageId: 'x' },
        { threadId: 'ok-thread', text: '', clientMessageId: 'x' },
        { threadId: 'ok-thread', text: huge, clientMessageId: 'x' },
        { threadId: 'ok-thread', text: 'hi', clientMessageId: null },
        { threadId: 'ok-thread', text: 'hi', clientMessageId: 'has space' },
      ],
    };
    for (const [event, cases] of Object.entries(specific)) {
      for (const payload of [...generic, ...cases]) {
        const answer = (await fuzzer.timeout(5000).emitWithAck(event, payload)) as AckAnswer;
        if (answer.ok || answer.error?.code !== 'BAD_REQUEST') {
          throw new Error(
            `${event} ${JSON.stringify(payload)?.slice(0, 80)} answered ${JSON.stringify(answer)}`,
          );
        }
        expect(answer.error.message.length).toBeLessThan(500);
      }
      // No ack callback at all: handled, answered with relay:error, nothing thrown.
      const errors: unknown[] = [];
      fuzzer.once('relay:error', (e: unknown) => errors.push(e));
      fuzzer.emit(event, { threadId: null });
      await waitUntil(() => errors.length === 1, `relay:error for ${event}`);
    }
    expect(Object.prototype).not.toHaveProperty('polluted');
    expect(fuzzer.connected).toBe(true);
    await relay.delivery.sendToThread('bystander-thread', 'still_alive', {});
    await waitUntil(() => bystanderEvents.length === 1, 'the bystander still receiving');
  });

  it('drops only the connection that sends a frame above gateway.maxPayloadBytes', async () => {
    const offender = await open('offender');
    const bystander = await open('bystander2');
    const closed = new Promise<string>((resolve) => offender.once('disconnect', resolve));
    offender.emit('user:message', {
      threadId: 'x',
      text: 'y'.repeat(5_000_000),
      clientMessageId: 'big',
    });
    expect(await closed).toMatch(/transport (close|error)/);
    expect(
      await bystander.emitWithAck('thread:join', { threadId: 'bystander2-thread' }),
    ).toMatchObject({ ok: true });
  });

  it('leaves no connection, room, gate or registry entry behind after 1,000 connect/disconnect cycles', async () => {
    const handler = relay.app.get(RelayConnectionHandler);
    const live = relay.app.get(LiveThreadEvents);
    const token = await relay.token('cycler');
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const socket = await connectSocket(relay.url, token);
          await socket.emitWithAck('thread:join', { threadId: `cycle-${i % 5}` });
          socket.close();
        }),
      );
    }
    await waitUntil(
      async () => (await relay.store.connectionsOfUser('cycler')).length === 0,
      'registry drained',
    );
    await waitUntil(() => handler.localConnections === 0, 'handler drained');
    for (let i = 0; i < 5; i++) {
      expect(await relay.store.connectionsOfThread(`cycle-${i}`)).toEqual([]);
    }
    const nsp = relay.app.get(LocalSockets).namespace;
    expect(nsp?.sockets.size).toBe(0);
    const rooms = [...(nsp?.adapter.rooms.keys() ?? [])].filter(
      (r) => r.startsWith('thread:cycle') || r === 'user:cycler',
    );
    expect(rooms).toEqual([]);
    expect(live.openGates).toBe(0);
    // Nothing here holds those threads any more: their channels are let go.
    expect(live.watchedThreads().filter((t) => t.startsWith('cycle-'))).toEqual([]);
  });
});

import { jest } from '@jest/globals';
import type { Socket } from 'socket.io-client';
import {
  InvalidPayloadError,
  MESSAGE_LOG,
  type MessageLog,
  SEND_MESSAGE_DEPRECATION_CODE,
  ThreadNotFoundError,
  WebSocketManager,
  DeliveryTimeoutError,
  type ThreadEvent,
} from '../src/index.js';
import { backendModes, connectSocket } from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';

function collect(socket: Socket): ThreadEvent[] {
  const events: ThreadEvent[] = [];
  socket.on('thread:event', (event: ThreadEvent) => events.push(event));
  return events;
}

describe.each(backendModes('delivery'))('DeliveryService (%s)', (_name, config) => {
  const sockets: Socket[] = [];

  const relay = useRelayApp(config);
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });

  it('queues events for a thread nobody is connected to, in order', async () => {
    await relay.registry.registerThread('offline-thread', 'alice');
    const receipts = [];
    for (let i = 1; i <= 5; i++) {
      receipts.push(await relay.delivery.sendToThread('offline-thread', 'agent_thinking', { i }));
    }
    expect(receipts.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(receipts.every((r) => r.onlineConnections === 0)).toBe(true);
    expect(new Set(receipts.map((r) => r.epoch)).size).toBe(1);

    const page = await relay.delivery.history('offline-thread', 0, 100);
    expect(page.messages.map((m) => m.payload)).toEqual([1, 2, 3, 4, 5].map((i) => ({ i })));

    const socket = await connectSocket(relay.url, await relay.token('alice'));
    sockets.push(socket);
    const events = collect(socket);
    const ack = (await socket.emitWithAck('thread:join', {
      threadId: 'offline-thread',
      lastSeq: 0,
    })) as {
      ok: boolean;
      replayed: number;
    };
    expect(ack).toMatchObject({ ok: true, replayed: 5, headSeq: 5 });
    await waitUntil(() => events.length === 5, '5 replayed events');
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('resolves run ids, registered and by format, and refuses unknown ids with THREAD_NOT_FOUND', async () => {
    await relay.registry.registerThread('thread_13679e4dcc38403a', 'bob');
    const byFormat = await relay.delivery.sendToThread(
      'thread_13679e4dcc38403a_run_1756919162904_9adf1f09',
      'agent_started',
      {},
    );
    expect(byFormat.threadId).toBe('thread_13679e4dcc38403a');
    await relay.registry.registerRun('custom-run-7', 'thread_13679e4dcc38403a');
    const byRegistration = await relay.delivery.sendToThread('custom-run-7', 'agent_thinking', {});
    expect(byRegistration).toMatchObject({ threadId: 'thread_13679e4dcc38403a', seq: 2 });
    const history = await relay.delivery.history('thread_13679e4dcc38403a');
    expect(history.messages[0]?.runId).toBe('thread_13679e4dcc38403a_run_1756919162904_9adf1f09');

    await expect(
      relay.delivery.sendToThread('nobody_run_1756919162904_9adf1f09', 'x', {}),
    ).rejects.toThrow(ThreadNotFoundError);
    await expect(relay.delivery.sendToThread('missing-thread', 'x', {})).rejects.toMatchObject({
      code: 'THREAD_NOT_FOUND',
      message: expect.stringContaining('missing-thread') as unknown,
    });
  });

  it('returns the first receipt for a repeated idempotency key and appends nothing', async () => {
    await relay.registry.registerThread('idem-thread', 'carol');
    const first = await relay.delivery.sendToThread(
      'idem-thread',
      'tool_completed',
      { n: 1 },
      { idempotencyKey: 'k1' },
    );
    const again = await relay.delivery.sendToThread(
      'idem-thread',
      'tool_completed',
      { n: 2 },
      { idempotencyKey: 'k1' },
    );
    const other = await relay.delivery.sendToThread(
      'idem-thread',
      'tool_completed',
      { n: 3 },
      { idempotencyKey: 'k2' },
    );
    expect(again).toMatchObject({ messageId: first.messageId, seq: first.seq, duplicate: true });
    expect(other.seq).toBe(first.seq + 1);
    const history = await relay.delivery.history('idem-thread');
    expect(history.messages.map((m) => m.payload)).toEqual([{ n: 1 }, { n: 3 }]);
  });

  it('refuses oversized and non-JSON payloads before storing anything', async () => {
    await relay.registry.registerThread('payload-thread', 'dave');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const bad: unknown[] = [
      cyclic,
      undefined,
      () => 1,
      10n,
      Symbol('s'),
      { big: 'x'.repeat(70_000) },
    ];
    for (const payload of bad) {
      await expect(
        relay.delivery.sendToThread('payload-thread', 'agent_thinking', payload),
      ).rejects.toBeInstanceOf(InvalidPayloadError);
    }
    await expect(
      relay.delivery.sendToThread('payload-thread', 'agent_thinking', { big: 'x'.repeat(70_000) }),
    ).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    await expect(
      relay.delivery.sendToThread('payload-thread', 'bad type!', {}),
    ).rejects.toMatchObject({
      code: 'INVALID_EVENT_TYPE',
    });
    expect((await relay.delivery.history('payload-thread')).headSeq).toBe(0);
  });

  it('resolves waitForDelivery when the owner acks and times out otherwise', async () => {
    await relay.registry.registerThread('ack-thread', 'erin');
    const receipt = await relay.delivery.sendToThread('ack-thread', 'assistant_message', {
      text: 'hi',
    });
    await expect(
      relay.delivery.waitForDelivery('ack-thread', receipt.seq, 50),
    ).rejects.toBeInstanceOf(DeliveryTimeoutError);
    const socket = await connectSocket(relay.url, await relay.token('erin'));
    sockets.push(socket);
    const events = collect(socket);
    await socket.emitWithAck('thread:join', { threadId: 'ack-thread' });
    await waitUntil(() => events.length === 1, 'the replayed event');
    const waiting = relay.delivery.waitForDelivery('ack-thread', receipt.seq, 5_000);
    expect(
      await socket.emitWithAck('thread:ack', { threadId: 'ack-thread', seq: receipt.seq }),
    ).toMatchObject({
      ok: true,
    });
    await expect(waiting).resolves.toBe(receipt.seq);
    // Already delivered: resolves at once.
    await expect(relay.delivery.waitForDelivery('ack-thread', receipt.seq, 10)).resolves.toBe(
      receipt.seq,
    );
  });

  it('raises the cursor to the lastSeq a join resumes from, only in the current epoch', async () => {
    const threadId = 'resume-thread';
    await relay.registry.registerThread(threadId, 'hana');
    let epoch = '';
    for (let i = 1; i <= 3; i++) {
      epoch = (await relay.delivery.sendToThread(threadId, 'agent_thinking', { i })).epoch;
    }
    const socket = await connectSocket(relay.url, await relay.token('hana'));
    sockets.push(socket);
    const rejoin = async (join: object): Promise<unknown> => {
      await socket.emitWithAck('thread:leave', { threadId });
      return socket.emitWithAck('thread:join', { threadId, ...join });
    };
    // Without the epoch the client shows nothing about which log it read.
    expect(await rejoin({ lastSeq: 2 })).toMatchObject({ ok: true });
    // Another epoch's seq is a reset, not a position in this log.
    expect(await rejoin({ lastSeq: 2, epoch: 'an-older-epoch' })).toMatchObject({
      ok: true,
      reset: 'epoch_mismatch',
    });
    expect(await relay.store.deliveredCursors(threadId, epoch)).toEqual({});

    expect(await rejoin({ lastSeq: 2, epoch })).toMatchObject({ ok: true, replayed: 1 });
    expect(await relay.store.deliveredCursors(threadId, epoch)).toEqual({ hana: 2 });
    await expect(relay.delivery.waitForDelivery(threadId, 2, 10)).resolves.toBe(2);
    // Only upward: resuming from an earlier seq leaves the cursor where it is.
    expect(await rejoin({ lastSeq: 1, epoch })).toMatchObject({ ok: true, replayed: 2 });
    expect(await relay.store.deliveredCursors(threadId, epoch)).toEqual({ hana: 2 });
  });

  it('counts acks in the log’s epoch: a cursor of an expired log confirms nothing', async () => {
    const threadId = 'epoch-thread';
    await relay.registry.registerThread(threadId, 'ines');
    const socket = await connectSocket(relay.url, await relay.token('ines'));
    sockets.push(socket);
    const events = collect(socket);
    await socket.emitWithAck('thread:join', { threadId });
    let last = await relay.delivery.sendToThread(threadId, 'agent_thinking', { i: 1 });
    for (let i = 2; i <= 5; i++) {
      last = await relay.delivery.sendToThread(threadId, 'agent_thinking', { i });
    }
    await waitUntil(() => events.length === 5, 'the first log’s events');
    expect(
      await socket.emitWithAck('thread:ack', { threadId, seq: 5, epoch: last.epoch }),
    ).toMatchObject({ ok: true, cursor: 5 });

    // The log expires (dropped here) and the next send starts a new epoch at seq 1.
    await relay.app.get<MessageLog>(MESSAGE_LOG).drop(threadId);
    const fresh = await relay.delivery.sendToThread(threadId, 'agent_thinking', { i: 6 });
    expect(fresh.seq).toBe(1);
    expect(fresh.epoch).not.toBe(last.epoch);
    await expect(relay.delivery.waitForDelivery(threadId, 1, 100)).rejects.toBeInstanceOf(
      DeliveryTimeoutError,
    );
    // A late ack of the old log is not recorded against the new one.
    expect(
      await socket.emitWithAck('thread:ack', { threadId, seq: 1, epoch: last.epoch }),
    ).toMatchObject({ ok: true, ignored: 'stale_epoch' });
    await expect(relay.delivery.waitForDelivery(threadId, 1, 100)).rejects.toBeInstanceOf(
      DeliveryTimeoutError,
    );

    const waiting = relay.delivery.waitForDelivery(threadId, 1, 5_000);
    expect(
      await socket.emitWithAck('thread:ack', { threadId, seq: 1, epoch: fresh.epoch }),
    ).toMatchObject({ ok: true, cursor: 1 });
    await expect(waiting).resolves.toBe(1);
    expect(await relay.store.deliveredCursors(threadId, fresh.epoch)).toEqual({ ines: 1 });
  });

  it('sendToUser reaches every connection of the user and nobody else', async () => {
    const a1 = await connectSocket(relay.url, await relay.token('frank'));
    const a2 = await connectSocket(relay.url, await relay.token('frank'));
    const b = await connectSocket(relay.url, await relay.token('grace'));
    sockets.push(a1, a2, b);
    const got: string[] = [];
    a1.on('user:event', () => got.push('a1'));
    a2.on('user:event', () => got.push('a2'));
    b.on('user:event', () => got.push('b'));
    await relay.delivery.sendToUser('frank', 'notice', { hello: true });
    await waitUntil(() => got.length >= 2, 'both of frank’s connections');
    await relay.delivery.sendToUser('grace', 'notice', {});
    await waitUntil(() => got.includes('b'), 'grace’s connection');
    expect(got.sort()).toEqual(['a1', 'a2', 'b']);
  });
});

describe('WebSocketManager compatibility facade', () => {
  const relay = useRelayApp();

  it('delegates all three names and warns once per process with a stable code', async () => {
    const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      await relay.registry.registerThread('compat-thread', 'henry');
      const manager = relay.app.get(WebSocketManager);
      const a = await manager.sendToThread('compat-thread', 'agent_started', {});
      const b = await manager.sendMessage('compat-thread', 'agent_thinking', {});
      const c = await manager.send_message('compat-thread', 'agent_completed', {});
      const d = await manager.sendMessage('compat-thread', 'agent_completed', {});
      expect([a.seq, b.seq, c.seq, d.seq]).toEqual([1, 2, 3, 4]);
      expect(emitWarning).toHaveBeenCalledTimes(1);
      expect(emitWarning.mock.calls[0]?.[1]).toEqual({
        type: 'DeprecationWarning',
        code: SEND_MESSAGE_DEPRECATION_CODE,
      });
    } finally {
      emitWarning.mockRestore();
    }
  });
});

import type { ThreadRelayClientError } from '../../src/client/index.js';
import { ClientHarness, range } from './support/client-harness.js';
import { FakeRelayServer } from './support/fake-relay-server.js';

describe('ThreadRelayClient delivery', () => {
  let server: FakeRelayServer;
  let harness: ClientHarness;

  beforeEach(async () => {
    server = await FakeRelayServer.start();
    harness = new ClientHarness(server);
    await harness.client.connect();
  });

  afterEach(async () => {
    await harness.client.close();
    await server.close();
  });

  it('delivers replayed then live events in seq order, each once', async () => {
    server.append('t1');
    server.append('t1');
    const result = await harness.client.join('t1');
    expect(result).toMatchObject({ threadId: 't1', headSeq: 2, replayed: 2 });
    for (let i = 0; i < 3; i += 1) server.publish('t1');
    await harness.received('t1', 5);
    expect(harness.seqs('t1')).toEqual(range(1, 5));
    expect(harness.client.cursor('t1')).toEqual({ epoch: server.epochOf('t1'), lastSeq: 5 });
  });

  it('drops an event the server sends twice', async () => {
    await harness.client.join('t1');
    const first = server.publish('t1');
    server.emitRaw(first);
    const second = server.publish('t1');
    server.emitRaw(second);
    server.emitRaw(first);
    server.publish('t1');
    await harness.received('t1', 3);
    // The sentinel (seq 3) arrived after every duplicate on the same socket.
    expect(harness.seqs('t1')).toEqual([1, 2, 3]);
  });

  it('puts events that arrive out of order back in order without reading history', async () => {
    await harness.client.join('t1');
    server.publish('t1');
    const two = server.append('t1');
    const three = server.append('t1');
    server.emitRaw(three);
    server.emitRaw(two);
    await harness.received('t1', 3);
    expect(harness.seqs('t1')).toEqual([1, 2, 3]);
    expect(server.history).toEqual([]);
  });

  it('fills a gap from REST history after the grace period', async () => {
    await harness.client.join('t1');
    for (let i = 0; i < 3; i += 1) server.publish('t1');
    server.append('t1');
    server.publish('t1');
    await harness.received('t1', 5);
    expect(harness.seqs('t1')).toEqual(range(1, 5));
    expect(server.history).toEqual([{ threadId: 't1', after: 3, limit: 200 }]);
    server.publish('t1');
    await harness.received('t1', 6);
    expect(harness.seqs('t1')).toEqual(range(1, 6));
  });

  it('reads events the join answer reports but the replay never brings, from history', async () => {
    server.append('t1');
    server.append('t1');
    server.skipNextReplay = true;
    await harness.client.join('t1');
    await harness.received('t1', 2);
    expect(harness.seqs('t1')).toEqual([1, 2]);
    expect(server.history).toEqual([{ threadId: 't1', after: 0, limit: 200 }]);
  });

  it('re-joins with its cursor after the server disconnects it and loses nothing', async () => {
    await harness.client.join('t1');
    server.publish('t1');
    server.publish('t1');
    await harness.received('t1', 2);
    const epoch = server.epochOf('t1');

    server.disconnectAll();
    await harness.status('reconnecting');
    server.publish('t1');
    server.publish('t1');
    await harness.received('t1', 4);
    server.publish('t1');
    await harness.received('t1', 5);

    expect(harness.seqs('t1')).toEqual(range(1, 5));
    expect(server.joins.map(({ lastSeq, epoch: e }) => ({ lastSeq, epoch: e }))).toEqual([
      { lastSeq: undefined, epoch: undefined },
      { lastSeq: 2, epoch },
    ]);
    expect(harness.statuses).toEqual(['connecting', 'connected', 'reconnecting', 'connected']);
  });

  it('re-joins after its own transport closes and loses nothing', async () => {
    await harness.client.join('t1');
    server.publish('t1');
    await harness.received('t1', 1);

    harness.client.socket?.io.engine.close();
    await harness.status('reconnecting');
    server.publish('t1');
    server.publish('t1');
    await harness.until(() => server.joins.length === 2, 'the re-join');
    server.publish('t1');
    await harness.received('t1', 4);

    expect(harness.seqs('t1')).toEqual(range(1, 4));
    expect(server.joins[1]).toMatchObject({ threadId: 't1', lastSeq: 1 });
  });

  it('reports an epoch change seen on a live event as a reset with the reloaded history', async () => {
    await harness.client.join('t1');
    server.publish('t1');
    server.publish('t1');
    await harness.received('t1', 2);

    const epoch = server.replaceLog('t1');
    server.publish('t1', 'agent_started');
    server.publish('t1', 'agent_thinking');
    await harness.until(() => harness.resets.length === 1, 'the reset');
    server.publish('t1', 'agent_completed');
    await harness.received('t1', 3);

    const [reset] = harness.resets;
    expect(reset).toMatchObject({ threadId: 't1', epoch, headSeq: 2, reason: 'epoch_mismatch' });
    expect(reset?.events.map((event) => [event.seq, event.type])).toEqual([
      [1, 'agent_started'],
      [2, 'agent_thinking'],
    ]);
    expect(harness.events.map((event) => [event.epoch === epoch, event.seq])).toEqual([
      [false, 1],
      [false, 2],
      [true, 3],
    ]);
    expect(harness.client.cursor('t1')).toEqual({ epoch, lastSeq: 3 });
  });

  it('handles thread:reset when the log was replaced while it was away', async () => {
    await harness.client.join('t1');
    server.publish('t1');
    await harness.received('t1', 1);

    server.disconnectAll();
    await harness.status('reconnecting');
    const epoch = server.replaceLog('t1');
    server.append('t1');
    server.append('t1');
    await harness.until(() => harness.resets.length === 1, 'the reset');
    server.publish('t1');
    await harness.received('t1', 2);

    expect(harness.resets[0]).toMatchObject({ epoch, headSeq: 2, reason: 'epoch_mismatch' });
    expect(harness.resets[0]?.events.map((event) => event.seq)).toEqual([1, 2]);
    expect(harness.events.map((event) => event.seq)).toEqual([1, 3]);
    expect(harness.resets).toHaveLength(1);
  });

  it('resets with what is left when the log was trimmed past its cursor', async () => {
    await harness.client.join('t1');
    server.publish('t1');
    await harness.received('t1', 1);

    server.disconnectAll();
    await harness.status('reconnecting');
    for (let i = 0; i < 5; i += 1) server.append('t1');
    server.trim('t1', 3);
    await harness.until(() => harness.resets.length === 1, 'the reset');

    expect(harness.resets[0]).toMatchObject({ reason: 'trimmed', headSeq: 6 });
    expect(harness.resets[0]?.events.map((event) => event.seq)).toEqual([4, 5, 6]);
    expect(harness.client.cursor('t1')?.lastSeq).toBe(6);
  });

  it('resets when the saved cursor is ahead of the log', async () => {
    server.append('t1');
    server.append('t1');
    await harness.client.join('t1', { lastSeq: 9, epoch: server.epochOf('t1') });
    await harness.until(() => harness.resets.length === 1, 'the reset');
    expect(harness.resets[0]).toMatchObject({ reason: 'ahead_of_log', headSeq: 2 });
    expect(harness.resets[0]?.events.map((event) => event.seq)).toEqual([1, 2]);
    server.publish('t1');
    await harness.received('t1', 1);
    expect(harness.seqs('t1')).toEqual([3]);
  });

  it('acks cumulatively, in a few batches, up to the last seq', async () => {
    await harness.client.join('t1');
    for (let i = 0; i < 20; i += 1) server.publish('t1');
    await harness.received('t1', 20);
    await harness.until(() => server.acks.at(-1)?.seq === 20, 'the ack of seq 20');

    const seqs = server.acks.map((ack) => ack.seq);
    expect(seqs.length).toBeLessThanOrEqual(3);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(seqs.length);
    // No answer asked for: the server writes back only a refusal.
    expect(server.acks.every((ack) => !ack.answerAsked)).toBe(true);
    // Each names the log its seq counts in.
    expect(server.acks.every((ack) => ack.epoch === server.epochOf('t1'))).toBe(true);
  });

  it('sends the outstanding ack on close(), ahead of the disconnect', async () => {
    await harness.client.join('t1');
    server.publish('t1');
    await harness.received('t1', 1);
    await harness.until(() => server.acks.length === 1, 'the first ack');
    // Within the ack interval: without close() this one would wait ~250 ms.
    server.publish('t1');
    await harness.received('t1', 2);
    await harness.client.close();
    await harness.until(() => server.acks.at(-1)?.seq === 2, 'the ack sent by close()');
  });

  it('reports an ack the server refuses through onError and keeps delivering', async () => {
    await harness.client.join('t1');
    server.refuseAcks = true;
    server.publish('t1');
    await harness.until(() => harness.errors.length === 1, 'the refused ack reported');
    expect(harness.errors[0]).toMatchObject({ code: 'BAD_REQUEST' });
    expect(harness.errors[0]?.message).toContain('thread:ack');
    server.refuseAcks = false;
    server.publish('t1');
    await harness.received('t1', 2);
    await harness.until(() => server.acks.at(-1)?.seq === 2, 'the ack of seq 2');
  });

  it('rejects a join the server refuses and forgets the thread', async () => {
    const refusal = harness.client.join('forbidden-1');
    await expect(refusal).rejects.toMatchObject({ code: 'FORBIDDEN', threadId: 'forbidden-1' });
    expect(harness.client.cursor('forbidden-1')).toBeUndefined();
  });

  it('keeps delivering when an application handler throws', async () => {
    harness.client.onEvent((event) => {
      if (event.seq === 1) throw new Error('app bug');
    });
    await harness.client.join('t1');
    server.publish('t1');
    server.publish('t1');
    await harness.received('t1', 2);
    expect(harness.seqs('t1')).toEqual([1, 2]);
    expect(harness.errors.map((error: ThreadRelayClientError) => error.code)).toContain(
      'HANDLER_FAILED',
    );
  });

  it('reports degraded mode from relay:status and returns to connected', async () => {
    server.setMode('degraded');
    await harness.status('degraded');
    server.setMode('realtime');
    await harness.status('connected');
    expect(harness.statuses).toEqual(['connecting', 'connected', 'degraded', 'connected']);
  });

  it('stops delivering a thread it left', async () => {
    await harness.client.join('t1');
    await harness.client.join('t2');
    server.publish('t1');
    await harness.received('t1', 1);
    await harness.client.leave('t1');
    server.publish('t1');
    server.publish('t2');
    await harness.received('t2', 1);
    expect(harness.seqs('t1')).toEqual([1]);
    expect(harness.client.cursor('t1')).toBeUndefined();
  });

  it('resumes a new client from a saved cursor without repeating what the app has', async () => {
    await harness.client.join('t1');
    server.publish('t1');
    server.publish('t1');
    await harness.received('t1', 2);
    const saved = harness.client.cursor('t1');
    server.append('t1');

    const next = new ClientHarness(server);
    try {
      await next.client.connect();
      await expect(next.client.join('t1', saved)).resolves.toMatchObject({ replayed: 1 });
      await next.received('t1', 1);
      expect(next.seqs('t1')).toEqual([3]);
      expect(server.joins.at(-1)).toMatchObject({ lastSeq: 2, epoch: saved?.epoch });
    } finally {
      await next.client.close();
    }
  });

  it('gives every connection of a user every event, each from its own cursor', async () => {
    const other = new ClientHarness(server);
    try {
      await other.client.connect();
      await harness.client.join('t1');
      server.publish('t1');
      await harness.received('t1', 1);
      await other.client.join('t1');
      server.publish('t1');
      other.client.socket?.io.engine.close();
      await other.status('reconnecting');
      server.publish('t1');
      await harness.received('t1', 3);
      await other.received('t1', 3);
      expect(harness.seqs('t1')).toEqual([1, 2, 3]);
      expect(other.seqs('t1')).toEqual([1, 2, 3]);
    } finally {
      await other.client.close();
    }
  });

  it('passes events outside any thread to onUserEvent', async () => {
    const received: unknown[] = [];
    harness.client.onUserEvent((event) => {
      received.push(event);
      harness.changed.notify();
    });
    server.io.emit('user:event', { id: 'u1', userId: 'u', type: 'notice', payload: 1, ts: 0 });
    await harness.until(() => received.length === 1, 'the user event');
    expect(received[0]).toMatchObject({ id: 'u1', type: 'notice' });
  });
});

import type { Socket } from 'socket.io-client';
import { MESSAGE_LOG, type MessageLog, type ThreadEvent } from '../src/index.js';
import { testRedisUrl, uniquePrefix } from './support/redis.js';
import { connectSocket, type TestRelayOptions } from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';

interface ResetNotice {
  threadId: string;
  epoch: string;
  headSeq: number;
  reason: string;
}

/**
 * A thread's log replaced while a join is being replayed: the connection is told
 * (`thread:reset` with the new log's head) and then follows the new log live, as a raw
 * socket.io client sees it: nothing of the old log after the notice, nothing twice.
 */
describe.each([
  ['memory', (): TestRelayOptions => ({})],
  ['redis', (): TestRelayOptions => ({ redis: testRedisUrl(), keyPrefix: uniquePrefix('rlr') })],
])('a log replaced in the middle of a replay (%s)', (_mode, config) => {
  let socket: Socket | undefined;

  afterAll(() => {
    socket?.close();
  });
  const relay = useRelayApp(config);

  it('sends thread:reset, then the new log after its head, live, each once', async () => {
    const threadId = 'replaced-mid-replay';
    await relay.registry.registerThread(threadId, 'rob');
    for (let i = 1; i <= 250; i++) await relay.delivery.sendToThread(threadId, 'old', { i });
    const log = relay.app.get<MessageLog>(MESSAGE_LOG);

    // The replay's second page waits until the log has been replaced under it.
    let reads = 0;
    let paused = false;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const read = log.read.bind(log);
    log.read = async (id, afterSeq, limit, maxBytes) => {
      if (id === threadId && ++reads === 2) {
        paused = true;
        await released;
      }
      return read(id, afterSeq, limit, maxBytes);
    };

    socket = await connectSocket(relay.url, await relay.token('rob'));
    const events: ThreadEvent[] = [];
    const resets: ResetNotice[] = [];
    socket.on('thread:event', (event: ThreadEvent) => events.push(event));
    socket.on('thread:reset', (notice: ResetNotice) => resets.push(notice));
    const joined = socket.emitWithAck('thread:join', { threadId, lastSeq: 0 }) as Promise<{
      ok: boolean;
      epoch: string;
    }>;
    await waitUntil(() => paused, 'the replay to pause on its second page');
    const old = (await joined).epoch;

    await log.drop(threadId);
    for (let i = 1; i <= 3; i++) await relay.delivery.sendToThread(threadId, 'new', { i });
    release();
    await waitUntil(() => resets.length === 1, 'thread:reset');
    const [notice] = resets;
    expect(notice).toMatchObject({ threadId, headSeq: 3, reason: 'epoch_mismatch' });
    expect(notice?.epoch).not.toBe(old);

    // Live after the notice: the new log's events past its head reach the connection.
    for (let i = 4; i <= 10; i++) await relay.delivery.sendToThread(threadId, 'new', { i });
    await waitUntil(
      () => events.filter((e) => e.epoch === notice?.epoch).length >= 7,
      'the new log’s events after the reset',
    );
    const fresh = events.filter((e) => e.epoch === notice?.epoch);
    expect(fresh.map((e) => e.seq)).toEqual([4, 5, 6, 7, 8, 9, 10]);
    // The old log's replay stopped where it was: its first page, in order, nothing after.
    const stale = events.filter((e) => e.epoch === old).map((e) => e.seq);
    expect(stale).toEqual(Array.from({ length: stale.length }, (_, i) => i + 1));
    expect(stale.length).toBeLessThanOrEqual(100);
    expect(events.indexOf(fresh[0]!)).toBe(stale.length);
  });
});

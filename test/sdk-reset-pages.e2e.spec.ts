import { ThreadRelayClient, type ThreadResetEvent } from '../src/client/index.js';
import { useRelayApp } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';

/**
 * A reset reloads the whole retained log, however many pages it takes: pages of the
 * client's size, and pages the server ends early because they reached its byte bound.
 */
describe('SDK reset over several history pages', () => {
  const clients: ThreadRelayClient[] = [];

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
  });
  const relay = useRelayApp({ delivery: { maxEventBytes: 400_000 } });

  /** Joins with a stale epoch, so the server answers with a reset and the SDK reloads. */
  async function resetOf(threadId: string, pageSize: number): Promise<ThreadResetEvent> {
    const client = new ThreadRelayClient({
      url: relay.url,
      token: () => relay.token('pager'),
      historyPageSize: pageSize,
      socketOptions: { transports: ['websocket'] },
    });
    clients.push(client);
    const resets: ThreadResetEvent[] = [];
    client.onReset((reset) => resets.push(reset));
    await client.connect();
    await client.join(threadId, { lastSeq: 2, epoch: 'an-epoch-long-gone' });
    await waitUntil(() => resets.length === 1, 'the reset');
    return resets[0]!;
  }

  it('reloads 23 events in pages of 5', async () => {
    const threadId = 'reset-small-pages';
    await relay.registry.registerThread(threadId, 'pager');
    for (let i = 1; i <= 23; i++) await relay.delivery.sendToThread(threadId, 'step', { i });
    const reset = await resetOf(threadId, 5);
    expect(reset).toMatchObject({ threadId, reason: 'epoch_mismatch', headSeq: 23 });
    expect(reset.events.map((e) => e.seq)).toEqual(Array.from({ length: 23 }, (_, i) => i + 1));
  });

  it('reloads events of 300 KB, which the server pages three at a time whatever the page size', async () => {
    const threadId = 'reset-byte-pages';
    await relay.registry.registerThread(threadId, 'pager');
    for (let i = 1; i <= 10; i++) {
      await relay.delivery.sendToThread(threadId, 'tool_completed', {
        i,
        data: 'x'.repeat(300_000),
      });
    }
    const reset = await resetOf(threadId, 200);
    expect(reset.headSeq).toBe(10);
    expect(reset.events.map((e) => e.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
  });
});

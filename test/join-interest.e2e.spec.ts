import type { Socket } from 'socket.io-client';
import type { ThreadEvent } from '../src/index.js';
import { LiveThreadEvents } from '../src/delivery/live-thread-events.service.js';
import { testRedisUrl, uniquePrefix } from './support/redis.js';
import { connectSocket, startRelayApp, type RelayApp } from './support/relay-app.js';
import { waitUntil } from './support/wait-until.js';

/**
 * A join holds its thread on the bus under a name of its own until it counts, so a join
 * of the same thread that is refused (here by the join queue) lets go of its own hold
 * only: another join of it by the same connection, still in flight, keeps the instance
 * subscribed and goes live.
 */
describe.each([
  ['memory', () => ({})],
  ['redis', () => ({ redis: testRedisUrl(), keyPrefix: uniquePrefix('rv-steal') })],
])('a refused duplicate join (%s)', (_mode, backend) => {
  let relay: RelayApp;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    await relay?.close();
  });

  it('does not unsubscribe the thread under a concurrent join of it that succeeds', async () => {
    // Held until the test has seen the repeat join refused.
    let admit: () => void = () => undefined;
    const admitted = new Promise<void>((resolve) => (admit = resolve));
    relay = await startRelayApp({
      ...backend(),
      limits: { concurrentJoinsPerConnection: 1, joinedThreadsPerConnection: 1 },
      // An access rule that looks something up (a database): the first join sits in
      // admission, after it has watched the thread.
      threadAccess: async (userId, threadId, thread) => {
        if (threadId === 'slow') await admitted;
        return thread?.ownerId === userId;
      },
    });
    await relay.registry.registerThread('slow', 'ann');
    await relay.registry.registerThread('other', 'ann');
    const live = relay.app.get(LiveThreadEvents);
    const socket = await connectSocket(relay.url, await relay.token('ann'));
    sockets.push(socket);
    const events: ThreadEvent[] = [];
    socket.on('thread:event', (e: ThreadEvent) => events.push(e));

    const first = socket.emitWithAck('thread:join', { threadId: 'slow' });
    await waitUntil(() => live.watchedThreads().includes('slow'), 'the first join to watch');
    // Queued behind the first (the queue holds joinedThreadsPerConnection = 1) ...
    const queued = socket.emitWithAck('thread:join', { threadId: 'other' });
    // ... so this repeat of the first join is refused at once, without having watched.
    const refused: unknown = await socket.emitWithAck('thread:join', { threadId: 'slow' });
    expect(refused).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } });

    admit();
    expect(await first).toMatchObject({ ok: true, threadId: 'slow' });
    await queued; // LIMIT_EXCEEDED (one thread per connection); irrelevant here

    // The connection is joined to 'slow', so the instance must still hear it.
    await relay.delivery.sendToThread('slow', 'step', { n: 1 });
    await waitUntil(() => events.length === 1, 'the live event on the joined connection', 2_000);
    expect(live.watchedThreads()).toContain('slow');
  });
});

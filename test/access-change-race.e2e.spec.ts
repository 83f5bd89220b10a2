import type { Socket } from 'socket.io-client';
import type { ThreadEvent } from '../src/index.js';
import { testRedisUrl, uniquePrefix } from './support/redis.js';
import { connectSocket, startRelayApp, type RelayApp } from './support/relay-app.js';
import { waitUntil } from './support/wait-until.js';

/**
 * An access change and the event a producer sends right after it travel on the thread's
 * channel in that order. The hosting instance holds the thread's live events (and replays)
 * from the moment it hears the change until every member there has been checked, so the
 * connection that just lost access never receives the event.
 */
describe('an event sent right after an access change (redis, two instances)', () => {
  const apps: RelayApp[] = [];
  const sockets: Socket[] = [];
  const team = new Set<string>();
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    for (const a of apps.splice(0)) await a.close();
  });

  const start = async () => {
    const keyPrefix = uniquePrefix('rv-access');
    const options = {
      redis: testRedisUrl(),
      keyPrefix,
      // An access rule backed by a database: each decision takes a few milliseconds.
      threadAccess: async (
        userId: string,
        threadId: string,
        thread: { ownerId: string } | null,
      ) => {
        await new Promise((r) => setTimeout(r, 20));
        return threadId.startsWith('team')
          ? team.has(userId)
          : thread === null || thread.ownerId === userId;
      },
    };
    const a = await startRelayApp({ ...options, instanceId: 'rv-a' });
    const b = await startRelayApp({ ...options, instanceId: 'rv-b' });
    apps.push(a, b);
    return { a, b };
  };
  const watch = async (relay: RelayApp, userId: string, threadId: string) => {
    const socket = await connectSocket(relay.url, await relay.token(userId));
    sockets.push(socket);
    const events: ThreadEvent[] = [];
    const left: unknown[] = [];
    socket.on('thread:event', (e: ThreadEvent) => {
      if (e.threadId === threadId) events.push(e);
    });
    socket.on('thread:left', (notice: unknown) => left.push(notice));
    expect(await socket.emitWithAck('thread:join', { threadId })).toMatchObject({ ok: true });
    // Anything sent to the connection before its removal arrives before `thread:left`.
    const removed = () => waitUntil(() => left.length > 0, 'the removal notice');
    return { events, removed };
  };

  it('does not hand the new owner’s first event to the old owner', async () => {
    const { a, b } = await start();
    const threadId = 'transfer-1';
    await a.registry.registerThread(threadId, 'alice');
    const alice = await watch(a, 'alice', threadId);
    // The application moves the thread to bob and his agent starts at once.
    await b.registry.unregisterThread(threadId);
    await b.registry.registerThread(threadId, 'bob');
    await b.delivery.sendToThread(threadId, 'assistant_message', { secret: 'for bob' });
    await alice.removed();
    expect(alice.events).toEqual([]);
  });

  it('does not deliver to a member whose access was revoked before the send', async () => {
    const { a, b } = await start();
    const threadId = 'team-1';
    team.clear();
    team.add('ann');
    team.add('ben');
    await a.registry.registerThread(threadId, 'ann');
    const ben = await watch(a, 'ben', threadId);
    team.delete('ben');
    b.registry.revalidateAccess(threadId);
    await b.delivery.sendToThread(threadId, 'assistant_message', { secret: 'not for ben' });
    await ben.removed();
    expect(ben.events).toEqual([]);
  });
});

import { io, type Socket } from 'socket.io-client';
import { ThreadRelayClient, type ThreadRelayClientError } from '../src/client/index.js';
import type { ThreadEvent, ThreadLeftNotice } from '../src/index.js';
import { connectSocket, instanceModes, type RelayApp } from './support/relay-app.js';
import { useRelayApps } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';

type Answer = { ok: boolean; error?: { code: string } };

/** Who is in the team thread: the hook reads it, tests change it. */
const team = new Set<string>();
/** When set, the hook revokes this user as it admits their join (a change mid-join). */
let revokeDuringJoin: { userId: string; app: RelayApp } | null = null;
/** When set, the hook throws for this user (a user directory that times out). */
let throwFor: string | null = null;

interface Watched {
  socket: Socket;
  events: ThreadEvent[];
  left: ThreadLeftNotice[];
}
const TEAM_THREAD = (mode: string) => `${mode}-team-thread`;

/**
 * A connection stays in a thread only while its user may join it: when the thread is
 * unregistered, its lease runs out, it is registered anew (perhaps to someone else), or the
 * application revokes access, the connections that may no longer use it leave it, on every
 * instance, and are told `thread:left`.
 */
describe.each(instanceModes('access-changes'))(
  'thread access changes (%s)',
  (mode, count, config) => {
    const sockets: Socket[] = [];
    const clients: ThreadRelayClient[] = [];

    /** A raw connection that records what it receives; listeners attached before connecting. */
    const watch = async (userId: string, app: RelayApp): Promise<Watched> => {
      const socket = io(app.url, {
        auth: { token: await app.token(userId) },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        autoConnect: false,
      });
      sockets.push(socket);
      const events: ThreadEvent[] = [];
      const left: ThreadLeftNotice[] = [];
      socket.on('thread:event', (event: ThreadEvent) => events.push(event));
      socket.on('thread:left', (notice: ThreadLeftNotice) => left.push(notice));
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
        socket.connect();
      });
      return { socket, events, left };
    };
    /** The other instance on Redis: changes made on one must reach the other's connections. */
    const other = () => apps[apps.length - 1]!;

    const apps = useRelayApps(
      count,
      () => ({
        ...config(),
        history: { autoThreadTtlSeconds: 1 },
        liveness: { heartbeatMs: 100, ttlMs: 2_000 },
        threadAccess: (userId: string, threadId: string, thread: { ownerId: string } | null) => {
          if (threadId !== TEAM_THREAD(mode)) return thread === null || thread.ownerId === userId;
          if (userId === throwFor) throw new Error('user directory timed out');
          const allowed = team.has(userId);
          if (allowed && revokeDuringJoin?.userId === userId) {
            const { app } = revokeDuringJoin;
            revokeDuringJoin = null;
            team.delete(userId);
            app.registry.revalidateAccess(threadId);
          }
          return allowed;
        },
      }),
      (i) => ({ instanceId: `access-${mode}-${i}` }),
    );
    afterEach(async () => {
      for (const socket of sockets.splice(0)) socket.close();
      await Promise.all(clients.splice(0).map((c) => c.close()));
    });

    it('keeps an auto-registered thread while someone is joined, and lets it lapse after', async () => {
      const threadId = `${mode}-order-1001`;
      const mallory = await watch('mallory', apps[0]!);
      expect(await mallory.socket.emitWithAck('thread:join', { threadId })).toMatchObject({
        ok: true,
      });
      // Idle past its 1 s lease, but joined: in use, so it stays hers.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      await expect(other().registry.registerThread(threadId, 'victim')).rejects.toMatchObject({
        code: 'THREAD_OWNERSHIP_CONFLICT',
      });
      // Once nobody is joined, the lease runs out and the id is free for its new owner.
      await mallory.socket.emitWithAck('thread:leave', { threadId });
      await waitUntil(
        async () => (await apps[0]!.registry.getThread(threadId)) === null,
        'the lease to lapse',
        10_000,
      );
      await other().registry.registerThread(threadId, 'victim');
      const victim = await watch('victim', other());
      await victim.socket.emitWithAck('thread:join', { threadId });
      await other().delivery.sendToThread(threadId, 'assistant_message', { secret: 'victim-only' });
      await waitUntil(() => victim.events.length === 1, 'the victim’s event');
      expect(mallory.events).toEqual([]);
      expect(await apps[0]!.store.connectionsOfThread(threadId)).toEqual([victim.socket.id]);
    });

    it('takes the old owner out when a thread is unregistered and registered to someone else', async () => {
      const threadId = `${mode}-transferred`;
      await apps[0]!.registry.registerThread(threadId, 'alice');
      const alice = await watch('alice', apps[0]!);
      await alice.socket.emitWithAck('thread:join', { threadId });

      await other().registry.unregisterThread(threadId);
      await waitUntil(() => alice.left.length === 1, 'the unregistration notice');
      expect(alice.left).toEqual([{ threadId, reason: 'unregistered' }]);
      await other().registry.registerThread(threadId, 'bob');
      await other().delivery.sendToThread(threadId, 'assistant_message', { for: 'bob' });
      const bob = await watch('bob', apps[0]!);
      const joined = (await bob.socket.emitWithAck('thread:join', {
        threadId,
        lastSeq: 0,
      })) as Answer;
      expect(joined.ok).toBe(true);
      await waitUntil(() => bob.events.length === 1, 'bob’s replay');
      expect(alice.events).toEqual([]);
    });

    it('takes a connection out when the registration races it: a reclaim before the sweep', async () => {
      const threadId = `${mode}-reclaimed`;
      const first = await watch('first-owner', apps[0]!);
      await first.socket.emitWithAck('thread:join', { threadId });
      // The id is registered to someone else at once: the registration itself rechecks.
      await apps[0]!.registry.unregisterThread(threadId);
      await first.socket.emitWithAck('thread:join', { threadId: `${mode}-unrelated` });
      await other().registry.registerThread(threadId, 'second-owner');
      await waitUntil(() => first.left.length >= 1, 'a notice');
      await other().delivery.sendToThread(threadId, 'assistant_message', {});
      const second = await watch('second-owner', other());
      await second.socket.emitWithAck('thread:join', { threadId, lastSeq: 0 });
      await waitUntil(() => second.events.length === 1, 'the new owner’s replay');
      expect(first.events.filter((e) => e.threadId === threadId)).toEqual([]);
    });

    it('takes members out whose access the application revokes, on every instance', async () => {
      const threadId = TEAM_THREAD(mode);
      team.clear();
      for (const member of ['ann', 'ben']) team.add(member);
      await apps[0]!.registry.registerThread(threadId, 'ann');
      const ann = await watch('ann', apps[0]!);
      const ben = await watch('ben', other());
      await ann.socket.emitWithAck('thread:join', { threadId });
      await ben.socket.emitWithAck('thread:join', { threadId });

      team.delete('ben');
      apps[0]!.registry.revalidateAccess(threadId);
      await waitUntil(() => ben.left.length === 1, 'ben’s notice');
      expect(ben.left).toEqual([{ threadId, reason: 'access_revoked' }]);
      await apps[0]!.delivery.sendToThread(threadId, 'assistant_message', {});
      await waitUntil(() => ann.events.length === 1, 'ann’s event');
      expect(ben.events).toEqual([]);
      expect(ann.left).toEqual([]);
    });

    it('honours a leave sent while the join still replays: no live events, the place is free', async () => {
      const app = apps[0]!;
      const socket = await connectSocket(app.url, await app.token('leaver'));
      sockets.push(socket);
      const events: ThreadEvent[] = [];
      socket.on('thread:event', (event: ThreadEvent) => events.push(event));
      const threads = Array.from({ length: 4 }, (_, i) => `${mode}-leave-early-${i}`);
      for (const threadId of threads) {
        await app.registry.registerThread(threadId, 'leaver');
        for (let i = 0; i < 150; i++) {
          await app.delivery.sendToThread(threadId, 'chunk', { data: 'x'.repeat(20_000) });
        }
      }
      for (const threadId of threads) {
        expect(await socket.emitWithAck('thread:join', { threadId, lastSeq: 0 })).toMatchObject({
          ok: true,
        });
        expect(await socket.emitWithAck('thread:leave', { threadId })).toEqual({ ok: true });
      }
      const replayed = events.length;
      for (const threadId of threads) {
        await app.delivery.sendToThread(threadId, 'live', {});
      }
      // A round trip after the sends: anything live would be here by now.
      await socket.emitWithAck('thread:leave', { threadId: 'nothing' });
      expect(events.slice(replayed).filter((e) => e.type === 'live')).toEqual([]);
      expect(await app.store.connectionsOfThread(threads[0]!)).toEqual([]);
    });

    it('drops the thread in the SDK and says THREAD_LEFT', async () => {
      const threadId = `${mode}-sdk-left`;
      await apps[0]!.registry.registerThread(threadId, 'sdk-user');
      const client = new ThreadRelayClient({
        url: apps[0]!.url,
        token: () => apps[0]!.token('sdk-user'),
        socketOptions: { transports: ['websocket'] },
      });
      clients.push(client);
      const errors: ThreadRelayClientError[] = [];
      client.onError((error) => errors.push(error));
      await client.connect();
      await client.join(threadId);
      await other().registry.unregisterThread(threadId);
      await waitUntil(() => errors.some((e) => e.code === 'THREAD_LEFT'), 'THREAD_LEFT');
      expect(client.cursor(threadId)).toBeUndefined();
    });

    it('checks again a join whose admission ran before a revocation: it never goes live', async () => {
      const threadId = TEAM_THREAD(mode);
      team.clear();
      team.add('mal');
      // The hook says yes to the join, and the application revokes her just then.
      revokeDuringJoin = { userId: 'mal', app: apps[0]! };
      const mal = await watch('mal', other());
      const answer = (await mal.socket.emitWithAck('thread:join', { threadId })) as Answer;
      expect(answer).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
      await apps[0]!.delivery.sendToThread(threadId, 'assistant_message', { secret: true });
      await mal.socket.emitWithAck('thread:leave', { threadId: 'nothing' });
      expect(mal.events).toEqual([]);
      expect(await apps[0]!.store.connectionsOfThread(threadId)).not.toContain(mal.socket.id);
    });

    it('takes the others out when the hook throws for one member', async () => {
      const threadId = TEAM_THREAD(mode);
      team.clear();
      for (const member of ['ann', 'mal', 'boom']) team.add(member);
      const watched = await Promise.all(['boom', 'mal', 'ann'].map((u) => watch(u, apps[0]!)));
      for (const w of watched) await w.socket.emitWithAck('thread:join', { threadId });
      throwFor = 'boom';
      team.delete('mal');
      apps[0]!.registry.revalidateAccess(threadId);
      const [boom, mal, ann] = watched as [Watched, Watched, Watched];
      await waitUntil(() => mal.left.length === 1 && boom.left.length === 1, 'both removals');
      expect(ann.left).toEqual([]);
      throwFor = null;
    });

    it('does not join a thread the connection left before the join was answered', async () => {
      const threadId = `${mode}-left-early`;
      await apps[0]!.registry.registerThread(threadId, 'hasty');
      const hasty = await watch('hasty', apps[0]!);
      const joining = hasty.socket.emitWithAck('thread:join', { threadId });
      const leaving = hasty.socket.emitWithAck('thread:leave', { threadId });
      const [, left] = (await Promise.all([joining, leaving])) as [Answer, Answer];
      expect(left).toEqual({ ok: true });
      await apps[0]!.delivery.sendToThread(threadId, 'assistant_message', {});
      await hasty.socket.emitWithAck('thread:leave', { threadId: 'nothing' });
      expect(hasty.events).toEqual([]);
      expect(await apps[0]!.store.connectionsOfThread(threadId)).toEqual([]);
    });
  },
);

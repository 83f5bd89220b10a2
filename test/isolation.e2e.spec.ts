import { ThreadRelayClient, type ThreadEvent, type UserEvent } from '../src/client/index.js';
import { signUserToken } from '../src/index.js';
import { connectSocket, instanceModes, type RelayApp } from './support/relay-app.js';
import { useRelayApps } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';

const USERS = 20;
const THREADS_PER_USER = 3;
const EVENTS_PER_THREAD = 25;

interface User {
  userId: string;
  threads: string[];
  /** The instance the user is connected to. */
  home: RelayApp;
  client: ThreadRelayClient;
  /** What the app saw, per thread. */
  seqs: Map<string, number[]>;
  /** Every `thread:event` on the wire, below the SDK's own filtering. */
  wire: ThreadEvent[];
  userEvents: UserEvent[];
}

describe.each(instanceModes('isolation'))(
  'isolation between users (%s)',
  (mode, instances, config) => {
    const users: User[] = [];
    const extraClients: ThreadRelayClient[] = [];

    const threadOf = (user: number, thread: number) => `iso-${mode}-u${user}-t${thread}`;

    afterAll(async () => {
      await Promise.all(
        [...users.map((user) => user.client), ...extraClients.splice(0)].map((c) => c.close()),
      );
    });
    const apps = useRelayApps(instances, config, (i) => ({ instanceId: `isolation-${mode}-${i}` }));
    beforeAll(async () => {
      // Every user connects and joins their threads at the same time.
      await Promise.all(
        Array.from({ length: USERS }, async (_, u) => {
          const userId = `iso-user-${u}`;
          const home = apps[u % apps.length]!;
          const client = new ThreadRelayClient({
            url: home.url,
            token: () => home.token(userId),
            socketOptions: { transports: ['websocket'] },
          });
          const user: User = {
            userId,
            threads: Array.from({ length: THREADS_PER_USER }, (_, t) => threadOf(u, t)),
            home,
            client,
            seqs: new Map(),
            wire: [],
            userEvents: [],
          };
          users[u] = user;
          client.onEvent((event) => {
            const seqs = user.seqs.get(event.threadId) ?? [];
            seqs.push(event.seq);
            user.seqs.set(event.threadId, seqs);
          });
          client.onUserEvent((event) => user.userEvents.push(event));
          const connected = client.connect();
          client.socket?.on('thread:event', (event: ThreadEvent) => user.wire.push(event));
          await connected;
          await Promise.all(user.threads.map((threadId) => client.join(threadId)));
        }),
      );
    });

    it(`delivers each of ${USERS * THREADS_PER_USER} threads' events to its owner only, under concurrent producers`, async () => {
      // Producers run on the other instance than the owner's connection, all at once.
      const producers = users.flatMap((user, u) =>
        user.threads.map(async (threadId) => {
          const producer = apps[(u + 1) % apps.length]!;
          for (let i = 1; i <= EVENTS_PER_THREAD; i++) {
            const receipt = await producer.delivery.sendToThread(threadId, 'assistant_message', {
              owner: user.userId,
              i,
            });
            expect(receipt.seq).toBe(i);
          }
        }),
      );
      const userSends = users.map((user, u) =>
        apps[(u + 1) % apps.length]!.delivery.sendToUser(user.userId, 'notice', {
          for: user.userId,
        }),
      );
      await Promise.all(producers);
      await Promise.all(userSends);
      expect(userSends).toHaveLength(USERS);

      const expected = Array.from({ length: EVENTS_PER_THREAD }, (_, i) => i + 1);
      for (const user of users) {
        await waitUntil(
          () =>
            user.threads.every((t) => (user.seqs.get(t)?.length ?? 0) >= EVENTS_PER_THREAD) &&
            user.userEvents.length >= 1,
          `${user.userId}: all events of their threads`,
          20_000,
        );
      }
      // Once every owner has acknowledged every thread's head, nothing else is on its way.
      await Promise.all(
        users.flatMap((user) =>
          user.threads.map((threadId) =>
            user.home.delivery.waitForDelivery(threadId, EVENTS_PER_THREAD, 10_000),
          ),
        ),
      );
      for (const user of users) {
        expect([...user.seqs.keys()].sort()).toEqual([...user.threads].sort());
        for (const threadId of user.threads) {
          expect({ threadId, seqs: user.seqs.get(threadId) }).toEqual({ threadId, seqs: expected });
        }
        const foreignOnWire = user.wire.filter((e) => !user.threads.includes(e.threadId));
        expect(foreignOnWire).toEqual([]);
        expect(user.wire.every((e) => (e.payload as { owner: string }).owner === user.userId)).toBe(
          true,
        );
        expect(user.userEvents).toHaveLength(1);
        expect(user.userEvents[0]).toMatchObject({ type: 'notice', payload: { for: user.userId } });
      }
    });

    it('refuses FORBIDDEN to a user joining or writing to another user’s thread, and leaks nothing', async () => {
      const [alice, bob] = [users[0]!, users[1]!];
      const bobsThread = bob.threads[0]!;
      const { headSeq: before } = await bob.home.delivery.history(bobsThread, 0, 1);

      await expect(alice.client.join(bobsThread)).rejects.toMatchObject({ code: 'FORBIDDEN' });
      await expect(alice.client.send(bobsThread, 'let me in')).rejects.toMatchObject({
        code: 'FORBIDDEN',
      });

      // The same on the raw protocol, from a connection on every instance.
      for (const relay of apps) {
        const socket = await connectSocket(relay.url, await relay.token(alice.userId));
        try {
          const wire: ThreadEvent[] = [];
          socket.on('thread:event', (event: ThreadEvent) => wire.push(event));
          expect(
            await socket.emitWithAck('thread:join', { threadId: bobsThread, lastSeq: 0 }),
          ).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
          expect(
            await socket.emitWithAck('user:message', {
              threadId: bobsThread,
              text: 'let me in',
              clientMessageId: `raw-${apps.indexOf(relay)}`,
            }),
          ).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
          // An ack on a thread not joined is refused too, and moves no cursor.
          expect(
            await socket.emitWithAck('thread:ack', { threadId: bobsThread, seq: 1 }),
          ).toMatchObject({ ok: false });

          const receipt = await relay.delivery.sendToThread(bobsThread, 'assistant_message', {
            owner: bob.userId,
            secret: true,
          });
          await waitUntil(
            () => bob.wire.some((e) => e.seq === receipt.seq && e.threadId === bobsThread),
            'bob’s copy of the event',
          );
          // Bob's copy went through the same fan-out; alice's raw socket saw nothing of it.
          expect(wire).toEqual([]);
        } finally {
          socket.close();
        }
      }
      expect((await bob.home.registry.getThread(bobsThread))?.ownerId).toBe(bob.userId);
      const after = await bob.home.delivery.history(bobsThread, before, 100);
      expect(after.messages.map((m) => m.type)).toEqual(apps.map(() => 'assistant_message'));
      expect(alice.wire.filter((e) => e.threadId === bobsThread)).toEqual([]);
    });

    it('refuses handshakes without a valid token with connect_error "unauthorized"', async () => {
      const relay = apps[0]!;
      const wrongKey = await signUserToken(
        'iso-user-0',
        'another-secret-that-is-at-least-32-bytes',
      );
      for (const token of ['garbage', wrongKey]) {
        const client = new ThreadRelayClient({
          url: relay.url,
          token,
          socketOptions: { transports: ['websocket'], reconnectionDelay: 10_000 },
        });
        extraClients.push(client);
        await expect(client.connect()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
        expect(client.status).not.toBe('connected');
        await client.close();
        await expect(connectSocket(relay.url, token)).rejects.toMatchObject({
          message: 'unauthorized',
        });
      }
      await expect(connectSocket(relay.url, undefined)).rejects.toMatchObject({
        message: 'unauthorized',
      });
    });

    it('answers 403 with no data to REST reads and writes of another user’s thread', async () => {
      const [alice, bob] = [users[0]!, users[1]!];
      const bobsThread = bob.threads[1]!;
      for (const relay of apps) {
        const { headSeq: before } = await relay.delivery.history(bobsThread, 0, 1);
        expect(before).toBeGreaterThan(0);
        const url = `${relay.url}/threads/${bobsThread}/messages`;
        const aliceAuth = { Authorization: `Bearer ${await relay.token(alice.userId)}` };

        const read = await fetch(`${url}?after=0&limit=100`, { headers: aliceAuth });
        expect(read.status).toBe(403);
        const readBody = (await read.json()) as Record<string, unknown>;
        expect(readBody).not.toHaveProperty('messages');
        expect(readBody).not.toHaveProperty('epoch');
        expect(JSON.stringify(readBody)).not.toContain('"owner"');

        const write = await fetch(url, {
          method: 'POST',
          headers: { ...aliceAuth, 'Content-Type': 'application/json' },
          body: JSON.stringify({
            text: 'let me in',
            clientMessageId: `rest-${apps.indexOf(relay)}`,
          }),
        });
        expect(write.status).toBe(403);
        expect(await write.json()).not.toHaveProperty('seq');

        const anonymous = await fetch(`${url}?after=0`);
        expect(anonymous.status).toBe(401);

        // The owner still reads it, and alice's POST left no trace.
        const own = await fetch(`${url}?after=0&limit=100`, {
          headers: { Authorization: `Bearer ${await relay.token(bob.userId)}` },
        });
        expect(own.status).toBe(200);
        const page = (await own.json()) as { headSeq: number; messages: ThreadEvent[] };
        expect(page.headSeq).toBe(before);
        expect(page.messages.some((m) => m.type === 'user_message')).toBe(false);
      }
    });
  },
);

import type { Socket } from 'socket.io-client';
import type { ThreadEvent } from '../src/index.js';
import { testRedisUrl, uniquePrefix } from './support/redis.js';
import {
  connectSocket,
  startRelayApp,
  TEST_ADMIN_TOKEN,
  type RelayApp,
} from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';

interface ConnectionView {
  id: string;
  userId: string;
  instanceId: string;
  transport: string;
  threads: string[];
  connectedAt: string;
  lastSeenAt: string;
}
interface ThreadView {
  threadId: string;
  ownerId: string;
  runs: string[];
  headSeq: number;
  epoch: string;
  liveConnections: number;
  delivered: Record<string, number>;
}
interface MappingsView {
  threadToConnections: Record<string, string[]>;
  runToThread: Record<string, string>;
  userToConnections: Record<string, string[]>;
  nextCursor: string | null;
}
type PageOf<K extends string, T> = { [key in K]: T[] } & { nextCursor: string | null };

const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

async function getJson<T>(url: string, headers: Record<string, string> = admin): Promise<T> {
  const response = await fetch(url, { headers });
  if (response.status !== 200) {
    throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  }
  return (await response.json()) as T;
}

/** Follows `nextCursor` to the end; fails on a cursor loop instead of spinning. */
async function allPages<K extends string, T>(
  base: string,
  key: K,
  limit: number,
): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor !== null) query.set('cursor', cursor);
    const page: PageOf<K, T> = await getJson<PageOf<K, T>>(`${base}?${query.toString()}`);
    items.push(...page[key]);
    cursor = page.nextCursor;
    pages += 1;
    if (pages > 10_000) throw new Error(`${base}: more than 10,000 pages, cursor loop?`);
  } while (cursor !== null);
  return { items, pages };
}

describe('debug routes across two instances sharing Redis', () => {
  const prefix = uniquePrefix('debug');
  const sockets: Socket[] = [];
  const open = async (relay: RelayApp, userId: string) => {
    const socket = await connectSocket(relay.url, await relay.token(userId));
    sockets.push(socket);
    return socket;
  };

  const options = (instanceId: string) => () => ({
    redis: testRedisUrl(),
    keyPrefix: prefix,
    debug: { adminToken: TEST_ADMIN_TOKEN },
    instanceId,
  });
  const a = useRelayApp(options('debug-a'));
  const b = useRelayApp(options('debug-b'));
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    await waitUntil(
      async () =>
        (await a.store.listConnections(null, 1000)).items.length === 0 &&
        (await b.store.listConnections(null, 1000)).items.length === 0,
      'the registry to drop closed connections',
    );
  });

  it('answers 401 without or with a wrong admin token, 200 with it, 404 when no token is configured', async () => {
    const routes = ['connections', 'threads', 'mappings'];
    for (const route of routes) {
      const url = `${a.url}/debug/websocket/${route}`;
      expect((await fetch(url)).status).toBe(401);
      expect((await fetch(url, { headers: { authorization: 'Bearer wrong-token' } })).status).toBe(
        401,
      );
      expect(
        (await fetch(url, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}x` } })).status,
      ).toBe(401);
      expect((await fetch(url, { headers: { authorization: TEST_ADMIN_TOKEN } })).status).toBe(401);
      expect((await fetch(url, { headers: admin })).status).toBe(200);
    }
    const send = (headers: Record<string, string>) =>
      fetch(`${a.url}/debug/websocket/send`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ threadId: 'nobody-thread', type: 'x', payload: {} }),
      });
    expect((await send({})).status).toBe(401);
    expect((await send({ authorization: 'Bearer nope' })).status).toBe(401);
    // A user's JWT is not an admin token.
    expect((await send({ authorization: `Bearer ${await a.token('alice')}` })).status).toBe(401);

    const closed = await startRelayApp({ redis: testRedisUrl(), keyPrefix: prefix });
    try {
      for (const route of routes) {
        const url = `${closed.url}/debug/websocket/${route}`;
        expect((await fetch(url)).status).toBe(404);
        expect((await fetch(url, { headers: admin })).status).toBe(404);
      }
      const response = await fetch(`${closed.url}/debug/websocket/send`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...admin },
        body: JSON.stringify({ threadId: 't', type: 'x', payload: {} }),
      });
      expect(response.status).toBe(404);
    } finally {
      await closed.close();
    }
  });

  it('asks loopback clients for the token unless the module allows them without (debug.allowLoopbackWithoutToken)', async () => {
    const url = (relay: RelayApp) => `${relay.url}/debug/websocket/connections`;
    // The default: a.url is 127.0.0.1, and still 401 without the token.
    expect((await fetch(url(a))).status).toBe(401);
    const local = await startRelayApp({
      redis: testRedisUrl(),
      keyPrefix: prefix,
      debug: { adminToken: TEST_ADMIN_TOKEN, allowLoopbackWithoutToken: true },
    });
    try {
      expect((await fetch(url(local))).status).toBe(200);
      expect((await fetch(url(local), { headers: admin })).status).toBe(200);
      expect(
        (await fetch(url(local), { headers: { authorization: 'Bearer wrong-token' } })).status,
      ).toBe(401);
      // A local proxy relaying someone else.
      expect(
        (await fetch(url(local), { headers: { 'x-forwarded-for': '203.0.113.7' } })).status,
      ).toBe(401);
    } finally {
      await local.close();
    }
  });

  it('shows both instances’ connections, threads and mappings from either instance', async () => {
    const threadId = 'debug-thread';
    await a.registry.registerThread(threadId, 'alice');
    await a.registry.registerRun('debug-run-1', threadId);
    const onA = await open(a, 'alice');
    const onB = await open(b, 'alice');
    for (const socket of [onA, onB]) {
      expect(await socket.emitWithAck('thread:join', { threadId })).toMatchObject({ ok: true });
    }
    const eventOnA = new Promise<ThreadEvent>((resolve) => onA.once('thread:event', resolve));
    const receipt = await b.delivery.sendToThread('debug-run-1', 'agent_started', {});
    expect(await onB.emitWithAck('thread:ack', { threadId, seq: receipt.seq })).toMatchObject({
      ok: true,
    });
    expect((await eventOnA).seq).toBe(receipt.seq);

    for (const relay of [a, b]) {
      const { connections } = await getJson<{ connections: ConnectionView[] }>(
        `${relay.url}/debug/websocket/connections`,
      );
      const mine = connections.filter((c) => c.userId === 'alice');
      expect(mine.map((c) => c.id).sort()).toEqual([onA.id, onB.id].sort());
      const byId = new Map(mine.map((c) => [c.id, c]));
      expect(byId.get(onA.id ?? '')).toMatchObject({
        instanceId: 'debug-a',
        transport: 'websocket',
        threads: [threadId],
      });
      expect(byId.get(onB.id ?? '')).toMatchObject({ instanceId: 'debug-b', threads: [threadId] });
      for (const c of mine) {
        expect(Number.isNaN(Date.parse(c.connectedAt))).toBe(false);
        expect(Date.parse(c.lastSeenAt)).toBeGreaterThanOrEqual(Date.parse(c.connectedAt));
      }

      const { threads } = await getJson<{ threads: ThreadView[] }>(
        `${relay.url}/debug/websocket/threads`,
      );
      expect(threads.find((t) => t.threadId === threadId)).toMatchObject({
        ownerId: 'alice',
        runs: ['debug-run-1'],
        headSeq: receipt.seq,
        epoch: receipt.epoch,
        liveConnections: 2,
        delivered: { alice: receipt.seq },
      });

      const mappings = await getJson<MappingsView>(`${relay.url}/debug/websocket/mappings`);
      expect(mappings.threadToConnections[threadId]?.slice().sort()).toEqual(
        [onA.id, onB.id].sort(),
      );
      expect(mappings.runToThread['debug-run-1']).toBe(threadId);
      expect(mappings.userToConnections['alice']?.slice().sort()).toEqual([onA.id, onB.id].sort());
    }
  });

  it('POST /debug/websocket/send returns the receipt and the owner’s clients receive the event', async () => {
    const threadId = 'debug-send-thread';
    await b.registry.registerThread(threadId, 'bob');
    await b.registry.registerRun(`${threadId}_run_1756919162904_9adf1f09`, threadId);
    const onB = await open(b, 'bob');
    const events: ThreadEvent[] = [];
    onB.on('thread:event', (e: ThreadEvent) => events.push(e));
    expect(await onB.emitWithAck('thread:join', { threadId })).toMatchObject({ ok: true });
    await waitUntil(
      async () => (await a.store.countConnectionsOfThread(threadId)) === 1,
      'the join visible on A',
    );

    const post = (body: unknown) =>
      fetch(`${a.url}/debug/websocket/send`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...admin },
        body: JSON.stringify(body),
      });
    const byThread = await post({ threadId, type: 'assistant_message', payload: { text: 'hi' } });
    expect(byThread.status).toBe(201);
    const receipt = (await byThread.json()) as Record<string, unknown>;
    expect(receipt).toMatchObject({
      messageId: expect.any(String) as unknown,
      threadId,
      seq: 1,
      epoch: expect.any(String) as unknown,
      onlineConnections: 1,
    });
    const byRun = await post({
      runId: `${threadId}_run_1756919162904_9adf1f09`,
      type: 'agent_completed',
      payload: {},
    });
    expect(await byRun.json()).toMatchObject({ threadId, seq: 2 });
    await waitUntil(() => events.length === 2, 'both events on the client connected to B');
    expect(events.map((e) => [e.seq, e.type, e.id])).toEqual([
      [1, 'assistant_message', receipt.messageId],
      [2, 'agent_completed', expect.any(String)],
    ]);
    expect(events[0]?.payload).toEqual({ text: 'hi' });

    const unknown = await post({ threadId: 'no-such-thread', type: 'x', payload: {} });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: 'THREAD_NOT_FOUND' } });
    expect((await post({ type: 'x', payload: {} })).status).toBe(400);
    expect((await post([1, 2])).status).toBe(400);
  });

  it('pages through 600 threads and 40 connections, every item exactly once', async () => {
    // Over hash-max-listpack-entries (512 here), so Redis keeps the hash as a real table and
    // HSCAN really pages; a small listpack hash comes back whole, whatever `limit` says.
    const threadIds = Array.from({ length: 600 }, (_, i) => `page-thread-${i}`);
    await Promise.all(threadIds.map((id, i) => a.registry.registerThread(id, `pager-${i % 5}`)));
    const opened = await Promise.all(
      Array.from({ length: 40 }, (_, i) => open(i % 2 === 0 ? a : b, `pager-${i % 5}`)),
    );

    const threads = await allPages<'threads', ThreadView>(
      `${b.url}/debug/websocket/threads`,
      'threads',
      7,
    );
    const seenThreads = threads.items.map((t) => t.threadId).filter((id) => id.startsWith('page-'));
    expect(new Set(seenThreads).size).toBe(seenThreads.length);
    expect(seenThreads.sort()).toEqual(threadIds.slice().sort());
    expect(threads.pages).toBeGreaterThan(1);

    const connections = await allPages<'connections', ConnectionView>(
      `${a.url}/debug/websocket/connections`,
      'connections',
      7,
    );
    const seenConnections = connections.items.map((c) => c.id);
    expect(new Set(seenConnections).size).toBe(seenConnections.length);
    expect(seenConnections.sort()).toEqual(opened.map((s) => s.id ?? '').sort());
    expect(new Set(connections.items.map((c) => c.instanceId))).toEqual(
      new Set(['debug-a', 'debug-b']),
    );

    // Mappings page over threads the same way.
    const mapped = new Map<string, number>();
    let cursor: string | null = null;
    do {
      const query = new URLSearchParams({ limit: '9' });
      if (cursor !== null) query.set('cursor', cursor);
      const page: MappingsView = await getJson<MappingsView>(
        `${a.url}/debug/websocket/mappings?${query.toString()}`,
      );
      for (const id of Object.keys(page.threadToConnections)) {
        mapped.set(id, (mapped.get(id) ?? 0) + 1);
      }
      cursor = page.nextCursor;
    } while (cursor !== null);
    for (const id of threadIds) expect(mapped.get(id)).toBe(1);

    // Bad paging arguments are refused, not guessed.
    for (const query of ['limit=0', 'limit=-1', 'limit=abc', `cursor=${'x'.repeat(300)}`]) {
      const response = await fetch(`${a.url}/debug/websocket/threads?${query}`, {
        headers: admin,
      });
      expect(response.status).toBe(400);
    }
  });
});

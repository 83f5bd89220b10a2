import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Socket } from 'socket.io-client';
import { RedisKeys } from '../src/redis/redis-keys.js';
import { RedisMessageLog } from '../src/redis/redis-message-log.js';
import { signUserToken, type ThreadEvent } from '../src/index.js';
import { testRedisUrl, uniquePrefix } from './support/redis.js';
import { connectSocket, TEST_JWT_SECRET } from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';
import { spawnRelayChild, type RelayChild } from './support/relay-child-process.js';
import { buildRelayChild } from './support/child-build.js';

const LIVENESS = { heartbeatMs: 200, ttlMs: 1000 };
/** The documented bound (ttl + one heartbeat), plus two more beats for the sweep itself. */
const SWEEP_BOUND_MS = LIVENESS.ttlMs + 3 * LIVENESS.heartbeatMs;

describe('an instance killed without cleanup', () => {
  const prefix = uniquePrefix('liveness');
  const childId = 'liveness-child';
  let entry: string;
  let child: RelayChild | undefined;
  const sockets: Socket[] = [];

  const logClient = new Redis(testRedisUrl());
  const options = () => ({ redis: testRedisUrl(), keyPrefix: prefix, liveness: LIVENESS });

  afterAll(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    await child?.kill();
  });
  beforeAll(async () => {
    entry = await buildRelayChild();
  }, 90_000);
  const survivor = useRelayApp(() => ({ ...options(), instanceId: 'liveness-survivor' }));
  beforeAll(async () => {
    child = await spawnRelayChild(entry, { ...options(), instanceId: childId });
  }, 90_000);
  afterAll(async () => {
    await logClient.quit();
  });

  async function open(url: string, userId: string, threads: string[]): Promise<Socket> {
    const socket = await connectSocket(url, await signUserToken(userId, TEST_JWT_SECRET));
    sockets.push(socket);
    for (const threadId of threads) {
      expect(await socket.emitWithAck('thread:join', { threadId })).toMatchObject({ ok: true });
    }
    return socket;
  }

  it('loses its registry entries on the survivor within the liveness bound', async () => {
    const running = child!;
    // Two tabs of one user and another user on the doomed instance; the same user also
    // has a connection on the survivor, joined to one of the same threads.
    const doomed = [
      await open(running.url, 'lena', ['lena-a', 'lena-b']),
      await open(running.url, 'lena', ['lena-a']),
      await open(running.url, 'lars', ['lars-a']),
    ];
    const kept = await open(survivor.url, 'lena', ['lena-a']);
    const doomedIds = doomed.map((s) => s.id!);

    // The survivor sees the child's connections through the shared registry.
    await waitUntil(
      async () => (await survivor.store.connectionsOfInstance(childId)).length === 3,
      'the child’s connections in the registry',
    );
    expect((await survivor.store.connectionsOfInstance(childId)).sort()).toEqual(
      [...doomedIds].sort(),
    );
    expect((await survivor.store.connectionsOfThread('lena-a')).sort()).toEqual(
      [doomedIds[0]!, doomedIds[1]!, kept.id!].sort(),
    );
    expect(await survivor.store.connectionsOfThread('lena-b')).toEqual([doomedIds[0]]);
    expect(await survivor.store.connectionsOfThread('lars-a')).toEqual([doomedIds[2]]);
    expect(await survivor.store.getConnection(doomedIds[2]!)).toMatchObject({
      instanceId: childId,
      userId: 'lars',
      threads: ['lars-a'],
    });

    // An event the child stored right before it was killed, written by the append script
    // as the child's own log writes it: the append announces it in the same step, so the
    // survivor's tab gets it although nothing of the child runs after the append.
    const seen: ThreadEvent[] = [];
    kept.on('thread:event', (event: ThreadEvent) => seen.push(event));
    await survivor.delivery.sendToThread('lena-a', 'agent_started', {});
    await waitUntil(() => seen.length === 1, 'the live event on the survivor');
    const keys = new RedisKeys(prefix);
    const childLog = new RedisMessageLog(
      logClient,
      { ttlSeconds: 600, maxPerThread: 100 },
      prefix,
      undefined,
      undefined,
      { channelOf: (threadId) => keys.thread(threadId, 'live'), command: 'PUBLISH' },
    );
    const stranded = await childLog.append({
      id: randomUUID(),
      threadId: 'lena-a',
      type: 'assistant_message',
      payload: { text: 'last words' },
      ts: Date.now(),
    });
    expect(stranded.event.seq).toBe(2);

    await running.kill();
    const killedAt = Date.now();

    await waitUntil(
      async () => (await survivor.store.connectionsOfInstance(childId)).length === 0,
      'the dead instance’s connections to be swept',
      SWEEP_BOUND_MS,
    );
    const sweptAfter = Date.now() - killedAt;
    expect(sweptAfter).toBeLessThanOrEqual(SWEEP_BOUND_MS);
    await waitUntil(() => seen.length === 2, 'the stranded event on the survivor’s tab');
    expect(seen.map((event) => [event.seq, event.type])).toEqual([
      [1, 'agent_started'],
      [2, 'assistant_message'],
    ]);

    expect(await survivor.store.connectionsOfThread('lena-b')).toEqual([]);
    expect(await survivor.store.connectionsOfThread('lars-a')).toEqual([]);
    expect(await survivor.store.countConnectionsOfThread('lars-a')).toBe(0);
    // The survivor's own connection is untouched.
    expect(await survivor.store.connectionsOfThread('lena-a')).toEqual([kept.id]);
    expect(await survivor.store.connectionsOfUser('lars')).toEqual([]);
    expect(await survivor.store.connectionsOfUser('lena')).toEqual([kept.id]);
    for (const id of doomedIds) expect(await survivor.store.getConnection(id)).toBeNull();
    const listed = await survivor.store.listConnections(null, 100);
    expect(listed.items.map((c) => c.connectionId)).toEqual([kept.id]);

    // The threads and their logs outlive the instance: sends are kept for the owner's return.
    const receipt = await survivor.delivery.sendToThread('lars-a', 'agent_started', {});
    expect(receipt).toMatchObject({ seq: 1, onlineConnections: 0 });
    const back = await open(survivor.url, 'lars', []);
    expect(await back.emitWithAck('thread:join', { threadId: 'lars-a', lastSeq: 0 })).toMatchObject(
      { ok: true, replayed: 1, headSeq: 1 },
    );
  });
});

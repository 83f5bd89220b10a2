import { io, type Socket } from 'socket.io-client';
import type { DeliveryReceipt, RelayStatusNotice, ThreadEvent } from '../src/index.js';
import { pingRedis } from './support/redis.global-setup.js';
import { OwnRedisServer } from './support/own-redis-server.js';
import { uniquePrefix } from './support/redis.js';
import { connectSocket } from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';

const UNAVAILABLE_MS = 400;
/** Slack over the configured bound for timers and the event loop of a busy CI machine. */
const BOUND_SLACK_MS = 600;

interface HealthBody {
  status: string;
  redis: string;
  mode: string;
}

async function health(url: string): Promise<{ status: number; body: HealthBody }> {
  const response = await fetch(`${url}/health`);
  return { status: response.status, body: (await response.json()) as HealthBody };
}

describe('degraded mode: the relay’s own Redis is killed and comes back', () => {
  let redis: OwnRedisServer;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    redis = await OwnRedisServer.start({ persistent: true });
  });
  afterAll(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    // A failed run may leave Redis down; the app needs it to shut down cleanly.
    if (!(await pingRedis(redis.url))) await redis.startProcess();
  });
  const relay = useRelayApp(() => ({
    redis: redis.url,
    keyPrefix: uniquePrefix('degraded'),
    delivery: { unavailableTimeoutMs: UNAVAILABLE_MS },
  }));
  afterAll(async () => {
    await redis.dispose();
  });

  it('tells clients, answers 503, refuses sends with RELAY_UNAVAILABLE, then recovers without losing an acknowledged send', async () => {
    const threadId = 'degraded-thread';
    await relay.registry.registerThread(threadId, 'dana');
    const socket = await connectSocket(relay.url, await relay.token('dana'));
    sockets.push(socket);
    const statuses: RelayStatusNotice[] = [];
    const events: ThreadEvent[] = [];
    socket.on('relay:status', (s: RelayStatusNotice) => statuses.push(s));
    socket.on('thread:event', (e: ThreadEvent) => events.push(e));
    expect(await socket.emitWithAck('thread:join', { threadId })).toMatchObject({ ok: true });
    expect(await health(relay.url)).toEqual({
      status: 200,
      body: expect.objectContaining({ status: 'ok', redis: 'up', mode: 'redis' }) as unknown,
    });

    const resolved: DeliveryReceipt[] = [];
    for (let i = 0; i < 3; i += 1) {
      resolved.push(await relay.delivery.sendToThread(threadId, 'before', { i }));
    }
    await waitUntil(() => events.length === 3, 'the three events sent before the outage');

    // Outage: SIGKILL, like a crashed Redis.
    await redis.stop(true);
    await waitUntil(
      () => statuses.some((s) => s.mode === 'degraded'),
      'relay:status degraded on the connected client',
    );
    expect(statuses[0]).toEqual({ mode: 'degraded', reason: expect.any(String) as unknown });
    expect(await health(relay.url)).toEqual({
      status: 503,
      body: expect.objectContaining({
        status: 'degraded',
        redis: 'down',
        mode: 'redis',
      }) as unknown,
    });

    // A connection made during the outage is told at once.
    const late = io(relay.url, {
      auth: { token: await relay.token('dana') },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    sockets.push(late);
    const lateStatus = new Promise<RelayStatusNotice>((resolve) =>
      late.once('relay:status', resolve),
    );
    expect(await lateStatus).toMatchObject({ mode: 'degraded' });

    // Producers get a typed error within the bound, never a silent loss.
    const attempts = await Promise.all(
      Array.from({ length: 3 }, async (_, i) => {
        const started = Date.now();
        const outcome = await relay.delivery.sendToThread(threadId, 'during', { i }).then(
          (receipt) => ({ receipt, error: null }),
          (error: unknown) => ({ receipt: null, error }),
        );
        return { ...outcome, elapsed: Date.now() - started };
      }),
    );
    for (const attempt of attempts) {
      expect(attempt.receipt).toBeNull();
      expect(attempt.error).toMatchObject({ code: 'RELAY_UNAVAILABLE' });
      expect(attempt.elapsed).toBeLessThan(UNAVAILABLE_MS + BOUND_SLACK_MS);
    }

    // Redis returns with its data (append-only file, fsync always).
    await redis.startProcess();
    await waitUntil(
      () => statuses[statuses.length - 1]?.mode === 'realtime',
      'relay:status realtime on the connected client',
    );
    await waitUntil(async () => (await health(relay.url)).status === 200, '/health back to 200');
    expect((await health(relay.url)).body).toMatchObject({ status: 'ok', redis: 'up' });

    for (let i = 0; i < 3; i += 1) {
      resolved.push(await relay.delivery.sendToThread(threadId, 'after', { i }));
    }
    const delivered = () => new Set(events.map((e) => e.seq));
    await waitUntil(
      () => resolved.every((r) => delivered().has(r.seq)),
      'every acknowledged send delivered live to the client',
    );

    const response = await fetch(`${relay.url}/threads/${threadId}/messages?after=0&limit=100`, {
      headers: { authorization: `Bearer ${await relay.token('dana')}` },
    });
    expect(response.status).toBe(200);
    const page = (await response.json()) as { epoch: string; messages: ThreadEvent[] };
    expect(page.epoch).toBe(resolved[0]?.epoch);
    const bySeq = new Map(page.messages.map((m) => [m.seq, m]));
    for (const receipt of resolved) {
      expect(bySeq.get(receipt.seq)).toMatchObject({ id: receipt.messageId, epoch: receipt.epoch });
    }
    // A refused send was never written: it did not wait in the driver's offline queue to be
    // stored once Redis came back. Only the six acknowledged events are there, dense.
    expect(page.messages.map((m) => m.type)).toEqual([
      ...Array<string>(3).fill('before'),
      ...Array<string>(3).fill('after'),
    ]);
    expect(page.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

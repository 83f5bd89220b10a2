/**
 * Chaos: the relay's Redis (its own persistent redis-server, appendfsync always) is
 * SIGKILLed mid-stream, stays down for a few seconds and comes back, under two relay
 * instances (separate processes), SDK clients on both and producers streaming into both.
 * Producers are refused with 503 RELAY_UNAVAILABLE during the outage, never silently
 * dropped; clients go degraded and back to realtime; every acknowledged event reaches every
 * client once, in order.
 */
import {
  debugThreads,
  drainSockets,
  expectExactlyOnce,
  ObservedClient,
  postSend,
  sleep,
  type SendOutcome,
} from '../support/chaos-harness.js';
import { pingRedis } from '../support/redis.global-setup.js';
import { OwnRedisServer } from '../support/own-redis-server.js';
import { uniquePrefix } from '../support/redis.js';
import { TEST_ADMIN_TOKEN } from '../support/relay-app.js';
import { waitUntil } from '../support/wait-until.js';
import { spawnRelayChild, type RelayChild } from '../support/relay-child-process.js';
import { buildRelayChild } from '../support/child-build.js';

const UNAVAILABLE_MS = 500;
/** A refused send may wait out the bound twice (resolve, then append) on a busy machine. */
const REFUSAL_BOUND_MS = 2 * UNAVAILABLE_MS + 2000;
const OUTAGE_MS = 2500;
const USERS = 6;
const THREADS_PER_USER = 2;
/** Each user's tabs: which instance (0 = A, 1 = B; -1 = by user parity) and which threads. */
const TABS: Array<{ instance: number; threads: number[] }> = [
  { instance: 0, threads: [0, 1] },
  { instance: 1, threads: [0, 1] },
  { instance: -1, threads: [1] },
];
const SEND_GAP_MS = 30;
/** Acknowledged sends per thread before the outage starts. */
const BEFORE_PER_THREAD = 8;
/** Acknowledged sends per thread after every client is back to realtime. */
const AFTER_PER_THREAD = 10;

describe('chaos: Redis is killed mid-stream and restarted under two instances', () => {
  let redis: OwnRedisServer | undefined;
  const children: RelayChild[] = [];
  const clients: ObservedClient[] = [];

  beforeAll(async () => {
    const entry = await buildRelayChild();
    redis = await OwnRedisServer.start({ persistent: true });
    const options = {
      redis: redis.url,
      keyPrefix: uniquePrefix('chaos-redis'),
      delivery: { unavailableTimeoutMs: UNAVAILABLE_MS },
      debug: { adminToken: TEST_ADMIN_TOKEN },
    };
    const started = await Promise.all(
      ['a', 'b'].map((name) =>
        spawnRelayChild(entry, { ...options, instanceId: `chaos-redis-${name}` }),
      ),
    );
    children.push(...started);
  }, 120_000);

  afterAll(async () => {
    if (redis && !(await pingRedis(redis.url))) await redis.startProcess().catch(() => undefined);
    await Promise.all(clients.splice(0).map((c) => c.client.close()));
    await Promise.all(children.splice(0).map((c) => c.kill()));
    await redis?.dispose();
  }, 30_000);

  it('refuses sends during the outage, goes degraded and back to realtime, and loses no acknowledged event', async () => {
    const server = redis!;
    const urls = children.map((c) => c.url);

    const threadIds: string[] = [];
    for (let u = 0; u < USERS; u++) {
      const userId = `redis-user-${u}`;
      const own = Array.from({ length: THREADS_PER_USER }, (_, t) => `redis-u${u}-t${t}`);
      threadIds.push(...own);
      for (const [tab, { instance, threads }] of TABS.entries()) {
        const at = instance >= 0 ? instance : u % 2;
        const observed = new ObservedClient(
          `${userId}/tab${tab}@${at === 0 ? 'A' : 'B'}`,
          userId,
          threads.map((t) => own[t]!),
          urls[at]!,
        );
        clients.push(observed);
        await observed.start();
      }
    }

    type Phase = 'before' | 'outage' | 'after';
    let phase: Phase = 'before';
    const acked = new Map<string, Array<{ seq: number; phase: Phase }>>(
      threadIds.map((t) => [t, []]),
    );
    const epochs = new Map<string, Set<string>>(threadIds.map((t) => [t, new Set()]));
    const refused: Array<SendOutcome & { ok: false }> = [];
    const otherFailures: Array<SendOutcome & { ok: false }> = [];
    const produce = async (threadId: string, index: number) => {
      const mine = acked.get(threadId)!;
      for (let n = 1; ; n++) {
        const startedIn = phase;
        if (
          startedIn === 'after' &&
          mine.filter((a) => a.phase === 'after').length >= AFTER_PER_THREAD
        ) {
          return;
        }
        const outcome = await postSend(
          urls[(index + n) % urls.length]!,
          threadId,
          'agent_thinking',
          {
            n,
          },
        );
        if (outcome.ok) {
          expect(outcome.receipt.threadId).toBe(threadId);
          mine.push({ seq: outcome.receipt.seq, phase: startedIn });
          epochs.get(threadId)!.add(outcome.receipt.epoch);
        } else if (outcome.status === 503 && outcome.code === 'RELAY_UNAVAILABLE') {
          refused.push(outcome);
        } else {
          otherFailures.push(outcome);
        }
        await sleep(SEND_GAP_MS);
      }
    };
    const producing = Promise.all(threadIds.map((t, i) => produce(t, i)));

    await waitUntil(
      () => [...acked.values()].every((list) => list.length >= BEFORE_PER_THREAD),
      'the stream to get going',
      30_000,
    );
    const ackedBefore = [...acked.values()].reduce((a, l) => a + l.length, 0);

    // Outage: SIGKILL, like a crashed Redis; it keeps its append-only file.
    phase = 'outage';
    const stoppedAt = Date.now();
    await server.stop(true);
    await waitUntil(
      () => clients.every((c) => c.client.status === 'degraded'),
      'every client to report degraded',
      {
        timeoutMs: 10_000,
        intervalMs: 10,
        detail: () => clients.map((c) => `${c.label}=${c.client.status}`).join(' '),
      },
    );
    const degradedAfterMs = Date.now() - stoppedAt;
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - stoppedAt)));
    const refusedDuringOutage = refused.length;

    await server.startProcess();
    const backAt = Date.now();
    const outageMs = backAt - stoppedAt;
    await waitUntil(
      () => clients.every((c) => c.client.status === 'connected'),
      'every client back to realtime',
      {
        timeoutMs: 15_000,
        intervalMs: 10,
        detail: () => clients.map((c) => `${c.label}=${c.client.status}`).join(' '),
      },
    );
    const realtimeAfterMs = Date.now() - backAt;
    phase = 'after';
    await producing;

    const heads = new Map((await debugThreads(urls[0]!)).map((t) => [t.threadId, t.headSeq]));
    for (const threadId of threadIds) {
      const seqs = acked.get(threadId)!.map((a) => a.seq);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(heads.get(threadId)).toBeGreaterThanOrEqual(Math.max(...seqs));
      // The log outlived the restart: same epoch before and after.
      expect(epochs.get(threadId)!.size).toBe(1);
    }

    await waitUntil(
      () => clients.every((c) => c.caughtUp(heads)),
      'every client to reach every thread’s head',
      {
        timeoutMs: 30_000,
        intervalMs: 25,
        detail: () =>
          clients
            .filter((c) => !c.caughtUp(heads))
            .map((c) => `${c.label} ${c.lag(heads)}`)
            .join('; '),
      },
    );
    // Whatever the servers had sent (a late duplicate included) is in the lists after this.
    await drainSockets(
      clients.flatMap((c) => c.threads.map((threadId) => ({ socket: c.client.socket, threadId }))),
    );

    for (const c of clients) {
      expectExactlyOnce(c, heads, (threadId) => acked.get(threadId)!.map((a) => a.seq), epochs);

      // SDK status: connected -> degraded (during the outage) -> connected, never a reconnect.
      const statuses = c.statuses.map((s) => s.status);
      expect({ client: c.label, statuses }).toEqual({
        client: c.label,
        statuses: ['connecting', 'connected', 'degraded', 'connected'],
      });
      const degradedAt = c.statuses[2]!.at;
      expect(degradedAt).toBeGreaterThanOrEqual(stoppedAt);
      expect(c.statuses[3]!.at).toBeGreaterThanOrEqual(backAt);
      // The raw notices behind it.
      expect({ client: c.label, notices: c.notices.map((n) => n.notice.mode) }).toEqual({
        client: c.label,
        notices: ['degraded', 'realtime'],
      });
    }

    // Producers were told, within the bound, and told nothing else.
    expect(otherFailures).toEqual([]);
    expect(refusedDuringOutage).toBeGreaterThan(0);
    const slowestRefusal = Math.max(...refused.map((r) => r.ms));
    expect(slowestRefusal).toBeLessThanOrEqual(REFUSAL_BOUND_MS);

    const ackedTotal = [...acked.values()].reduce((a, l) => a + l.length, 0);
    const ackedInOutage = [...acked.values()].flat().filter((a) => a.phase === 'outage').length;
    const stored = [...heads.values()].reduce((a, b) => a + b, 0);
    const seenTotal = clients.reduce((a, c) => a + c.eventCount, 0);
    process.stdout.write(
      `[chaos redis-restart] instances=2 clients=${clients.length} threads=${threadIds.length} ` +
        `acked=${ackedTotal} (before outage ${ackedBefore}, started during outage ${ackedInOutage}) ` +
        `refused=${refused.length} (503 RELAY_UNAVAILABLE, slowest ${slowestRefusal}ms) ` +
        `stored-unacked=${stored - ackedTotal} app-events-seen=${seenTotal} outage=${outageMs}ms ` +
        `all-degraded-after=${degradedAfterMs}ms realtime-after-redis-back=${realtimeAfterMs}ms\n`,
    );
  }, 120_000);
});

import type { Cluster, Redis } from 'ioredis';
import { RedisKeys } from '../../../src/redis/redis-keys.js';
import { RedisRegistryStore } from '../../../src/redis/redis-registry.store.js';
import {
  debugConnections,
  debugThreads,
  drainSockets,
  expectExactlyOnce,
  ObservedClient,
  postSend,
  range,
  sleep,
  type DebugConnection,
  type SendOutcome,
} from '../../support/chaos-harness.js';
import { uniquePrefix } from '../../support/redis.js';
import { TEST_ADMIN_TOKEN } from '../../support/relay-app.js';
import { waitUntil } from '../../support/wait-until.js';
import { spawnRelayChild, type RelayChild } from '../../support/relay-child-process.js';
import { buildRelayChild } from '../../support/child-build.js';
import { TcpProxy } from '../../support/tcp-proxy.js';
import type { ChaosBackend } from './backends.js';

const LIVENESS = { heartbeatMs: 200, ttlMs: 1000 };
/**
 * ttl + one heartbeat is the documented bound; nine more beats of slack because the sweep
 * runs on survivors that are busy taking over the dead instance's clients and producers,
 * and on a Redis Cluster walks the index buckets over several masters (measured 0.9-1.8 s
 * on a 2-core machine at load average 9, 2.4 s once on a cluster in the full suite).
 */
const SWEEP_BOUND_MS = LIVENESS.ttlMs + 10 * LIVENESS.heartbeatMs;
const INSTANCES = 3;
const KILLED = 1;
const USERS = 10;
const THREADS_PER_USER = 4;
/** Threads (by index within the user) each of a user's three tabs joins: tabs share threads. */
const TABS: number[][] = [
  [0, 1, 2],
  [2, 3],
  [0, 3],
];
const EVENTS_PER_THREAD = 30;
/** Pause between two sends of one thread's producer. */
const SEND_GAP_MS = 40;
/** The instance dies once this share of all sends has been acknowledged. */
const KILL_AT = 0.35;

const instanceId = (i: number) => `chaos-kill-${i}`;

/**
 * The scenario on `backend`: three relay processes on one Redis (standalone or cluster),
 * behind a round-robin balancer; one is SIGKILLed while producers stream into all of them.
 */
export function instanceKillSuite(backend: ChaosBackend): void {
  describe(`chaos: an instance is SIGKILLed mid-stream behind a load balancer${backend.title}`, () => {
    const prefix = uniquePrefix('chaos-kill');
    const children: RelayChild[] = [];
    let lb: TcpProxy | undefined;
    /** The cluster's registry, read from the test process (cheaper to poll than a busy instance). */
    let redis: Redis | Cluster | undefined;
    let registry: RedisRegistryStore;
    const clients: ObservedClient[] = [];

    beforeAll(async () => {
      const entry = await buildRelayChild();
      const options = {
        redis: backend.redis(),
        keyPrefix: prefix,
        liveness: LIVENESS,
        debug: { adminToken: TEST_ADMIN_TOKEN },
      };
      const started = await Promise.all(
        range(INSTANCES).map((n) =>
          spawnRelayChild(entry, { ...options, instanceId: instanceId(n - 1) }),
        ),
      );
      children.push(...started);
      redis = backend.connect();
      registry = new RedisRegistryStore(redis, prefix);
      lb = await TcpProxy.balance(children.map((c) => Number(new URL(c.url).port)));
    }, 120_000);

    afterAll(async () => {
      await Promise.all(clients.splice(0).map((c) => c.client.close()));
      await lb?.close();
      await Promise.all(children.splice(0).map((c) => c.kill()));
      await redis?.quit();
    }, 30_000);

    it('moves the dead instance’s clients to the survivors, sweeps it from the registry, and loses no acknowledged event', async () => {
      const balancer = lb!;
      const urls = children.map((c) => c.url);
      const survivorUrl = urls[(KILLED + 1) % INSTANCES]!;

      // 10 users x 3 tabs; users in parallel, each user's tabs one after another. The
      // balancer deals connections out in turn, so each instance gets a third of them.
      const testStarted = Date.now();
      const threadIds: string[] = [];
      const users = Array.from({ length: USERS }, (_, u) => {
        const userId = `kill-user-${u}`;
        const own = Array.from({ length: THREADS_PER_USER }, (_, t) => `kill-u${u}-t${t}`);
        threadIds.push(...own);
        const tabs = TABS.map(
          (picks, tab) =>
            new ObservedClient(
              `${userId}/tab${tab}`,
              userId,
              picks.map((t) => own[t]!),
              balancer.url,
            ),
        );
        clients.push(...tabs);
        return tabs;
      });
      await Promise.all(
        users.map(async (tabs) => {
          for (const tab of tabs) await tab.start();
        }),
      );
      const setupMs = Date.now() - testStarted;

      // Where each client landed, read from the shared registry.
      const byId = async () => new Map((await debugConnections(survivorUrl)).map((c) => [c.id, c]));
      let before = new Map<string, DebugConnection>();
      await waitUntil(
        async () => {
          before = await byId();
          return clients.every(
            (c) => before.get(c.client.socket?.id ?? '')?.threads.length === c.threads.length,
          );
        },
        'every client registered with all its threads',
        { timeoutMs: 10_000, intervalMs: 25 },
      );
      const homes = new Map(clients.map((c) => [c, before.get(c.client.socket!.id!)!.instanceId]));
      const homeOf = (c: ObservedClient) => homes.get(c)!;
      const perInstance = range(INSTANCES).map(
        (n) => clients.filter((c) => homeOf(c) === instanceId(n - 1)).length,
      );
      for (const count of perInstance) expect(count).toBeGreaterThanOrEqual(5);
      const doomed = clients.filter((c) => homeOf(c) === instanceId(KILLED));
      const spared = clients.filter((c) => homeOf(c) !== instanceId(KILLED));
      const oldIds = new Map(clients.map((c) => [c, c.client.socket!.id!]));

      // Producers: each thread has a home instance, and one send in flight at a time.
      const dead = new Set<number>();
      const acked = new Map<string, number[]>(threadIds.map((t) => [t, []]));
      const epochs = new Map<string, Set<string>>(threadIds.map((t) => [t, new Set()]));
      const failures: Array<{ instance: number; outcome: SendOutcome }> = [];
      let ackedTotal = 0;
      const sentVia = new Map<string, number>();
      const produce = async (threadId: string, index: number) => {
        const home = index % INSTANCES;
        for (let n = 1; n <= EVENTS_PER_THREAD; n++) {
          let instance = home;
          if (dead.has(instance)) {
            const alive = range(INSTANCES)
              .map((i) => i - 1)
              .filter((i) => !dead.has(i));
            instance = alive[(index + n) % alive.length]!;
          }
          const outcome = await postSend(urls[instance]!, threadId, 'agent_thinking', { n });
          if (outcome.ok) {
            sentVia.set(`${threadId}#${outcome.receipt.seq}`, instance);
            expect(outcome.receipt.threadId).toBe(threadId);
            acked.get(threadId)!.push(outcome.receipt.seq);
            epochs.get(threadId)!.add(outcome.receipt.epoch);
            ackedTotal += 1;
          } else {
            failures.push({ instance, outcome });
          }
          await sleep(SEND_GAP_MS);
        }
      };
      const producing = Promise.all(threadIds.map((t, i) => produce(t, i)));

      // Mid-stream: SIGKILL, then watch the reconnects and the sweep while sends go on.
      await waitUntil(
        () => ackedTotal >= KILL_AT * threadIds.length * EVENTS_PER_THREAD,
        'the stream to get going',
        30_000,
      );
      const ackedAtKill = ackedTotal;
      dead.add(KILLED);
      const killedAt = Date.now();
      await children[KILLED]!.kill();

      let reconnectMs = -1;
      const reconnected = waitUntil(
        async () => {
          const records = await Promise.all(
            doomed.map((c) => {
              const id = c.client.socket?.id;
              const fresh = id !== undefined && id !== oldIds.get(c);
              return fresh ? registry.getConnection(id) : Promise.resolve(null);
            }),
          );
          const ok = doomed.every((c, i) => {
            const record = records[i];
            return (
              c.client.status === 'connected' &&
              record != null &&
              record.connectionId === c.client.socket?.id &&
              record.instanceId !== instanceId(KILLED) &&
              record.threads.length === c.threads.length
            );
          });
          if (ok) reconnectMs = Date.now() - killedAt;
          return ok;
        },
        'the dead instance’s clients re-joined on the survivors',
        { timeoutMs: 30_000, intervalMs: 25 },
      );
      // When the dead instance's liveness key runs out: its last heartbeat + ttl (NaN if
      // already swept by the time this is read).
      const lastBeat = await redis!.hget(new RedisKeys(prefix).instances, instanceId(KILLED));
      const expiresMs = Number(lastBeat ?? NaN) + LIVENESS.ttlMs - killedAt;
      let sweepMs = -1;
      const swept = waitUntil(
        async () => {
          const left = await registry.connectionsOfInstance(instanceId(KILLED));
          if (left.length === 0) sweepMs = Date.now() - killedAt;
          return left.length === 0;
        },
        'the dead instance’s connections to leave the registry',
        { timeoutMs: 15_000, intervalMs: 10 },
      );
      await Promise.all([reconnected, swept, producing]);
      const producedFor = Date.now() - killedAt;

      // The cluster's own view (any instance answers for all): nothing left of the dead
      // instance, every client on a survivor with all its threads.
      const after = await byId();
      expect([...after.values()].filter((c) => c.instanceId === instanceId(KILLED))).toEqual([]);
      const history = (c: ObservedClient) =>
        `${doomed.includes(c) ? 'moved' : 'spared'}, was ${oldIds.get(c)}, now ${c.client.socket?.id}: ` +
        c.statuses.map((s) => `${s.status}@${s.at - killedAt}`).join(' ');
      for (const c of clients) {
        expect({
          client: c.label,
          threads: after.get(c.client.socket?.id ?? '')?.threads.sort(),
          history: history(c),
        }).toEqual({ client: c.label, threads: [...c.threads].sort(), history: history(c) });
      }

      // The log heads, as the cluster reports them.
      const heads = new Map((await debugThreads(survivorUrl)).map((t) => [t.threadId, t.headSeq]));
      for (const threadId of threadIds) {
        const seqs = acked.get(threadId)!;
        // Dense, unique numbers; nothing acknowledged is beyond (or missing from) the log.
        expect(new Set(seqs).size).toBe(seqs.length);
        expect(heads.get(threadId)).toBeGreaterThanOrEqual(Math.max(...seqs));
        expect(heads.get(threadId)).toBeLessThanOrEqual(EVENTS_PER_THREAD);
        expect(epochs.get(threadId)!.size).toBe(1);
      }

      // For a failure message: where the client was and is, through which instance each
      // thread's seqs were sent, and what reached the client.
      const describeLag = (c: ObservedClient) => {
        const via = c.threads
          .map((t) =>
            range(EVENTS_PER_THREAD)
              .map((q) => sentVia.get(`${t}#${q}`) ?? '?')
              .join(''),
          )
          .join('|');
        const now = after.get(c.client.socket?.id ?? '')?.instanceId;
        return `${c.label} (on ${homeOf(c)}, now ${now ?? '?'}; sent via ${via}) ${c.lag(heads)}`;
      };
      await waitUntil(
        () => clients.every((c) => c.caughtUp(heads)),
        'every client to reach every thread’s head',
        {
          timeoutMs: 30_000,
          intervalMs: 25,
          detail: () =>
            clients
              .filter((c) => !c.caughtUp(heads))
              .map(describeLag)
              .join('; '),
        },
      );
      // Whatever the servers had sent (a late duplicate included) is in the lists after this.
      await drainSockets(
        clients.flatMap((c) =>
          c.threads.map((threadId) => ({ socket: c.client.socket, threadId })),
        ),
      );

      for (const c of clients) {
        expectExactlyOnce(c, heads, (threadId) => acked.get(threadId)!, epochs);
      }

      // Only the dead instance's clients moved; the others kept their connection.
      for (const c of spared) {
        expect({ client: c.label, history: history(c), id: c.client.socket?.id }).toEqual({
          client: c.label,
          history: history(c),
          id: oldIds.get(c),
        });
      }
      // Sends failed only on the instance that died (without an HTTP answer).
      for (const { instance, outcome } of failures) {
        expect({ instance, status: outcome.ok ? 200 : outcome.status }).toEqual({
          instance: KILLED,
          status: 0,
        });
      }
      expect(reconnectMs).toBeGreaterThan(0);
      expect(sweepMs).toBeGreaterThan(0);
      expect(sweepMs).toBeLessThanOrEqual(SWEEP_BOUND_MS + backend.sweepSlackMs);
      await backend.expectSpread(prefix);

      // When the last of the dead instance's clients noticed (its status left 'connected').
      const noticedMs = Math.max(
        ...doomed.map((c) => (c.statuses.find((s) => s.at >= killedAt)?.at ?? NaN) - killedAt),
      );
      const attempted = threadIds.length * EVENTS_PER_THREAD;
      const stored = [...heads.values()].reduce((a, b) => a + b, 0);
      const seenTotal = clients.reduce((a, c) => a + c.eventCount, 0);
      process.stdout.write(
        `[chaos instance-kill${backend.title}] instances=${INSTANCES} clients=${clients.length} (per instance ${perInstance.join('/')}, ` +
          `${doomed.length} on the killed one) threads=${threadIds.length} sends=${attempted} ` +
          `acked=${ackedTotal} (at kill ${ackedAtKill}) failed=${failures.length} stored-unacked=${stored - ackedTotal} ` +
          `app-events-seen=${seenTotal} disconnect-noticed=${noticedMs}ms reconnect=${reconnectMs}ms liveness-key-expires=${expiresMs}ms sweep=${sweepMs}ms (bound ${SWEEP_BOUND_MS + backend.sweepSlackMs}ms) ` +
          `lb-skipped-upstreams=${balancer.upstreamFailures} stream-after-kill=${producedFor}ms ` +
          `setup=${setupMs}ms test=${Date.now() - testStarted}ms\n`,
      );
    }, 120_000);
  });
}

import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { io, type Socket } from 'socket.io-client';
import { ThreadRelayClient, type ThreadRelayClientError } from '../../../src/client/index.js';
import { signUserToken } from '../../../src/index.js';
import {
  debugConnections,
  debugThreads,
  drainSockets,
  sleep,
} from '../../support/chaos-harness.js';
import { cutTransport } from '../../support/forced-disconnect.js';
import { sample, scrape } from '../../support/prometheus.js';
import { testRedisUrl, uniquePrefix } from '../../support/redis.js';
import {
  TEST_ADMIN_TOKEN,
  TEST_JWT_SECRET,
  type TestRelayOptions,
} from '../../support/relay-app.js';
import { waitUntil } from '../../support/wait-until.js';
import { buildRelayChild } from '../../support/child-build.js';
import { spawnRelayChild, type RelayChild } from '../../support/relay-child-process.js';
import { standaloneBackend, type ChaosBackend } from './backends.js';

/**
 * Forced disconnect storm (chaos): 200 clients on two instances that are separate processes
 * sharing one Redis, 1,000 connections cut the hard way (the client's TCP socket reset, see
 * `cutTransport`) over ~8 s while producers send to every thread through both instances.
 *
 * thread-relay (SDK clients): every client's app must get exactly 1..N of its thread, N the
 * thread's head, once and in order; no reset, no failed send, and afterwards the cluster's
 * registry lists exactly the 200 live connections.
 *
 * The same storm (same clients, threads, producers, cuts) is then run against a typical
 * plain socket.io + @socket.io/redis-adapter app (test/support/socketio-baseline-server.mjs:
 * join a room per thread on every connect, emit to the room with a per-thread counter); what
 * its apps lose is measured and printed next to thread-relay's numbers, not asserted.
 */

const CLIENTS = 200;
/** Clients 0..THREADS-1 each follow their own thread; the rest are second tabs (see below). */
const THREADS = 180;
/** Thread t belongs to user `u${t % USERS}`: every user owns two threads. */
const USERS = 90;
const CUTS = 1000;
/** The cuts are spread over this long; producers run until the last cut. */
const RUN_MS = 8000;
/**
 * Only connected clients are cut; on a starved machine reconnects slow down and the cuts
 * fall behind schedule. They catch up, within this limit.
 */
const CUTS_DEADLINE_MS = 60_000;
/** Each thread's producer sends one event, waits for its receipt, then sleeps ~this long. */
const SEND_EVERY_MS = 1000;
const RECONNECT = { reconnectionDelay: 20, reconnectionDelayMax: 200 } as const;

const BASELINE_ENTRY = fileURLToPath(
  new URL('../../support/socketio-baseline-server.mjs', import.meta.url),
);

interface StormClient {
  threadId: string;
  /** Seqs of the thread's events as the app saw them, in arrival order. */
  seqs: number[];
  /** Disconnects the client's socket reported. */
  disconnects: number;
  /** `thread:event`s that arrived on the socket for a seq it had already received. */
  wireDuplicates: number;
  socket(): Socket | null;
  /** Ours: connected; the baseline: connected and (re-)joined on this connection. */
  live(): boolean;
  /** Its state, for failure messages. */
  state(): object;
  close(): Promise<void>;
}

interface Side {
  name: string;
  urls: string[];
  /** Path and headers of the producer route, `{ threadId, type, payload }` -> `{ seq }`. */
  sendPath: string;
  sendHeaders: Record<string, string>;
  open(threadId: string, userId: string, url: string): Promise<StormClient>;
}

interface StormResult {
  clients: StormClient[];
  /** Receipt seqs per thread. */
  produced: Map<string, number[]>;
  sendFailures: string[];
  /** Milliseconds each send took, request to receipt. */
  sendMs: number[];
  cuts: number;
  /** How long opening and joining every client took, and the storm itself. */
  openMs: number;
  runMs: number;
  /** From the last cut until every app had what it was going to get. */
  drainMs?: number;
  /** Extra figures for the report. */
  notes?: string;
}

interface Tally {
  events: number;
  expected: number;
  received: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  /** Clients that did not get exactly the produced seqs, once each, in order. */
  clientsHit: number;
}

/** What happened to each thread, with times, printed for the threads a failure is about. */
const traces = new Map<string, string[]>();
const traceStart = Date.now();
function trace(threadId: string, what: string): void {
  let lines = traces.get(threadId);
  if (!lines) traces.set(threadId, (lines = []));
  lines.push(`${Date.now() - traceStart} ${what}`);
}

function threadOf(client: number): number {
  // Second tabs: the same user, same thread as client (client - THREADS) * 9, opened on
  // the other instance; so 20 threads are followed by two connections at once.
  return client < THREADS ? client : (client - THREADS) * 9;
}

function postJson(
  agent: http.Agent,
  url: string,
  headers: Record<string, string>,
  body: object,
): Promise<{ seq: number }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const request = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { ...headers, 'content-type': 'application/json', 'content-length': data.length },
        timeout: 30_000,
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          let seq: unknown;
          try {
            seq = (JSON.parse(text) as { seq?: unknown }).seq;
          } catch {
            seq = undefined;
          }
          if (response.statusCode !== 200 && response.statusCode !== 201) {
            reject(new Error(`POST ${url}: ${response.statusCode} ${text}`));
          } else if (typeof seq !== 'number') {
            reject(new Error(`POST ${url}: no seq in ${text}`));
          } else resolve({ seq });
        });
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`POST ${url}: timed out`)));
    request.on('error', reject);
    request.end(data);
  });
}

/** Opens every client (a few at a time), then cuts, produces and drains. */
async function runStorm(side: Side): Promise<StormResult> {
  const opening = Date.now();
  const opened: StormClient[] = [];
  for (let first = 0; first < CLIENTS; first += 20) {
    await Promise.all(
      Array.from({ length: Math.min(20, CLIENTS - first) }, async (_, k) => {
        const i = first + k;
        const t = threadOf(i);
        // Client i on instance i % 2; a second tab on the other one than its first tab.
        const url = side.urls[(i < THREADS ? i : t + 1) % side.urls.length]!;
        opened.push(await side.open(`storm-t${t}`, `u${t % USERS}`, url));
      }),
    );
  }
  const clients = [...opened];
  await waitUntil(
    () => clients.every((c) => c.live()),
    `${side.name}: every client joined`,
    30_000,
  );
  const openMs = Date.now() - opening;

  const agent = new http.Agent({ keepAlive: true, maxSockets: 24 });
  const produced = new Map<string, number[]>();
  const sendFailures: string[] = [];
  const sendMs: number[] = [];
  let producing = true;
  const produce = async (t: number) => {
    const threadId = `storm-t${t}`;
    const seqs: number[] = [];
    produced.set(threadId, seqs);
    await sleep(Math.random() * SEND_EVERY_MS);
    for (let n = 0; producing; n++) {
      const url = side.urls[(t + n) % side.urls.length]!;
      const sentAt = Date.now();
      trace(threadId, `send ${n} to ${url}`);
      try {
        const { seq } = await postJson(agent, `${url}${side.sendPath}`, side.sendHeaders, {
          threadId,
          type: 'agent_thinking',
          payload: { n },
        });
        seqs.push(seq);
        trace(threadId, `receipt seq ${seq}`);
        sendMs.push(Date.now() - sentAt);
      } catch (error) {
        sendFailures.push(error instanceof Error ? error.message : String(error));
      }
      await sleep(SEND_EVERY_MS * (0.5 + Math.random()));
    }
  };

  const started = Date.now();
  let cuts = 0;
  const cutter = async () => {
    try {
      while (cuts < CUTS) {
        if (Date.now() - started > CUTS_DEADLINE_MS) {
          throw new Error(`${side.name}: only ${cuts} cuts in ${CUTS_DEADLINE_MS} ms`);
        }
        const due = Math.min(CUTS, Math.ceil(((Date.now() - started) / RUN_MS) * CUTS));
        for (let tries = 0; cuts < due && tries < 4 * CLIENTS; tries++) {
          const victim = clients[Math.floor(Math.random() * clients.length)]!;
          if (cutTransport(victim.socket())) cuts += 1;
        }
        await sleep(4);
      }
    } finally {
      producing = false;
    }
  };
  try {
    await Promise.all([cutter(), ...Array.from({ length: THREADS }, (_, t) => produce(t))]);
  } finally {
    agent.destroy();
  }
  return { clients, produced, sendFailures, sendMs, cuts, openMs, runMs: Date.now() - started };
}

function tally(result: StormResult): Tally {
  const totals: Tally = {
    events: 0,
    expected: 0,
    received: 0,
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    clientsHit: 0,
  };
  for (const seqs of result.produced.values()) totals.events += seqs.length;
  for (const client of result.clients) {
    const expected = new Set(result.produced.get(client.threadId) ?? []);
    const seen = new Set<number>();
    let highest = 0;
    let hit = false;
    for (const seq of client.seqs) {
      if (seen.has(seq)) {
        totals.duplicated += 1;
        hit = true;
      } else if (seq < highest) {
        totals.outOfOrder += 1;
        hit = true;
      }
      seen.add(seq);
      highest = Math.max(highest, seq);
    }
    let lost = 0;
    for (const seq of expected) if (!seen.has(seq)) lost += 1;
    totals.expected += expected.size;
    totals.received += client.seqs.length;
    totals.lost += lost;
    if (hit || lost > 0) totals.clientsHit += 1;
  }
  return totals;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** The details of one side's run, for the report. */
function describeSide(name: string, r: StormResult & { tally: Tally }): string {
  return (
    `${name.padEnd(24)}: ${r.cuts} cuts in ${(r.runMs / 1000).toFixed(1)} s, ` +
    `${r.tally.clientsHit}/${CLIENTS} clients affected | ` +
    `send p50 ${percentile(r.sendMs, 50)} ms, p99 ${percentile(r.sendMs, 99)} ms | ` +
    `open ${(r.openMs / 1000).toFixed(1)} s, drain ${((r.drainMs ?? 0) / 1000).toFixed(1)} s` +
    (r.notes ? ` | ${r.notes}` : '')
  );
}

/** `relay_events_replayed_total` summed over the instances. */
async function replayedEvents(urls: string[]): Promise<number> {
  let total = 0;
  for (const url of urls) total += sample(await scrape(url), 'relay_events_replayed_total');
  return total;
}

/**
 * The storm on `backend` (the relay instances' Redis: standalone or cluster); with
 * `baseline`, the same storm against the socket.io + redis-adapter app as well.
 */
export function disconnectStormSuite(backend: ChaosBackend, options: { baseline: boolean }): void {
  describe(`disconnect storm: ${CLIENTS} clients, ${CUTS} forced disconnects while events flow${backend.title}`, () => {
    const ourPrefix = uniquePrefix('storm');
    const baselinePrefix = uniquePrefix('storm-baseline');
    let relayEntry: string;
    const children: RelayChild[] = [];
    const clients: StormClient[] = [];
    const results: {
      ours?: StormResult & { tally: Tally };
      baseline?: StormResult & { tally: Tally };
    } = {};

    beforeAll(async () => {
      relayEntry = await buildRelayChild();
    }, 120_000);

    async function cleanup(): Promise<void> {
      await Promise.allSettled(clients.splice(0).map((c) => c.close()));
      await Promise.allSettled(children.splice(0).map((child) => child.stop()));
    }

    /** Separate processes, each listening; stopped after the test. */
    async function startInstances(entry: string, options: TestRelayOptions[]): Promise<string[]> {
      const started = await Promise.allSettled(options.map((o) => spawnRelayChild(entry, o)));
      for (const outcome of started)
        if (outcome.status === 'fulfilled') children.push(outcome.value);
      for (const outcome of started) if (outcome.status === 'rejected') throw outcome.reason;
      return children.map((child) => child.url);
    }

    afterEach(cleanup);

    afterAll(async () => {
      await cleanup();
      await Promise.allSettled([
        backend.deleteKeys(ourPrefix),
        ...(options.baseline ? [standaloneBackend().deleteKeys(baselinePrefix)] : []),
      ]);
      const { ours, baseline } = results;
      if (!ours && !baseline) return;
      const brief = (name: string, r: (StormResult & { tally: Tally }) | undefined) => {
        if (!r) return `${name}: did not finish`;
        const t = r.tally;
        const pct = t.expected === 0 ? 0 : (100 * t.lost) / t.expected;
        return (
          `${name}: ${t.events} events, lost ${t.lost} (${pct.toFixed(1)}% of ${t.expected} ` +
          `deliveries), dup ${t.duplicated}, out-of-order ${t.outOfOrder}`
        );
      };
      const lines = [
        `disconnect storm${backend.title}: ${CLIENTS} clients, ${CUTS} forced disconnects | ` +
          `${brief('thread-relay', ours)}` +
          (options.baseline ? ` | ${brief('socket.io+redis-adapter', baseline)}` : ''),
        ...(ours ? [`  ${describeSide('thread-relay', ours)}`] : []),
        ...(baseline ? [`  ${describeSide('socket.io+redis-adapter', baseline)}`] : []),
      ];
      process.stdout.write(`\n${lines.join('\n')}\n\n`);
    });

    it('thread-relay: every app gets exactly 1..N of its thread, once, in order', async () => {
      const relayOptions = {
        redis: backend.redis(),
        keyPrefix: ourPrefix,
        debug: { adminToken: TEST_ADMIN_TOKEN },
      };
      const urls = await startInstances(relayEntry, [
        { ...relayOptions, instanceId: 'storm-a' },
        { ...relayOptions, instanceId: 'storm-b' },
      ]);
      const errors: ThreadRelayClientError[] = [];
      const resets: object[] = [];
      const side: Side = {
        name: 'thread-relay',
        urls,
        sendPath: '/debug/websocket/send',
        sendHeaders: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
        async open(threadId, userId, url) {
          const client = new ThreadRelayClient({
            url,
            token: await signUserToken(userId, TEST_JWT_SECRET),
            socketOptions: { transports: ['websocket'], ...RECONNECT },
          });
          const onWire = new Set<number>();
          const entry: StormClient = {
            threadId,
            seqs: [],
            disconnects: 0,
            wireDuplicates: 0,
            socket: () => client.socket,
            live: () => client.status === 'connected',
            state: () => ({
              threadId,
              status: client.status,
              socket: client.socket?.id,
              connected: client.socket?.connected,
              cursor: client.cursor(threadId),
              disconnects: entry.disconnects,
              wire: [...onWire].sort((a, b) => a - b).join(','),
              app: entry.seqs.join(','),
            }),
            close: () => client.close(),
          };
          clients.push(entry);
          client.onEvent((event) => {
            if (event.threadId === threadId) entry.seqs.push(event.seq);
          });
          // Nothing is trimmed or lost here: a reset would be a bug (and hides events from onEvent).
          client.onReset(({ reason, epoch, headSeq, events }) =>
            resets.push({
              threadId,
              reason,
              epoch,
              headSeq,
              events: events.length,
              appLast: entry.seqs.at(-1),
            }),
          );
          client.onError((error) => errors.push(error));
          await client.connect();
          // The socket object survives reconnects (its manager reconnects it): one listener each.
          const socket = client.socket!;
          const tag = () => `[${url.slice(-5)} ${socket.id ?? '-'}]`;
          socket.on('connect', () => trace(threadId, `${tag()} connect`));
          socket.on('disconnect', (reason) => {
            entry.disconnects += 1;
            trace(threadId, `${tag()} disconnect ${reason}`);
          });
          socket.onAnyOutgoing((event: string, body: unknown) => {
            if (event === 'thread:join') trace(threadId, `${tag()} join ${JSON.stringify(body)}`);
          });
          socket.on('thread:event', (event: { threadId: string; seq: number }) => {
            if (event.threadId !== threadId) return;
            trace(threadId, `${tag()} wire ${event.seq}`);
            if (onWire.has(event.seq)) entry.wireDuplicates += 1;
            onWire.add(event.seq);
          });
          await client.join(threadId);
          return entry;
        },
      };

      const result = await runStorm(side);
      const { produced } = result;
      // Every thread's receipts are exactly 1..N: dense seqs, none refused.
      expect(result.sendFailures).toEqual([]);
      for (const [threadId, seqs] of produced) {
        expect({ threadId, seqs: [...seqs].sort((a, b) => a - b) }).toEqual({
          threadId,
          seqs: Array.from({ length: seqs.length }, (_, i) => i + 1),
        });
        expect(seqs.length).toBeGreaterThan(0);
      }
      // The logs agree: each thread's head is the number of receipts its producer got.
      const heads = new Map((await debugThreads(urls[0]!)).map((t) => [t.threadId, t.headSeq]));
      for (const [threadId, seqs] of produced) {
        expect({ threadId, head: heads.get(threadId) }).toEqual({ threadId, head: seqs.length });
      }
      const head = (client: StormClient) => produced.get(client.threadId)?.length ?? 0;
      const draining = Date.now();
      const behind = () => result.clients.filter((c) => c.seqs.length < head(c));
      await waitUntil(
        () => behind().length === 0 || resets.length > 0,
        'every client to reach its thread head',
        30_000,
      ).catch(async (error: Error) => {
        const registry = await debugConnections(urls[0]!).catch(() => []);
        const threads = await debugThreads(urls[0]!).catch(() => []);
        const states = behind().map((c) => ({
          head: head(c),
          ...c.state(),
          registry: registry.find((r) => r.id === c.socket()?.id) ?? null,
          thread: threads.find((t) => t.threadId === c.threadId) ?? null,
          trace: traces.get(c.threadId),
        }));
        throw new Error(
          `${error.message}: ${JSON.stringify({ states, resets, errors: errors.map((e) => `${e.code}: ${e.message}`) }, null, 1)}`,
        );
      });
      result.drainMs = Date.now() - draining;
      // Anything the servers had resent would be in the lists (as a duplicate) after this.
      await drainSockets(result.clients.map((c) => ({ socket: c.socket(), threadId: c.threadId })));
      results.ours = { ...result, tally: tally(result) };

      expect(result.cuts).toBe(CUTS);
      const disconnects = result.clients.reduce((sum, c) => sum + c.disconnects, 0);
      expect(disconnects).toBeGreaterThanOrEqual(CUTS);
      for (const client of result.clients) {
        expect({ threadId: client.threadId, seqs: client.seqs }).toEqual({
          threadId: client.threadId,
          seqs: Array.from({ length: head(client) }, (_, i) => i + 1),
        });
      }
      expect(results.ours.tally).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0 });
      expect(resets).toEqual([]);
      expect(errors.filter((e) => !e.retryable)).toEqual([]);

      // None of the 1,000 dead connections is left in the cluster's registry: it lists
      // exactly the 200 live ones, each joined to its thread.
      const threadOfConnection = () =>
        new Map(result.clients.map((c) => [c.socket()?.id ?? '', c.threadId] as const));
      await waitUntil(
        async () => {
          const listed = await debugConnections(side.urls[0]!);
          const expected = threadOfConnection();
          return (
            listed.length === CLIENTS &&
            listed.every((c) => expected.get(c.id) === c.threads[0] && c.threads.length === 1)
          );
        },
        `the registry to list exactly the ${CLIENTS} live connections`,
        15_000,
      );
      results.ours.notes =
        `${result.clients.reduce((n, c) => n + c.wireDuplicates, 0)} resent on the wire and ` +
        `dropped by the SDK, ${await replayedEvents(side.urls)} sent by re-join replays`;
      await backend.expectSpread(ourPrefix);
    }, 180_000);

    // The baseline only speaks a Redis URL: it runs on the shared standalone Redis.
    if (options.baseline) {
      it('socket.io + @socket.io/redis-adapter under the same storm: measured and reported', async () => {
        const baselineOptions = { redis: testRedisUrl(), keyPrefix: baselinePrefix };
        const urls = await startInstances(BASELINE_ENTRY, [baselineOptions, baselineOptions]);
        /** Per client: the instances (index in `urls`) whose fence event it has received. */
        const fencesSeen: Array<Set<number>> = [];
        const side: Side = {
          name: 'socket.io+redis-adapter',
          urls,
          sendPath: '/send',
          sendHeaders: {},
          async open(threadId, _userId, url) {
            const socket = io(url, { transports: ['websocket'], forceNew: true, ...RECONNECT });
            let joined = false;
            let connection = 0;
            const entry: StormClient = {
              threadId,
              seqs: [],
              disconnects: 0,
              wireDuplicates: 0,
              socket: () => socket,
              live: () => socket.connected && joined,
              state: () => ({ threadId, connected: socket.connected, joined }),
              close: async () => {
                socket.close();
                return Promise.resolve();
              },
            };
            clients.push(entry);
            // What a typical app does: (re-)join the thread's room on every connect.
            socket.on('connect', () => {
              joined = false;
              const current = ++connection;
              socket.emit('thread:join', { threadId }, (ack: { ok?: boolean } | undefined) => {
                if (ack?.ok && current === connection) joined = true;
              });
            });
            socket.on('disconnect', () => {
              joined = false;
              entry.disconnects += 1;
            });
            const fences = new Set<number>();
            fencesSeen.push(fences);
            socket.on(
              'thread:event',
              (event: { threadId: string; seq: number; type?: string; payload?: unknown }) => {
                if (event.threadId !== threadId) return;
                const fence = (event.payload as { fence?: unknown } | undefined)?.fence;
                if (event.type === 'fence' && typeof fence === 'number') fences.add(fence);
                else entry.seqs.push(event.seq);
              },
            );
            await waitUntil(() => joined, `baseline client joined ${threadId}`, 30_000);
            return entry;
          },
        };

        const result = await runStorm(side);
        const draining = Date.now();
        // Lost events never come; wait until every client is back and nothing more arrives.
        await waitUntil(
          () => result.clients.every((c) => c.live()),
          'every baseline client back',
          15_000,
        );
        // Lost events never come, so there is nothing to count up to. Instead each instance
        // emits a fence to every thread: the adapter publishes an instance's emits in order,
        // so a client that has the fence of both instances has every earlier event it will get.
        const fenceAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });
        try {
          for (const [index, url] of urls.entries()) {
            await Promise.all(
              [...new Set(result.clients.map((c) => c.threadId))].map((threadId) =>
                postJson(
                  fenceAgent,
                  `${url}/send`,
                  {},
                  {
                    threadId,
                    type: 'fence',
                    payload: { fence: index },
                  },
                ),
              ),
            );
          }
        } finally {
          fenceAgent.destroy();
        }
        await waitUntil(
          () => fencesSeen.every((fences) => fences.size === urls.length),
          'every baseline client to receive the fence of every instance',
          15_000,
        );
        result.drainMs = Date.now() - draining;
        results.baseline = { ...result, tally: tally(result) };
        expect(result.cuts).toBe(CUTS);
        expect(results.baseline.tally.events).toBeGreaterThan(0);
        expect(results.baseline.tally.received).toBeGreaterThan(0);
      }, 180_000);
    }
  });
}

import type { Socket } from 'socket.io-client';
import type { ConnectionSession } from '../src/gateway/connection-session.js';
import { RelayConnectionHandler } from '../src/gateway/relay-connection.handler.js';
import type { ThreadEvent } from '../src/index.js';
import { RelayMetrics } from '../src/observability/relay-metrics.service.js';
import { parsePrometheus, sample, scrape } from './support/prometheus.js';
import { openSse } from './support/sse-client.js';
import { backendModes, connectSocket, startRelayApp } from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';

type AckAnswer = { ok: boolean; error?: { code: string } } & Record<string, unknown>;

/** The gateway's per-connection state, which a scrape must not walk (private fields). */
interface GatewayInternals {
  sessions: Map<string, ConnectionSession>;
}
interface SessionInternals {
  joined: Map<string, unknown>;
}

/**
 * `map` behind a proxy that calls `count` on each property read `counted` admits (every
 * method call and `size` read starts with one), so a test can tell what touched it.
 */
function countingMap<M extends Map<unknown, unknown>>(
  map: M,
  counted: (key: string | symbol) => boolean,
  count: () => void,
): M {
  return new Proxy(map, {
    get(target, key) {
      if (counted(key)) count();
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
}

/** Reading a map's members one by one (what rebuilding a list from it takes). */
const WALKS = new Set<string | symbol>(['keys', 'values', 'entries', 'forEach', Symbol.iterator]);

/**
 * Sets `flag.now` while any of the app's metrics computes its value for a scrape (a
 * gauge's `collect`), so reads made then are told from the gateway's own, which may run at
 * the same time (a join's replay finishing). Answers a function that undoes it.
 */
function flagCollects(metrics: RelayMetrics, flag: { now: boolean }): () => void {
  const undo: Array<() => void> = [];
  for (const metric of metrics.registry.getMetricsAsArray() as unknown as Array<{
    collect?: () => unknown;
  }>) {
    const collect = metric.collect;
    if (typeof collect !== 'function') continue;
    metric.collect = function (this: unknown) {
      flag.now = true;
      try {
        return collect.call(this);
      } finally {
        flag.now = false;
      }
    };
    undo.push(() => (metric.collect = collect));
  }
  return () => undo.forEach((restore) => restore());
}

describe.each(backendModes('metrics'))('GET /metrics (%s)', (_mode, config) => {
  const sockets: Socket[] = [];

  const relay = useRelayApp(config);
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });

  it('serves Prometheus text: every non-comment line is `name{labels} value`', async () => {
    const response = await fetch(`${relay.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    const samples = parsePrometheus(text);
    for (const name of [
      'relay_events_fanned_out_total',
      'relay_events_replayed_total',
      'relay_acks_total',
      'relay_connections',
      'relay_joined_threads',
      'relay_sse_streams',
      'relay_append_duration_seconds_count',
      'relay_delivery_latency_seconds_count',
    ]) {
      expect(samples.has(name)).toBe(true);
    }
    for (const family of [
      'relay_events_appended_total',
      'relay_resets_total',
      'relay_errors_total',
      'relay_sse_streams_ended_total',
    ]) {
      expect(text).toContain(`# TYPE ${family} counter`);
    }
    // Low cardinality: no ids in any label.
    expect(text).not.toMatch(/thread_?id=|user_?id=|connection_?id=/i);
  });

  it('moves the counters by exactly N sends, M replayed events, K acks', async () => {
    const N = 7;
    const threadId = `metrics-thread-${Math.random().toString(36).slice(2)}`;
    await relay.registry.registerThread(threadId, 'mia');
    const before = await scrape(relay.url);

    for (let i = 0; i < N; i += 1) {
      await relay.delivery.sendToThread(threadId, 'tick', { i }, { idempotencyKey: `k-${i}` });
    }
    // A retried send with a seen idempotency key is counted as a duplicate, not appended.
    await relay.delivery.sendToThread(threadId, 'tick', { i: 0 }, { idempotencyKey: 'k-0' });
    await expect(relay.delivery.sendToThread('no-such-thread', 'tick', {})).rejects.toMatchObject({
      code: 'THREAD_NOT_FOUND',
    });

    // The owner joins from the start: the M = N events in the log are replayed.
    const socket = await connectSocket(relay.url, await relay.token('mia'));
    sockets.push(socket);
    const events: ThreadEvent[] = [];
    socket.on('thread:event', (e: ThreadEvent) => events.push(e));
    const joined = (await socket.emitWithAck('thread:join', { threadId })) as AckAnswer;
    expect(joined).toMatchObject({ ok: true, replayed: N, headSeq: N });
    await waitUntil(() => events.length === N, `${N} replayed events`);

    // K = 3 cumulative acks, and one refused (beyond the head).
    for (const seq of [2, 5, N]) {
      expect(await socket.emitWithAck('thread:ack', { threadId, seq })).toMatchObject({ ok: true });
    }
    expect(await socket.emitWithAck('thread:ack', { threadId, seq: N + 10 })).toMatchObject({
      ok: false,
      error: { code: 'BAD_REQUEST' },
    });

    // A second connection with a cursor from another epoch gets a reset, not a replay.
    const stale = await connectSocket(relay.url, await relay.token('mia'));
    sockets.push(stale);
    expect(
      await stale.emitWithAck('thread:join', { threadId, lastSeq: 3, epoch: 'not-the-epoch' }),
    ).toMatchObject({ ok: true, replayed: 0, reset: 'epoch_mismatch' });

    const delta = (after: Map<string, number>, series: string) =>
      sample(after, series) - sample(before, series);
    let after = await scrape(relay.url);
    await waitUntil(async () => {
      after = await scrape(relay.url);
      return delta(after, 'relay_delivery_latency_seconds_count') === 3;
    }, 'three delivery latency observations');

    expect(delta(after, 'relay_events_appended_total{result="appended"}')).toBe(N);
    expect(delta(after, 'relay_events_appended_total{result="duplicate"}')).toBe(1);
    expect(delta(after, 'relay_events_fanned_out_total')).toBe(N);
    expect(delta(after, 'relay_append_duration_seconds_count')).toBe(N + 1);
    expect(delta(after, 'relay_events_replayed_total')).toBe(N);
    expect(delta(after, 'relay_acks_total')).toBe(3);
    expect(delta(after, 'relay_resets_total{reason="epoch_mismatch"}')).toBe(1);
    expect(delta(after, 'relay_errors_total{source="send",code="THREAD_NOT_FOUND"}')).toBe(1);
    expect(delta(after, 'relay_errors_total{source="socket",code="BAD_REQUEST"}')).toBe(1);
    expect(sample(after, 'relay_connections')).toBe(2);
    expect(sample(after, 'relay_joined_threads')).toBe(1);
    // Every bucket line is cumulative and ends at +Inf = count.
    expect(sample(after, 'relay_delivery_latency_seconds_bucket{le="+Inf"}')).toBe(
      sample(after, 'relay_delivery_latency_seconds_count'),
    );

    for (const s of sockets.splice(0)) s.close();
    await waitUntil(
      async () => sample(await scrape(relay.url), 'relay_connections') === 0,
      'the connection gauge back to 0',
    );
    expect(sample(await scrape(relay.url), 'relay_joined_threads')).toBe(0);
  });

  it('keeps relay_joined_threads as joins and leaves happen: a scrape walks no connection and reads no thread list', async () => {
    const tag = Math.random().toString(36).slice(2);
    const users = ['jo', 'kit', 'lux'].map((name) => `${name}-${tag}`);
    const threadsOf = (user: string) => [0, 1, 2].map((i) => `${user}-t${i}`);
    const joinAll = async (user: string) => {
      const socket = await connectSocket(relay.url, await relay.token(user));
      sockets.push(socket);
      for (const threadId of threadsOf(user)) {
        expect(await socket.emitWithAck('thread:join', { threadId })).toMatchObject({ ok: true });
      }
      return socket;
    };
    const joinedGauge = async () => sample(await scrape(relay.url), 'relay_joined_threads');
    // Two connections per user, each in the user's three threads: 18 joins, 9 threads.
    const connections: Socket[] = [];
    for (const user of users) {
      for (const threadId of threadsOf(user)) await relay.registry.registerThread(threadId, user);
      connections.push(await joinAll(user), await joinAll(user));
    }

    // What the gateway's own work reads (a control), and what scrapes read of it.
    const reads = { gateway: 0, scrapes: { connectionWalks: 0, threadListReads: 0 } };
    const collecting = { now: false };
    const handler: RelayConnectionHandler = relay.app.get(RelayConnectionHandler);
    const gateway = handler as unknown as GatewayInternals;
    const sessions = gateway.sessions;
    gateway.sessions = countingMap(
      sessions,
      (key) => WALKS.has(key),
      () => {
        if (collecting.now) reads.scrapes.connectionWalks += 1;
      },
    );
    const unflag = flagCollects(relay.app.get(RelayMetrics), collecting);
    try {
      expect(sessions.size).toBe(6);
      for (const session of sessions.values()) {
        const internals = session as unknown as SessionInternals;
        internals.joined = countingMap(
          internals.joined,
          () => true,
          () => {
            if (collecting.now) reads.scrapes.threadListReads += 1;
            else reads.gateway += 1;
          },
        );
      }

      expect(await joinedGauge()).toBe(9);

      // The proxies see the gateway's own use of the lists: a leave reads one.
      const [first, second] = connections as [Socket, Socket];
      const [left] = threadsOf(users[0] as string) as [string];
      const before = reads.gateway;
      expect(await first.emitWithAck('thread:leave', { threadId: left })).toMatchObject({
        ok: true,
      });
      expect(reads.gateway).toBeGreaterThan(before);
      // The other connection is still in it; once it leaves too, the thread no longer counts.
      expect(await joinedGauge()).toBe(9);
      expect(await second.emitWithAck('thread:leave', { threadId: left })).toMatchObject({
        ok: true,
      });
      expect(await joinedGauge()).toBe(8);

      // A disconnect drops only threads no other connection here is in: none for the first,
      // the user's two others for the second.
      first.close();
      await waitUntil(
        async () => sample(await scrape(relay.url), 'relay_connections') === 5,
        'the disconnect',
      );
      expect(await joinedGauge()).toBe(8);
      second.close();
      await waitUntil(async () => (await joinedGauge()) === 6, 'the second disconnect');

      expect(reads.scrapes).toEqual({ connectionWalks: 0, threadListReads: 0 });
    } finally {
      unflag();
      gateway.sessions = sessions;
    }
  });

  it('counts open Server-Sent Events streams, and the ended ones by reason', async () => {
    const threadId = `metrics-sse-${Math.random().toString(36).slice(2)}`;
    await relay.registry.registerThread(threadId, 'sam');
    const ended = 'relay_sse_streams_ended_total{reason="client_closed"}';
    const before = await scrape(relay.url);
    const open = await Promise.all(
      [1, 2].map(async () =>
        openSse(`${relay.url}/threads/${threadId}/events`, {
          authorization: `Bearer ${await relay.token('sam')}`,
        }),
      ),
    );
    await waitUntil(
      async () => sample(await scrape(relay.url), 'relay_sse_streams') === 2,
      'two open streams',
    );
    for (const stream of open) stream.close();
    await waitUntil(
      async () => sample(await scrape(relay.url), 'relay_sse_streams') === 0,
      'no open stream',
    );
    expect(sample(await scrape(relay.url), ended) - sample(before, ended)).toBe(2);
  });
});

describe('metrics registries', () => {
  it('are per app: two apps in one process do not see each other’s counters', async () => {
    const [a, b] = await Promise.all([startRelayApp(), startRelayApp()]);
    try {
      await a.registry.registerThread('iso-thread', 'ivy');
      await a.delivery.sendToThread('iso-thread', 'tick', {});
      expect(sample(await scrape(a.url), 'relay_events_fanned_out_total')).toBe(1);
      expect(sample(await scrape(b.url), 'relay_events_fanned_out_total')).toBe(0);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

import { randomUUID } from 'node:crypto';
import type { Socket } from 'socket.io-client';
import {
  ThreadRegistryService,
  type DeliveryReceipt,
  type HistoryPage,
  type ThreadEvent,
} from '../src/index.js';
import { freePort } from './support/redis.global-setup.js';
import { testRedisUrl, uniquePrefix } from './support/redis.js';
import {
  call,
  OTHER_PRODUCER_KEY,
  PRODUCER_KEY,
  type ErrorBody,
  type HttpAnswer,
} from './support/producer-http.js';
import {
  connectSocket,
  instanceModes,
  startRelayApp,
  TEST_ADMIN_TOKEN,
} from './support/relay-app.js';
import { useRelayApp, useRelayApps } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';
import { TcpProxy } from './support/tcp-proxy.js';

type Receipt = DeliveryReceipt;
type BatchAnswer = { results: Array<Receipt | ErrorBody> };
type DeliveryAnswer = { threadId: string; seq: number; delivered: boolean; cursor: number };

const producer = { apiKeys: [PRODUCER_KEY, OTHER_PRODUCER_KEY] };

function expectError(answer: HttpAnswer, status: number, code: string, message?: RegExp): void {
  expect({ status: answer.status, body: answer.body }).toMatchObject({
    status,
    body: {
      ok: false,
      error: {
        code,
        message: (message ? expect.stringMatching(message) : expect.any(String)) as unknown,
      },
    },
  });
}

/** A unique id per test, so the Redis-mode instances never share state between tests. */
const unique = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

describe.each(instanceModes('producer'))('producer API (%s)', (_mode, instances, config) => {
  const relays = useRelayApps(instances, () => ({ ...config(), producer }));
  /** Where producers call; `b` is where the sockets are (another instance in Redis mode). */
  const a = relays[0]!;
  const b = relays[instances - 1]!;
  const sockets: Socket[] = [];

  const joined = async (userId: string, threadId: string) => {
    const socket = await connectSocket(b.url, await b.token(userId));
    sockets.push(socket);
    const events: ThreadEvent[] = [];
    socket.on('thread:event', (event: ThreadEvent) => events.push(event));
    expect(await socket.emitWithAck('thread:join', { threadId })).toMatchObject({ ok: true });
    return { socket, events };
  };

  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });

  it('PUT /v1/threads registers a thread once per owner and refuses another owner', async () => {
    const threadId = unique('reg-thread');
    const first = await call(a.url, 'PUT', `/v1/threads/${threadId}`, {
      body: { ownerId: 'ursula', metadata: { title: 'Trip', priority: 2, pinned: true } },
    });
    expect(first).toMatchObject({
      status: 200,
      body: { threadId, ownerId: 'ursula', created: true },
    });
    const again = await call(a.url, 'PUT', `/v1/threads/${threadId}`, {
      body: { ownerId: 'ursula' },
    });
    expect(again).toMatchObject({
      status: 200,
      body: { threadId, ownerId: 'ursula', created: false },
    });
    expect(await b.registry.getThread(threadId)).toMatchObject({
      ownerId: 'ursula',
      metadata: { title: 'Trip', priority: 2, pinned: true },
    });
    expectError(
      await call(a.url, 'PUT', `/v1/threads/${threadId}`, { body: { ownerId: 'mallory' } }),
      409,
      'THREAD_OWNERSHIP_CONFLICT',
    );
  });

  it('PUT /v1/runs maps a run to its thread; 404 for an unknown thread, 409 for a conflict', async () => {
    const threadId = unique('run-thread');
    const otherThread = unique('run-other');
    await a.registry.registerThread(threadId, 'victor');
    await a.registry.registerThread(otherThread, 'victor');
    const runId = unique('run');
    const first = await call(a.url, 'PUT', `/v1/runs/${runId}`, { body: { threadId } });
    expect(first).toMatchObject({ status: 200, body: { runId, threadId, created: true } });
    const again = await call(a.url, 'PUT', `/v1/runs/${runId}`, { body: { threadId } });
    expect(again).toMatchObject({ status: 200, body: { runId, threadId, created: false } });
    expect(await b.registry.resolve(runId)).toBe(threadId);

    expectError(
      await call(a.url, 'PUT', `/v1/runs/${runId}`, { body: { threadId: otherThread } }),
      409,
      'RUN_CONFLICT',
    );
    expectError(
      await call(a.url, 'PUT', `/v1/runs/${otherThread}`, { body: { threadId } }),
      409,
      'RUN_CONFLICT',
      /thread/,
    );
    expectError(
      await call(a.url, 'PUT', `/v1/runs/${unique('run')}`, { body: { threadId: unique('nope') } }),
      404,
      'THREAD_NOT_FOUND',
    );
  });

  it('POST /v1/threads/:id/events reaches the owner’s socket; the delivery wait sees the ack', async () => {
    const threadId = unique('live-thread');
    await call(a.url, 'PUT', `/v1/threads/${threadId}`, { body: { ownerId: 'wendy' } });
    const runId = `${threadId}_run_${Date.now()}_abcd1234`;
    const { socket, events } = await joined('wendy', threadId);

    const sent = await call<Receipt>(a.url, 'POST', `/v1/threads/${runId}/events`, {
      body: { type: 'agent_started', payload: { step: 1 } },
    });
    expect(sent).toMatchObject({
      status: 201,
      body: {
        threadId,
        seq: 1,
        epoch: expect.any(String) as unknown,
        messageId: expect.any(String) as unknown,
        onlineConnections: 1,
        duplicate: false,
      },
    });
    await waitUntil(() => events.length === 1, 'the event on the joined socket');
    expect(events[0]).toMatchObject({
      id: sent.body.messageId,
      threadId,
      runId,
      seq: 1,
      type: 'agent_started',
      payload: { step: 1 },
    });

    const delivery = (query: string) =>
      call<DeliveryAnswer>(a.url, 'GET', `/v1/threads/${threadId}/delivery?${query}`);
    // Not acked: the answer comes when the wait ends, and says how far delivery got.
    const started = Date.now();
    expect(await delivery('seq=1&waitMs=150')).toMatchObject({
      status: 200,
      body: { threadId, seq: 1, delivered: false, cursor: 0 },
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect((await delivery('seq=1')).body).toMatchObject({ delivered: false, cursor: 0 });

    // A long wait ends as soon as the client acks (an ack before it listens counts too).
    const waiting = delivery('seq=1&waitMs=20000');
    expect(await socket.emitWithAck('thread:ack', { threadId, seq: 1 })).toMatchObject({
      ok: true,
    });
    const answer = await waiting;
    expect(answer).toMatchObject({
      status: 200,
      body: { threadId, seq: 1, delivered: true, cursor: 1 },
    });
    expect((await delivery('seq=1&waitMs=0')).body).toMatchObject({ delivered: true, cursor: 1 });
    // A run id names its thread here too.
    expect(
      (await call<DeliveryAnswer>(a.url, 'GET', `/v1/threads/${runId}/delivery?seq=1`)).body,
    ).toMatchObject({ threadId, delivered: true });
    expectError(
      await call(a.url, 'POST', `/v1/threads/${unique('nobody')}/events`, {
        body: { type: 'x', payload: {} },
      }),
      404,
      'THREAD_NOT_FOUND',
    );
    expectError(
      await call(a.url, 'GET', `/v1/threads/${unique('nobody')}/delivery?seq=1`),
      404,
      'THREAD_NOT_FOUND',
    );
  });

  it('a repeated idempotency key answers 200 with the first receipt, in the body or the header', async () => {
    const threadId = unique('idem-thread');
    await a.registry.registerThread(threadId, 'yara');
    const path = `/v1/threads/${threadId}/events`;
    const body = { type: 'tool_completed', payload: { ok: true }, idempotencyKey: 'tool-1' };
    const first = await call<Receipt>(a.url, 'POST', path, { body });
    expect(first.status).toBe(201);
    expect(first.body.duplicate).toBe(false);
    const again = await call<Receipt>(b.url, 'POST', path, { body });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({
      ...first.body,
      duplicate: true,
      onlineConnections: again.body.onlineConnections,
    });

    const header = { 'Idempotency-Key': 'tool-2' };
    const viaHeader = await call<Receipt>(a.url, 'POST', path, {
      body: { type: 'tool_completed', payload: { n: 2 } },
      headers: header,
    });
    expect(viaHeader).toMatchObject({ status: 201, body: { seq: 2, duplicate: false } });
    const headerAgain = await call<Receipt>(a.url, 'POST', path, {
      body: { type: 'tool_completed', payload: { n: 2 } },
      headers: header,
    });
    expect(headerAgain).toMatchObject({
      status: 200,
      body: { seq: 2, messageId: viaHeader.body.messageId, duplicate: true },
    });
    // The same key in both places is one key; two different keys are refused.
    const both = await call<Receipt>(a.url, 'POST', path, {
      body: { type: 'tool_completed', payload: { n: 2 }, idempotencyKey: 'tool-2' },
      headers: header,
    });
    expect(both).toMatchObject({ status: 200, body: { seq: 2, duplicate: true } });
    expectError(
      await call(a.url, 'POST', path, {
        body: { type: 'tool_completed', payload: {}, idempotencyKey: 'tool-3' },
        headers: { 'Idempotency-Key': 'tool-4' },
      }),
      400,
      'BAD_REQUEST',
      /Idempotency-Key header and body idempotencyKey differ/,
    );
    expectError(
      await call(a.url, 'POST', path, {
        body: { type: 'tool_completed', payload: {} },
        headers: { 'Idempotency-Key': 'has space' },
      }),
      400,
      'INVALID_ID',
      /Idempotency-Key header/,
    );

    const page = await a.delivery.history(threadId, 0, 100);
    expect(page.messages.map((m) => m.seq)).toEqual([1, 2]);
  });

  it('POST /v1/events keeps each thread’s input order and answers every event in input order', async () => {
    const first = unique('batch-one');
    const second = unique('batch-two');
    await a.registry.registerThread(first, 'zoe');
    await a.registry.registerThread(second, 'zoe');
    const runId = unique('batch-run');
    await a.registry.registerRun(runId, first);
    const one = await joined('zoe', first);

    const events: unknown[] = [];
    for (let i = 0; i < 40; i += 1) {
      // The thread's events go by its id and by its run's, interleaved with another thread's.
      events.push({
        target: i % 3 === 0 ? runId : first,
        type: 'assistant_message',
        payload: { i },
      });
      events.push({ target: second, type: 'assistant_message', payload: { i } });
    }
    events.splice(5, 0, { target: first, type: 'x', payload: {}, extra: 1 });
    events.splice(9, 0, { target: first, type: 'not a type!', payload: {} });
    events.splice(13, 0, { target: unique('nowhere'), type: 'x', payload: {} });
    events.splice(17, 0, 'not an object');
    events.splice(21, 0, { target: first, type: 'x' });
    const answer = await call<BatchAnswer>(a.url, 'POST', '/v1/events', { body: { events } });
    expect(answer.status).toBe(200);
    const { results } = answer.body;
    expect(results).toHaveLength(events.length);
    expect(results[5]).toEqual({
      ok: false,
      error: {
        code: 'BAD_REQUEST',
        message: expect.stringMatching(/^events\[5\]: Unrecognized key/) as unknown,
      },
    });
    expect(results[9]).toMatchObject({ ok: false, error: { code: 'INVALID_EVENT_TYPE' } });
    expect(results[13]).toMatchObject({ ok: false, error: { code: 'THREAD_NOT_FOUND' } });
    expect(results[17]).toMatchObject({
      ok: false,
      error: { code: 'BAD_REQUEST', message: 'events[17] must be a JSON object' },
    });
    expect(results[21]).toMatchObject({
      ok: false,
      error: {
        code: 'BAD_REQUEST',
        message: expect.stringMatching(/payload is required/) as unknown,
      },
    });

    // Every good event has its receipt at its own index, and a thread's seqs follow input order.
    const seqs = new Map<string, number[]>();
    events.forEach((event, index) => {
      const result = results[index];
      if (result === undefined || 'ok' in result) return;
      const { target, payload } = event as { target: string; payload: { i: number } };
      expect(result.threadId).toBe(target === runId ? first : target);
      expect(result.duplicate).toBe(false);
      const list = seqs.get(result.threadId) ?? [];
      list.push(result.seq);
      seqs.set(result.threadId, list);
      expect(payload.i).toBeGreaterThanOrEqual(0);
    });
    expect(seqs.get(first)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(seqs.get(second)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));

    await waitUntil(() => one.events.length === 40, 'the 40 events of the first thread');
    expect(one.events.map((e) => (e.payload as { i: number }).i)).toEqual(
      Array.from({ length: 40 }, (_, i) => i),
    );
    expect(one.events.filter((e) => e.runId === runId)).toHaveLength(14);
    const page: HistoryPage = await b.delivery.history(second, 0, 100);
    expect(page.messages.map((m) => (m.payload as { i: number }).i)).toEqual(
      Array.from({ length: 40 }, (_, i) => i),
    );
  });

  it('POST /v1/users/:userId/events answers 202 and reaches every connection of the user', async () => {
    const { socket } = await joined('quinn', unique('user-thread'));
    const received = new Promise<{ type: string; payload: unknown }>((resolve) =>
      socket.once('user:event', resolve),
    );
    const answer = await call<{ messageId: string }>(a.url, 'POST', '/v1/users/quinn/events', {
      body: { type: 'notification', payload: { text: 'hi' } },
    });
    expect(answer).toMatchObject({
      status: 202,
      body: { messageId: expect.any(String) as unknown },
    });
    expect(await received).toMatchObject({
      id: answer.body.messageId,
      type: 'notification',
      payload: { text: 'hi' },
    });
  });
});

describe('producer API: who may call it', () => {
  const threadId = 'auth-thread';

  const relay = useRelayApp({ producer, debug: { adminToken: TEST_ADMIN_TOKEN } });
  const closed = useRelayApp({ debug: { adminToken: TEST_ADMIN_TOKEN } });
  beforeAll(async () => {
    await relay.registry.registerThread(threadId, 'alice');
    await relay.registry.registerRun('auth-run', threadId);
  });

  const routes: Array<[string, string, unknown]> = [
    ['PUT', `/v1/threads/${threadId}`, { ownerId: 'alice' }],
    ['PUT', '/v1/runs/auth-run', { threadId }],
    ['POST', `/v1/threads/${threadId}/events`, { type: 'x', payload: {} }],
    ['POST', '/v1/events', { events: [{ target: threadId, type: 'x', payload: {} }] }],
    ['GET', `/v1/threads/${threadId}/delivery?seq=1`, undefined],
    ['POST', '/v1/users/alice/events', { type: 'x', payload: {} }],
  ];

  it('401 without a producer key, with a wrong one, the admin token or a user JWT', async () => {
    const userJwt = await relay.token('alice');
    for (const [method, path, body] of routes) {
      for (const key of [
        null,
        'wrong-key-0123456789',
        `${PRODUCER_KEY}x`,
        TEST_ADMIN_TOKEN,
        userJwt,
      ]) {
        expectError(await call(relay.url, method, path, { body, key }), 401, 'UNAUTHORIZED');
      }
      // The key without the Bearer scheme is not a credential either.
      expectError(
        await call(relay.url, method, path, {
          body,
          key: null,
          headers: { authorization: PRODUCER_KEY },
        }),
        401,
        'UNAUTHORIZED',
      );
      for (const key of [PRODUCER_KEY, OTHER_PRODUCER_KEY]) {
        const answer = await call(relay.url, method, path, { body, key });
        expect([200, 201, 202]).toContain(answer.status);
      }
    }
  });

  it('a producer key opens neither the user routes nor the debug routes', async () => {
    expect((await call(relay.url, 'GET', `/threads/${threadId}/messages`)).status).toBe(401);
    expect((await call(relay.url, 'GET', '/debug/websocket/threads')).status).toBe(401);
  });

  it('404 on every /v1 route when no producer key is configured', async () => {
    for (const [method, path, body] of routes) {
      for (const key of [PRODUCER_KEY, null, TEST_ADMIN_TOKEN]) {
        expectError(
          await call(closed.url, method, path, { body, key }),
          404,
          'NOT_FOUND',
          /disabled/,
        );
      }
    }
  });
});

describe('producer API: bad input', () => {
  const threadId = 'input-thread';
  const events = `/v1/threads/${threadId}/events`;

  const relay = useRelayApp({ producer });
  beforeAll(async () => {
    await relay.registry.registerThread(threadId, 'ivy');
  });

  it('refuses bad ids in the path with INVALID_ID, and run-form ids as threads with BAD_REQUEST', async () => {
    const long = 'a'.repeat(201);
    for (const [method, path, body] of [
      ['PUT', '/v1/threads/has%20space', { ownerId: 'ivy' }],
      ['PUT', `/v1/threads/${long}`, { ownerId: 'ivy' }],
      ['PUT', '/v1/threads/br%7Bace%7D', { ownerId: 'ivy' }],
      ['PUT', '/v1/runs/bad%21run', { threadId }],
      ['POST', '/v1/threads/bad%21id/events', { type: 'x', payload: {} }],
      ['GET', '/v1/threads/bad%21id/delivery?seq=1', undefined],
      ['POST', '/v1/users/bad%21user/events', { type: 'x', payload: {} }],
    ] as const) {
      expectError(await call(relay.url, method, path, { body }), 400, 'INVALID_ID');
    }
    expectError(
      await call(relay.url, 'PUT', '/v1/threads/t1', { body: { ownerId: 'bad owner' } }),
      400,
      'INVALID_ID',
      /ownerId/,
    );
    expectError(
      await call(relay.url, 'PUT', `/v1/threads/${threadId}_run_1756919162904_9adf1f09`, {
        body: { ownerId: 'ivy' },
      }),
      400,
      'BAD_REQUEST',
      /reserved for run ids/,
    );
    const batch = await call<BatchAnswer>(relay.url, 'POST', '/v1/events', {
      body: { events: [{ target: 'no space', type: 'x', payload: {} }] },
    });
    expect(batch.body.results[0]).toMatchObject({ ok: false, error: { code: 'INVALID_ID' } });
  });

  it('refuses bodies that are not JSON objects of the documented shape', async () => {
    const cases: Array<[string, string, unknown, RegExp]> = [
      ['PUT', '/v1/threads/t2', '{"ownerId": ', /not valid JSON/],
      ['POST', events, '[1,2]', /request body must be a JSON object/],
      ['POST', events, '"text"', /not valid JSON/],
      ['POST', events, undefined, /request body is empty or missing; type must be a string/],
      ['PUT', '/v1/threads/t2', { ownerId: 5 }, /^request body: ownerId must be a string$/],
      ['PUT', '/v1/threads/t2', { ownerId: 'ivy', owner: 'x' }, /Unrecognized key/],
      [
        'PUT',
        '/v1/threads/t2',
        { ownerId: 'ivy', metadata: { a: { b: 1 } } },
        /metadata values must be strings .* \(at metadata\.a\)/,
      ],
      ['PUT', '/v1/threads/t2', { ownerId: 'ivy', metadata: [1] }, /metadata/],
      [
        'PUT',
        '/v1/threads/t2',
        {
          ownerId: 'ivy',
          metadata: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i])),
        },
        /at most 32 keys/,
      ],
      ['PUT', '/v1/runs/r1', { threadId: 7 }, /threadId must be a string/],
      ['POST', events, { type: 5, payload: {} }, /type must be a string/],
      ['POST', events, { type: 'x' }, /payload is required/],
      [
        'POST',
        events,
        { type: 'x', payload: {}, idempotencyKey: 3 },
        /idempotencyKey must be a string/,
      ],
      ['POST', events, { type: 'x', payload: {}, threadId }, /Unrecognized key/],
      ['POST', '/v1/events', { events: 'all' }, /events must be an array/],
      ['POST', '/v1/events', { events: [], more: true }, /Unrecognized key/],
      [
        'POST',
        '/v1/users/ivy/events',
        { type: 'x', payload: {}, idempotencyKey: 'k' },
        /Unrecognized key/,
      ],
    ];
    for (const [method, path, body, message] of cases) {
      expectError(await call(relay.url, method, path, { body }), 400, 'BAD_REQUEST', message);
    }
    expectError(
      await call(relay.url, 'POST', events, { body: { type: 'has space', payload: {} } }),
      400,
      'INVALID_EVENT_TYPE',
    );
    // Bodies are JSON whatever their Content-Type says (curl -d says form-urlencoded).
    const asForm = await call<Receipt>(relay.url, 'POST', events, {
      body: JSON.stringify({ type: 'x', payload: { form: true } }),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(asForm).toMatchObject({ status: 201, body: { threadId } });
  });

  it('refuses more than 500 events in a batch, and accepts 500 well past express’s 100 kB default', async () => {
    const event = { target: threadId, type: 'tick', payload: { pad: 'p'.repeat(1000) } };
    expectError(
      await call(relay.url, 'POST', '/v1/events', { body: { events: Array(501).fill(event) } }),
      400,
      'BAD_REQUEST',
      /at most 500 events/,
    );
    const full = await call<BatchAnswer>(relay.url, 'POST', '/v1/events', {
      body: { events: Array(500).fill(event) },
    });
    expect(full.status).toBe(200);
    expect(full.body.results.every((r) => !('ok' in r))).toBe(true);
    expect((full.body.results.at(-1) as Receipt).seq - (full.body.results[0] as Receipt).seq).toBe(
      499,
    );
    const empty = await call<BatchAnswer>(relay.url, 'POST', '/v1/events', {
      body: { events: [] },
    });
    expect(empty).toMatchObject({ status: 200, body: { results: [] } });
  });

  it('refuses bad delivery queries: seq missing or not positive, waitMs above 30000', async () => {
    const path = `/v1/threads/${threadId}/delivery`;
    for (const [query, message] of [
      ['', /seq is required/],
      ['?seq=0', /seq must be a positive integer/],
      ['?seq=abc', /seq must be a positive integer/],
      ['?seq=1&seq=2', /seq/],
      ['?seq=1&waitMs=30001', /waitMs must be at most 30000/],
      ['?seq=1&waitMs=-1', /waitMs must be a non-negative integer/],
      ['?seq=1&wait=5', /Unrecognized key/],
    ] as const) {
      expectError(await call(relay.url, 'GET', `${path}${query}`), 400, 'BAD_REQUEST', message);
    }
  });

  it('413 for an event above delivery.maxEventBytes and for a body above producer.maxBodyBytes', async () => {
    expectError(
      await call(relay.url, 'POST', events, { body: { type: 'x', payload: 'x'.repeat(70_000) } }),
      413,
      'PAYLOAD_TOO_LARGE',
      /delivery\.maxEventBytes/,
    );
    const batch = await call<BatchAnswer>(relay.url, 'POST', '/v1/events', {
      body: { events: [{ target: threadId, type: 'x', payload: 'x'.repeat(70_000) }] },
    });
    expect(batch.body.results[0]).toMatchObject({
      ok: false,
      error: { code: 'PAYLOAD_TOO_LARGE' },
    });
    // The default body limit is 4 MiB.
    expectError(
      await call(relay.url, 'POST', '/v1/events', {
        body: { events: [{ target: threadId, type: 'x', payload: 'x'.repeat(4 * 1024 * 1024) }] },
      }),
      413,
      'PAYLOAD_TOO_LARGE',
      /4194304-byte limit/,
    );

    const small = await startRelayApp({
      producer: { ...producer, maxBodyBytes: 4096 },
      delivery: { maxEventBytes: 1024 },
    });
    try {
      await small.registry.registerThread(threadId, 'ivy');
      expectError(
        await call(small.url, 'POST', '/v1/events', {
          body: {
            events: Array(10).fill({ target: threadId, type: 'x', payload: 'y'.repeat(500) }),
          },
        }),
        413,
        'PAYLOAD_TOO_LARGE',
        /4096-byte limit/,
      );
    } finally {
      await small.close();
    }
  });
});

describe('producer API: limits.producerRequests', () => {
  const relay = useRelayApp({
    producer,
    limits: { producerRequests: { perSecond: 1, burst: 3 } },
  });
  beforeAll(async () => {
    await relay.registry.registerThread('limited-thread', 'lena');
  });

  it('answers 429 with Retry-After per key, and a batch pays one token per event', async () => {
    const send = (key: string) =>
      call(relay.url, 'POST', '/v1/threads/limited-thread/events', {
        body: { type: 'x', payload: {} },
        key,
      });
    const batch = await call(relay.url, 'POST', '/v1/events', {
      key: OTHER_PRODUCER_KEY,
      body: { events: Array(3).fill({ target: 'limited-thread', type: 'x', payload: {} }) },
    });
    expect(batch.status).toBe(200);
    const refusedBatch = await send(OTHER_PRODUCER_KEY);
    expectError(refusedBatch, 429, 'RATE_LIMITED', /limits\.producerRequests/);
    expect(Number(refusedBatch.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    // The other key has its own bucket: three of four requests at once fit its burst.
    const answers = await Promise.all(Array.from({ length: 4 }, () => send(PRODUCER_KEY)));
    expect(answers.map((answer) => answer.status).sort()).toEqual([201, 201, 201, 429]);
    const refused = answers.find((answer) => answer.status === 429) as HttpAnswer;
    expectError(refused, 429, 'RATE_LIMITED');
    expect(refused.headers.get('retry-after')).toBe('1');
    // Nothing was stored for the refused requests.
    expect((await relay.delivery.history('limited-thread', 0, 100)).headSeq).toBe(6);
  });
});

describe('producer API: Redis unreachable', () => {
  let proxy: TcpProxy;
  let redisPort: number;

  beforeAll(async () => {
    redisPort = Number(new URL(testRedisUrl()).port || 6379);
    proxy = await TcpProxy.start(redisPort);
  });
  afterAll(() => {
    proxy.targetPort = redisPort;
  });
  const relay = useRelayApp(() => ({
    producer,
    redis: `redis://127.0.0.1:${proxy.port}`,
    keyPrefix: uniquePrefix('producer-503'),
    delivery: { unavailableTimeoutMs: 300 },
  }));
  afterAll(async () => {
    await proxy.close();
  });

  it('answers 503 with Retry-After, and a retry with the same key stores the event once', async () => {
    const threadId = unique('outage-thread');
    const path = `/v1/threads/${threadId}/events`;
    expect(
      (await call(relay.url, 'PUT', `/v1/threads/${threadId}`, { body: { ownerId: 'otto' } }))
        .status,
    ).toBe(200);
    expect(
      (await call(relay.url, 'POST', path, { body: { type: 'before', payload: {} } })).status,
    ).toBe(201);

    // The network path to Redis breaks: open connections are cut, new ones refused.
    proxy.targetPort = await freePort();
    proxy.cutAll();
    const event = { type: 'during', payload: { n: 1 }, idempotencyKey: 'outage-1' };
    const refused = await call(relay.url, 'POST', path, { body: event });
    expectError(refused, 503, 'RELAY_UNAVAILABLE');
    expect(refused.headers.get('retry-after')).toBe('1');
    const put = await call(relay.url, 'PUT', `/v1/threads/${unique('late')}`, {
      body: { ownerId: 'otto' },
    });
    expectError(put, 503, 'RELAY_UNAVAILABLE');
    expect(put.headers.get('retry-after')).toBe('1');
    expectError(
      await call(relay.url, 'GET', `/v1/threads/${threadId}/delivery?seq=1&waitMs=100`),
      503,
      'RELAY_UNAVAILABLE',
    );
    const batch = await call<BatchAnswer>(relay.url, 'POST', '/v1/events', {
      body: {
        events: [
          { target: threadId, ...event },
          { target: threadId, type: 'during', payload: { n: 2 } },
        ],
      },
    });
    expect(batch.status).toBe(200);
    expect(batch.body.results).toEqual([
      { ok: false, error: { code: 'RELAY_UNAVAILABLE', message: expect.any(String) as unknown } },
      {
        ok: false,
        error: {
          code: 'RELAY_UNAVAILABLE',
          message: expect.stringMatching(/^not sent/) as unknown,
        },
      },
    ]);

    // Redis is reachable again: the producer's retry with the same key lands exactly once.
    proxy.targetPort = redisPort;
    let retried: HttpAnswer<Receipt> | undefined;
    await waitUntil(async () => {
      retried = await call<Receipt>(relay.url, 'POST', path, { body: event });
      return retried.status !== 503;
    }, 'a send to succeed once Redis is back');
    expect([200, 201]).toContain(retried?.status);
    const page = await relay.delivery.history(threadId, 0, 100);
    expect(page.messages.map((m) => m.type)).toEqual(['before', 'during']);
  });
});

describe('producer API under the host app’s global prefix', () => {
  it('reads large producer bodies and answers body errors in the module’s shape', async () => {
    const { app, url } = await startRelayApp(
      { producer },
      { configure: (host) => host.setGlobalPrefix('api') },
    );
    try {
      await app.get(ThreadRegistryService).registerThread('prefixed-thread', 'pia');
      const events = Array(300).fill({
        target: 'prefixed-thread',
        type: 'tick',
        payload: { pad: 'p'.repeat(1000) },
      }) as unknown[];
      const answer = await call<BatchAnswer>(url, 'POST', '/api/v1/events', { body: { events } });
      expect(answer.status).toBe(200);
      expect(answer.body.results).toHaveLength(300);
      expectError(
        await call(url, 'POST', '/api/v1/events', { body: '{"events": [' }),
        400,
        'BAD_REQUEST',
        /not valid JSON/,
      );
      expect((await call(url, 'POST', '/v1/events', { body: { events: [] } })).status).toBe(404);
    } finally {
      await app.close();
    }
  });
});

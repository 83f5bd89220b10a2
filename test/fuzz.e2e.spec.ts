/**
 * Seeded fuzz over every client socket event and every HTTP route (history, debug, health,
 * metrics, Server-Sent Events and stream tickets, the producer API), in memory and Redis
 * mode. The server must stay up, answer every acked event exactly once in the documented
 * `Ack` shape (never INTERNAL), never close a connection for malformed input, and answer
 * every HTTP request in the documented shape with a matching 4xx (never a 5xx, an HTML
 * page or Nest's `{ statusCode, message }`); a stream that opens starts with documented
 * frames. Afterwards a fresh user still gets a normal round trip, a bystander connection
 * was unaffected and the module logged no error.
 *
 * Reproduce with `FUZZ_SEED=<seed> npm test -- test/fuzz.e2e` (the seed is in the test
 * names); `FUZZ_SEED=random` draws a new one.
 */
import type { Socket } from 'socket.io-client';
import {
  HTTP_OUTCOMES,
  PRODUCER_OUTCOMES,
  SOCKET_OUTCOMES,
  SSE_OUTCOMES,
} from './support/fuzz/expected-outcomes.js';
import { CollectingLogger, Findings, printOutcomesIfVerbose } from './support/fuzz/findings.js';
import { buildFixture, type Fixture } from './support/fuzz/fixture.js';
import { fuzzSeed, Rng } from './support/fuzz/fuzz-input.js';
import { HTTP_CASES, runHttpFuzz } from './support/fuzz/http-fuzz.js';
import type { Json } from './support/fuzz/json.js';
import { PRODUCER_MAX_BODY_BYTES } from './support/fuzz/producer-bodies.js';
import { PRODUCER_CASES, runProducerFuzz } from './support/fuzz/producer-fuzz.js';
import { RAW_PACKET_CASES, runRawPackets } from './support/fuzz/raw-packet-fuzz.js';
import { runSocketFuzz, SOCKET_CASES } from './support/fuzz/socket-fuzz.js';
import { runSseFuzz, SSE_CASES } from './support/fuzz/sse-fuzz.js';
import { PRODUCER_KEY } from './support/producer-http.js';
import { testRedisUrl, uniquePrefix } from './support/redis.js';
import { connectSocket, TEST_ADMIN_TOKEN, type TestRelayOptions } from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';

const SEED = fuzzSeed(0x7e1a7);

const LIMITS = {
  clientEvents: { perSecond: 100_000, burst: 100_000 },
  userMessages: { perMinute: 100_000, burst: 100_000 },
  joinedThreadsPerConnection: 100_000,
  concurrentJoinsPerConnection: 10_000,
  autoRegisteredThreadsPerUser: 100_000,
  connectionsPerUser: 1000,
  connectionAttempts: { perMinute: 100_000, burst: 100_000 },
  httpRequests: { perSecond: 100_000, burst: 100_000 },
  producerRequests: { perSecond: 1_000_000, burst: 1_000_000 },
  readBytes: { perSecond: 1_000_000_000, burst: 1_000_000_000 },
};

describe.each<[string, () => TestRelayOptions]>([
  ['memory', () => ({})],
  ['redis', () => ({ redis: testRedisUrl(), keyPrefix: uniquePrefix('fuzz') })],
])(`fuzz (%s backend, FUZZ_SEED=${SEED})`, (mode, config) => {
  const logger = new CollectingLogger();
  const rng = new Rng(SEED).fork(mode);
  let fx: Fixture;
  let bystander: Socket;
  const bystanderEvents: unknown[] = [];
  const bystanderThread = `fz-${mode}-bystander-t`;

  afterAll(() => {
    bystander?.close();
  });
  const relay = useRelayApp(() => ({
    ...config(),
    limits: LIMITS,
    // The handlers are under test, not the frame limit (an oversized frame closes its
    // connection by design): texts up to 200 KB must reach them.
    gateway: { maxPayloadBytes: 1_000_000 },
    // Small logs: joins replay whole logs, and the fuzz writes many messages.
    history: { maxPerThread: 50 },
    debug: { adminToken: TEST_ADMIN_TOKEN },
    producer: { apiKeys: [PRODUCER_KEY], maxBodyBytes: PRODUCER_MAX_BODY_BYTES },
    // A stream on a quiet thread shows a second frame (a keep-alive) soon after it opens.
    sse: { heartbeatMs: 100 },
    logger,
  }));
  beforeAll(async () => {
    fx = await buildFixture(relay, mode);
    await relay.registry.registerThread(bystanderThread, 'fz-bystander');
    bystander = await connectSocket(relay.url, await relay.token('fz-bystander'));
    bystander.on('thread:event', (event: unknown) => bystanderEvents.push(event));
    const joined = (await bystander
      .timeout(5000)
      .emitWithAck('thread:join', { threadId: bystanderThread })) as Json;
    expect(joined).toMatchObject({ ok: true, threadId: bystanderThread });
  }, 30_000);

  it(`answers ${SOCKET_CASES} socket events exactly once in the Ack shape, never INTERNAL, without closing connections`, async () => {
    const findings = new Findings();
    const sent = await runSocketFuzz(fx, rng.fork('socket'), findings);
    printOutcomesIfVerbose(`socket outcomes (${mode})`, findings);
    expect(sent).toBeGreaterThanOrEqual(SOCKET_CASES);
    expect(findings.report()).toEqual([]);
    expect(findings.unreached(SOCKET_OUTCOMES)).toEqual([]);
  }, 60_000);

  it(`survives malformed socket.io packets, closing at most their own connection (${RAW_PACKET_CASES}+ cases)`, async () => {
    const findings = new Findings();
    const sent = await runRawPackets(fx, rng.fork('raw'), findings);
    expect(sent).toBeGreaterThan(RAW_PACKET_CASES);
    expect(bystander.connected).toBe(true);
    expect(findings.report()).toEqual([]);
  }, 60_000);

  it(`answers ${HTTP_CASES} HTTP requests in the documented shape with matching 4xx statuses`, async () => {
    const findings = new Findings();
    const sent = await runHttpFuzz(fx, rng.fork('http'), findings);
    printOutcomesIfVerbose(`HTTP outcomes (${mode})`, findings);
    expect(sent).toBeGreaterThan(HTTP_CASES * 0.95);
    expect(findings.report()).toEqual([]);
    expect(findings.unreached(HTTP_OUTCOMES)).toEqual([]);
  }, 60_000);

  it(`answers ${SSE_CASES} stream and stream-ticket requests in the documented shape, streams with documented frames`, async () => {
    const findings = new Findings();
    const sent = await runSseFuzz(fx, rng.fork('sse'), findings);
    printOutcomesIfVerbose(`SSE outcomes (${mode})`, findings);
    expect(sent).toBeGreaterThan(SSE_CASES * 0.95);
    expect(findings.report()).toEqual([]);
    expect(findings.unreached(SSE_OUTCOMES)).toEqual([]);
  }, 60_000);

  it(`answers ${PRODUCER_CASES} producer API requests in the documented shape with matching statuses`, async () => {
    const findings = new Findings();
    const sent = await runProducerFuzz(fx, rng.fork('producer'), findings);
    printOutcomesIfVerbose(`producer outcomes (${mode})`, findings);
    expect(sent).toBeGreaterThan(PRODUCER_CASES * 0.95);
    expect(findings.report()).toEqual([]);
    expect(findings.unreached(PRODUCER_OUTCOMES)).toEqual([]);
  }, 60_000);

  it('still serves a fresh user, the bystander and /health, and logged no error', async () => {
    const health = await fetch(`${relay.url}/health`);
    expect(health.status).toBe(200);

    const fresh = await connectSocket(relay.url, await relay.token(`fz-${mode}-fresh`));
    try {
      const events: Json[] = [];
      fresh.on('thread:event', (event: Json) => events.push(event));
      const threadId = `fz-${mode}-fresh-thread`;
      const joined = (await fresh.timeout(5000).emitWithAck('thread:join', { threadId })) as Json;
      expect(joined).toEqual({
        ok: true,
        threadId,
        epoch: expect.any(String) as unknown,
        headSeq: 0,
        replayed: 0,
      });
      const sent = (await fresh.timeout(5000).emitWithAck('user:message', {
        threadId,
        text: 'after the fuzz',
        clientMessageId: 'fresh-1',
      })) as Json;
      expect(sent).toMatchObject({ ok: true, seq: 1, duplicate: false });
      await relay.delivery.sendToThread(threadId, 'fz.after', { n: 1 });
      await waitUntil(() => events.length >= 2, 'the user message and the event');
      expect(events.map((e) => [e.seq, e.type])).toEqual([
        [1, 'user_message'],
        [2, 'fz.after'],
      ]);
    } finally {
      fresh.close();
    }

    expect(bystander.connected).toBe(true);
    const before = bystanderEvents.length;
    await relay.delivery.sendToThread(bystanderThread, 'fz.bystander', {});
    await waitUntil(() => bystanderEvents.length > before, 'the bystander event');

    expect(logger.errors).toEqual([]);
  }, 30_000);
});

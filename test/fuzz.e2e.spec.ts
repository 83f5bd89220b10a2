/**
 * Seeded fuzz over every client socket event and every HTTP route, in memory and Redis
 * mode. The server must stay up, answer every acked event exactly once in the documented
 * `Ack` shape (never INTERNAL), never close a connection for malformed input, and answer
 * every HTTP request in the documented shape with a matching 4xx (never a 5xx, an HTML
 * page or Nest's `{ statusCode, message }`). Afterwards a fresh user still gets a normal
 * round trip, a bystander connection was unaffected and the module logged no error.
 *
 * Reproduce with `FUZZ_SEED=<seed> npm test -- test/fuzz.e2e` (the seed is in the test
 * names); `FUZZ_SEED=random` draws a new one.
 */
import http from 'node:http';
import { gzipSync } from 'node:zlib';
import type { LoggerService } from '@nestjs/common';
import type { Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { signUserToken } from '../src/index.js';
import {
  bareObject,
  bigString,
  deepNesting,
  describeValue,
  fuzzSeed,
  idChars,
  percentEncode,
  randomJson,
  randomNumber,
  randomString,
  RawJson,
  Rng,
  toJsonText,
} from './support/fuzz-input.js';
import { testRedisUrl, uniquePrefix } from './support/redis.js';
import {
  connectSocket,
  startRelayApp,
  TEST_ADMIN_TOKEN,
  TEST_JWT_SECRET,
  waitUntil,
  type RelayApp,
  type TestRelayOptions,
} from './support/relay-app.js';

const SEED = fuzzSeed(0x7e1a7);
const SOCKET_CASES = 2000;
const RAW_PACKET_CASES = 160; // plus the fixed table below
const HTTP_CASES = 1500;
/** Socket cases in flight per connection. */
const SOCKET_BATCH = 16;
const HTTP_CONCURRENCY = 24;
const ACK_TIMEOUT_MS = 10_000;

/** Every code the protocol documents for a refusal; INTERNAL is reported separately. */
const ERROR_CODES = new Set([
  'BAD_REQUEST',
  'INVALID_ID',
  'INVALID_EVENT_TYPE',
  'PAYLOAD_NOT_JSON',
  'PAYLOAD_TOO_LARGE',
  'UNAUTHORIZED',
  'TOKEN_EXPIRED',
  'FORBIDDEN',
  'THREAD_NOT_FOUND',
  'THREAD_OWNERSHIP_CONFLICT',
  'RUN_CONFLICT',
  'RATE_LIMITED',
  'LIMIT_EXCEEDED',
  'RELAY_UNAVAILABLE',
]);
/** The HTTP status each code is answered with (BAD_REQUEST is also 415 for bad charsets). */
const STATUS_BY_CODE: Record<string, number[]> = {
  BAD_REQUEST: [400, 415],
  INVALID_ID: [400],
  INVALID_EVENT_TYPE: [400],
  PAYLOAD_NOT_JSON: [400],
  PAYLOAD_TOO_LARGE: [413],
  UNAUTHORIZED: [401],
  TOKEN_EXPIRED: [401],
  FORBIDDEN: [403],
  THREAD_NOT_FOUND: [404],
  THREAD_OWNERSHIP_CONFLICT: [409],
  RUN_CONFLICT: [409],
  RATE_LIMITED: [429],
  LIMIT_EXCEEDED: [429],
  RELAY_UNAVAILABLE: [503],
};
const RESET_REASONS = new Set(['epoch_mismatch', 'trimmed', 'ahead_of_log']);
const KNOWN_EVENTS = ['thread:join', 'thread:leave', 'thread:ack', 'user:message', 'auth:refresh'];
/** What socket.io-parser refuses as an event name (it closes the connection for them). */
const RESERVED_EVENTS = new Set([
  'connect',
  'connect_error',
  'disconnect',
  'disconnecting',
  'newListener',
  'removeListener',
]);
const RUN_FORM = /^(.+)_run_(\d{10,16})_([0-9a-fA-F]{4,64})$/;
const VALID_ID = /^[A-Za-z0-9_.:@-]{1,200}$/;
const RUN_SUFFIX = '_run_1756919162904_9adf1f09';

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
function isNonNegativeInt(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------
// Findings: grouped by a signature, a few examples each, so a systematic bug is one line.
// ---------------------------------------------------------------------------------------

class Findings {
  private readonly groups = new Map<string, { count: number; examples: string[] }>();
  /** How often each outcome (`event -> code`, `route -> status code`) was seen. */
  readonly outcomes = new Map<string, number>();

  saw(outcome: string): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
  }

  /** The expected outcomes the fuzz never reached: it did not get past validation there. */
  unreached(expected: string[]): string[] {
    return expected.filter((outcome) => !this.outcomes.has(outcome));
  }

  /** The outcome counts, for `FUZZ_VERBOSE=1`. */
  summary(): string {
    return [...this.outcomes]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([outcome, count]) => `${outcome}: ${count}`)
      .join('\n');
  }

  add(signature: string, example: string): void {
    const group = this.groups.get(signature) ?? { count: 0, examples: [] };
    group.count += 1;
    if (group.examples.length < 3) group.examples.push(example);
    this.groups.set(signature, group);
  }

  /** One entry per signature; `[]` when the fuzz found nothing. */
  report(): string[] {
    return [...this.groups].map(
      ([signature, { count, examples }]) =>
        `${signature} (x${count})\n    ${examples.join('\n    ')}`,
    );
  }
}

/** The module's own log lines; `error(...)` calls are what the fuzz must not cause. */
class CollectingLogger implements LoggerService {
  readonly errors: string[] = [];
  log(): void {}
  warn(): void {}
  debug(): void {}
  verbose(): void {}
  fatal(message: unknown, ...rest: unknown[]): void {
    this.error(message, ...rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.errors.push(describeValue([message, ...rest], 1000));
  }
}

// ---------------------------------------------------------------------------------------
// A packet-level socket.io client: engine.io v4 + socket.io v5 text packets over `ws`,
// able to send anything (bad JSON, reserved names, binary placeholders, raw frames).
// ---------------------------------------------------------------------------------------

function wsText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
}

interface WireNotice {
  event: unknown;
  error: unknown;
  raw: string;
}

class WireClient {
  /** Every ack packet received, by id (an id answered twice shows up as two entries). */
  readonly acks = new Map<number, unknown[]>();
  readonly notices: WireNotice[] = [];
  readonly eventCounts = new Map<string, number>();
  /** Parse failures of what the server sent: it should only send well-formed packets. */
  readonly garbage: string[] = [];
  closedByServer = false;
  closed = false;
  onThreadEvent: ((event: Json) => void) | null = null;
  private nextId = 1;
  private readonly waiters = new Map<number, () => void>();
  private readonly closeWaiters = new Set<() => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      this.onEngineIo(wsText(data));
    });
    ws.on('close', () => {
      if (!this.closed) this.closedByServer = true;
      this.closed = true;
      for (const waiter of [...this.closeWaiters]) waiter();
      for (const waiter of [...this.waiters.values()]) waiter();
    });
    ws.on('error', () => undefined);
  }

  static async connect(baseUrl: string, token: string): Promise<WireClient> {
    const url = new URL('/socket.io/', baseUrl);
    url.protocol = 'ws:';
    url.searchParams.set('EIO', '4');
    url.searchParams.set('transport', 'websocket');
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const client = new WireClient(ws);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no socket.io CONNECT within 5 s')), 5000);
      ws.on('message', (data) => {
        const text = wsText(data);
        if (text.startsWith('0')) ws.send(`40${JSON.stringify({ token })}`);
        else if (text.startsWith('40')) {
          clearTimeout(timer);
          resolve();
        } else if (text.startsWith('44')) {
          clearTimeout(timer);
          reject(new Error(`connect_error ${text}`));
        }
      });
      ws.once('close', () => {
        clearTimeout(timer);
        reject(new Error('closed during the handshake'));
      });
    });
    return client;
  }

  /** A fresh ack id: never reused, so a late duplicate answer is caught. */
  takeId(): number {
    return this.nextId++;
  }

  /** Sends an engine.io message packet (`4` + socket.io packet). */
  send(socketIoPacket: string): void {
    this.sendEngineIo(`4${socketIoPacket}`);
  }

  sendEngineIo(packet: string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(packet);
  }

  sendBinary(data: Buffer): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data, { binary: true });
  }

  /** `42<id>[...args]`, the event with an ack id; resolves with the first ack argument. */
  emitWithAck(
    args: unknown[],
  ): Promise<{ answer: unknown } | { closed: true } | { timeout: true }> {
    const id = this.takeId();
    this.send(`2${id}${toJsonText(args)}`);
    return this.waitAck(id);
  }

  waitAck(
    id: number,
    timeoutMs = ACK_TIMEOUT_MS,
  ): Promise<{ answer: unknown } | { closed: true } | { timeout: true }> {
    return new Promise((resolve) => {
      const check = () => {
        const answers = this.acks.get(id);
        if (answers && answers.length > 0) {
          done();
          resolve({ answer: answers[0] });
        } else if (this.closed) {
          done();
          resolve({ closed: true });
        }
      };
      const timer = setTimeout(() => {
        done();
        resolve({ timeout: true });
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(id);
      };
      this.waiters.set(id, check);
      check();
    });
  }

  /** Resolves true once closed, false after `timeoutMs`. */
  waitClosed(timeoutMs: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.closeWaiters.delete(onClose);
        resolve(false);
      }, timeoutMs);
      const onClose = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.closeWaiters.add(onClose);
    });
  }

  close(): void {
    this.closed = true;
    this.ws.terminate();
  }

  private onEngineIo(packet: string): void {
    const type = packet.charAt(0);
    if (type === '2') this.sendEngineIo(`3${packet.slice(1)}`);
    if (type !== '4') return;
    const body = packet.slice(1);
    const kind = body.charAt(0);
    let index = 1;
    let digits = '';
    while (index < body.length && /\d/.test(body.charAt(index))) digits += body.charAt(index++);
    let data: unknown;
    try {
      data = index < body.length ? JSON.parse(body.slice(index)) : undefined;
    } catch {
      this.garbage.push(body.slice(0, 200));
      return;
    }
    if (kind === '3' && digits !== '') {
      const id = Number(digits);
      const list = this.acks.get(id) ?? [];
      list.push(Array.isArray(data) ? data[0] : data);
      this.acks.set(id, list);
      this.waiters.get(id)?.();
    } else if (kind === '2' && Array.isArray(data)) {
      const name = String(data[0]);
      this.eventCounts.set(name, (this.eventCounts.get(name) ?? 0) + 1);
      const first: unknown = data[1];
      if (name === 'relay:error') {
        const notice = isRecord(first) ? first : {};
        this.notices.push({ event: notice.event, error: notice.error, raw: body.slice(0, 300) });
      } else if (name === 'thread:event' && isRecord(first)) {
        this.onThreadEvent?.(first);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// Shape oracles.
// ---------------------------------------------------------------------------------------

/** Problems with an `{ ok: false, error }` body; empty when it is well formed. */
function errorBodyProblems(body: Json): string[] {
  const error = body.error;
  if (!isRecord(error)) return ['error is not an object'];
  const problems: string[] = [];
  if (typeof error.code !== 'string' || !ERROR_CODES.has(error.code)) {
    problems.push(`undocumented code ${describeValue(error.code)}`);
  }
  if (typeof error.message !== 'string' || error.message.length === 0) {
    problems.push('message is not a non-empty string');
  }
  if (error.code === 'RATE_LIMITED' && typeof error.retryAfterMs !== 'number') {
    problems.push('RATE_LIMITED without a numeric retryAfterMs');
  }
  return problems;
}

function threadEventProblems(event: unknown): string[] {
  if (!isRecord(event)) return ['message is not an object'];
  const problems: string[] = [];
  for (const field of ['id', 'threadId', 'epoch', 'type'] as const) {
    if (typeof event[field] !== 'string') problems.push(`message.${field} is not a string`);
  }
  if (!isNonNegativeInt(event.seq)) problems.push('message.seq is not a non-negative integer');
  if (typeof event.ts !== 'number') problems.push('message.ts is not a number');
  if (!('payload' in event)) problems.push('message without payload');
  if (event.runId !== undefined && typeof event.runId !== 'string') {
    problems.push('message.runId is not a string');
  }
  return problems;
}

/** Problems with an `ok: true` ack of `event`. */
function okAckProblems(event: string, answer: Json, threadId: unknown): string[] {
  const problems: string[] = [];
  switch (event) {
    case 'thread:join':
      if (typeof answer.threadId !== 'string') problems.push('threadId is not a string');
      else if (answer.threadId !== threadId) problems.push('threadId is not the one joined');
      if (typeof answer.epoch !== 'string') problems.push('epoch is not a string');
      if (!isNonNegativeInt(answer.headSeq)) problems.push('headSeq is not a non-negative int');
      if (!isNonNegativeInt(answer.replayed)) problems.push('replayed is not a non-negative int');
      if (answer.reset !== undefined && !RESET_REASONS.has(answer.reset as string)) {
        problems.push(`undocumented reset ${describeValue(answer.reset)}`);
      }
      break;
    case 'thread:ack':
      if (!isNonNegativeInt(answer.cursor) && answer.ignored !== 'stale_epoch') {
        problems.push('neither a cursor nor ignored: stale_epoch');
      }
      break;
    case 'user:message':
      if (!isNonNegativeInt(answer.seq) || answer.seq === 0) problems.push('seq is not >= 1');
      if (typeof answer.epoch !== 'string') problems.push('epoch is not a string');
      if (typeof answer.messageId !== 'string') problems.push('messageId is not a string');
      if (typeof answer.duplicate !== 'boolean') problems.push('duplicate is not a boolean');
      break;
    case 'auth:refresh':
      if (answer.expiresAt !== null && typeof answer.expiresAt !== 'number') {
        problems.push('expiresAt is neither a number nor null');
      }
      break;
    case 'thread:leave':
      break;
    default:
      problems.push('an unknown event was answered ok');
  }
  return problems;
}

// ---------------------------------------------------------------------------------------
// The fixture every mode shares: users, their threads, tokens, and what the fuzz learns.
// ---------------------------------------------------------------------------------------

interface Fixture {
  relay: RelayApp;
  users: string[];
  /** userId -> threads the application registered to it */
  threadsOf: Map<string, string[]>;
  /** threadId -> owner, for registered threads and the ones the fuzz auto-registered */
  ownerOf: Map<string, string>;
  /** userId -> a run id registered (by the application) to one of its threads */
  runOf: Map<string, string>;
  tokens: Map<string, string>;
  /** Tokens that authenticate nobody (user routes) or somebody else (admin routes). */
  badTokens: string[];
  /** threadId -> the epoch and head the fuzz last saw */
  logs: Map<string, { epoch: string; head: number }>;
}

async function buildFixture(relay: RelayApp, label: string): Promise<Fixture> {
  const users = ['a', 'b', 'c'].map((name) => `fz-${label}-${name}`);
  const threadsOf = new Map<string, string[]>();
  const ownerOf = new Map<string, string>();
  const runOf = new Map<string, string>();
  const tokens = new Map<string, string>();
  for (const user of users) {
    const threads = [0, 1, 2].map((i) => `${user}-t${i}`);
    for (const threadId of threads) {
      await relay.registry.registerThread(threadId, user);
      ownerOf.set(threadId, user);
    }
    // A 200-character thread id: the longest valid one.
    const longest = `${user}-long-`.padEnd(200, 'L');
    await relay.registry.registerThread(longest, user);
    ownerOf.set(longest, user);
    threads.push(longest);
    threadsOf.set(user, threads);
    const run = `${user}-run-1`;
    await relay.registry.registerRun(run, threads[0] as string);
    runOf.set(user, run);
    tokens.set(user, await relay.token(user));
  }
  const badTokens = [
    'garbage',
    'Bearer',
    TEST_ADMIN_TOKEN,
    await signUserToken(users[0] as string, TEST_JWT_SECRET, { expiresIn: -120 }),
    await signUserToken(users[0] as string, 'another-secret-that-is-at-least-32-bytes!!'),
    await signUserToken('not a valid id!', TEST_JWT_SECRET),
    `${(tokens.get(users[0] as string) as string).slice(0, -3)}AAA`,
    'x'.repeat(9000),
  ];
  return { relay, users, threadsOf, ownerOf, runOf, tokens, badTokens, logs: new Map() };
}

type IdKind =
  | 'own'
  | 'other'
  | 'fresh'
  | 'run-form'
  | 'own-run-form'
  | 'registered-run'
  | 'other-run'
  | 'len201'
  | 'bad-chars'
  | 'dots'
  | 'random'
  | 'not-string';

/** A thread id as `userId` might name one: its own, another's, a run, or no valid id at all. */
function pickThreadId(rng: Rng, fx: Fixture, userId: string, allowNonString: boolean) {
  const own = fx.threadsOf.get(userId) ?? [];
  const others = fx.users.filter((u) => u !== userId).flatMap((u) => fx.threadsOf.get(u) ?? []);
  const kind = rng.weighted<IdKind>([
    [34, 'own'],
    [14, 'other'],
    [10, 'fresh'],
    [4, 'run-form'],
    [4, 'own-run-form'],
    [3, 'registered-run'],
    [2, 'other-run'],
    [4, 'len201'],
    [7, 'bad-chars'],
    [3, 'dots'],
    [8, 'random'],
    [allowNonString ? 7 : 0, 'not-string'],
  ]);
  let id: unknown;
  switch (kind) {
    case 'own':
      id = rng.pick(own);
      break;
    case 'other':
      id = rng.pick(others);
      break;
    case 'fresh':
      id = `fz-new-${idChars(rng, rng.chance(0.1) ? 192 : rng.range(1, 12))}`.slice(0, 200);
      break;
    case 'run-form':
      id = rng.pick(['t1_run_1756919162904_9adf1f09', `x_run_${Date.now()}_abcdef12`]);
      break;
    case 'own-run-form':
      id = `${rng.pick(own.slice(0, 3))}${RUN_SUFFIX}`;
      break;
    case 'registered-run':
      id = fx.runOf.get(userId);
      break;
    case 'other-run':
      id = fx.runOf.get(rng.pick(fx.users.filter((u) => u !== userId)));
      break;
    case 'len201':
      id = `fz-201-${idChars(rng, 194)}`;
      break;
    case 'bad-chars': {
      const base = rng.pick(own);
      const at = rng.int(base.length + 1);
      const bad = rng.pick([
        ' ',
        '/',
        '{',
        '}',
        '#',
        '?',
        '%',
        '\u0000',
        '\n',
        'é',
        '🙂',
        '\ud800',
      ]);
      id = (base.slice(0, at) + bad + base.slice(at)).slice(0, 200);
      break;
    }
    case 'dots':
      id = rng.pick(['.', '..', '...', '.hidden', 'a..b']);
      break;
    case 'random':
      id = randomString(rng, 60);
      break;
    case 'not-string':
      id = rng.pick<unknown>([null, 1, 0, -1, true, [], {}, [own[0]], { threadId: own[0] }, 1e308]);
      break;
  }
  return { id, kind };
}

/** Whether `userId` may legitimately succeed on `threadId` (for the isolation oracle). */
function mayTouch(fx: Fixture, userId: string, threadId: unknown): 'yes' | 'no' | 'unknown' {
  if (typeof threadId !== 'string' || !VALID_ID.test(threadId) || RUN_FORM.test(threadId)) {
    return 'no';
  }
  if ([...fx.runOf.values()].includes(threadId)) return 'no';
  const owner = fx.ownerOf.get(threadId);
  if (owner === undefined) return 'unknown';
  return owner === userId ? 'yes' : 'no';
}

function pickSeq(rng: Rng, head: number): unknown {
  return rng.weighted<() => unknown>([
    [20, () => head],
    [8, () => Math.max(0, head - 1)],
    [6, () => head + 1],
    [8, () => 0],
    [10, () => randomNumber(rng)],
    [3, () => Number.MAX_SAFE_INTEGER],
    [3, () => -1],
    [3, () => 1.5],
    [6, () => rng.pick<unknown>(['5', '', null, true, [], {}, 'NaN', '-0', '1e308'])],
  ])();
}

function pickEpoch(rng: Rng, known: string | undefined): unknown {
  return rng.weighted<() => unknown>([
    [25, () => known ?? ''],
    [8, () => randomString(rng, 20)],
    [3, () => ''],
    [3, () => 'e'.repeat(64)],
    [3, () => 'e'.repeat(65)],
    [4, () => rng.pick<unknown>([null, 0, 1, true, [], {}])],
  ])();
}

function pickText(rng: Rng): unknown {
  return rng.weighted<() => unknown>([
    [60, () => randomString(rng, 80) || 'hello'],
    [6, () => ''],
    [4, () => bigString(rng, rng.range(1_000, 20_000))],
    [2, () => bigString(rng, rng.range(65_000, 66_000))],
    [2, () => bigString(rng, rng.range(100_000, 200_000))],
    [3, () => '\ud800'.repeat(rng.range(1, 10))],
    [10, () => randomJson(rng, 2)],
  ])();
}

function pickClientMessageId(rng: Rng): unknown {
  return rng.weighted<() => unknown>([
    [60, () => `cm-${idChars(rng, rng.range(1, 20))}`],
    [6, () => `cm-dup-${rng.int(4)}`],
    [4, () => idChars(rng, 100)],
    [4, () => idChars(rng, 101)],
    [8, () => randomString(rng, 30)],
    [6, () => randomJson(rng, 1)],
  ])();
}

/** The `token` of an `auth:refresh`: the connection's own, another user's, or junk. */
function pickRefreshToken(rng: Rng, fx: Fixture, userId: string): unknown {
  return rng.weighted<() => unknown>([
    [30, () => fx.tokens.get(userId)],
    [15, () => fx.tokens.get(rng.pick(fx.users.filter((u) => u !== userId)))],
    [25, () => rng.pick(fx.badTokens)],
    [10, () => randomString(rng, 100)],
    [5, () => 'x'.repeat(8193)],
    [10, () => randomJson(rng, 1)],
  ])();
}

/** Adds, drops or corrupts fields of a near-valid payload now and then. */
function mutate(rng: Rng, payload: Json): unknown {
  if (rng.chance(0.12)) {
    const key = rng.pick(['__proto__', 'constructor', 'prototype', 'toString', 'extra']);
    payload[key] = rng.chance(0.5) ? bareObject([['threadId', 'x']]) : randomJson(rng, 2);
  }
  if (rng.chance(0.06)) {
    const keys = Object.keys(payload);
    if (keys.length > 0) delete payload[rng.pick(keys)];
  }
  if (rng.chance(0.04)) return [payload];
  return payload;
}

interface SocketCase {
  event: unknown;
  args: unknown[];
  ack: boolean;
  /** For the isolation oracle: the thread the payload names, if any. */
  threadId?: unknown;
}

/** One socket case for `userId` on a connection that has joined `joined`. */
function socketCase(
  rng: Rng,
  fx: Fixture,
  userId: string,
  joined: Set<string>,
  ackOnly: boolean,
): SocketCase {
  const ack = ackOnly || rng.chance(0.6);
  const shape = rng.weighted<'near' | 'random' | 'unknown'>([
    [70, 'near'],
    [17, 'random'],
    [13, 'unknown'],
  ]);
  if (shape === 'unknown') {
    const event = rng.weighted<() => unknown>([
      [30, () => randomString(rng, 30)],
      [
        30,
        () =>
          rng.pick([
            'thread:JOIN',
            'thread:join ',
            ' thread:join',
            'thread:event',
            'relay:error',
            'relay:session',
            'user:event',
            'thread:reset',
            'message',
            'error',
            '__proto__',
            'constructor',
            'hasOwnProperty',
            'toString',
            'valueOf',
            'then',
            '',
            '*',
          ]),
      ],
      [5, () => 'e'.repeat(rng.range(100, 10_000))],
    ])();
    return { event, args: rng.chance(0.8) ? [randomJson(rng)] : [], ack };
  }
  const event = rng.pick(KNOWN_EVENTS);
  if (shape === 'random') {
    const args = rng.chance(0.1) ? [] : [randomJson(rng, 3)];
    return { event, args, ack };
  }
  const pickJoined = () =>
    joined.size > 0 && rng.chance(0.6)
      ? { id: rng.pick([...joined]) as unknown, kind: 'own' as IdKind }
      : pickThreadId(rng, fx, userId, true);
  let payload: Json;
  let threadId: unknown;
  switch (event) {
    case 'thread:join': {
      ({ id: threadId } = pickThreadId(rng, fx, userId, true));
      const known = typeof threadId === 'string' ? fx.logs.get(threadId) : undefined;
      payload = bareObject([['threadId', threadId]]);
      if (rng.chance(0.5)) payload.lastSeq = pickSeq(rng, known?.head ?? 0);
      if (rng.chance(0.5)) payload.epoch = pickEpoch(rng, known?.epoch);
      break;
    }
    case 'thread:leave':
      ({ id: threadId } = pickJoined());
      payload = bareObject([['threadId', threadId]]);
      break;
    case 'thread:ack': {
      ({ id: threadId } = pickJoined());
      const known = typeof threadId === 'string' ? fx.logs.get(threadId) : undefined;
      payload = bareObject([
        ['threadId', threadId],
        ['seq', pickSeq(rng, known?.head ?? 0)],
      ]);
      if (rng.chance(0.7)) payload.epoch = pickEpoch(rng, known?.epoch);
      break;
    }
    case 'user:message':
      ({ id: threadId } = pickThreadId(rng, fx, userId, true));
      payload = bareObject([
        ['threadId', threadId],
        ['text', pickText(rng)],
        ['clientMessageId', pickClientMessageId(rng)],
      ]);
      break;
    default:
      payload = bareObject([['token', pickRefreshToken(rng, fx, userId)]]);
  }
  const args: unknown[] = [mutate(rng, payload)];
  if (rng.chance(0.05)) args.push(randomJson(rng, 1), 'extra');
  if (rng.chance(0.02)) args.length = 0;
  return { event, args, ack, threadId };
}

// ---------------------------------------------------------------------------------------
// The socket fuzz.
// ---------------------------------------------------------------------------------------

interface FuzzConnection {
  userId: string;
  client: WireClient;
  joined: Set<string>;
  /** Recent cases sent without an ack, to name the input behind a bad notice. */
  recentNoAck: SocketCase[];
  /** Every event it sends has an ack: a relay:error notice on it would be a second answer. */
  ackOnly: boolean;
  checkedNotices: number;
}

async function openFuzzConnection(
  fx: Fixture,
  userId: string,
  ackOnly: boolean,
): Promise<FuzzConnection> {
  const client = await WireClient.connect(fx.relay.url, fx.tokens.get(userId) as string);
  client.onThreadEvent = (event) => {
    if (typeof event.threadId !== 'string' || typeof event.epoch !== 'string') return;
    const seq = typeof event.seq === 'number' ? event.seq : 0;
    const known = fx.logs.get(event.threadId);
    if (!known || known.epoch !== event.epoch || known.head < seq) {
      fx.logs.set(event.threadId, { epoch: event.epoch, head: seq });
    }
  };
  return { userId, client, joined: new Set(), recentNoAck: [], checkedNotices: 0, ackOnly };
}

function caseText(c: SocketCase, userId: string): string {
  return `${userId} emits ${describeValue(c.event, 80)} ${describeValue(c.args)}${c.ack ? ' with ack' : ''}`;
}

/** Checks the relay:error notices a connection got since the last look. */
function checkNotices(conn: FuzzConnection, findings: Findings): void {
  const fresh = conn.client.notices.slice(conn.checkedNotices);
  conn.checkedNotices = conn.client.notices.length;
  for (const notice of fresh) {
    const code = isRecord(notice.error) ? String(notice.error.code) : '?';
    findings.saw(`relay:error notice for ${describeValue(notice.event, 40)} -> ${code}`);
    if (conn.ackOnly) {
      findings.add(
        'socket: a relay:error notice on a connection whose every event had an ack (answered twice?)',
        notice.raw,
      );
    }
    const candidates = conn.recentNoAck.filter((c) => c.event === notice.event).slice(-3);
    const inputs = candidates.map((c) => caseText(c, conn.userId)).join(' | ') || 'unknown input';
    const error = isRecord(notice.error) ? notice.error : undefined;
    if (notice.event !== null && typeof notice.event !== 'string') {
      findings.add('socket: relay:error notice with a non-string event', notice.raw);
    }
    if (!error) {
      findings.add('socket: relay:error notice without an error object', notice.raw);
      continue;
    }
    if (error.code === 'INTERNAL') {
      findings.add(
        `socket: INTERNAL relay:error notice for ${String(notice.event)}`,
        `${notice.raw} after ${inputs}`,
      );
      continue;
    }
    for (const problem of errorBodyProblems({ error })) {
      findings.add(`socket: relay:error notice: ${problem}`, `${notice.raw} after ${inputs}`);
    }
  }
  if (conn.recentNoAck.length > 200) conn.recentNoAck.splice(0, conn.recentNoAck.length - 50);
}

function checkSocketAnswer(
  fx: Fixture,
  conn: FuzzConnection,
  c: SocketCase,
  answer: unknown,
  findings: Findings,
): void {
  const input = caseText(c, conn.userId);
  const event = typeof c.event === 'string' ? c.event : `<${typeof c.event}>`;
  const label = KNOWN_EVENTS.includes(event) ? event : 'unknown event';
  findings.saw(
    `${label} -> ${isRecord(answer) ? (answer.ok === true ? 'ok' : String((answer.error as Json | undefined)?.code)) : '?'}`,
  );
  if (!isRecord(answer) || (answer.ok !== true && answer.ok !== false)) {
    findings.add(`socket: ${label} answered without ok`, `${input} -> ${describeValue(answer)}`);
    return;
  }
  if (answer.ok === false) {
    const error = isRecord(answer.error) ? answer.error : {};
    if (error.code === 'INTERNAL') {
      findings.add(`socket: INTERNAL answer to ${label}`, `${input} -> ${describeValue(answer)}`);
      return;
    }
    for (const problem of errorBodyProblems(answer)) {
      findings.add(
        `socket: ${label} error answer: ${problem}`,
        `${input} -> ${describeValue(answer)}`,
      );
    }
    return;
  }
  const payload = isRecord(c.args[0]) ? c.args[0] : {};
  for (const problem of okAckProblems(event, answer, payload.threadId)) {
    findings.add(`socket: ${label} ok answer: ${problem}`, `${input} -> ${describeValue(answer)}`);
  }
  if (event === 'thread:join' || event === 'user:message') {
    const threadId = payload.threadId;
    const may = mayTouch(fx, conn.userId, threadId);
    if (may === 'no') {
      findings.add(`socket: ${event} succeeded on a thread the user may not use`, input);
    } else if (may === 'unknown' && typeof threadId === 'string') {
      fx.ownerOf.set(threadId, conn.userId); // auto-registered to this user
    }
    if (typeof threadId === 'string' && typeof answer.epoch === 'string') {
      const head = event === 'thread:join' ? answer.headSeq : answer.seq;
      const known = fx.logs.get(threadId);
      if (
        typeof head === 'number' &&
        (!known || known.epoch !== answer.epoch || known.head < head)
      ) {
        fx.logs.set(threadId, { epoch: answer.epoch, head });
      }
    }
    if (event === 'thread:join' && typeof threadId === 'string') conn.joined.add(threadId);
  }
  if (event === 'thread:leave' && typeof payload.threadId === 'string') {
    conn.joined.delete(payload.threadId);
  }
  if (event === 'auth:refresh' && payload.token !== fx.tokens.get(conn.userId)) {
    findings.add('socket: auth:refresh accepted a token that is not the user', input);
  }
}

async function runSocketFuzz(fx: Fixture, rng: Rng, findings: Findings): Promise<number> {
  const connections: FuzzConnection[] = [];
  for (const user of fx.users) {
    connections.push(
      await openFuzzConnection(fx, user, true),
      await openFuzzConnection(fx, user, false),
    );
  }
  const perConnection = Math.ceil(SOCKET_CASES / connections.length);
  let sent = 0;
  await Promise.all(
    connections.map(async (conn, index) => {
      const crng = rng.fork(`conn-${index}`);
      let remaining = perConnection;
      while (remaining > 0) {
        const size = Math.min(SOCKET_BATCH, remaining);
        remaining -= size;
        const batch = Array.from({ length: size }, () =>
          socketCase(crng, fx, conn.userId, conn.joined, conn.ackOnly),
        );
        sent += batch.length;
        const pending: Array<Promise<void>> = [];
        for (const c of batch) {
          const args = [c.event, ...c.args];
          if (!c.ack) {
            conn.recentNoAck.push(c);
            conn.client.send(`2${toJsonText(args)}`);
            continue;
          }
          pending.push(
            conn.client.emitWithAck(args).then((outcome) => {
              if ('answer' in outcome) checkSocketAnswer(fx, conn, c, outcome.answer, findings);
              else if ('timeout' in outcome) {
                findings.add(
                  'socket: no answer within 10 s to an event sent with an ack',
                  caseText(c, conn.userId),
                );
              }
            }),
          );
        }
        await Promise.all(pending);
        checkNotices(conn, findings);
        if (conn.client.closed) {
          findings.add(
            'socket: the server closed a connection during malformed input',
            `last batch: ${batch
              .map((c) => caseText(c, conn.userId))
              .join(' | ')
              .slice(0, 1500)}`,
          );
          const fresh = await openFuzzConnection(fx, conn.userId, conn.ackOnly);
          conn.client = fresh.client;
          conn.joined.clear();
          conn.checkedNotices = 0;
        }
      }
    }),
  );
  // Late or duplicate answers: give them a moment, then count.
  await sleep(300);
  for (const conn of connections) {
    checkNotices(conn, findings);
    for (const [id, answers] of conn.client.acks) {
      if (answers.length > 1) {
        findings.add(
          'socket: an event was answered more than once',
          `ack ${id}: ${describeValue(answers)}`,
        );
      }
    }
    for (const garbage of conn.client.garbage) {
      findings.add('socket: the server sent a packet that is not JSON', garbage);
    }
    if (conn.client.closedByServer) {
      findings.add('socket: the server closed a connection during malformed input', conn.userId);
    }
    conn.client.close();
  }
  return sent;
}

// ---------------------------------------------------------------------------------------
// Malformed socket.io packets: at worst their own connection is closed.
// ---------------------------------------------------------------------------------------

interface RawCase {
  name: string;
  /** engine.io frames: strings are text, Buffers binary */
  frames: Array<string | Buffer>;
  /** socket.io may close the connection for it (a packet its parser refuses). */
  mayClose: boolean;
  /** The ack id the case waits an answer for, if it has one. */
  ackId?: number;
  /** The packet ends the client's session itself: no probe, a new connection. */
  leaves?: boolean;
}

/** Whether socket.io-parser accepts `[name, ...]` as an EVENT payload. */
function parserAccepts(data: unknown): boolean {
  if (!Array.isArray(data) || data.length === 0) return false;
  const name: unknown = data[0];
  return typeof name === 'number' || (typeof name === 'string' && !RESERVED_EVENTS.has(name));
}

/**
 * The fixed malformed packets. `close` marks packets socket.io itself refuses (its parser
 * or engine.io closes the connection, as it should); the others it delivers to the relay,
 * which must answer (acked ones: exactly once) and keep the connection open.
 */
function fixedRawCases(token: string): RawCase[] {
  const B = (text: string): Buffer => Buffer.from(text, 'latin1');
  const open = false;
  const close = true;
  // [name, engine.io frames, may close, ack id the packet carries]
  const table: Array<[string, Array<string | Buffer>, boolean, number?]> = [
    ['event without payload', ['42["thread:join"]'], open],
    ['acked event without payload', ['42901["thread:join"]'], open, 901],
    ['empty event array', ['42[]'], close],
    ['numeric event name', ['42[123]'], open],
    ['numeric event name, acked', ['42902[123,{}]'], open, 902],
    ['extra arguments', ['42["thread:join",{"threadId":1},"extra"]'], open],
    ['extra arguments, acked', ['42903["thread:join",{"threadId":1},"extra",{"x":[]}]'], open, 903],
    ['null event name', ['42[null]'], close],
    ['object event name', ['42[{"a":1}]'], close],
    ['boolean event name', ['42[true]'], close],
    ['string packet data', ['42"thread:join"'], close],
    ['object packet data', ['42{"threadId":"x"}'], close],
    ['null packet data', ['42null'], close],
    ['truncated JSON', ['42["thread:join",{"threadId":"x"}'], close],
    ['not JSON', ['42abc'], close],
    ['reserved name connect', ['42["connect"]'], close],
    ['reserved name disconnect', ['42["disconnect","x"]'], close],
    ['reserved name newListener', ['42["newListener","thread:join"]'], close],
    ['reserved name removeListener', ['42["removeListener","x"]'], close],
    ['reserved name disconnecting', ['42["disconnecting"]'], close],
    ['event "error"', ['42["error",{"a":1}]'], open],
    ['event "error", acked', ['42904["error"]'], open, 904],
    ['event "__proto__", acked', ['42905["__proto__",{}]'], open, 905],
    ['event "constructor", acked', ['42906["constructor"]'], open, 906],
    ['event "hasOwnProperty"', ['42["hasOwnProperty",1]'], open],
    ['placeholder without its attachment', ['451-["x",{"_placeholder":true,"num":0}]'], close],
    ['binary join payload', ['451-["thread:join",{"_placeholder":true,"num":0}]', B('{}')], open],
    [
      'binary join payload, acked',
      ['451-907["thread:join",{"_placeholder":true,"num":0}]', B('\x01\x02')],
      open,
      907,
    ],
    [
      'binary threadId, acked',
      ['451-908["thread:join",{"threadId":{"_placeholder":true,"num":0}}]', B('x')],
      open,
      908,
    ],
    [
      'binary user:message text, acked',
      [
        '451-909["user:message",{"threadId":"x","text":{"_placeholder":true,"num":0},"clientMessageId":"c"}]',
        B('t'),
      ],
      open,
      909,
    ],
    ['placeholder index out of range', ['451-["x",{"_placeholder":true,"num":5}]', B('x')], close],
    [
      'placeholder with a string index',
      ['451-["x",{"_placeholder":true,"num":"0"}]', B('x')],
      close,
    ],
    [
      'two attachments announced, one sent',
      ['452-["x",{"_placeholder":true,"num":0}]', B('x')],
      close,
    ],
    ['binary frame out of the blue', [B('hello')], close],
    ['attachment count not a number', ['45x-["x"]'], close],
    ['ack from the client with no id', ['43[]'], close],
    ['ack for an id never sent', ['43777["x"]'], open],
    ['binary ack for an id never sent', ['461-777[{"_placeholder":true,"num":0}]', B('x')], open],
    ['second CONNECT', [`40${JSON.stringify({ token })}`], close],
    ['CONNECT with a garbage token', ['40{"token":"garbage"}'], close],
    ['CONNECT to another namespace', ['40/admin,{"token":"x"}'], close],
    ['event for another namespace', ['42/admin,["thread:join",{}]'], close],
    ['CONNECT_ERROR from the client', ['44{"message":"x"}'], close],
    ['unknown socket.io type 7', ['47["x"]'], close],
    ['unknown socket.io type 9', ['49'], close],
    ['empty socket.io packet', ['4'], close],
    ['huge ack id', ['4299999999999999999999999["thread:join"]'], close],
    ['negative ack id', ['42-1["thread:join"]'], close],
    ['engine.io ping (wrong direction)', ['2'], close],
    ['engine.io pong out of turn', ['3'], open],
    ['engine.io noop', ['6'], open],
    ['engine.io upgrade out of turn', ['5'], close],
    ['engine.io close', ['1'], close],
    ['engine.io unknown type', ['9'], close],
    ['empty frame', [''], close],
    ['deeply nested payload, acked', [`42910["thread:join",${deepNesting(5000).text}]`], open, 910],
    [
      'deeply nested object, acked',
      [`42911["user:message",${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}]`],
      open,
      911,
    ],
    [
      'frame over maxPayloadBytes',
      [`42["user:message",{"text":"${'x'.repeat(1_100_000)}"}]`],
      close,
    ],
    [
      '__proto__ payload, acked',
      ['42912["thread:join",{"__proto__":{"threadId":"x"},"threadId":"y"}]'],
      open,
      912,
    ],
    [
      'constructor.prototype payload, acked',
      ['42913["user:message",{"constructor":{"prototype":{"a":1}}}]'],
      open,
      913,
    ],
    ['1e400 seq, acked', ['42914["thread:ack",{"threadId":"x","seq":1e400}]'], open, 914],
    ['-0 lastSeq, acked', ['42915["thread:join",{"threadId":"x","lastSeq":-0}]'], open, 915],
  ];
  const cases: RawCase[] = table.map(([name, frames, mayClose, ackId]) => ({
    name,
    frames,
    mayClose,
    ...(ackId === undefined ? {} : { ackId }),
  }));
  // The client leaves the namespace: nothing more is served until it connects again.
  cases.push({ name: 'DISCONNECT', frames: ['41'], mayClose: true, leaves: true });
  return cases;
}

function randomRawCase(rng: Rng, index: number): RawCase {
  const ackId = 10_000 + index;
  const withAck = rng.chance(0.6);
  if (rng.chance(0.2)) {
    // Garbage text of random characters after an engine.io/socket.io prefix.
    const prefix = rng.pick(['', '4', '42', '43', '45', '46', '40', '2', '3']);
    return { name: 'garbage frame', frames: [prefix + randomString(rng, 40)], mayClose: true };
  }
  const data: unknown[] = [];
  const name = rng.weighted<() => unknown>([
    [40, () => rng.pick(KNOWN_EVENTS)],
    [20, () => randomString(rng, 20)],
    [10, () => rng.pick([...RESERVED_EVENTS])],
    [10, () => randomNumber(rng)],
    [10, () => randomJson(rng, 1)],
  ])();
  if (rng.chance(0.97)) data.push(name);
  const extra = rng.int(4);
  for (let i = 0; i < extra; i++) data.push(randomJson(rng, 3));
  const text = toJsonText(data);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const accepted = parserAccepts(parsed);
  return {
    name: 'random event array',
    frames: [`42${withAck ? ackId : ''}${text}`],
    mayClose: !accepted,
    ...(withAck && accepted ? { ackId } : {}),
  };
}

/** Sends each case, then a probe: the connection must answer it, or (if allowed) be closed. */
async function runRawPackets(fx: Fixture, rng: Rng, findings: Findings): Promise<number> {
  const user = fx.users[2] as string;
  const token = fx.tokens.get(user) as string;
  const cases = [
    ...fixedRawCases(token),
    ...Array.from({ length: RAW_PACKET_CASES }, (_, i) => randomRawCase(rng, i)),
  ];
  const lanes = 6;
  let probeId = 50_000;
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      let client = await WireClient.connect(fx.relay.url, token);
      for (let i = lane; i < cases.length; i += lanes) {
        const c = cases[i] as RawCase;
        const input = `${c.name}: ${describeValue(c.frames.map((f) => (typeof f === 'string' ? f : `<binary ${f.length}>`)))}`;
        for (const frame of c.frames) {
          if (typeof frame === 'string') client.sendEngineIo(frame);
          else client.sendBinary(frame);
        }
        if (c.ackId !== undefined) {
          const outcome = await client.waitAck(c.ackId, 5000);
          if ('answer' in outcome) {
            const answer = outcome.answer;
            if (!isRecord(answer) || answer.ok !== false) {
              // Nothing in these cases is a valid request, except maybe a random one.
              if (!(isRecord(answer) && answer.ok === true)) {
                findings.add('raw: ack without ok', `${input} -> ${describeValue(answer)}`);
              }
            } else if (isRecord(answer.error) && answer.error.code === 'INTERNAL') {
              findings.add('raw: INTERNAL answer', `${input} -> ${describeValue(answer)}`);
            } else {
              for (const problem of errorBodyProblems(answer)) {
                findings.add(
                  `raw: error answer: ${problem}`,
                  `${input} -> ${describeValue(answer)}`,
                );
              }
            }
          } else if ('timeout' in outcome) {
            findings.add('raw: no answer to an acked packet', input);
          } else if (!c.mayClose) {
            findings.add('raw: connection closed for a packet socket.io accepts', input);
          }
        }
        if (c.leaves) {
          client.close();
          client = await WireClient.connect(fx.relay.url, token);
          continue;
        }
        // The probe: a leave of a thread never joined answers { ok: true }.
        const id = probeId++;
        client.send(`2${id}${JSON.stringify(['thread:leave', { threadId: 'probe' }])}`);
        const probe = await client.waitAck(id, 3000);
        if ('answer' in probe) {
          if (!isRecord(probe.answer) || probe.answer.ok !== true) {
            findings.add(
              'raw: probe refused after a packet',
              `${input} -> ${describeValue(probe.answer)}`,
            );
          }
        } else if ('timeout' in probe) {
          findings.add('raw: connection neither serves nor closes after a packet', input);
          client.close();
        } else if (!c.mayClose) {
          findings.add('raw: connection closed for a packet socket.io accepts', input);
        }
        for (const notice of client.notices.splice(0)) {
          const error = isRecord(notice.error) ? notice.error : undefined;
          if (error?.code === 'INTERNAL')
            findings.add('raw: INTERNAL notice', `${input} -> ${notice.raw}`);
          else if (!error || errorBodyProblems({ error }).length > 0) {
            findings.add('raw: malformed relay:error notice', `${input} -> ${notice.raw}`);
          }
        }
        if (client.closed) client = await WireClient.connect(fx.relay.url, token);
      }
      client.close();
    }),
  );
  return cases.length;
}

// ---------------------------------------------------------------------------------------
// The HTTP fuzz.
// ---------------------------------------------------------------------------------------

type RouteName =
  | 'history:get'
  | 'history:post'
  | 'debug:connections'
  | 'debug:threads'
  | 'debug:mappings'
  | 'debug:send'
  | 'health'
  | 'metrics';

interface HttpCase {
  route: RouteName;
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** What the request carries, for reports and oracles. */
  auth: 'user' | 'other-user' | 'admin' | 'bad' | 'none';
  userId?: string;
  threadId?: unknown;
  /** Whether the segment reached the route as a plain (decodable) id. */
  pathKind: string;
}

interface HttpAnswer {
  status: number;
  contentType: string;
  text: string;
  error?: string;
}

/** A path segment for a thread id: usually its encoding, sometimes a hostile one. */
function pathSegment(rng: Rng, id: unknown): { segment: string; kind: string; decoded: unknown } {
  const text = typeof id === 'string' ? id : (JSON.stringify(id) ?? 'undefined');
  return rng.weighted<() => { segment: string; kind: string; decoded: unknown }>([
    [70, () => ({ segment: percentEncode(text) || '%20', kind: 'encoded', decoded: text || ' ' })],
    [
      5,
      () => ({
        segment: percentEncode(`${text}/x`),
        kind: 'encoded-slash',
        decoded: `${text}/x`,
      }),
    ],
    [3, () => ({ segment: '..', kind: 'dots', decoded: '..' })],
    [2, () => ({ segment: '.', kind: 'dots', decoded: '.' })],
    [3, () => ({ segment: '%2e%2e', kind: 'dots', decoded: '..' })],
    [
      5,
      () => ({
        segment: rng.pick([
          '%',
          '%ZZ',
          '%E0%A4',
          '%FF',
          `${percentEncode(text)}%C0%AF`,
          '%%',
          '%u0041',
        ]),
        kind: 'bad-percent',
        decoded: undefined,
      }),
    ],
    [3, () => ({ segment: '%00', kind: 'nul', decoded: '\u0000' })],
    [
      3,
      () => ({
        segment: `${percentEncode(text)}%252F`,
        kind: 'double-encoded',
        decoded: `${text}%2F`,
      }),
    ],
    [
      3,
      () => {
        const long = 'A'.repeat(rng.range(201, 4000));
        return { segment: long, kind: 'long', decoded: long };
      },
    ],
    [
      3,
      () => ({
        segment: percentEncode(randomString(rng, 40)) || 'x',
        kind: 'random',
        decoded: undefined,
      }),
    ],
  ])();
}

function queryValue(rng: Rng): string {
  return rng.weighted<() => string>([
    [20, () => String(rng.int(50))],
    [5, () => '0'],
    [5, () => ''],
    [5, () => String(rng.pick([1e15, 999999999999999, 1e16, 2 ** 53, 1000000, 1001]))],
    [5, () => rng.pick(['-1', '1.5', '1e3', '0x10', ' 1', '+1', 'NaN', 'Infinity', '-0', '１'])],
    [10, () => percentEncode(randomString(rng, 30))],
    [3, () => rng.pick(['%ZZ', '%', '%FF', '%00'])],
    [
      3,
      () =>
        String(rng.pick(['18446744073709551615', '18446744073709551616', '99999999999999999999'])),
    ],
    [2, () => '9'.repeat(rng.range(16, 25))],
    [2, () => 'x'.repeat(rng.range(100, 1000))],
  ])();
}

function queryString(rng: Rng, names: string[]): string {
  const parts: string[] = [];
  for (const name of names) {
    if (rng.chance(0.45)) continue;
    const shape = rng.int(10);
    if (shape === 0) parts.push(`${name}=${queryValue(rng)}`, `${name}=${queryValue(rng)}`);
    else if (shape === 1) parts.push(`${name}[]=${queryValue(rng)}`);
    else if (shape === 2) parts.push(`${name}[a]=${queryValue(rng)}`);
    else if (shape === 3) parts.push(name);
    else parts.push(`${name}=${queryValue(rng)}`);
  }
  if (rng.chance(0.1)) parts.push(`${percentEncode(randomString(rng, 10))}=${queryValue(rng)}`);
  if (rng.chance(0.03)) parts.push('__proto__[x]=1', 'constructor[prototype][y]=1');
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

/** The Authorization header (if any) and what it amounts to for `route`. */
function pickAuth(
  rng: Rng,
  fx: Fixture,
  admin: boolean,
): { headers: Record<string, string>; auth: HttpCase['auth']; userId?: string } {
  const user = rng.pick(fx.users);
  const right = admin ? TEST_ADMIN_TOKEN : (fx.tokens.get(user) as string);
  const choice = rng.weighted<() => ReturnType<typeof pickAuth>>([
    [
      62,
      () => ({
        headers: { authorization: `Bearer ${right}` },
        auth: admin ? 'admin' : 'user',
        userId: user,
      }),
    ],
    [
      4,
      () => ({
        headers: { authorization: `${rng.pick(['bearer', 'BEARER'])}   ${right}  ` },
        auth: admin ? 'admin' : 'user',
        userId: user,
      }),
    ],
    [6, () => ({ headers: {}, auth: 'none' })],
    [
      8,
      () => ({
        headers: {
          authorization: `Bearer ${admin ? (fx.tokens.get(user) as string) : TEST_ADMIN_TOKEN}`,
        },
        auth: 'bad',
      }),
    ],
    [
      8,
      () => ({
        headers: {
          authorization: `Bearer ${rng.pick(fx.badTokens.filter((t) => !admin || t !== TEST_ADMIN_TOKEN))}`,
        },
        auth: 'bad',
      }),
    ],
    [
      8,
      () => ({
        headers: {
          authorization: rng.pick([
            'Bearer',
            'Bearer ',
            `Basic ${Buffer.from('a:b').toString('base64')}`,
            `Bearer ${right} extra`,
            `Token ${right}`,
            right,
            `Bearer ${percentEncode(randomString(rng, 50))}`,
            `Bearer ${'\u00e9'.repeat(10)}`,
          ]),
        },
        auth: 'bad',
      }),
    ],
    [
      4,
      () => ({
        headers: { authorization: `Bearer ${'y'.repeat(rng.range(4000, 6000))}` },
        auth: 'bad',
      }),
    ],
  ])();
  return choice;
}

function bodyFor(rng: Rng, route: RouteName, fx: Fixture, userId: string | undefined) {
  const contentType = rng.weighted<string | undefined>([
    [70, 'application/json'],
    [5, 'application/json; charset=utf-8'],
    [3, 'application/json; charset=iso-8859-1'],
    [2, 'application/json; charset=utf-16'],
    [3, 'text/plain'],
    [5, 'application/x-www-form-urlencoded'],
    [2, 'multipart/form-data; boundary=x'],
    [2, 'application/xml'],
    [3, undefined],
    [2, 'application/json, text/plain'],
    [2, percentEncode(randomString(rng, 20)) || 'x'],
  ]);
  const headers: Record<string, string> = contentType ? { 'content-type': contentType } : {};
  let value: unknown;
  if (route === 'history:post') {
    value = bareObject([
      ['text', pickText(rng)],
      ['clientMessageId', pickClientMessageId(rng)],
    ]);
    if (rng.chance(0.1)) {
      (value as Json).threadId = pickThreadId(rng, fx, userId ?? rng.pick(fx.users), true).id;
    }
    value = mutate(rng, value as Json);
  } else {
    const target = pickThreadId(rng, fx, userId ?? rng.pick(fx.users), true).id;
    const body = bareObject();
    const targetKey = rng.weighted<string>([
      [60, 'threadId'],
      [30, 'runId'],
      [10, 'both'],
    ]);
    if (targetKey === 'both') {
      body.threadId = rng.chance(0.5) ? null : target;
      body.runId = fx.runOf.get(rng.pick(fx.users));
    } else body[targetKey] = target;
    if (rng.chance(0.95)) {
      body.type = rng.weighted<() => unknown>([
        [60, () => `fz.${idChars(rng, rng.range(1, 20)).replace(/@/g, '_')}`],
        [10, () => 'e'.repeat(rng.range(100, 101))],
        [20, () => randomString(rng, 30)],
        [10, () => randomJson(rng, 1)],
      ])();
    }
    if (rng.chance(0.95)) {
      body.payload = rng.weighted<() => unknown>([
        [70, () => randomJson(rng, 4)],
        [5, () => bigString(rng, rng.range(60_000, 70_000))],
        [5, () => deepNesting(rng.range(1000, 20_000))],
        [
          5,
          () => new RawJson(rng.pick(['1e400', '-0', '1E-400', '123456789012345678901234567890'])),
        ],
        [5, () => bareObject([['__proto__', { polluted: true }]])],
      ])();
    }
    value = mutate(rng, body);
  }
  const text = rng.chance(0.85) ? toJsonText(value) : toJsonText(randomJson(rng, 4));
  const raw = rng.weighted<() => string | Buffer | undefined>([
    [84, () => text],
    [3, () => text.slice(0, rng.int(text.length))],
    [2, () => `${text}garbage`],
    [
      2,
      () =>
        rng.pick([
          '',
          'null',
          '"str"',
          '1e308',
          'NaN',
          '[1,2',
          '{"a":}',
          '\u0000',
          '{"text":"a","text":1}',
        ]),
    ],
    [
      2,
      () => deepNesting(rng.range(1000, 30_000), '{"a":', '}').text.replace(/}+$/, (m) => `1${m}`),
    ],
    [2, () => `{"text":"${'z'.repeat(rng.range(110_000, 200_000))}","clientMessageId":"big"}`],
    [2, () => Array.from({ length: rng.range(900, 1200) }, (_, i) => `k${i}=${i}`).join('&')],
    [1, () => `a${'[b]'.repeat(rng.range(20, 40))}=1`],
    [
      1,
      () =>
        `text=${percentEncode(randomString(rng, 20)) || 'hi'}&clientMessageId=cm-form-${rng.int(1000)}`,
    ],
    [1, () => Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x80, 0xc0])],
    [1, () => undefined],
  ])();
  if (rng.chance(0.03)) {
    headers['content-encoding'] = rng.pick([
      'gzip',
      'deflate',
      'br',
      'identity',
      'compress',
      'x-fuzz',
    ]);
    if (headers['content-encoding'] === 'gzip' && rng.chance(0.5) && raw !== undefined) {
      return { headers, body: gzipSync(raw) };
    }
  }
  return {
    headers,
    body: raw === undefined ? undefined : Buffer.isBuffer(raw) ? raw : Buffer.from(raw),
  };
}

function httpCase(rng: Rng, fx: Fixture): HttpCase {
  const route = rng.weighted<RouteName>([
    [32, 'history:get'],
    [32, 'history:post'],
    [5, 'debug:connections'],
    [5, 'debug:threads'],
    [5, 'debug:mappings'],
    [16, 'debug:send'],
    [3, 'health'],
    [2, 'metrics'],
  ]);
  const admin = route.startsWith('debug:');
  const open = route === 'health' || route === 'metrics';
  const { headers, auth, userId } = open
    ? {
        headers: rng.chance(0.5) ? { authorization: `Bearer ${rng.pick(fx.badTokens)}` } : {},
        auth: 'none' as const,
        userId: undefined,
      }
    : pickAuth(rng, fx, admin);
  if (rng.chance(0.1)) {
    headers[
      rng.pick(['x-forwarded-for', 'accept', 'cookie', 'x-request-id', 'origin', 'user-agent'])
    ] = randomString(rng, 60).replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');
  }
  if (rng.chance(0.05))
    headers.accept = rng.pick(['text/html', 'application/xml', '*/*', 'image/png']);
  let path: string;
  let threadId: unknown;
  let pathKind = 'plain';
  switch (route) {
    case 'history:get':
    case 'history:post': {
      const picked = pickThreadId(rng, fx, userId ?? rng.pick(fx.users), false);
      const segment = pathSegment(rng, picked.id);
      threadId = segment.decoded;
      pathKind = segment.kind;
      path = `/threads/${segment.segment}/messages${rng.chance(0.05) ? '/' : ''}`;
      if (route === 'history:get') path += queryString(rng, ['after', 'limit']);
      else if (rng.chance(0.1)) path += queryString(rng, ['after']);
      break;
    }
    case 'debug:connections':
    case 'debug:threads':
    case 'debug:mappings':
      path = `/debug/websocket/${route.slice(6)}${queryString(rng, ['limit', 'cursor'])}`;
      break;
    case 'debug:send':
      path = '/debug/websocket/send';
      break;
    default:
      path = `/${route}${queryString(rng, ['x'])}`;
  }
  const c: HttpCase = {
    route,
    method: route === 'history:post' || route === 'debug:send' ? 'POST' : 'GET',
    path,
    headers,
    auth,
    pathKind,
    threadId,
    ...(userId === undefined ? {} : { userId }),
  };
  if (c.method === 'POST') {
    const body = bodyFor(rng, route, fx, userId);
    Object.assign(c.headers, body.headers);
    if (body.body !== undefined) c.body = body.body;
  }
  return c;
}

function sendHttp(baseUrl: string, agent: http.Agent, c: HttpCase): Promise<HttpAnswer> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    let request: http.ClientRequest;
    try {
      request = http.request(
        {
          host: url.hostname,
          port: url.port,
          method: c.method,
          path: c.path,
          headers: c.headers,
          agent,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              contentType: response.headers['content-type'] ?? '',
              text: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          response.on('error', (error) =>
            resolve({ status: 0, contentType: '', text: '', error: error.message }),
          );
        },
      );
    } catch (error) {
      // The client itself refused the request (an invalid header): not a server answer.
      resolve({ status: -1, contentType: '', text: '', error: (error as Error).message });
      return;
    }
    request.setTimeout(15_000, () => request.destroy(new Error('no answer within 15 s')));
    request.on('error', (error) =>
      resolve({ status: 0, contentType: '', text: '', error: error.message }),
    );
    request.end(c.body);
  });
}

function httpCaseText(c: HttpCase): string {
  const headers = { ...c.headers };
  if (headers.authorization)
    headers.authorization = `<${c.auth}> ${describeValue(headers.authorization, 60)}`;
  const body = c.body === undefined ? '' : ` body ${describeValue(c.body.toString('utf8'), 300)}`;
  return `${c.method} ${c.path.length > 200 ? `${c.path.slice(0, 200)}...(${c.path.length} chars)` : c.path} ${describeValue(headers, 300)}${body}`;
}

function okBodyProblems(c: HttpCase, status: number, body: Json): string[] {
  const problems: string[] = [];
  switch (c.route) {
    case 'history:get':
      if (status !== 200) problems.push(`status ${status} instead of 200`);
      if (typeof body.threadId !== 'string') problems.push('threadId is not a string');
      if (typeof body.epoch !== 'string') problems.push('epoch is not a string');
      if (!isNonNegativeInt(body.headSeq)) problems.push('headSeq is not a non-negative int');
      if (!Array.isArray(body.messages)) problems.push('messages is not an array');
      else for (const message of body.messages) problems.push(...threadEventProblems(message));
      break;
    case 'history:post':
      if (status !== 200) problems.push(`status ${status} instead of 200`);
      if (body.ok !== true) problems.push('ok is not true');
      if (!isNonNegativeInt(body.seq) || body.seq === 0) problems.push('seq is not >= 1');
      if (typeof body.epoch !== 'string') problems.push('epoch is not a string');
      if (typeof body.messageId !== 'string') problems.push('messageId is not a string');
      if (typeof body.duplicate !== 'boolean') problems.push('duplicate is not a boolean');
      break;
    case 'debug:send':
      if (status !== 201) problems.push(`status ${status} instead of 201`);
      for (const field of ['messageId', 'threadId', 'epoch'] as const) {
        if (typeof body[field] !== 'string') problems.push(`${field} is not a string`);
      }
      if (!isNonNegativeInt(body.seq)) problems.push('seq is not a non-negative int');
      if (typeof body.onlineConnections !== 'number')
        problems.push('onlineConnections is not a number');
      if (typeof body.duplicate !== 'boolean') problems.push('duplicate is not a boolean');
      break;
    case 'debug:connections':
    case 'debug:threads':
    case 'debug:mappings': {
      if (status !== 200) problems.push(`status ${status} instead of 200`);
      if (typeof body.answeredBy !== 'string') problems.push('answeredBy is not a string');
      if (body.nextCursor !== null && typeof body.nextCursor !== 'string') {
        problems.push('nextCursor is neither a string nor null');
      }
      const list = c.route === 'debug:mappings' ? body.threadToConnections : body[c.route.slice(6)];
      if (c.route === 'debug:mappings' ? !isRecord(list) : !Array.isArray(list)) {
        problems.push(`${c.route.slice(6)} has the wrong type`);
      }
      break;
    }
    default:
      break;
  }
  return problems;
}

function checkHttpAnswer(fx: Fixture, c: HttpCase, a: HttpAnswer, findings: Findings): void {
  const input = httpCaseText(c);
  const route = c.route;
  findings.saw(`${route} -> ${a.status} ${/"code":"([A-Z_]+)"/.exec(a.text)?.[1] ?? ''}`.trim());
  const out = `${input} -> ${a.status} ${a.contentType} ${a.text.slice(0, 300)}`;
  if (a.error !== undefined) {
    findings.add(`http ${route}: no answer (${a.error.slice(0, 60)})`, input);
    return;
  }
  if (route === 'metrics') {
    if (a.status !== 200 || !a.contentType.startsWith('text/plain')) {
      findings.add(`http metrics: ${a.status} ${a.contentType}`, out);
    }
    return;
  }
  let body: unknown;
  try {
    body = JSON.parse(a.text);
  } catch {
    findings.add(
      `http ${route}: ${a.status} answer that is not JSON (${a.contentType || 'no type'})`,
      out,
    );
    return;
  }
  if (!a.contentType.startsWith('application/json')) {
    findings.add(`http ${route}: JSON answer with content-type ${a.contentType}`, out);
  }
  if (!isRecord(body)) {
    findings.add(`http ${route}: answer is not a JSON object`, out);
    return;
  }
  if (route === 'health') {
    if (a.status !== 200 || body.status !== 'ok') findings.add(`http health: ${a.status}`, out);
    return;
  }
  if (a.status >= 200 && a.status < 300) {
    for (const problem of okBodyProblems(c, a.status, body)) {
      findings.add(`http ${route}: ${problem}`, out);
    }
    const authorized = route.startsWith('debug:') ? c.auth === 'admin' : c.auth === 'user';
    if (!authorized) findings.add(`http ${route}: ${a.status} without the right credential`, out);
    if (route.startsWith('history:') && c.userId !== undefined) {
      const may = mayTouch(fx, c.userId, c.threadId);
      if (may === 'no' && c.pathKind === 'encoded') {
        findings.add(`http ${route}: succeeded on a thread the user may not use`, out);
      } else if (may === 'unknown' && typeof c.threadId === 'string' && route === 'history:post') {
        fx.ownerOf.set(c.threadId, c.userId);
      }
    }
    return;
  }
  if ('statusCode' in body && !('ok' in body)) {
    const said = typeof body.message === 'string' ? body.message.replace(/'.*'/, "'...'") : '';
    findings.add(
      `http ${route}: ${a.status} in Nest's { statusCode, message } shape ("${said}")`,
      out,
    );
    return;
  }
  if (body.ok !== false) {
    findings.add(`http ${route}: ${a.status} error without ok: false`, out);
    return;
  }
  const error = isRecord(body.error) ? body.error : {};
  if (error.code === 'INTERNAL' || a.status >= 500) {
    if (!(a.status === 503 && error.code === 'RELAY_UNAVAILABLE')) {
      findings.add(`http ${route}: ${a.status} ${describeValue(error.code)}`, out);
      return;
    }
  }
  for (const problem of errorBodyProblems(body)) findings.add(`http ${route}: ${problem}`, out);
  const statuses = typeof error.code === 'string' ? STATUS_BY_CODE[error.code] : undefined;
  if (statuses && !statuses.includes(a.status)) {
    findings.add(`http ${route}: ${String(error.code)} with status ${a.status}`, out);
  }
  if (!route.startsWith('debug:') && c.auth === 'user' && error.code === 'UNAUTHORIZED') {
    findings.add(`http ${route}: a valid user token refused`, out);
  }
}

/** Edge cases every run sends, whatever the seed: the random ones reach them only now and then. */
function fixedHttpCases(fx: Fixture): HttpCase[] {
  const user = fx.users[0] as string;
  const own = (fx.threadsOf.get(user) as string[])[0] as string;
  const auth = {
    user: { authorization: `Bearer ${fx.tokens.get(user) as string}` },
    admin: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
  };
  const json = { 'content-type': 'application/json' };
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const message = (id: string) => JSON.stringify({ text: 'fixed', clientMessageId: id });
  const manyParams = Array.from({ length: 1100 }, (_, i) => `k${i}=${i}`).join('&');
  const deepForm = `a${'[b]'.repeat(40)}=1`;
  const deep = deepNesting(30_000).text;
  const send = (body: object) => JSON.stringify({ type: 'fz.fixed', ...body });
  const mine = `/threads/${own}/messages`;
  // [route, path, extra headers, body (POST only), credential]
  const table: Array<
    [RouteName, string, Record<string, string>, string | Buffer | null, 'user' | 'admin' | 'bad']
  > = [
    ['history:get', '/threads/%FF/messages', {}, null, 'user'],
    ['history:get', '/threads/%/messages', {}, null, 'user'],
    ['history:get', `/threads/${own}%ZZ/messages`, {}, null, 'user'],
    ['history:post', '/threads/%E0%A4/messages', json, message('fx-1'), 'user'],
    ['history:get', '/threads/../messages', {}, null, 'user'],
    ['history:get', '/threads/%2e%2e/messages', {}, null, 'user'],
    ['history:get', '/threads/a%2Fb/messages', {}, null, 'user'],
    ['history:get', '/threads/%00/messages', {}, null, 'user'],
    ['history:get', `/threads/${own}${RUN_SUFFIX}/messages`, {}, null, 'user'],
    ['history:get', `${mine}?after=1e3&limit=NaN`, {}, null, 'user'],
    ['history:get', `${mine}?after=999999999999999&limit=99999999999999`, {}, null, 'user'],
    ['history:get', `${mine}?after=-0&limit=-1`, {}, null, 'user'],
    ['history:get', mine, {}, null, 'bad'], // the admin token on a user route
    ['history:post', mine, form, manyParams, 'user'],
    ['history:post', mine, form, deepForm, 'user'],
    ['history:post', mine, form, 'text=form&clientMessageId=fx-form', 'user'],
    ['history:post', mine, { ...json, 'content-encoding': 'gzip' }, message('fx-2'), 'user'],
    ['history:post', mine, { ...json, 'content-encoding': 'deflate' }, message('fx-3'), 'user'],
    ['history:post', mine, { ...json, 'content-encoding': 'br' }, message('fx-4'), 'user'],
    ['history:post', mine, { ...json, 'content-encoding': 'x-fuzz' }, message('fx-5'), 'user'],
    [
      'history:post',
      mine,
      { ...json, 'content-encoding': 'gzip' },
      gzipSync(message('fx-6')),
      'user',
    ],
    [
      'history:post',
      mine,
      { 'content-type': 'application/json; charset=iso-8859-1' },
      message('fx-7'),
      'user',
    ],
    ['history:post', mine, { 'content-type': 'text/plain' }, message('fx-8'), 'user'],
    [
      'history:post',
      mine,
      json,
      `{"text":"${'z'.repeat(200_000)}","clientMessageId":"fx-9"}`,
      'user',
    ],
    [
      'history:post',
      mine,
      json,
      '{"__proto__":{"text":"x"},"text":"y","clientMessageId":"fx-10"}',
      'user',
    ],
    [
      'history:post',
      mine,
      json,
      '{"text":"a","clientMessageId":"fx-11","constructor":{"prototype":{"p":1}}}',
      'user',
    ],
    ['history:post', mine, json, '{"text":"\\ud800","clientMessageId":"fx-12"}', 'user'],
    ['history:post', mine, json, '{"text":1e400,"clientMessageId":"fx-13"}', 'user'],
    ['history:post', mine, json, `{"text":"a","clientMessageId":"fx-14","x":${deep}}`, 'user'],
    [
      'debug:send',
      '/debug/websocket/send',
      { ...json, 'content-encoding': 'gzip' },
      '{"threadId":"x"}',
      'admin',
    ],
    ['debug:send', '/debug/websocket/send', form, manyParams, 'admin'],
    ['debug:send', '/debug/websocket/send', form, deepForm, 'admin'],
    ['debug:send', '/debug/websocket/send', json, send({ threadId: own, payload: 1e308 }), 'admin'],
    [
      'debug:send',
      '/debug/websocket/send',
      json,
      `{"threadId":"${own}","type":"fz.fixed","payload":${deep}}`,
      'admin',
    ],
    [
      'debug:send',
      '/debug/websocket/send',
      json,
      `{"threadId":"${own}","type":"x","payload":{"__proto__":{"p":1}}}`,
      'admin',
    ],
    [
      'debug:send',
      '/debug/websocket/send',
      json,
      send({ threadId: own, runId: fx.runOf.get(user) }),
      'admin',
    ],
    ['debug:send', '/debug/websocket/send', json, send({ runId: `${own}${RUN_SUFFIX}` }), 'admin'],
    [
      'debug:send',
      '/debug/websocket/send',
      json,
      send({ runId: 't1_run_1756919162904_9adf1f09' }),
      'admin',
    ],
    ['debug:connections', '/debug/websocket/connections?limit=0', {}, null, 'admin'],
    ['debug:threads', '/debug/websocket/threads?limit=1000000', {}, null, 'admin'],
    ['debug:mappings', '/debug/websocket/mappings?limit=1000', {}, null, 'admin'],
    ['debug:connections', '/debug/websocket/connections', {}, null, 'bad'], // a user token
  ];
  for (const list of ['connections', 'threads', 'mappings'] as const) {
    for (const cursor of [
      '99999999999999999999',
      '18446744073709551616',
      '18446744073709551615',
      '0',
      '-1',
      'abc',
    ]) {
      table.push([`debug:${list}`, `/debug/websocket/${list}?cursor=${cursor}`, {}, null, 'admin']);
    }
  }
  return table.map(([route, path, headers, body, credential]) => {
    const admin = route.startsWith('debug:');
    // 'bad' is the other kind's credential: a user token on an admin route and vice versa.
    const key = credential === 'bad' ? (admin ? 'user' : 'admin') : credential;
    const c: HttpCase = {
      route,
      method: body === null ? 'GET' : 'POST',
      path,
      headers: { ...auth[key], ...headers },
      auth: credential,
      userId: user,
      threadId: path.startsWith(mine) ? own : undefined,
      pathKind: 'fixed',
    };
    if (body !== null) c.body = Buffer.isBuffer(body) ? body : Buffer.from(body);
    return c;
  });
}

async function runHttpFuzz(fx: Fixture, rng: Rng, findings: Findings): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: HTTP_CONCURRENCY });
  let next = 0;
  let sent = 0;
  const cases = [
    ...fixedHttpCases(fx),
    ...Array.from({ length: HTTP_CASES }, () => httpCase(rng, fx)),
  ];
  try {
    await Promise.all(
      Array.from({ length: HTTP_CONCURRENCY }, async () => {
        while (next < cases.length) {
          const c = cases[next++] as HttpCase;
          const answer = await sendHttp(fx.relay.url, agent, c);
          if (answer.status === -1) continue; // refused by the client, never sent
          sent += 1;
          checkHttpAnswer(fx, c, answer, findings);
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  return sent;
}

// ---------------------------------------------------------------------------------------
// The suite.
// ---------------------------------------------------------------------------------------

/** Outcomes the socket fuzz must reach, so it is known to get past validation. */
const SOCKET_OUTCOMES = [
  'thread:join -> ok',
  'thread:join -> FORBIDDEN',
  'thread:join -> BAD_REQUEST',
  'thread:leave -> ok',
  'thread:leave -> BAD_REQUEST',
  'thread:ack -> ok',
  'thread:ack -> BAD_REQUEST',
  'user:message -> ok',
  'user:message -> FORBIDDEN',
  'user:message -> BAD_REQUEST',
  'user:message -> PAYLOAD_TOO_LARGE',
  'auth:refresh -> ok',
  'auth:refresh -> UNAUTHORIZED',
  'auth:refresh -> BAD_REQUEST',
  'unknown event -> BAD_REQUEST',
];

/** Outcomes the HTTP fuzz must reach. */
const HTTP_OUTCOMES = [
  'history:get -> 200',
  'history:get -> 400 BAD_REQUEST',
  'history:get -> 400 INVALID_ID',
  'history:get -> 401 UNAUTHORIZED',
  'history:get -> 403 FORBIDDEN',
  'history:get -> 404 THREAD_NOT_FOUND',
  'history:post -> 200',
  'history:post -> 400 BAD_REQUEST',
  'history:post -> 401 UNAUTHORIZED',
  'history:post -> 403 FORBIDDEN',
  'history:post -> 413 PAYLOAD_TOO_LARGE',
  'debug:send -> 201',
  'debug:send -> 400 BAD_REQUEST',
  'debug:send -> 400 INVALID_EVENT_TYPE',
  'debug:send -> 401 UNAUTHORIZED',
  'debug:send -> 404 THREAD_NOT_FOUND',
  'debug:connections -> 200',
  'debug:threads -> 200',
  'debug:mappings -> 200',
  'health -> 200',
  'metrics -> 200',
];

/** With `FUZZ_VERBOSE=1`, prints what the fuzz reached. */
function verbose(title: string, findings: Findings): void {
  if (process.env.FUZZ_VERBOSE) process.stdout.write(`\n${title}:\n${findings.summary()}\n`);
}

const LIMITS = {
  clientEvents: { perSecond: 100_000, burst: 100_000 },
  userMessages: { perMinute: 100_000, burst: 100_000 },
  joinedThreadsPerConnection: 100_000,
  concurrentJoinsPerConnection: 10_000,
  autoRegisteredThreadsPerUser: 100_000,
  connectionsPerUser: 1000,
};

describe.each<[string, () => TestRelayOptions]>([
  ['memory', () => ({})],
  ['redis', () => ({ redis: testRedisUrl(), keyPrefix: uniquePrefix('fuzz') })],
])(`fuzz (%s backend, FUZZ_SEED=${SEED})`, (mode, config) => {
  const logger = new CollectingLogger();
  const rng = new Rng(SEED).fork(mode);
  let relay: RelayApp;
  let fx: Fixture;
  let bystander: Socket;
  const bystanderEvents: unknown[] = [];
  const bystanderThread = `fz-${mode}-bystander-t`;

  beforeAll(async () => {
    relay = await startRelayApp({
      ...config(),
      limits: LIMITS,
      // Small logs: joins replay whole logs, and the fuzz writes many messages.
      history: { maxPerThread: 50 },
      debug: { adminToken: TEST_ADMIN_TOKEN },
      logger,
    });
    fx = await buildFixture(relay, mode);
    await relay.registry.registerThread(bystanderThread, 'fz-bystander');
    bystander = await connectSocket(relay.url, await relay.token('fz-bystander'));
    bystander.on('thread:event', (event: unknown) => bystanderEvents.push(event));
    const joined = (await bystander
      .timeout(5000)
      .emitWithAck('thread:join', { threadId: bystanderThread })) as Json;
    expect(joined).toMatchObject({ ok: true, threadId: bystanderThread });
  }, 30_000);

  afterAll(async () => {
    bystander?.close();
    await relay?.close();
  });

  it(`answers ${SOCKET_CASES} socket events exactly once in the Ack shape, never INTERNAL, without closing connections`, async () => {
    const findings = new Findings();
    const sent = await runSocketFuzz(fx, rng.fork('socket'), findings);
    verbose(`socket outcomes (${mode})`, findings);
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
    verbose(`HTTP outcomes (${mode})`, findings);
    expect(sent).toBeGreaterThan(HTTP_CASES * 0.95);
    expect(findings.report()).toEqual([]);
    expect(findings.unreached(HTTP_OUTCOMES)).toEqual([]);
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

import type { Redis } from 'ioredis';
import { RelayUnavailableError } from '../errors/relay-unavailable.error.js';
import type { JsonValue } from '../protocol.js';
import { waitUntilReady } from '../redis/wait-until-ready.js';
import { assertReadWindow, newEpoch, toThreadEvent } from './memory-message-log.js';
import type {
  AppendOptions,
  AppendResult,
  HistorySlice,
  LogState,
  MessageLog,
  NewEvent,
  RetentionOptions,
} from './message-log.interface.js';
import { RedisMessageLogKeys } from './redis-message-log.keys.js';

/**
 * KEYS: meta, log, idem, counted set. ARGV: epoch for a new log, encoded event, idempotency
 * key ('' for none), maxPerThread, ttlSeconds, '1' to count the set's members (else '0').
 * Returns {1, seq, epoch, count} when appended, {0, seq, epoch, count, fields} for an
 * idempotent hit; count is -1 when not asked for.
 *
 * Lua scripts are not rolled back on error, so nothing that matters is written before XADD,
 * the one command that could fail on bad state: if it fails the head stays where it was.
 * A missing meta hash means the log is new (never written, expired or dropped); leftovers
 * of the stream or the idempotency hash (their expiry is separate) are deleted so nothing
 * of an old epoch leaks into the new one and XADD's ids restart at 1.
 */
const APPEND_LUA = `
local meta, log, idem = KEYS[1], KEYS[2], KEYS[3]
local key = ARGV[3]
local count = -1
if ARGV[6] == '1' then count = redis.call('SCARD', KEYS[4]) end
local state = redis.call('HMGET', meta, 'epoch', 'head')
local epoch, head = state[1], tonumber(state[2])
if not epoch then
  redis.call('DEL', log, idem)
  epoch, head = ARGV[1], 0
  redis.call('HSET', meta, 'epoch', epoch, 'head', 0)
elseif key ~= '' then
  local prior = redis.call('HGET', idem, key)
  if prior then
    local found = redis.call('XRANGE', log, prior .. '-0', prior .. '-0')
    if found[1] then return {0, tonumber(prior), epoch, count, found[1][2]} end
    redis.call('HDEL', idem, key)
  end
end
local seq = head + 1
local max = tonumber(ARGV[4])
local len = redis.call('XLEN', log)
if len >= max then
  for _, entry in ipairs(redis.call('XRANGE', log, '-', '+', 'COUNT', len - max + 1)) do
    local fields = entry[2]
    for i = 1, #fields, 2 do
      if fields[i] == 'k' and (redis.call('HGET', idem, fields[i + 1]) or '') .. '-0' == entry[1] then
        redis.call('HDEL', idem, fields[i + 1])
      end
    end
  end
end
local id = string.format('%d-0', seq)
if key ~= '' then
  redis.call('XADD', log, 'MAXLEN', max, id, 'e', ARGV[2], 'k', key)
  redis.call('HSET', idem, key, string.format('%d', seq))
else
  redis.call('XADD', log, 'MAXLEN', max, id, 'e', ARGV[2])
end
redis.call('HINCRBY', meta, 'head', 1)
redis.call('EXPIRE', meta, ARGV[5])
redis.call('EXPIRE', log, ARGV[5])
redis.call('EXPIRE', idem, ARGV[5])
return {1, seq, epoch, count}
`;

/**
 * KEYS: meta, log. ARGV: first stream id to return, count (0 = state only).
 * Returns {epoch, head, xlen, entries}, epoch '' when the log does not exist. One script,
 * so the state and the events come from the same instant.
 */
const READ_LUA = `
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'head')
if not meta[1] then return {'', 0, 0, {}} end
local len = redis.call('XLEN', KEYS[2])
local entries = {}
if tonumber(ARGV[2]) > 0 then
  entries = redis.call('XRANGE', KEYS[2], ARGV[1], '+', 'COUNT', ARGV[2])
end
return {meta[1], tonumber(meta[2]), len, entries}
`;

/**
 * KEYS: meta, log, idem. ARGV: epoch for a new log, ttlSeconds. Returns {epoch, head, xlen}.
 * An existing log keeps its TTL: only appends extend a log's life.
 */
const ENSURE_LUA = `
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'head')
if meta[1] then return {meta[1], tonumber(meta[2]), redis.call('XLEN', KEYS[2])} end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'head', 0)
redis.call('EXPIRE', KEYS[1], ARGV[2])
return {ARGV[1], 0, 0}
`;

/** Names are specific to this library because they become methods of the caller's client. */
const APPEND_COMMAND = 'threadRelayLogAppend';
const READ_COMMAND = 'threadRelayLogRead';
const ENSURE_COMMAND = 'threadRelayLogEnsure';

type ScriptArg = string | number;
interface LogScripts {
  [APPEND_COMMAND](...args: ScriptArg[]): Promise<unknown>;
  [READ_COMMAND](...args: ScriptArg[]): Promise<unknown>;
  [ENSURE_COMMAND](...args: ScriptArg[]): Promise<unknown>;
}

/** What the stream's `e` field holds: the event without what the key and stream id already say. */
interface StoredBody {
  id: string;
  type: string;
  payload: JsonValue;
  runId?: string;
  ts: number;
}

/**
 * The log shared by every instance. Each operation is one Lua script over the thread's
 * three keys (one hash slot; layout in `redis-message-log.keys.ts`), so the seq is
 * assigned, stored and made idempotent atomically on the server, whichever instance asks.
 *
 * Concurrency: every call is a single EVALSHA and never waits on another, and ioredis
 * writes each command to the socket as soon as it is issued, so concurrent appends are in
 * flight together rather than one round trip each. Nothing here depends on a client's
 * `enableAutoPipelining` either way (the module leaves it off on the clients it creates).
 *
 * The scripts are registered with `defineCommand`, which sends the script body once per
 * connection (also after a reconnect or SCRIPT FLUSH) and EVALSHA afterwards. The client
 * belongs to the caller: `close()` leaves it open.
 */
export class RedisMessageLog implements MessageLog {
  private readonly keys: RedisMessageLogKeys;
  private readonly scripts: LogScripts;

  /**
   * `countedSetOf`, when given, names a set of the thread (same hash tag) whose size every
   * append returns as `AppendResult.countedMembers`: the module passes the registry's set of
   * connections joined to the thread, which saves each send a command of its own.
   */
  constructor(
    private readonly client: Redis,
    private readonly retention: RetentionOptions,
    keyPrefix = '',
    private readonly countedSetOf?: (threadId: string) => string,
  ) {
    this.keys = new RedisMessageLogKeys(keyPrefix);
    client.defineCommand(APPEND_COMMAND, { numberOfKeys: 4, lua: APPEND_LUA });
    client.defineCommand(READ_COMMAND, { numberOfKeys: 2, lua: READ_LUA });
    client.defineCommand(ENSURE_COMMAND, { numberOfKeys: 3, lua: ENSURE_LUA });
    this.scripts = client as unknown as LogScripts;
  }

  async append(input: NewEvent, options: AppendOptions = {}): Promise<AppendResult> {
    const { threadId } = input;
    const body: StoredBody = {
      id: input.id,
      type: input.type,
      payload: input.payload,
      ts: input.ts,
    };
    if (input.runId !== undefined) body.runId = input.runId;
    if (options.notAfter !== undefined && !(await waitUntilReady(this.client, options.notAfter))) {
      throw new RelayUnavailableError(
        `append: Redis is not connected; the event was not stored (delivery.unavailableTimeoutMs)`,
      );
    }
    // ioredis resends a command whose reply a dropped connection lost
    // (`autoResendUnfulfilledCommands`), so this script can run twice for one call. The
    // event id is fresh per call, so without a key of the caller's it is the key ('#'
    // cannot start a caller's key): the second run then finds the first instead of
    // storing the event again under the next seq.
    const meta = this.keys.meta(threadId);
    const reply = asArray(
      await this.scripts[APPEND_COMMAND](
        meta,
        this.keys.log(threadId),
        this.keys.idem(threadId),
        // Without a set to count, the meta key stands in: it is in the slot and never read.
        this.countedSetOf?.(threadId) ?? meta,
        newEpoch(),
        JSON.stringify(body),
        options.idempotencyKey ?? `#${input.id}`,
        this.retention.maxPerThread,
        this.retention.ttlSeconds,
        this.countedSetOf ? '1' : '0',
      ),
      'append',
    );
    const seq = asInteger(reply[1], 'append seq');
    const epoch = asString(reply[2], 'append epoch');
    const count = asInteger(reply[3], 'append count');
    const counted = count >= 0 ? { countedMembers: count } : {};
    if (reply[0] === 1) {
      return { event: toThreadEvent(threadId, seq, epoch, input), appended: true, ...counted };
    }
    const earlier = decodeBody(streamFields(reply[4], 'idempotent entry'), seq, threadId);
    // Our own event: the hit is this call's append, run twice by a resend; it was appended.
    return {
      event: toThreadEvent(threadId, seq, epoch, earlier),
      appended: earlier.id === input.id,
      ...counted,
    };
  }

  async read(threadId: string, afterSeq: number, limit: number): Promise<HistorySlice> {
    assertReadWindow(afterSeq, limit);
    const [meta, log] = this.keys.forThread(threadId);
    const reply = asArray(
      await this.scripts[READ_COMMAND](meta, log, `${afterSeq + 1}-0`, limit),
      'read',
    );
    const state = toState(reply[0], reply[1], reply[2]);
    const events = asArray(reply[3], 'read entries').map((entry) => {
      const [id, fields] = asArray(entry, 'stream entry');
      const seq = seqOfStreamId(id);
      const body = decodeBody(streamFields(fields, `entry ${seq}`), seq, threadId);
      return toThreadEvent(threadId, seq, state.epoch, body);
    });
    return { ...state, events };
  }

  async state(threadId: string): Promise<LogState> {
    const { epoch, headSeq, firstSeq } = await this.read(threadId, 0, 0);
    return { epoch, headSeq, firstSeq };
  }

  async ensure(threadId: string): Promise<LogState> {
    const reply = asArray(
      await this.scripts[ENSURE_COMMAND](
        ...this.keys.forThread(threadId),
        newEpoch(),
        this.retention.ttlSeconds,
      ),
      'ensure',
    );
    return toState(reply[0], reply[1], reply[2]);
  }

  async drop(threadId: string): Promise<void> {
    await this.client.del(...this.keys.forThread(threadId));
  }

  /** The client is the caller's (or the module's RedisConnections') to quit. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function toState(epoch: unknown, head: unknown, length: unknown): LogState {
  const headSeq = asInteger(head, 'head');
  return {
    epoch: asString(epoch, 'epoch'),
    headSeq,
    firstSeq: headSeq - asInteger(length, 'stream length') + 1,
  };
}

function seqOfStreamId(id: unknown): number {
  const text = asString(id, 'stream id');
  const seq = Number(text.slice(0, text.indexOf('-')));
  if (!Number.isSafeInteger(seq) || seq < 1) throw new Error(`Unexpected stream id ${text}`);
  return seq;
}

/** A stream entry's field list `[name, value, ...]` as a lookup. */
function streamFields(value: unknown, what: string): Map<string, string> {
  const flat = asArray(value, what);
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) {
    fields.set(asString(flat[i], what), asString(flat[i + 1], what));
  }
  return fields;
}

function decodeBody(fields: Map<string, string>, seq: number, threadId: string): StoredBody {
  const text = fields.get('e');
  const parsed: unknown = text === undefined ? undefined : JSON.parse(text);
  if (
    typeof parsed === 'object' &&
    parsed !== null &&
    'id' in parsed &&
    typeof parsed.id === 'string' &&
    'type' in parsed &&
    typeof parsed.type === 'string' &&
    'payload' in parsed &&
    'ts' in parsed &&
    typeof parsed.ts === 'number' &&
    (!('runId' in parsed) || typeof parsed.runId === 'string')
  ) {
    return parsed as StoredBody;
  }
  throw new Error(`Stored event ${seq} of thread ${JSON.stringify(threadId)} is not readable`);
}

function asArray(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`Unexpected Redis reply for ${what}`);
  return value as unknown[];
}

function asString(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new Error(`Unexpected Redis reply for ${what}`);
  return value;
}

function asInteger(value: unknown, what: string): number {
  const number = typeof value === 'string' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number)) {
    throw new Error(`Unexpected Redis reply for ${what}`);
  }
  return number;
}

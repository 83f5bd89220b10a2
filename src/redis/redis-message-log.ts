import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './redis-client.js';
import { LuaScript } from './lua-script.js';
import type { ReplicaAcks } from './replica-acks.js';
import { RelayUnavailableError } from '../errors/relay-unavailable.error.js';
import type { ThreadEvent } from '../protocol.js';
import { waitUntilReady } from './wait-until-ready.js';
import {
  decodeEventBody,
  encodeEventBody,
  toThreadEvent,
  type EventBody,
} from '../events/thread-event.codec.js';
import { assertReadWindow, newEpoch } from '../delivery/message-log.rules.js';
import type {
  AppendOptions,
  AppendResult,
  HistorySlice,
  LogState,
  MessageLog,
  NewEvent,
  RetentionOptions,
} from '../delivery/message-log.interface.js';
import { RedisKeys } from './redis-keys.js';
import { asArray, asInteger, asString } from './redis-replies.js';

/**
 * KEYS: meta, log, idem, counted set. ARGV: epoch for a new log, encoded event, idempotency
 * key ('' for none), maxPerThread, ttlSeconds, '1' to count the set's members (else '0'),
 * the thread's live channel ('' for none), the publish command (PUBLISH, or SPUBLISH in
 * Redis Cluster), '1' to name the cluster node that ran it (else '0'). Returns {1, seq,
 * epoch, count, nil, node} when appended, {0, seq, epoch, count, fields, node} for an
 * idempotent hit; count is -1 when not asked for, node nil.
 *
 * The event is published in the same step as it is stored: no writer can die in between,
 * so an event in the log has always been announced (`cluster/live-messages.ts` has the
 * message format).
 *
 * Lua scripts are not rolled back on error, so nothing that matters is written before XADD,
 * the one command that could fail on bad state: if it fails the head stays where it was.
 * A missing meta hash means the log is new (never written, expired or dropped); leftovers
 * of the stream or the idempotency hash (their expiry is separate) are deleted so nothing
 * of an old epoch leaks into the new one and XADD's ids restart at 1.
 */
const APPEND = new LuaScript(`
local meta, log, idem = KEYS[1], KEYS[2], KEYS[3]
local node = false
if ARGV[9] == '1' then node = redis.call('CLUSTER', 'MYID') end
local key = ARGV[3]
local count = -1
if ARGV[6] == '1' then count = redis.call('SCARD', KEYS[4]) end
local state = redis.call('HMGET', meta, 'epoch', 'head', 'maxb', 'ttlAt')
local epoch, head = state[1], tonumber(state[2])
local created = not epoch
if created then
  redis.call('DEL', log, idem)
  epoch, head = ARGV[1], 0
elseif key ~= '' then
  local prior = redis.call('HGET', idem, key)
  if prior then
    local found = redis.call('XRANGE', log, prior .. '-0', prior .. '-0')
    if found[1] then return {0, tonumber(prior), epoch, count, found[1][2], node} end
    redis.call('HDEL', idem, key)
  end
end
local seq = head + 1
local max = tonumber(ARGV[4])
-- Stream ids are seqs up to the head, so a log whose head is below the cap is below it too.
local len = head
if head >= max then len = redis.call('XLEN', log) end
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
local update = {'head', seq}
if created then table.insert(update, 'epoch'); table.insert(update, epoch) end
if #ARGV[2] > (tonumber(state[3]) or 0) then
  table.insert(update, 'maxb'); table.insert(update, #ARGV[2])
end
-- The three keys' TTL is renewed together, at most once per hundredth of it: a log lives
-- ttlSeconds (less at most 1%) after its last append, for one TIME instead of 3 EXPIREs.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[5])
local renew = created or not state[4] or now - tonumber(state[4]) >= ttl * 10
if renew then table.insert(update, 'ttlAt'); table.insert(update, now) end
redis.call('HSET', meta, unpack(update))
if renew then
  redis.call('EXPIRE', meta, ttl)
  redis.call('EXPIRE', log, ttl)
  redis.call('EXPIRE', idem, ttl)
end
if ARGV[7] ~= '' then
  redis.call(ARGV[8], ARGV[7], 'e' .. seq .. '\\n' .. epoch .. '\\n' .. ARGV[2])
end
return {1, seq, epoch, count, false, node}
`);

/**
 * KEYS: meta, log, idem. ARGV: epoch for a new log, ttlSeconds. Returns {epoch, head, xlen}.
 * An existing log keeps its TTL: only appends extend a log's life.
 */
const ENSURE = new LuaScript(`
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'head')
if meta[1] then return {meta[1], tonumber(meta[2]), redis.call('XLEN', KEYS[2])} end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'head', 0)
redis.call('EXPIRE', KEYS[1], ARGV[2])
return {ARGV[1], 0, 0}
`);

/**
 * Most bytes one XRANGE may return, judged by the largest event the log ever held: Redis
 * answers a command whole before it serves anyone else, so a read of many large events is
 * cut into commands of about this size.
 */
const READ_CHUNK_BYTES = 1024 * 1024;

/**
 * The log shared by every instance. Each operation is one Lua script over the thread's
 * three keys (one hash slot; layout in `redis-keys.ts`), so the seq is
 * assigned, stored and made idempotent atomically on the server, whichever instance asks.
 *
 * Concurrency: every call is a single EVALSHA and never waits on another, and ioredis
 * writes each command to the socket as soon as it is issued, so concurrent appends are in
 * flight together rather than one round trip each. Nothing here depends on a client's
 * `enableAutoPipelining` either way (the module leaves it off on the clients it creates).
 *
 * The scripts run as EVALSHA, with EVAL once per node that has not cached them (also after
 * a restart or SCRIPT FLUSH); nothing is added to the client, which belongs to the caller:
 * `close()` leaves it open.
 */
export class RedisMessageLog implements MessageLog {
  private readonly keys: RedisKeys;

  /**
   * `countedSetOf`, when given, names a set of the thread (same hash tag) whose size every
   * append returns as `AppendResult.countedMembers`: the module passes the registry's set of
   * connections joined to the thread, which saves each send a command of its own.
   */
  constructor(
    private readonly client: RedisClient,
    private readonly retention: RetentionOptions,
    keyPrefix = '',
    private readonly countedSetOf?: (threadId: string) => string,
    private readonly maxEventBytes = 65_536,
    private readonly announce?: { channelOf: (threadId: string) => string; command: string },
    /** Replicas that must hold each append before it resolves (`delivery.replicaAcks`). */
    private readonly replicaAcks: ReplicaAcks | null = null,
  ) {
    this.keys = new RedisKeys(keyPrefix);
  }

  async append(input: NewEvent, options: AppendOptions = {}): Promise<AppendResult> {
    const { threadId } = input;
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
    const meta = this.keys.threadMeta(threadId);
    const keys = [
      meta,
      this.keys.threadLog(threadId),
      this.keys.threadIdem(threadId),
      // Without a set to count, the meta key stands in: it is in the slot and never read.
      this.countedSetOf?.(threadId) ?? meta,
    ];
    const args = [
      newEpoch(),
      encodeEventBody(input),
      options.idempotencyKey ?? `#${input.id}`,
      this.retention.maxPerThread,
      this.retention.ttlSeconds,
      this.countedSetOf ? '1' : '0',
      this.announce?.channelOf(threadId) ?? '',
      this.announce?.command ?? 'PUBLISH',
    ];
    const reply = asArray(await this.appendScript(keys, args), 'append');
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

  /** The append; with `replicaAcks`, on its own client and confirmed by replicas (or refused). */
  private async appendScript(keys: string[], args: (string | number)[]): Promise<unknown> {
    if (!this.replicaAcks) return APPEND.run(this.client, keys, args);
    const acks = this.replicaAcks;
    const reply = asArray(
      await APPEND.run(acks.config.client, keys, [...args, acks.needsNodeId ? '1' : '0']),
      'append',
    );
    const node = reply[5];
    await acks.confirm(typeof node === 'string' ? node : null);
    return reply;
  }

  /**
   * Plain commands in MULTI, not a script: a script's reply is copied into Lua and back,
   * which for large events holds Redis many times longer than the XRANGE itself. The first
   * transaction reads the state (with the largest event size the log ever held) and a
   * first chunk sized for the worst case; later chunks are sized by that largest event, and
   * each checks the epoch so a log replaced meanwhile is never mixed in.
   */
  async read(
    threadId: string,
    afterSeq: number,
    limit: number,
    maxBytes?: number,
  ): Promise<HistorySlice> {
    assertReadWindow(afterSeq, limit);
    const [metaKey, logKey] = this.keys.threadLogKeys(threadId);
    const chunkFor = (largest: number) =>
      Math.max(1, Math.floor(Math.min(READ_CHUNK_BYTES, maxBytes ?? Infinity) / largest));
    const first = Math.min(limit, chunkFor(this.maxEventBytes));
    const head = this.client.multi().hmget(metaKey, 'epoch', 'head', 'maxb').xlen(logKey);
    if (first > 0) head.xrange(logKey, `${afterSeq + 1}-0`, '+', 'COUNT', first);
    const [meta, length, entries] = await exec(head, 'read');
    const [epoch, headSeq, largest] = asArray(meta, 'read state');
    if (epoch === null || epoch === undefined) {
      return { epoch: '', headSeq: 0, firstSeq: 1, events: [] };
    }
    const state = toState(epoch, headSeq, length);
    const events: ThreadEvent[] = [];
    let bytes = 0;
    let cursor = afterSeq;
    let batch: unknown[] = first > 0 ? asArray(entries, 'read entries') : [];
    const chunk = chunkFor(Math.max(1, Number(largest ?? 0) || this.maxEventBytes));
    for (;;) {
      for (const entry of batch) {
        const [id, fields] = asArray(entry, 'stream entry');
        const seq = seqOfStreamId(id);
        const body = streamFields(fields, `entry ${seq}`);
        const size = Buffer.byteLength(body.get('e') ?? '', 'utf8');
        if (maxBytes !== undefined && bytes + size > maxBytes && events.length > 0) {
          return bounded({ ...state, events }, maxBytes, bytes);
        }
        bytes += size;
        events.push(toThreadEvent(threadId, seq, state.epoch, decodeBody(body, seq, threadId)));
        cursor = seq;
      }
      const wanted = Math.min(limit - events.length, chunk);
      if (batch.length === 0 || wanted <= 0 || cursor >= state.headSeq) {
        return bounded({ ...state, events }, maxBytes, bytes);
      }
      const [again, more] = await exec(
        this.client
          .multi()
          .hget(metaKey, 'epoch')
          .xrange(logKey, `${cursor + 1}-0`, '+', 'COUNT', wanted),
        'read',
      );
      // Replaced between two chunks: what was read is of the epoch it says; stop there.
      if (again !== state.epoch) return bounded({ ...state, events }, maxBytes, bytes);
      batch = asArray(more, 'read entries');
    }
  }

  async state(threadId: string): Promise<LogState> {
    const { epoch, headSeq, firstSeq } = await this.read(threadId, 0, 0);
    return { epoch, headSeq, firstSeq };
  }

  async ensure(threadId: string): Promise<LogState> {
    const reply = asArray(
      await ENSURE.run(this.client, this.keys.threadLogKeys(threadId), [
        newEpoch(),
        this.retention.ttlSeconds,
      ]),
      'ensure',
    );
    return toState(reply[0], reply[1], reply[2]);
  }

  async drop(threadId: string): Promise<void> {
    await this.client.del(...this.keys.threadLogKeys(threadId));
  }

  /** The client is the caller's (or the module's RedisConnections') to quit. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** EXEC's replies, each checked for its own error. */
async function exec(transaction: ChainableCommander, what: string): Promise<unknown[]> {
  const results = await transaction.exec();
  if (!results) throw new Error(`Redis discarded the ${what} transaction`);
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

/** The bytes read go with a bounded read only: that is where callers pay for them. */
function bounded(slice: HistorySlice, maxBytes: number | undefined, bytes: number): HistorySlice {
  return maxBytes === undefined ? slice : { ...slice, bytes };
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

function decodeBody(fields: Map<string, string>, seq: number, threadId: string): EventBody {
  return decodeEventBody(
    fields.get('e'),
    `Stored event ${seq} of thread ${JSON.stringify(threadId)}`,
  );
}

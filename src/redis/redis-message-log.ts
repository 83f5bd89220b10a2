import type { RedisClient } from './redis-client.js';
import type { ReplicaAcks } from './replica-acks.js';
import { RelayUnavailableError } from '../errors/relay-unavailable.error.js';
import type { ThreadEvent } from '../protocol.js';
import { waitUntilReady } from './wait-until-ready.js';
import { encodeEventBody, toThreadEvent } from '../events/thread-event.codec.js';
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
import { APPEND, ENSURE } from './redis-message-log.scripts.js';
import { decodeBody, seqOfStreamId, streamFields, toState } from './redis-message-log.replies.js';
import { asArray, asInteger, asString, exec } from './redis-replies.js';

/**
 * Most bytes one XRANGE may return, judged by the largest event the log ever held: Redis
 * answers a command whole before it serves anyone else, so a read of many large events is
 * cut into commands of about this size.
 */
const READ_CHUNK_BYTES = 1024 * 1024;

/**
 * The log shared by every instance. An append is one Lua script over the thread's three
 * keys (one hash slot; layout in `redis-keys.ts`, scripts in `redis-message-log.scripts.ts`),
 * so the seq is assigned, stored and made idempotent atomically on the server, whichever
 * instance asks.
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
    const [meta, log, idem] = this.keys.threadLogKeys(threadId);
    const keys = [
      meta,
      log,
      idem,
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

/** The bytes read go with a bounded read only: that is where callers pay for them. */
function bounded(slice: HistorySlice, maxBytes: number | undefined, bytes: number): HistorySlice {
  return maxBytes === undefined ? slice : { ...slice, bytes };
}

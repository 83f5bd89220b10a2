import type { RedisClient } from './redis-client.js';
import type { ReplicaAcks } from './replica-acks.js';
import { RelayUnavailableError } from '../errors/relay-unavailable.error.js';
import { waitUntilReady } from './wait-until-ready.js';
import { encodeEventBody, toThreadEvent } from '../events/thread-event.codec.js';
import { newEpoch } from '../delivery/message-log.rules.js';
import type {
  AppendOptions,
  AppendResult,
  LogState,
  MessageLog,
  NewEvent,
  RetentionOptions,
} from '../delivery/message-log.interface.js';
import { RedisKeys } from './redis-keys.js';
import { APPEND, ENSURE } from './redis-message-log.scripts.js';
import { RedisLogReader } from './redis-message-log.reader.js';
import { decodeBody, streamFields, toState } from './redis-message-log.replies.js';
import { asArray, asInteger, asString } from './redis-replies.js';

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
  private readonly reader: RedisLogReader;

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
    this.reader = new RedisLogReader(client, this.keys, maxEventBytes);
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

  /** Chunked, so a read of many large events never holds Redis long (`RedisLogReader`). */
  read(threadId: string, afterSeq: number, limit: number, maxBytes?: number) {
    return this.reader.read(threadId, afterSeq, limit, maxBytes);
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

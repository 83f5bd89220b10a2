import type { JsonValue, ResetReason, ThreadEvent } from '../protocol.js';

/** What the producer hands to the log; `seq` and `epoch` are assigned by the log. */
export interface NewEvent {
  id: string;
  threadId: string;
  type: string;
  payload: JsonValue;
  /** `payload` as JSON, when the caller has it already: a store that writes JSON reuses it. */
  payloadJson?: string;
  runId?: string;
  ts: number;
}

export interface AppendOptions {
  /** Within retention, the same key returns the first append's result and stores nothing. */
  idempotencyKey?: string;
  /**
   * Epoch ms after which the caller no longer waits: a store that is not connected by then
   * throws `RelayUnavailableError` without writing, so the event is surely not stored.
   */
  notAfter?: number;
}

export interface AppendResult {
  event: ThreadEvent;
  /** false when the idempotency key matched an earlier append; `event` is then that earlier event. */
  appended: boolean;
  /**
   * Members of a set the log was configured to count in the same step (the Redis log is
   * given the thread's joined-connections set); absent when the log counts nothing.
   */
  countedMembers?: number;
}

export interface LogState {
  /** Empty string when the log does not exist (never written, or expired). */
  epoch: string;
  headSeq: number;
  /** Lowest seq still stored; `headSeq + 1` when nothing is stored. */
  firstSeq: number;
}

export interface HistorySlice extends LogState {
  events: ThreadEvent[];
  /** Bytes of JSON the events took to read, when the log measured them (bounded reads do). */
  bytes?: number;
}

/** Can a client that has seen up to `afterSeq` of `epoch` be served without a gap? */
export type CursorCheck = { ok: true } | { ok: false; reason: ResetReason };

export interface RetentionOptions {
  /** Seconds a thread's log lives after its last append. */
  ttlSeconds: number;
  /** Entries kept per thread; older ones are trimmed. */
  maxPerThread: number;
}

/**
 * A per-thread append-only log with dense sequence numbers 1, 2, 3 ... and an epoch
 * made when the log is created. Implementations: memory and Redis; both pass
 * `describeMessageLog`.
 */
export interface MessageLog {
  /** Atomically assigns the next seq (creating the log and its epoch if needed) and stores the event. */
  append(event: NewEvent, options?: AppendOptions): Promise<AppendResult>;
  /**
   * Events with `seq > afterSeq`, oldest first, at most `limit`, and, when `maxBytes` is
   * given, no more than fit in that many bytes of JSON (but always the first one): a page
   * of large events is cut short rather than held (and read from Redis) whole.
   */
  read(threadId: string, afterSeq: number, limit: number, maxBytes?: number): Promise<HistorySlice>;
  state(threadId: string): Promise<LogState>;
  /** Creates the log (and its epoch) at head 0 if it does not exist, so joiners get a stable epoch. */
  ensure(threadId: string): Promise<LogState>;
  /** Deletes the log (its epoch too): the next append starts a new epoch at seq 1. */
  drop(threadId: string): Promise<void>;
  close(): Promise<void>;
}

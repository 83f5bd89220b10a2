import { assertReadWindow, newEpoch } from './message-log.rules.js';
import type { ThreadEvent } from '../protocol.js';
import { toThreadEvent } from '../events/thread-event.codec.js';
import type {
  AppendOptions,
  AppendResult,
  HistorySlice,
  LogState,
  MessageLog,
  NewEvent,
  RetentionOptions,
} from './message-log.interface.js';
import { toError } from '../errors/to-error.js';

interface StoredEvent {
  event: ThreadEvent;
  idempotencyKey?: string;
  /** Its JSON size, measured the first time a read is bounded by bytes. */
  bytes?: number;
}

interface ThreadLog {
  epoch: string;
  head: number;
  /** Dense and ascending: `entries[i].event.seq === head - entries.length + 1 + i`. */
  entries: StoredEvent[];
  /** Only keys whose event is still in `entries`, so this map is bounded by `maxPerThread`. */
  idempotency: Map<string, ThreadEvent>;
  /** Clock time at which the whole log (epoch included) is gone. */
  expiresAt: number;
}

const MIN_SWEEP_MS = 1_000;
const MAX_SWEEP_MS = 60_000;

/**
 * The in-process log (no Redis). Expiry follows Centrifugo's `history_ttl`: a thread's
 * whole log expires `ttlSeconds` after its last append. Expired logs are dropped when
 * touched and by a periodic sweep, so threads nobody touches again do not pin memory.
 * Every method finishes synchronously inside its promise, which makes each append atomic.
 */
export class MemoryMessageLog implements MessageLog {
  private readonly threads = new Map<string, ThreadLog>();
  private readonly ttlMs: number;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    private readonly retention: RetentionOptions,
    private readonly clock: () => number = Date.now,
  ) {
    this.ttlMs = retention.ttlSeconds * 1000;
  }

  /** Thread logs held in memory, expired ones not yet swept included (for metrics and tests). */
  get threadCount(): number {
    return this.threads.size;
  }

  append(input: NewEvent, options: AppendOptions = {}): Promise<AppendResult> {
    const { idempotencyKey } = options;
    const existing = this.live(input.threadId);
    if (existing && idempotencyKey !== undefined) {
      const earlier = existing.idempotency.get(idempotencyKey);
      if (earlier) return Promise.resolve({ event: earlier, appended: false });
    }
    const log = existing ?? this.create(input.threadId);
    const event = toThreadEvent(input.threadId, log.head + 1, log.epoch, input);
    log.head = event.seq;
    log.entries.push(idempotencyKey === undefined ? { event } : { event, idempotencyKey });
    if (idempotencyKey !== undefined) log.idempotency.set(idempotencyKey, event);
    const excess = log.entries.length - this.retention.maxPerThread;
    if (excess > 0) {
      for (const trimmed of log.entries.splice(0, excess)) {
        if (trimmed.idempotencyKey !== undefined) log.idempotency.delete(trimmed.idempotencyKey);
      }
    }
    log.expiresAt = this.clock() + this.ttlMs;
    return Promise.resolve({ event, appended: true });
  }

  read(
    threadId: string,
    afterSeq: number,
    limit: number,
    maxBytes?: number,
  ): Promise<HistorySlice> {
    try {
      return Promise.resolve(this.slice(threadId, afterSeq, limit, maxBytes));
    } catch (error) {
      // A bad window rejects like the Redis log's does, instead of throwing synchronously.
      return Promise.reject(toError(error));
    }
  }

  state(threadId: string): Promise<LogState> {
    return Promise.resolve(stateOf(this.live(threadId)));
  }

  ensure(threadId: string): Promise<LogState> {
    return Promise.resolve(stateOf(this.live(threadId) ?? this.create(threadId)));
  }

  drop(threadId: string): Promise<void> {
    this.threads.delete(threadId);
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.stopSweeper();
    return Promise.resolve();
  }

  private slice(
    threadId: string,
    afterSeq: number,
    limit: number,
    maxBytes?: number,
  ): HistorySlice {
    assertReadWindow(afterSeq, limit);
    const log = this.live(threadId);
    const state = stateOf(log);
    if (!log || limit === 0) return { ...state, events: [] };
    const start = Math.max(0, afterSeq + 1 - state.firstSeq);
    const page = log.entries.slice(start, start + limit);
    if (maxBytes === undefined) return { ...state, events: page.map((stored) => stored.event) };
    const events: ThreadEvent[] = [];
    let bytes = 0;
    for (const stored of page) {
      stored.bytes ??= Buffer.byteLength(JSON.stringify(stored.event), 'utf8');
      if (bytes + stored.bytes > maxBytes && events.length > 0) break;
      bytes += stored.bytes;
      events.push(stored.event);
    }
    return { ...state, events, bytes };
  }

  private live(threadId: string): ThreadLog | undefined {
    const log = this.threads.get(threadId);
    if (log && this.clock() >= log.expiresAt) {
      this.threads.delete(threadId);
      return undefined;
    }
    return log;
  }

  private create(threadId: string): ThreadLog {
    const log: ThreadLog = {
      epoch: newEpoch(),
      head: 0,
      entries: [],
      idempotency: new Map(),
      expiresAt: this.clock() + this.ttlMs,
    };
    this.threads.set(threadId, log);
    this.startSweeper();
    return log;
  }

  /** Runs only while there is something to sweep, so an idle log holds no timer. */
  private startSweeper(): void {
    if (this.sweeper) return;
    const every = Math.min(Math.max(this.ttlMs, MIN_SWEEP_MS), MAX_SWEEP_MS);
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
  }

  private stopSweeper(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
  }

  private sweep(): void {
    const now = this.clock();
    for (const [threadId, log] of this.threads) {
      if (now >= log.expiresAt) this.threads.delete(threadId);
    }
    if (this.threads.size === 0) this.stopSweeper();
  }
}

function stateOf(log: ThreadLog | undefined): LogState {
  if (!log) return { epoch: '', headSeq: 0, firstSeq: 1 };
  return { epoch: log.epoch, headSeq: log.head, firstSeq: log.head - log.entries.length + 1 };
}

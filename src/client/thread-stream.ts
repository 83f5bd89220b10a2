import type {
  HistoryPage,
  JoinResult,
  ResetReason,
  ThreadEvent,
  ThreadResetNotice,
} from '../protocol.js';
import { retryDelay, ThreadRelayClientError, toClientError } from './client-error.js';
import type { ThreadResetEvent } from './client.options.js';
import type { RelayRestApi } from './relay-rest-api.js';
import { ThreadCursor } from './thread-cursor.js';
import { backoff, type TimerSet } from './timer-set.js';

/** What the stream hands back to the client. */
export interface ThreadStreamHooks {
  /** One event for the application, in order, once. */
  event(event: ThreadEvent): void;
  /** The log was replaced or trimmed; `events` is what it holds now. */
  reset(reset: ThreadResetEvent): void;
  /** Everything up to `seq` reached the application (for acks). */
  delivered(seq: number): void;
  error(error: ThreadRelayClientError): void;
}

export interface ThreadStreamConfig {
  rest: RelayRestApi;
  timers: TimerSet;
  gapGraceMs: number;
  pageSize: number;
}

export interface SyncResult {
  delivered: number;
  headSeq: number;
  epoch: string;
}

/** A reason to reset; `headSeq` 0 when unknown (an epoch change seen on an event). */
export type ResetHint = Pick<ThreadResetNotice, 'epoch' | 'headSeq' | 'reason'>;

interface LogSnapshot {
  epoch: string;
  /** The log's head as last reported, possibly beyond `lastSeq` if it grew meanwhile. */
  headSeq: number;
  /** Where the reloaded history ends. */
  lastSeq: number;
  events: ThreadEvent[];
}

const MAX_BACKOFF_MS = 10_000;
/** A log replaced again and again while it is being read is a server problem, not a race. */
const MAX_RELOADS = 5;

/**
 * One joined thread: feeds every source of events (socket, replay, history, polling)
 * through the thread's cursor, fills gaps from the log after a grace period, and runs
 * resets. Events reach the application only through `hooks.event`, so exactly once.
 */
export class ThreadStream {
  readonly cursor: ThreadCursor;
  private disposed = false;
  private cancelGapCheck: (() => void) | undefined;
  private gapAttempts = 0;
  /** The last failed gap read's `retryAfterMs`: the next one waits at least that long. */
  private gapRetryAfterMs = 0;
  private syncing: Promise<SyncResult> | undefined;
  private resetAgain: ResetHint | undefined;

  constructor(
    readonly threadId: string,
    start: { lastSeq?: number; epoch?: string },
    private readonly config: ThreadStreamConfig,
    private readonly hooks: ThreadStreamHooks,
  ) {
    this.cursor = new ThreadCursor(threadId, start);
  }

  ingest(events: readonly ThreadEvent[]): void {
    let ready: ThreadEvent[] = [];
    for (const event of events) {
      if (this.disposed) return;
      const result = this.cursor.accept(event);
      if (result.kind === 'delivered') ready.push(...result.events);
      if (result.kind !== 'epoch_changed') continue;
      this.emit(ready);
      ready = [];
      this.startReset({ epoch: result.epoch, headSeq: 0, reason: 'epoch_mismatch' });
      // Now held by the reset, and replayed once it is done.
      this.cursor.accept(event);
    }
    this.emit(ready);
    this.checkGap();
  }

  /** The server's answer to `thread:join`; its replay follows on the socket. */
  joined(result: JoinResult): void {
    if (this.disposed || this.cursor.resetting) return;
    const { epoch } = this.cursor;
    if (epoch !== '' && epoch !== result.epoch) {
      // The server follows with `thread:reset`; starting now costs nothing, it is coalesced.
      this.startReset({ epoch: result.epoch, headSeq: result.headSeq, reason: 'epoch_mismatch' });
      return;
    }
    this.emit(this.cursor.anchor(result.epoch, result.headSeq - result.replayed));
    this.cursor.noteHead(result.epoch, result.headSeq);
    this.checkGap();
  }

  notice(notice: ResetHint): void {
    if (this.disposed) return;
    if (this.cursor.resetting) {
      this.resetAgain = notice;
      return;
    }
    if (this.cursor.covers(notice)) {
      this.cursor.noteHead(notice.epoch, notice.headSeq);
      this.checkGap();
      return;
    }
    this.startReset(notice);
  }

  /** Reads the log after the cursor until caught up; one read at a time per thread. */
  sync(): Promise<SyncResult> {
    this.syncing ??= this.pull().finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  dispose(): void {
    this.disposed = true;
    this.cancelGapCheck?.();
    this.cancelGapCheck = undefined;
  }

  private emit(events: readonly ThreadEvent[]): void {
    let last = 0;
    for (const event of events) {
      // An application handler may leave the thread in the middle of a batch.
      if (this.disposed) break;
      this.hooks.event(event);
      last = event.seq;
    }
    if (last > 0) this.hooks.delivered(last);
  }

  /**
   * Waits `gapGraceMs` for reordered events still in flight; reads history only when the
   * cursor stood still that long. Failed or fruitless reads back off.
   */
  private checkGap(): void {
    if (this.disposed || this.cancelGapCheck || !this.cursor.hasGap) return;
    const seen = this.cursor.lastSeq;
    const { gapGraceMs } = this.config;
    const delay = Math.max(
      backoff(this.gapAttempts, gapGraceMs, Math.max(gapGraceMs, MAX_BACKOFF_MS)),
      this.gapRetryAfterMs,
    );
    this.gapRetryAfterMs = 0;
    this.cancelGapCheck = this.config.timers.after(delay, () => {
      this.cancelGapCheck = undefined;
      if (this.disposed || !this.cursor.hasGap) return;
      if (this.cursor.lastSeq > seen) {
        this.gapAttempts = 0;
        return this.checkGap();
      }
      void this.sync()
        .then(
          ({ delivered }) => {
            this.gapAttempts = delivered > 0 ? 0 : this.gapAttempts + 1;
          },
          (error: unknown) => {
            this.gapAttempts += 1;
            const failure = toClientError(
              error,
              'NETWORK',
              `gap in thread ${this.threadId}`,
              this.threadId,
            );
            this.gapRetryAfterMs = failure.retryAfterMs ?? 0;
            this.hooks.error(failure);
          },
        )
        .finally(() => this.checkGap());
    });
  }

  private async pull(): Promise<SyncResult> {
    let delivered = 0;
    let headSeq = this.cursor.lastSeq;
    while (!this.disposed && !this.cursor.resetting) {
      const before = this.cursor.lastSeq;
      const page = await this.readHistory(before);
      if (this.disposed) break;
      headSeq = page.headSeq;
      const applied = this.applyPage(before, page.epoch, page.headSeq, page.messages);
      delivered += applied;
      // Fewer than pageSize events is not the end (pages also end by bytes): the head is.
      if (page.messages.length === 0 || this.cursor.lastSeq <= before) break;
      if (this.cursor.lastSeq >= headSeq) break;
    }
    return { delivered, headSeq, epoch: this.cursor.epoch };
  }

  /** Applies a page read `after` a seq; returns how many events went to the application. */
  private applyPage(
    after: number,
    epoch: string,
    headSeq: number,
    messages: readonly ThreadEvent[],
  ): number {
    const cursor = this.cursor;
    if (cursor.resetting) return 0;
    if (cursor.epoch !== '' && epoch !== cursor.epoch) {
      this.startReset({ epoch, headSeq, reason: 'epoch_mismatch' });
      return 0;
    }
    // No log yet: nothing to read and no epoch to adopt.
    if (epoch === '') return 0;
    const first = messages[0];
    if (cursor.isAnchored && first && first.seq > cursor.lastSeq + 1) {
      // What lies between is no longer in the log.
      this.startReset({ epoch, headSeq, reason: 'trimmed' });
      return 0;
    }
    // Compared with what was asked, not with the cursor: the socket may have delivered
    // events appended after this page was read. A head never moves back within an epoch.
    if (cursor.isAnchored && headSeq < after) {
      this.startReset({ epoch, headSeq, reason: 'ahead_of_log' });
      return 0;
    }
    const ready = cursor.anchor(epoch, (first?.seq ?? headSeq + 1) - 1);
    cursor.noteHead(epoch, headSeq);
    for (const message of messages) {
      const result = cursor.accept(message);
      if (result.kind === 'delivered') ready.push(...result.events);
    }
    this.emit(ready);
    this.checkGap();
    return ready.length;
  }

  private startReset(hint: ResetHint): void {
    if (this.disposed) return;
    if (this.cursor.resetting) {
      this.resetAgain = hint;
      return;
    }
    this.cursor.beginReset();
    this.cancelGapCheck?.();
    this.cancelGapCheck = undefined;
    void this.runReset(hint.reason);
  }

  private async runReset(reason: ResetReason): Promise<void> {
    for (let attempt = 0; !this.disposed; attempt += 1) {
      let snapshot: LogSnapshot;
      try {
        snapshot = await this.loadLog();
      } catch (error) {
        if (this.disposed) return;
        this.hooks.error(
          toClientError(error, 'NETWORK', `reset of thread ${this.threadId}`, this.threadId),
        );
        const wait = backoff(attempt, this.config.gapGraceMs, MAX_BACKOFF_MS);
        await this.config.timers.sleep(retryDelay(error, wait));
        continue;
      }
      if (this.disposed) return;
      const outcome = this.cursor.completeReset(snapshot.epoch, snapshot.lastSeq);
      const { epoch, lastSeq, events } = snapshot;
      // headSeq as the app sees it: `events` run up to it and the next onEvent follows it.
      this.hooks.reset({ threadId: this.threadId, epoch, headSeq: lastSeq, reason, events });
      if (this.disposed) return;
      this.cursor.noteHead(epoch, snapshot.headSeq);
      if (snapshot.lastSeq > 0) this.hooks.delivered(snapshot.lastSeq);
      this.emit(outcome.delivered);
      const again = this.resetAgain;
      this.resetAgain = undefined;
      if (outcome.newerEpoch !== undefined) {
        this.startReset({ epoch: outcome.newerEpoch, headSeq: 0, reason: 'epoch_mismatch' });
      } else if (again) {
        this.notice(again);
      } else {
        this.checkGap();
      }
      return;
    }
  }

  /** The whole retained log, in one epoch. */
  private async loadLog(): Promise<LogSnapshot> {
    for (let reload = 0; reload < MAX_RELOADS; reload += 1) {
      const first = await this.readHistory(0);
      const events: ThreadEvent[] = [];
      let page = first;
      let after = 0;
      for (;;) {
        const before = after;
        for (const message of page.messages) {
          if (message.seq > after && message.epoch === first.epoch) {
            events.push(message);
            after = message.seq;
          }
        }
        // A page may hold fewer than pageSize events (the server also ends pages by bytes):
        // only the head, or a page that brought nothing new, ends the reload.
        if (after >= first.headSeq || after === before) break;
        page = await this.readHistory(after);
        if (page.epoch !== first.epoch) break;
      }
      if (page.epoch !== first.epoch) continue;
      const headSeq = Math.max(first.headSeq, page.headSeq);
      return { epoch: first.epoch, headSeq, lastSeq: Math.max(first.headSeq, after), events };
    }
    throw new ThreadRelayClientError(
      'BAD_RESPONSE',
      `thread ${this.threadId}: the log kept changing epoch while being reloaded`,
      { threadId: this.threadId, retryable: true },
    );
  }

  /**
   * One page of the log after `after`. Reads never register a thread, so one that nobody
   * has joined over a socket or written to yet answers `THREAD_NOT_FOUND`: it has no log
   * yet, which is an empty page; it gets one when a message is posted to it.
   */
  private async readHistory(after: number): Promise<HistoryPage> {
    try {
      return await this.config.rest.history(this.threadId, after, this.config.pageSize);
    } catch (error) {
      if (!isNoLogYet(error)) throw error;
      return { threadId: this.threadId, epoch: '', headSeq: 0, messages: [] };
    }
  }
}

function isNoLogYet(error: unknown): boolean {
  return (
    error instanceof ThreadRelayClientError &&
    error.code === 'THREAD_NOT_FOUND' &&
    error.status === 404
  );
}

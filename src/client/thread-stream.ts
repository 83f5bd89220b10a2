import type { JoinResult, ResetReason, ThreadEvent, ThreadResetNotice } from '../protocol.js';
import { retryDelay, type ThreadRelayClientError, toClientError } from './client-error.js';
import type { ThreadResetEvent } from './client.options.js';
import { GapWatch } from './gap-watch.js';
import type { RelayRestApi } from './relay-rest-api.js';
import { ThreadCursor } from './thread-cursor.js';
import { ThreadLogReader, type LogSnapshot } from './thread-log-reader.js';
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

const MAX_BACKOFF_MS = 10_000;

/**
 * One joined thread: feeds every source of events (socket, replay, history, polling)
 * through the thread's cursor, fills gaps from the log after a grace period, and runs
 * resets. Events reach the application only through `hooks.event`, so exactly once.
 */
export class ThreadStream {
  readonly cursor: ThreadCursor;
  private readonly log: ThreadLogReader;
  private readonly gaps: GapWatch;
  private disposed = false;
  private syncing: Promise<SyncResult> | undefined;
  private resetAgain: ResetHint | undefined;

  constructor(
    readonly threadId: string,
    start: { lastSeq?: number; epoch?: string },
    private readonly config: ThreadStreamConfig,
    private readonly hooks: ThreadStreamHooks,
  ) {
    this.cursor = new ThreadCursor(threadId, start);
    this.log = new ThreadLogReader(threadId, config.rest, config.pageSize);
    this.gaps = new GapWatch(threadId, this.cursor, config.timers, config.gapGraceMs, {
      read: () => this.sync(),
      error: (error) => hooks.error(error),
    });
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
    this.gaps.check();
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
    this.gaps.check();
  }

  notice(notice: ResetHint): void {
    if (this.disposed) return;
    if (this.cursor.resetting) {
      this.resetAgain = notice;
      return;
    }
    if (this.cursor.covers(notice)) {
      this.cursor.noteHead(notice.epoch, notice.headSeq);
      this.gaps.check();
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
    this.gaps.stop();
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

  private async pull(): Promise<SyncResult> {
    let delivered = 0;
    let headSeq = this.cursor.lastSeq;
    while (!this.disposed && !this.cursor.resetting) {
      const before = this.cursor.lastSeq;
      const page = await this.log.page(before);
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
    this.gaps.check();
    return ready.length;
  }

  private startReset(hint: ResetHint): void {
    if (this.disposed) return;
    if (this.cursor.resetting) {
      this.resetAgain = hint;
      return;
    }
    this.cursor.beginReset();
    this.gaps.cancel();
    void this.runReset(hint.reason);
  }

  private async runReset(reason: ResetReason): Promise<void> {
    for (let attempt = 0; !this.disposed; attempt += 1) {
      let snapshot: LogSnapshot;
      try {
        snapshot = await this.log.reload();
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
        this.gaps.check();
      }
      return;
    }
  }
}

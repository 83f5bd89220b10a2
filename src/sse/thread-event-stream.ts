import type { Response } from 'express';
import { toErrorBody } from '../errors/error-answer.js';
import type { HistoryPage, ThreadEvent } from '../protocol.js';
import { type SseCursor, formatSseId } from './sse-cursor.js';
import type { SseEncoder } from './sse-formats.js';

/** Events per log read while catching up. */
const PAGE = 200;
/** Live events held while catching up; past it they are read from the log instead. */
const MAX_HELD = 1024;

export interface StreamLimits {
  /** More than this unsent on the response and the stream is cut (a client that does not read). */
  maxBufferedBytes: number;
  /** Catching up pauses while more than this is unsent. */
  highWaterBytes: number;
  /** A catch-up paused this long (the client stopped reading) cuts the stream. */
  stallTimeoutMs: number;
  heartbeatMs: number;
}

/** Reads a page of the thread's log after `afterSeq`, charged to the reader; null once the stream ended. */
export type LogReader = (
  afterSeq: number,
  limit: number,
) => Promise<{ page: HistoryPage; firstSeq: number } | null>;

export type StreamEnd =
  'client_closed' | 'slow_consumer' | 'token_expired' | 'access_revoked' | 'failed';

/**
 * One SSE response following one thread: the log from the cursor, then the live events
 * this instance receives, each once and in seq order, whatever the order in which log
 * pages and live events arrive. A gap (a live event past the next seq) is read from the
 * log; an event of a new log restarts the stream on it, and the old log's stragglers are
 * dropped.
 */
export class ThreadEventStream {
  private epoch = '';
  private last = 0;
  /** Whether anything of the current log was sent: before, a first event names the log. */
  private sentAny = false;
  private readonly leftEpochs = new Set<string>();
  private catchingUp = false;
  private held: ThreadEvent[] = [];
  private overflowed = false;
  private endedWith: StreamEnd | null = null;
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(
    private readonly res: Response,
    private readonly threadId: string,
    private readonly read: LogReader,
    private readonly encoder: SseEncoder,
    private readonly limits: StreamLimits,
    private readonly onEnd: (reason: StreamEnd) => void,
  ) {
    res.on('close', () => this.end('client_closed'));
  }

  get ended(): boolean {
    return this.endedWith !== null;
  }

  /** Starts after `cursor` (null: the whole log); live events may arrive from now on. */
  async start(cursor: SseCursor | null): Promise<void> {
    if (this.ended) return;
    // At once, so a client can tell a working stream from a proxy that buffers it.
    this.write(': open\n\n');
    this.heartbeat = setInterval(() => this.write(': keep-alive\n\n'), this.limits.heartbeatMs);
    this.heartbeat.unref();
    this.catchingUp = true;
    try {
      await this.position(cursor);
      await this.catchUp();
    } catch (error) {
      this.fail(error);
    }
  }

  /** A live event of the thread, in the order this instance sends them. */
  live(event: ThreadEvent): void {
    if (this.ended) return;
    if (this.catchingUp) {
      if (this.held.length >= MAX_HELD) {
        this.held = [];
        this.overflowed = true;
      } else {
        this.held.push(event);
      }
      return;
    }
    this.deliver(event);
  }

  end(reason: StreamEnd, notice?: object): void {
    if (this.ended) return;
    this.endedWith = reason;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (reason === 'slow_consumer') this.res.destroy();
    else {
      if (notice && this.res.writable) {
        this.res.write(`event: relay.closed\ndata: ${JSON.stringify(notice)}\n\n`);
      }
      this.res.end();
    }
    this.onEnd(reason);
  }

  private deliver(event: ThreadEvent): void {
    if (this.leftEpochs.has(event.epoch)) return;
    if (event.epoch !== this.epoch) this.switchTo(event.epoch);
    if (event.seq <= this.last) return;
    if (event.seq === this.last + 1) {
      this.send(event);
      return;
    }
    this.held.push(event);
    this.catchingUp = true;
    this.catchUp().catch((error: unknown) => this.fail(error));
  }

  /** The thread's log is not the one the stream follows. */
  private switchTo(epoch: string): void {
    if (!this.sentAny) {
      // The log did not exist when the stream started: this is its first event.
      this.epoch = epoch;
      return;
    }
    // A new log under the thread: everything before is gone for the client too. The reset
    // first closes what the client has open of the old log, then the format's state starts
    // over.
    this.writeReset('log_replaced', epoch);
    this.encoder.restart();
    this.leave(epoch);
  }

  /** Moves the stream to another log; the old one's events are dropped from now on. */
  private leave(epoch: string): void {
    if (this.epoch) this.leftEpochs.add(this.epoch);
    // A thread replaced again and again must not grow this without bound.
    if (this.leftEpochs.size > 16)
      this.leftEpochs.delete(this.leftEpochs.values().next().value ?? '');
    this.epoch = epoch;
    this.last = 0;
    this.sentAny = false;
    this.held = this.held.filter((e) => e.epoch === epoch);
  }

  /**
   * Where the cursor points in the log now. A cursor of another log, or one the log no
   * longer reaches back to (trimmed, expired), cannot be served: the client is told and
   * the stream starts at the oldest event kept. A rendered format is first fed what
   * precedes the resume point, so its prelude reopens what is open there.
   */
  private async position(cursor: SseCursor | null): Promise<void> {
    const state = await this.read(0, 1);
    if (!state) return;
    const { page, firstSeq } = state;
    this.epoch = page.epoch;
    const oldest = Math.max(0, firstSeq - 1);
    const servable =
      cursor !== null &&
      (cursor.epoch === page.epoch || (cursor.seq === 0 && page.headSeq === 0)) &&
      cursor.seq >= oldest &&
      cursor.seq <= page.headSeq;
    if (cursor !== null && !servable) {
      this.writeReset('cursor_unavailable', page.epoch, page.headSeq, firstSeq);
    }
    const from = servable ? cursor.seq : oldest;
    for (let seq = oldest; this.encoder.stateful && seq < from && !this.ended;) {
      const next = await this.read(seq, PAGE);
      if (!next) return;
      const events = next.page.messages.filter((e) => e.seq <= from);
      if (next.page.epoch !== this.epoch || events.length === 0) break;
      for (const event of events) this.encoder.frames(event, '');
      seq = events[events.length - 1]?.seq ?? from;
    }
    this.last = from;
    this.sentAny = from > 0;
    this.write(this.encoder.prelude());
  }

  /** Reads the log after `last` until it is caught up, then sends what was held meanwhile. */
  private async catchUp(): Promise<void> {
    for (;;) {
      while (!this.ended) {
        if (this.res.writableLength > this.limits.highWaterBytes && !(await this.drained())) {
          this.end('slow_consumer');
          return;
        }
        const next = await this.read(this.last, PAGE);
        if (!next || this.ended) return;
        const { page } = next;
        if (page.epoch !== this.epoch && page.headSeq > 0) {
          this.switchTo(page.epoch);
          continue;
        }
        const before = this.last;
        for (const event of page.messages) if (event.seq === this.last + 1) this.send(event);
        const [first] = page.messages;
        if (first && this.last === before) {
          // Trimmed past where this stream was while it caught up: say so, go on from there.
          this.writeReset('cursor_unavailable', page.epoch, page.headSeq, first.seq);
          this.last = first.seq - 1;
          continue;
        }
        if (page.messages.length === 0 || this.last >= page.headSeq) break;
      }
      if (this.ended) return;
      if (this.overflowed) {
        this.overflowed = false;
        this.held = [];
        continue;
      }
      const held = this.held.sort((a, b) => a.seq - b.seq);
      this.held = [];
      this.catchingUp = false;
      for (const event of held) {
        this.deliver(event);
        if (this.catchingUp || this.ended) return;
      }
      return;
    }
  }

  private send(event: ThreadEvent): void {
    this.last = event.seq;
    this.sentAny = true;
    this.write(this.encoder.frames(event, formatSseId(this.epoch, event.seq)));
  }

  private writeReset(reason: string, epoch: string, headSeq?: number, firstSeq?: number): void {
    this.write(
      this.encoder.reset({
        threadId: this.threadId,
        reason,
        epoch,
        headSeq,
        firstSeq,
      }),
    );
  }

  private write(text: string): void {
    if (this.ended || text === '') return;
    this.res.write(text);
    // A client that does not read is cut, not buffered for.
    if (this.res.writableLength > this.limits.maxBufferedBytes) this.end('slow_consumer');
  }

  /** Resolves true once the response drained, false if it stayed full for the stall timeout. */
  private drained(): Promise<boolean> {
    return new Promise((resolve) => {
      const finish = (drained: boolean) => {
        clearTimeout(timer);
        this.res.off('drain', onDrain);
        this.res.off('close', onDrain);
        resolve(drained);
      };
      const onDrain = () => finish(true);
      const timer = setTimeout(() => finish(false), this.limits.stallTimeoutMs);
      this.res.on('drain', onDrain);
      this.res.on('close', onDrain);
    });
  }

  private fail(error: unknown): void {
    // What a client may see of the error: typed errors keep their code, others say nothing.
    this.end('failed', { reason: 'failed', error: toErrorBody(error) });
  }
}

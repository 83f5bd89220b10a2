import type { Response } from 'express';
import type { DeliveryService } from '../delivery/delivery.service.js';
import { toErrorBody } from '../errors/to-error-body.js';
import type { ThreadEvent } from '../protocol.js';
import type { SseCursor } from './sse-cursor.js';
import { formatSseId } from './sse-cursor.js';
import type { SseEncoder } from './sse-formats.js';

/** Events per log read while catching up. */
const PAGE = 200;
/** Bytes per log read while catching up. */
const PAGE_BYTES = 256 * 1024;
/** Live events held while catching up; past it they are read from the log instead. */
const MAX_HELD = 1024;

export interface StreamLimits {
  /** More than this unsent on the response and the stream is cut (a client that does not read). */
  maxBufferedBytes: number;
  /** Catching up pauses while more than this is unsent. */
  highWaterBytes: number;
  heartbeatMs: number;
}

export type StreamEnd =
  'client_closed' | 'slow_consumer' | 'token_expired' | 'access_revoked' | 'failed';

/**
 * One SSE response following one thread: the log from the cursor, then the live events
 * this instance receives, each once and in seq order, whatever the order in which log
 * pages and live events arrive. A gap (a live event past the next seq) is read from the
 * log; an event of a new log restarts the stream on it.
 */
export class ThreadEventStream {
  private epoch = '';
  private last = 0;
  private catchingUp = false;
  private held: ThreadEvent[] = [];
  private overflowed = false;
  private ended = false;
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(
    private readonly res: Response,
    private readonly threadId: string,
    private readonly delivery: DeliveryService,
    private readonly encoder: SseEncoder,
    private readonly limits: StreamLimits,
    private readonly onEnd: (reason: StreamEnd) => void,
  ) {
    res.on('close', () => this.end('client_closed'));
  }

  /** Starts after `cursor` (null: the whole log); live events may arrive from now on. */
  async start(cursor: SseCursor | null): Promise<void> {
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
    this.ended = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (reason === 'slow_consumer') this.res.destroy();
    else {
      if (notice && this.res.writable)
        this.res.write(`event: relay.closed\ndata: ${JSON.stringify(notice)}\n\n`);
      this.res.end();
    }
    this.onEnd(reason);
  }

  private deliver(event: ThreadEvent): void {
    if (event.epoch !== this.epoch) {
      // A new log under the thread: everything before is gone for the client too.
      this.encoder.restart();
      this.writeReset('log_replaced', event.epoch);
      this.epoch = event.epoch;
      this.last = 0;
    }
    if (event.seq <= this.last) return;
    if (event.seq === this.last + 1) {
      this.send(event);
      return;
    }
    this.held.push(event);
    this.catchingUp = true;
    this.catchUp().catch((error: unknown) => this.fail(error));
  }

  /**
   * Where the cursor points in the log now. A cursor of another log, or one the log no
   * longer reaches back to (trimmed, expired), cannot be served: the client is told and
   * the stream starts at the oldest event kept. The rendered formats are first fed what
   * precedes the resume point, so their prelude reopens what is open there.
   */
  private async position(cursor: SseCursor | null): Promise<void> {
    const { page, firstSeq } = await this.delivery.readPage(this.threadId, 0, 1, 1);
    this.epoch = page.epoch;
    const oldest = Math.max(0, firstSeq - 1);
    const servable =
      cursor !== null &&
      (cursor.epoch === page.epoch || (cursor.seq === 0 && page.headSeq === 0)) &&
      cursor.seq >= oldest &&
      cursor.seq <= page.headSeq;
    if (cursor !== null && !servable)
      this.writeReset('cursor_unavailable', page.epoch, page.headSeq, firstSeq);
    const from = servable ? cursor.seq : oldest;
    // Rendered formats: replay silently what precedes the resume point.
    for (let seq = oldest; seq < from;) {
      const read = await this.delivery.readPage(this.threadId, seq, PAGE, PAGE_BYTES);
      const events = read.page.messages.filter((e) => e.seq <= from);
      if (read.page.epoch !== this.epoch || events.length === 0) break;
      for (const event of events) this.encoder.frames(event, '');
      seq = events[events.length - 1]?.seq ?? from;
    }
    this.last = from;
    this.write(this.encoder.prelude());
  }

  /** Reads the log after `last` until it is caught up, then sends what was held meanwhile. */
  private async catchUp(): Promise<void> {
    for (;;) {
      while (!this.ended) {
        if (this.res.writableLength > this.limits.highWaterBytes) await this.drained();
        if (this.ended) return;
        const { page } = await this.delivery.readPage(this.threadId, this.last, PAGE, PAGE_BYTES);
        if (page.epoch !== this.epoch) {
          this.encoder.restart();
          this.writeReset('log_replaced', page.epoch);
          this.epoch = page.epoch;
          this.last = 0;
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
        if (this.catchingUp) return;
      }
      return;
    }
  }

  private send(event: ThreadEvent): void {
    this.last = event.seq;
    this.write(this.encoder.frames(event, formatSseId(this.epoch, event.seq)));
  }

  private writeReset(reason: string, epoch: string, headSeq?: number, firstSeq?: number): void {
    const notice = this.encoder.reset({
      threadId: this.threadId,
      reason,
      epoch,
      headSeq,
      firstSeq,
    });
    if (notice) this.write(notice);
  }

  private write(text: string): void {
    if (this.ended || text === '') return;
    this.res.write(text);
    // A client that does not read is cut, not buffered for.
    if (this.res.writableLength > this.limits.maxBufferedBytes) this.end('slow_consumer');
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  private fail(error: unknown): void {
    // What a client may see of the error: typed errors keep their code, others say nothing.
    this.end('failed', { reason: 'failed', error: toErrorBody(error) });
  }
}

import { LiveEvent } from '../cluster/live-event.js';
import { errorText, type RelayLogger } from '../thread-relay.logger.js';
import type { AvailabilityDeadlines } from './availability.js';
import type { MessageLog } from './message-log.interface.js';
import type { ThreadLine } from './thread-line.js';

/** Threads re-read at once after the bus comes back. */
const RESYNC_CONCURRENCY = 16;
/** Events read from the log per page when a gap is filled (also bounded in bytes). */
const FILL_PAGE = 200;
const FILL_BYTES = 1024 * 1024;
/**
 * A gap read that fails (the log unreachable: a failover, a restart) is tried again after
 * these waits before the line goes on past the gap: a Redis Cluster promotes a replica
 * within a few seconds, and the events it holds would be lost to raw clients otherwise.
 */
const FILL_RETRY_MS = [100, 250, 500, 1000, 2000, 4000];

export interface GapFillerHost {
  /** Whether `line` is still the thread's line and its live events are not held. */
  stillFilling(threadId: string, line: ThreadLine): boolean;
  /** Sends one event of the line, in order. */
  dispatch(event: LiveEvent, line: ThreadLine): void;
}

/** Reads from the log what a thread's line missed on the bus, and sends it in order. */
export class LiveGapFiller {
  constructor(
    private readonly messages: MessageLog,
    private readonly deadlines: AvailabilityDeadlines,
    private readonly log: RelayLogger,
    private readonly host: GapFillerHost,
  ) {}

  /**
   * Reads what the bus missed of every watched thread (its subscriber was away), a few
   * threads at a time: an instance hosting thousands must not send Redis thousands of
   * reads at once just as it comes back.
   */
  resync(lines: ReadonlyMap<string, ThreadLine>): void {
    const queue = [...lines.keys()];
    const next = (): Promise<void> | undefined => {
      const threadId = queue.shift();
      if (threadId === undefined) return undefined;
      const line = lines.get(threadId);
      if (line) line.overflowed = true;
      return (line ? this.fill(threadId, line) : Promise.resolve()).then(next);
    };
    for (let i = 0; i < RESYNC_CONCURRENCY; i++) void next();
  }

  /** Resolves when the fill under way (or started here) ends. */
  fill(threadId: string, line: ThreadLine): Promise<void> {
    if (line.filling) {
      line.refill = true;
      return line.filling;
    }
    const filling = this.fillFromLog(threadId, line).finally(() => {
      if (line.filling === filling) line.filling = null;
    });
    line.filling = filling;
    return filling;
  }

  /**
   * Reads the log after the line's head, a page at a time, sending in order, until nothing
   * is missing. If the log no longer has the missing events (trimmed, replaced) the line
   * goes on past the gap: the clients fill or reset from history, which is better than
   * holding the stream. A read that fails is tried again for about 8 s first (see
   * FILL_RETRY_MS). Stops while the thread is held (its release goes on).
   */
  private async fillFromLog(threadId: string, line: ThreadLine): Promise<void> {
    let failures = 0;
    for (;;) {
      line.refill = false;
      const read = await this.readPage(threadId, line);
      if (!this.host.stillFilling(threadId, line)) return;
      const wait = read === 'failed' ? FILL_RETRY_MS[failures] : undefined;
      if (wait !== undefined) {
        failures += 1;
        await new Promise((resolve) => setTimeout(resolve, wait).unref());
        if (!this.host.stillFilling(threadId, line)) return;
        continue;
      }
      if (read !== 'failed') failures = 0;
      const progressed = read === 'progressed';
      this.sendReady(line);
      if (line.refill) continue;
      if (!line.behind) return;
      if (progressed) continue;
      line.skipGap();
      this.sendReady(line);
      if (!line.behind) return;
    }
  }

  private sendReady(line: ThreadLine): void {
    for (let event = line.takeNext(); event; event = line.takeNext()) {
      this.host.dispatch(event, line);
    }
  }

  /** One page of the log after the head, into the line: whether it had the next event. */
  private async readPage(
    threadId: string,
    line: ThreadLine,
  ): Promise<'progressed' | 'no_progress' | 'failed'> {
    try {
      const slice = await this.deadlines.within(
        this.messages.read(threadId, line.head, FILL_PAGE, FILL_BYTES),
        'live gap read',
      );
      if (slice.epoch !== line.epoch) return 'no_progress';
      const from = line.head;
      for (const event of slice.events) line.wait(LiveEvent.of(event), false);
      const last = slice.events.at(-1)?.seq ?? from;
      if (last >= slice.headSeq) line.overflowed = false;
      return slice.events.some((event) => event.seq === from + 1) ? 'progressed' : 'no_progress';
    } catch (error) {
      this.log.warn({
        msg: 'live gap not filled from the log',
        threadId,
        reason: errorText(error),
      });
      return 'failed';
    }
  }
}

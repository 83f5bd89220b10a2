import type { ThreadEvent } from '../protocol.js';

/** How many of a thread's latest events are remembered (seq and ts), for ack latency. */
const RECENT_PER_THREAD = 16;

/**
 * What this instance has sent live of one watched thread: the log epoch, the highest seq
 * sent in order (from the log's head when the thread was first watched), the events that
 * came early while a gap is filled from the log, and a ring of the latest (seq, ts) so an
 * ack's latency can be measured.
 */
export class ThreadLine {
  head: number;
  filling = false;
  /** Events that arrived past a gap, kept until the gap is filled. */
  waiting: ThreadEvent[] = [];
  private readonly ring = new Float64Array(RECENT_PER_THREAD * 2);
  private next = 0;

  constructor(
    readonly epoch: string,
    head: number,
  ) {
    this.head = head;
  }

  /** The event went out live, in order, to this instance's connections. */
  sent(event: ThreadEvent): void {
    if (event.seq > this.head) this.head = event.seq;
    this.remember(event);
  }

  /** The event went out to a connection (live or replayed): its ack's latency can be measured. */
  remember(event: ThreadEvent): void {
    this.ring[this.next] = event.seq;
    this.ring[this.next + 1] = event.ts;
    this.next = (this.next + 2) % this.ring.length;
  }

  /** `ts` of a recent event, if it is still remembered. */
  timestampOf(seq: number): number | undefined {
    // Seqs start at 1; unused ring slots hold 0.
    if (seq < 1) return undefined;
    for (let i = 0; i < this.ring.length; i += 2) {
      if (this.ring[i] === seq) return this.ring[i + 1];
    }
    return undefined;
  }
}

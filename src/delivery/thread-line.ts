import type { LiveEvent } from '../cluster/live-event.js';

/** What the ring of recent events needs of an event. */
interface Sent {
  seq: number;
  ts: number;
}

/** How many of a thread's latest events are remembered (seq and ts), for ack latency. */
const RECENT_PER_THREAD = 16;
/**
 * Live events held at most per thread while a gap is read from the log (or an access
 * change is checked); past this they are let go and read from the log instead, where they
 * were stored before they were announced.
 */
export const MAX_WAITING = 1024;

/**
 * What this instance has sent live of one watched thread: the log epoch, the highest seq
 * sent in order (from the log's head when the thread was first watched), the events that
 * came early and wait for a gap before them to be filled, and a ring of the latest
 * (seq, ts) so an ack's latency can be measured.
 */
export class ThreadLine {
  head: number;
  /** Live events sent in this epoch: none means the epoch came from the log's state alone. */
  heard = 0;
  /** The fill from the log under way, if any. */
  filling: Promise<void> | null = null;
  /** Read the log again when the fill under way ends (the bus was away meanwhile). */
  refill = false;
  /** Waiting events were let go: read the log up to its head. */
  overflowed = false;
  private readonly waiting = new Map<number, LiveEvent>();
  private readonly ring = new Float64Array(RECENT_PER_THREAD * 2);
  private next = 0;

  constructor(
    readonly epoch: string,
    head: number,
  ) {
    this.head = head;
  }

  /** Keeps an event after the head until its turn; `capped` lets go of all past MAX_WAITING. */
  wait(event: LiveEvent, capped: boolean): void {
    if (event.seq <= this.head) return;
    if (capped && this.waiting.size >= MAX_WAITING && !this.waiting.has(event.seq)) {
      this.waiting.clear();
      this.overflowed = true;
    }
    this.waiting.set(event.seq, event);
  }

  /** The waiting event right after the head, taken out; undefined when there is a gap or none. */
  takeNext(): LiveEvent | undefined {
    const event = this.waiting.get(this.head + 1);
    if (event) this.waiting.delete(event.seq);
    return event;
  }

  /** Events waiting for a gap before them. */
  get waitingCount(): number {
    return this.waiting.size;
  }

  /** Events missing before what waits, or let go: the log must be read. */
  get behind(): boolean {
    return this.waiting.size > 0 || this.overflowed;
  }

  /** Gives up on the missing events (the log no longer has them): the head jumps to what waits. */
  skipGap(): void {
    this.overflowed = false;
    let lowest = Infinity;
    for (const seq of this.waiting.keys()) lowest = Math.min(lowest, seq);
    if (lowest !== Infinity) this.head = lowest - 1;
  }

  /** The event went out live, in order, to this instance's connections. */
  sent(event: Sent): void {
    if (event.seq > this.head) this.head = event.seq;
    this.heard += 1;
    this.remember(event);
  }

  /** The event went out to a connection (live or replayed): its ack's latency can be measured. */
  remember(event: Sent): void {
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

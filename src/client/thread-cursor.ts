import type { JoinRequest, ThreadEvent, ThreadResetNotice } from '../protocol.js';

/** Where the application stands in a thread: pass it back to `join` to resume. */
export interface CursorPosition {
  /** '' until the thread's epoch is known. */
  epoch: string;
  /** The highest seq handed to the application; everything up to it was delivered. */
  lastSeq: number;
}

export type AcceptResult =
  /** In order: these events (the accepted one and any buffered successors) go to the app. */
  | { kind: 'delivered'; events: ThreadEvent[] }
  /** Already delivered or already buffered. */
  | { kind: 'duplicate' }
  /** Ahead of `lastSeq + 1`: kept until the missing ones arrive. */
  | { kind: 'buffered' }
  /** A reset is under way: kept and replayed against the new cursor when it ends. */
  | { kind: 'held' }
  /** From another epoch than the known one: the log was replaced, the caller must reset. */
  | { kind: 'epoch_changed'; epoch: string };

export interface ResetOutcome {
  /** Held events that follow the reset history directly. */
  delivered: ThreadEvent[];
  /** Set when held events came from yet another epoch: another reset is needed. */
  newerEpoch: string | undefined;
}

/**
 * The sequencer of one thread: turns the at-least-once, possibly reordered stream from
 * the socket, REST history and polling into exactly-once, in-order delivery.
 *
 * "Anchored" means `lastSeq` is known to be a real position in the log (given by the app,
 * a join answer, a history page or a reset). Before that, only seq 1 can be delivered
 * blindly: a fresh join on a trimmed log starts wherever the server says it starts.
 */
export class ThreadCursor {
  private epochValue: string;
  private last: number;
  private anchored: boolean;
  /** Highest seq known to exist in the current epoch (buffered, announced by a join or page). */
  private head: number;
  private readonly pending = new Map<number, ThreadEvent>();
  /** Non-null while a reset is under way. */
  private held: ThreadEvent[] | null = null;

  constructor(
    readonly threadId: string,
    start: { lastSeq?: number; epoch?: string } = {},
  ) {
    this.epochValue = start.epoch ?? '';
    this.last = start.lastSeq ?? 0;
    this.head = this.last;
    this.anchored = start.lastSeq !== undefined || this.epochValue !== '';
  }

  get epoch(): string {
    return this.epochValue;
  }

  get lastSeq(): number {
    return this.last;
  }

  get isAnchored(): boolean {
    return this.anchored;
  }

  get resetting(): boolean {
    return this.held !== null;
  }

  /** Events beyond `lastSeq` are known to exist but have not arrived in order. */
  get hasGap(): boolean {
    return this.anchored && this.held === null && this.head > this.last;
  }

  position(): CursorPosition {
    return { epoch: this.epochValue, lastSeq: this.last };
  }

  /** The `thread:join` payload that resumes from here. */
  joinRequest(): JoinRequest {
    if (!this.anchored && this.last === 0) return { threadId: this.threadId };
    const request: JoinRequest = { threadId: this.threadId, lastSeq: this.last };
    if (this.epochValue !== '') request.epoch = this.epochValue;
    return request;
  }

  accept(event: ThreadEvent): AcceptResult {
    if (this.held) {
      this.held.push(event);
      return { kind: 'held' };
    }
    if (this.epochValue === '') this.epochValue = event.epoch;
    else if (event.epoch !== this.epochValue) return { kind: 'epoch_changed', epoch: event.epoch };
    if (event.seq <= this.last || this.pending.has(event.seq)) return { kind: 'duplicate' };
    if (event.seq > this.head) this.head = event.seq;
    if (event.seq !== this.last + 1) {
      this.pending.set(event.seq, event);
      return { kind: 'buffered' };
    }
    this.last = event.seq;
    return { kind: 'delivered', events: [event, ...this.drain()] };
  }

  /**
   * Fixes the position when it was not known yet: `base` is the seq just before the first
   * event the server will send. Returns buffered events that became deliverable.
   */
  anchor(epoch: string, base: number): ThreadEvent[] {
    if (this.held || epoch === '') return [];
    if (this.epochValue === '') this.epochValue = epoch;
    if (epoch !== this.epochValue || this.anchored) return this.anchored ? this.drain() : [];
    this.anchored = true;
    if (base > this.last) {
      this.last = base;
      if (base > this.head) this.head = base;
      for (const seq of this.pending.keys()) if (seq <= base) this.pending.delete(seq);
    }
    return this.drain();
  }

  /** Records that the log of `epoch` reaches `headSeq`, so a missing tail is noticed. */
  noteHead(epoch: string, headSeq: number): void {
    if (epoch === this.epochValue && headSeq > this.head) this.head = headSeq;
  }

  /**
   * Whether a `thread:reset` is already answered by where this cursor stands: it was sent
   * for a cursor the client has since moved past, in the notice's epoch. What is still
   * missing up to its head is then an ordinary gap.
   */
  covers(notice: Pick<ThreadResetNotice, 'epoch' | 'headSeq' | 'reason'>): boolean {
    if (!this.anchored || this.held || notice.epoch === '' || notice.epoch !== this.epochValue) {
      return false;
    }
    return notice.reason !== 'ahead_of_log' || this.last <= notice.headSeq;
  }

  beginReset(): void {
    if (this.held) return;
    this.held = [...this.pending.values()];
    this.pending.clear();
  }

  /** Moves to the position the reset loaded and replays what arrived meanwhile. */
  completeReset(epoch: string, lastSeq: number): ResetOutcome {
    const held = (this.held ?? []).sort((a, b) => a.seq - b.seq);
    const previous = this.epochValue;
    this.held = null;
    this.epochValue = epoch;
    this.last = lastSeq;
    this.head = lastSeq;
    this.anchored = true;
    const delivered: ThreadEvent[] = [];
    let newerEpoch: string | undefined;
    for (const event of held) {
      if (event.epoch === previous && previous !== epoch) continue;
      if (epoch !== '' && event.epoch !== epoch) {
        newerEpoch = event.epoch;
        continue;
      }
      const result = this.accept(event);
      if (result.kind === 'delivered') delivered.push(...result.events);
      else if (result.kind === 'epoch_changed') newerEpoch = result.epoch;
    }
    return { delivered, newerEpoch };
  }

  private drain(): ThreadEvent[] {
    const out: ThreadEvent[] = [];
    for (let next = this.pending.get(this.last + 1); next; next = this.pending.get(this.last + 1)) {
      this.pending.delete(next.seq);
      this.last = next.seq;
      out.push(next);
    }
    return out;
  }
}

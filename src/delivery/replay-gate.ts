import type { ThreadEvent } from '../protocol.js';

/**
 * Live events held at most per gate. A replay paused by a slow client could otherwise
 * hold a busy thread's whole live stream; past this the gate lets go and the replay reads
 * those events from the log instead (they were stored before they were fanned out).
 */
const MAX_HELD = 256;

export interface Drained {
  /** Held events after the cursor, in seq order. */
  events: ThreadEvent[];
  /** Some events were let go since the last drain: read the log again before going live. */
  overflowed: boolean;
}

/**
 * Holds the live events of one thread that reach this instance while a connection is
 * being replayed to, so they can be sent after the replay in seq order instead of
 * overtaking it.
 */
export class ReplayGate {
  /** By `epoch:seq`: a log replaced during a replay numbers from 1 again. */
  private readonly held = new Map<string, ThreadEvent>();
  private overflowed = false;

  constructor(readonly threadId: string) {}

  push(event: ThreadEvent): void {
    const key = `${event.epoch}:${event.seq}`;
    if (this.held.size >= MAX_HELD && !this.held.has(key)) {
      this.held.clear();
      this.overflowed = true;
    }
    this.held.set(key, event);
  }

  /**
   * Removes and returns the held events of `epoch` after `afterSeq`, in seq order; older
   * ones, and those of any other log, are dropped.
   */
  drain(afterSeq: number, epoch: string): Drained {
    const events = [...this.held.values()].filter((e) => e.epoch === epoch && e.seq > afterSeq);
    const overflowed = this.overflowed;
    this.held.clear();
    this.overflowed = false;
    return { events: events.sort((a, b) => a.seq - b.seq), overflowed };
  }

  get size(): number {
    return this.held.size;
  }
}

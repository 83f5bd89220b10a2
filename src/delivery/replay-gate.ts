import type { ThreadEvent } from '../protocol.js';

/**
 * Holds the live events of one thread that reach this instance while a connection is
 * being replayed to, so they can be sent after the replay in seq order instead of
 * overtaking it.
 */
export class ReplayGate {
  private readonly held = new Map<number, ThreadEvent>();

  constructor(readonly threadId: string) {}

  push(event: ThreadEvent): void {
    this.held.set(event.seq, event);
  }

  /** Removes and returns held events after `afterSeq`, in seq order; older ones are dropped. */
  drain(afterSeq: number): ThreadEvent[] {
    const events = [...this.held.values()].filter((e) => e.seq > afterSeq);
    this.held.clear();
    return events.sort((a, b) => a.seq - b.seq);
  }

  get size(): number {
    return this.held.size;
  }
}

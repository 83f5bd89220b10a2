import { LimitExceededError } from '../errors/limit-exceeded.error.js';

/** Tickets one instance keeps at once in memory mode; past it, issuing is refused. */
const MAX_MEMORY_TICKETS = 100_000;

/** Stream tickets of one process (memory mode): a map, bounded, swept as tickets lapse. */
export class MemoryTicketStore {
  private readonly tickets = new Map<string, { value: string; until: number }>();

  put(ticket: string, value: string, ttlMs: number): Promise<void> {
    this.sweep();
    if (this.tickets.size >= MAX_MEMORY_TICKETS) {
      return Promise.reject(
        new LimitExceededError(
          'streamTickets',
          'too many stream tickets waiting to be used; try again shortly',
        ),
      );
    }
    this.tickets.set(ticket, { value, until: Date.now() + ttlMs });
    return Promise.resolve();
  }

  take(ticket: string): Promise<string | null> {
    const held = this.tickets.get(ticket);
    this.tickets.delete(ticket);
    return Promise.resolve(held && held.until > Date.now() ? held.value : null);
  }

  /** Tickets share one TTL, so the map is in expiry order: the lapsed ones are at its front. */
  private sweep(): void {
    const now = Date.now();
    for (const [ticket, held] of this.tickets) {
      if (held.until > now) return;
      this.tickets.delete(ticket);
    }
  }
}

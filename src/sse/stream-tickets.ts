import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { UnauthorizedError } from '../errors/unauthorized.error.js';
import { LimitExceededError } from '../errors/limit-exceeded.error.js';
import type { RedisBackend } from '../redis/redis-backend.js';
import { RELAY_REDIS } from '../thread-relay.constants.js';
import { type ResolvedRelayOptions } from '../thread-relay.options.js';
import { RELAY_OPTIONS } from '../thread-relay.constants.js';

/** How long a ticket may wait for its stream. */
export const TICKET_TTL_MS = 60_000;

/** Tickets one instance keeps at once in memory mode; past it, issuing is refused. */
const MAX_MEMORY_TICKETS = 100_000;

/** What a ticket stands for: one stream of one thread for one user, until its token expires. */
export interface TicketGrant {
  userId: string;
  threadId: string;
  /** The token's expiry (ms), or null; the stream ends then. */
  expiresAt: number | null;
}

const TICKET_FORMAT = /^[A-Za-z0-9_-]{32}$/;

/**
 * Single-use, short-lived stream tickets, because a browser's EventSource cannot send an
 * Authorization header: `POST /threads/:threadId/stream-tickets` (with the token) answers a
 * ticket, `GET /threads/:threadId/events?ticket=` spends it. With Redis the ticket is a key
 * any instance can spend once (GETDEL), so no sticky session is needed; in memory, a map.
 */
@Injectable()
export class StreamTickets {
  private readonly memory = new Map<string, { grant: TicketGrant; until: number }>();

  constructor(
    @Inject(RELAY_REDIS) private readonly redis: RedisBackend | null,
    @Inject(RELAY_OPTIONS) private readonly options: ResolvedRelayOptions,
  ) {}

  async issue(grant: TicketGrant): Promise<{ ticket: string; expiresInMs: number }> {
    const ticket = randomBytes(24).toString('base64url');
    const value = JSON.stringify(grant);
    if (this.redis) {
      await this.redis.connections.commands.set(this.key(ticket), value, 'PX', TICKET_TTL_MS);
    } else {
      this.sweep();
      if (this.memory.size >= MAX_MEMORY_TICKETS) {
        throw new LimitExceededError(
          'streamTickets',
          'too many stream tickets waiting to be used; try again shortly',
        );
      }
      this.memory.set(ticket, { grant, until: Date.now() + TICKET_TTL_MS });
    }
    return { ticket, expiresInMs: TICKET_TTL_MS };
  }

  /** Spends the ticket for `threadId` (the id it was issued for); UnauthorizedError otherwise. */
  async redeem(ticket: string, threadId: string): Promise<TicketGrant> {
    const refused = new UnauthorizedError('invalid, used or expired stream ticket');
    if (!TICKET_FORMAT.test(ticket)) throw refused;
    let grant: TicketGrant | null = null;
    if (this.redis) {
      const value = await this.redis.connections.commands.getdel(this.key(ticket));
      grant = value === null ? null : (JSON.parse(value) as TicketGrant);
    } else {
      const held = this.memory.get(ticket);
      this.memory.delete(ticket);
      if (held && held.until > Date.now()) grant = held.grant;
    }
    if (!grant || grant.threadId !== threadId) throw refused;
    if (grant.expiresAt !== null && grant.expiresAt <= Date.now()) throw refused;
    return grant;
  }

  private key(ticket: string): string {
    return `${this.options.keyPrefix}ticket:{${ticket}}`;
  }

  /** Tickets share one TTL, so the map is in expiry order: the lapsed ones are at its front. */
  private sweep(): void {
    const now = Date.now();
    for (const [ticket, held] of this.memory) {
      if (held.until > now) return;
      this.memory.delete(ticket);
    }
  }
}

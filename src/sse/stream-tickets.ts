import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { UnauthorizedError } from '../errors/unauthorized.error.js';
import type { RedisBackend } from '../redis/redis-backend.js';
import { RELAY_REDIS } from '../thread-relay.constants.js';
import { MemoryTicketStore } from './memory-ticket-store.js';

/** How long a ticket may wait for its stream. */
export const TICKET_TTL_MS = 60_000;

/** What a ticket stands for: one stream of one thread for one user, until its token expires. */
export interface TicketGrant {
  userId: string;
  threadId: string;
  /** The token's expiry (ms), or null; the stream ends then. */
  expiresAt: number | null;
}

const TICKET_FORMAT = /^[A-Za-z0-9_-]{32}$/;

/** Where tickets wait: Redis (`redis/redis-ticket-store.ts`) or this process's memory. */
interface TicketStore {
  put(ticket: string, value: string, ttlMs: number): Promise<void>;
  take(ticket: string): Promise<string | null>;
}

/**
 * Single-use, short-lived stream tickets, because a browser's EventSource cannot send an
 * Authorization header: `POST /threads/:threadId/stream-tickets` (with the token) answers a
 * ticket, `GET /threads/:threadId/events?ticket=` spends it. With Redis the ticket is a key
 * any instance can spend once (GETDEL), so no sticky session is needed; in memory, a map.
 */
@Injectable()
export class StreamTickets {
  private readonly store: TicketStore;

  constructor(@Inject(RELAY_REDIS) redis: RedisBackend | null) {
    this.store = redis?.tickets ?? new MemoryTicketStore();
  }

  async issue(grant: TicketGrant): Promise<{ ticket: string; expiresInMs: number }> {
    const ticket = randomBytes(24).toString('base64url');
    await this.store.put(ticket, JSON.stringify(grant), TICKET_TTL_MS);
    return { ticket, expiresInMs: TICKET_TTL_MS };
  }

  /** Spends the ticket for `threadId` (the id it was issued for); UnauthorizedError otherwise. */
  async redeem(ticket: string, threadId: string): Promise<TicketGrant> {
    const refused = new UnauthorizedError('invalid, used or expired stream ticket');
    if (!TICKET_FORMAT.test(ticket)) throw refused;
    const value = await this.store.take(ticket);
    const grant = value === null ? null : (JSON.parse(value) as TicketGrant);
    if (!grant || grant.threadId !== threadId) throw refused;
    if (grant.expiresAt !== null && grant.expiresAt <= Date.now()) throw refused;
    return grant;
  }
}

import type { RedisClient } from './redis-client.js';
import type { RedisKeys } from './redis-keys.js';

/** Stream tickets as keys any instance can spend once (GETDEL): no sticky session needed. */
export class RedisTicketStore {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async put(ticket: string, value: string, ttlMs: number): Promise<void> {
    await this.client.set(this.keys.streamTicket(ticket), value, 'PX', ttlMs);
  }

  take(ticket: string): Promise<string | null> {
    return this.client.getdel(this.keys.streamTicket(ticket));
  }
}

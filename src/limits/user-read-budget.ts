import { Inject, Injectable } from '@nestjs/common';
import { RateLimitedError } from '../errors/rate-limited.error.js';
import { RELAY_OPTIONS, type ResolvedRelayOptions } from '../thread-relay.options.js';
import { LocalBuckets } from './local-buckets.js';

/**
 * `limits.readBytes`: how many bytes of log a user may read per second on this instance,
 * over history pages and join replays together. A read is paid after it, by what it
 * returned (pages are bounded in bytes, so one read cannot overdraw much); a user in debt
 * waits (replays) or is refused (history) until it is paid back. Reading the log is the
 * one thing a user can make the shared Redis do in bulk.
 */
@Injectable()
export class UserReadBudget {
  private readonly buckets: LocalBuckets;

  constructor(@Inject(RELAY_OPTIONS) options: ResolvedRelayOptions) {
    this.buckets = new LocalBuckets(options.limits.readBytes);
  }

  /** Throws `RateLimitedError` while the user is in debt. */
  assertAvailable(userId: string): void {
    const waitMs = this.buckets.waitFor(userId);
    if (waitMs === 0) return;
    throw new RateLimitedError(
      'limits.readBytes',
      waitMs,
      `Too much history read; retry in ${waitMs} ms (limits.readBytes)`,
    );
  }

  /** How long the user must wait before the next read; 0 when it may read now. */
  waitFor(userId: string): number {
    return this.buckets.waitFor(userId);
  }

  spend(userId: string, bytes: number): void {
    if (bytes > 0) this.buckets.spend(userId, bytes);
  }
}

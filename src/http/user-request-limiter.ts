import { Inject, Injectable } from '@nestjs/common';
import { RateLimitedError } from '../errors/rate-limited.error.js';
import { MemoryRateLimitStore } from '../limits/memory-rate-limit.store.js';
import type { BucketRate } from '../limits/token-bucket.js';
import { RELAY_OPTIONS, type ResolvedRelayOptions } from '../thread-relay.options.js';

/**
 * `limits.httpRequests`: a token bucket per user on this instance for the user routes, the
 * REST twin of the socket's per-connection event limit. Kept in memory: it protects this
 * instance's work, and a user spread over instances is held on each.
 */
@Injectable()
export class UserRequestLimiter {
  private readonly buckets = new MemoryRateLimitStore();
  private readonly rate: BucketRate;

  constructor(@Inject(RELAY_OPTIONS) options: ResolvedRelayOptions) {
    this.rate = options.limits.httpRequests;
  }

  /** Takes one request's token or throws `RateLimitedError` (HTTP 429 with Retry-After). */
  async take(userId: string): Promise<void> {
    const result = await this.buckets.take(userId, this.rate);
    if (result.ok) return;
    throw new RateLimitedError(
      'limits.httpRequests',
      result.retryAfterMs,
      `Too many requests; retry in ${result.retryAfterMs} ms (limits.httpRequests)`,
    );
  }
}

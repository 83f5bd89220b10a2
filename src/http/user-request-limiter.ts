import { Inject, Injectable } from '@nestjs/common';
import { RateLimitedError } from '../errors/rate-limited.error.js';
import { LocalBuckets } from '../limits/local-buckets.js';
import { RELAY_OPTIONS, type ResolvedRelayOptions } from '../thread-relay.options.js';

/**
 * `limits.httpRequests`: a token bucket per user on this instance for the user routes, the
 * REST twin of the socket's per-user event limit. Kept in memory: it protects this
 * instance's work, and a user spread over instances is held on each.
 */
@Injectable()
export class UserRequestLimiter {
  private readonly buckets: LocalBuckets;

  constructor(@Inject(RELAY_OPTIONS) options: ResolvedRelayOptions) {
    this.buckets = new LocalBuckets(options.limits.httpRequests);
  }

  /** Takes one request's token or throws `RateLimitedError` (HTTP 429 with Retry-After). */
  take(userId: string): void {
    const result = this.buckets.take(userId);
    if (result.ok) return;
    throw new RateLimitedError(
      'limits.httpRequests',
      result.retryAfterMs,
      `Too many requests; retry in ${result.retryAfterMs} ms (limits.httpRequests)`,
    );
  }
}

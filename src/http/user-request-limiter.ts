import { Inject, Injectable } from '@nestjs/common';
import { LocalRateLimiter } from '../limits/local-rate-limiter.js';
import { type ResolvedRelayOptions } from '../thread-relay.options.js';
import { RELAY_OPTIONS } from '../thread-relay.constants.js';

/**
 * `limits.httpRequests`: a token bucket per user on this instance for the user routes, the
 * REST twin of the socket's per-user event limit. Kept in memory: it protects this
 * instance's work, and a user spread over instances is held on each.
 */
@Injectable()
export class UserRequestLimiter {
  private readonly limiter: LocalRateLimiter;

  constructor(@Inject(RELAY_OPTIONS) options: ResolvedRelayOptions) {
    this.limiter = new LocalRateLimiter(
      'limits.httpRequests',
      options.limits.httpRequests,
      'Too many requests',
    );
  }

  /** Takes one request's token or throws `RateLimitedError` (HTTP 429 with Retry-After). */
  take(userId: string): void {
    this.limiter.take(userId);
  }
}

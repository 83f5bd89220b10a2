import { Inject, Injectable } from '@nestjs/common';
import { LocalRateLimiter } from '../../limits/local-rate-limiter.js';
import { type ResolvedRelayOptions } from '../../thread-relay.options.js';
import { RELAY_OPTIONS } from '../../thread-relay.constants.js';

/**
 * `limits.producerRequests`: a token bucket per producer key on this instance. In memory,
 * like the user routes' limit: it protects this instance's work, and needs no store
 * round trip on the hot path of every send.
 */
@Injectable()
export class ProducerRequestLimiter {
  private readonly limiter: LocalRateLimiter;

  constructor(@Inject(RELAY_OPTIONS) options: ResolvedRelayOptions) {
    this.limiter = new LocalRateLimiter(
      'limits.producerRequests',
      options.limits.producerRequests,
      'Too many producer requests',
    );
  }

  /**
   * Takes `cost` tokens (a batch pays per event) or throws `RateLimitedError` (429 with
   * Retry-After). The cost is capped at the burst, so any batch fits an idle bucket.
   */
  take(producerId: string, cost = 1): void {
    this.limiter.take(producerId, cost);
  }
}

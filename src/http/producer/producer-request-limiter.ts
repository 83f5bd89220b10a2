import { Inject, Injectable } from '@nestjs/common';
import { RateLimitedError } from '../../errors/rate-limited.error.js';
import { LocalBuckets } from '../../limits/local-buckets.js';
import { RELAY_OPTIONS, type ResolvedRelayOptions } from '../../thread-relay.options.js';

/**
 * `limits.producerRequests`: a token bucket per producer key on this instance. In memory,
 * like the user routes' limit: it protects this instance's work, and needs no store
 * round trip on the hot path of every send.
 */
@Injectable()
export class ProducerRequestLimiter {
  private readonly buckets: LocalBuckets;
  private readonly burst: number;

  constructor(@Inject(RELAY_OPTIONS) options: ResolvedRelayOptions) {
    this.buckets = new LocalBuckets(options.limits.producerRequests);
    this.burst = options.limits.producerRequests.burst;
  }

  /**
   * Takes `cost` tokens (a batch pays per event) or throws `RateLimitedError` (429 with
   * Retry-After). The cost is capped at the burst, so any batch fits an idle bucket.
   */
  take(producerId: string, cost = 1): void {
    const result = this.buckets.take(producerId, Math.min(Math.max(1, cost), this.burst));
    if (result.ok) return;
    throw new RateLimitedError(
      'limits.producerRequests',
      result.retryAfterMs,
      `Too many producer requests; retry in ${result.retryAfterMs} ms (limits.producerRequests)`,
    );
  }
}

import { RateLimitedError } from '../errors/rate-limited.error.js';
import { LocalBuckets } from './local-buckets.js';

/**
 * Token buckets per key on this instance that refuse with `RateLimitedError` (429 with
 * Retry-After), naming the option that sets them. A cost is capped at the burst, so any
 * single request fits an idle bucket.
 */
export class LocalRateLimiter {
  private readonly buckets: LocalBuckets;
  private readonly burst: number;

  constructor(
    private readonly option: string,
    limit: { perSecond: number; burst: number },
    private readonly what: string,
  ) {
    this.buckets = new LocalBuckets(limit);
    this.burst = limit.burst;
  }

  take(key: string, cost = 1): void {
    const result = this.buckets.take(key, Math.min(Math.max(1, cost), this.burst));
    if (result.ok) return;
    throw new RateLimitedError(
      this.option,
      result.retryAfterMs,
      `${this.what}; retry in ${result.retryAfterMs} ms (${this.option})`,
    );
  }
}

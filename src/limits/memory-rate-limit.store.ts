import { LocalBuckets } from './local-buckets.js';
import type { RateLimitStore } from './rate-limit-store.interface.js';
import type { BucketRate, TakeResult } from './token-bucket.js';

/** Token buckets of one process, one map per rate. */
export class MemoryRateLimitStore implements RateLimitStore {
  private readonly byRate = new Map<string, LocalBuckets>();

  constructor(private readonly now: () => number = Date.now) {}

  take(key: string, rate: BucketRate): Promise<TakeResult> {
    const id = `${rate.perSecond}/${rate.burst}`;
    let buckets = this.byRate.get(id);
    if (!buckets) {
      buckets = new LocalBuckets(rate, this.now);
      this.byRate.set(id, buckets);
    }
    return Promise.resolve(buckets.take(key));
  }
}

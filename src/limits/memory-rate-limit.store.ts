import type { RateLimitStore } from './rate-limit-store.interface.js';
import { TokenBucket, type BucketRate, type TakeResult } from './token-bucket.js';

/** Buckets remembered at most; full ones are dropped first when this many are held. */
const MAX_BUCKETS = 100_000;

/** Token buckets of one process. A full bucket is the same as no bucket, so those are pruned. */
export class MemoryRateLimitStore implements RateLimitStore {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly now: () => number = Date.now) {}

  take(key: string, rate: BucketRate): Promise<TakeResult> {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= MAX_BUCKETS) this.prune(now);
      bucket = new TokenBucket(rate, now);
      this.buckets.set(key, bucket);
    }
    return Promise.resolve(bucket.take(now));
  }

  private prune(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.isFull(now)) this.buckets.delete(key);
    }
    // Still full of busy buckets: forget the oldest rather than grow without bound.
    while (this.buckets.size >= MAX_BUCKETS) {
      const oldest = this.buckets.keys().next();
      if (oldest.done) break;
      this.buckets.delete(oldest.value);
    }
  }
}

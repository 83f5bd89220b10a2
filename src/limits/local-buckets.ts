import { TokenBucket, type BucketRate, type TakeResult } from './token-bucket.js';

/** Buckets remembered at most; full ones are dropped first when this many are held. */
const MAX_BUCKETS = 100_000;

/**
 * Token buckets of one process, by key, answered synchronously. A full bucket is the same
 * as no bucket, so those are pruned when the map is full; past that the oldest go.
 */
export class LocalBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly rate: BucketRate,
    private readonly now: () => number = Date.now,
  ) {}

  take(key: string, cost = 1): TakeResult {
    return this.bucket(key).take(this.now(), cost);
  }

  /** Takes what is there up to `max` if at least `min` is; else 0 and how long to wait. */
  takeUpTo(key: string, max: number, min: number): { taken: number; waitMs: number } {
    const bucket = this.bucket(key);
    const now = this.now();
    const taken = bucket.takeUpTo(now, max, min);
    return { taken, waitMs: taken > 0 ? 0 : bucket.msUntilAtLeast(now, min) };
  }

  /** Spends `cost` even into debt: a cost known only afterwards (bytes read) is still paid. */
  spend(key: string, cost: number): void {
    this.bucket(key).spend(this.now(), cost);
  }

  /** Returns unused tokens (never past the burst). */
  give(key: string, amount: number): void {
    this.buckets.get(key)?.give(this.now(), amount);
  }

  private bucket(key: string): TokenBucket {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= MAX_BUCKETS) this.prune();
      bucket = new TokenBucket(this.rate, this.now());
      this.buckets.set(key, bucket);
    }
    return bucket;
  }

  private prune(): void {
    const now = this.now();
    for (const [key, bucket] of this.buckets) {
      if (bucket.isFull(now)) this.buckets.delete(key);
    }
    while (this.buckets.size >= MAX_BUCKETS) {
      const oldest = this.buckets.keys().next();
      if (oldest.done) break;
      this.buckets.delete(oldest.value);
    }
  }
}

import type { BucketRate, TakeResult } from './token-bucket.js';

/**
 * Token buckets keyed by name, shared by every instance when they live in Redis (a user's
 * messages count the same whichever instance receives them). Implementations:
 * `MemoryRateLimitStore` and `RedisRateLimitStore`.
 */
export interface RateLimitStore {
  take(key: string, rate: BucketRate): Promise<TakeResult>;
}

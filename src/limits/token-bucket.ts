/** A token bucket's settings: `burst` tokens at most, refilled at `perSecond`. */
export interface BucketRate {
  perSecond: number;
  burst: number;
}

export interface TakeResult {
  ok: boolean;
  /** When refused: how long until a token is there. */
  retryAfterMs: number;
}

/**
 * An in-process token bucket. Time is passed in, so the caller decides the clock and one
 * `Date.now()` serves many buckets.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly rate: BucketRate,
    now: number,
  ) {
    this.tokens = rate.burst;
    this.updatedAt = now;
  }

  take(now: number): TakeResult {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true, retryAfterMs: 0 };
    }
    return { ok: false, retryAfterMs: Math.ceil(((1 - this.tokens) / this.rate.perSecond) * 1000) };
  }

  /** Whether the bucket is full (nothing to remember about it). */
  isFull(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.rate.burst;
  }

  private refill(now: number): void {
    const elapsed = Math.max(0, now - this.updatedAt) / 1000;
    this.tokens = Math.min(this.rate.burst, this.tokens + elapsed * this.rate.perSecond);
    this.updatedAt = now;
  }
}

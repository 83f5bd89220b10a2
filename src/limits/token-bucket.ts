/** A token bucket's settings: `burst` tokens at most, refilled at `perSecond`. */
export interface BucketRate {
  perSecond: number;
  burst: number;
}

export interface TakeResult {
  ok: boolean;
  /** When refused: how long until enough tokens are there. */
  retryAfterMs: number;
}

/**
 * An in-process token bucket. Time is passed in, so the caller decides the clock and one
 * `Date.now()` serves many buckets. `spend` may take it below zero: a cost learnt after the
 * fact (the bytes a read returned) is paid back before anything else is allowed.
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

  take(now: number, cost = 1): TakeResult {
    this.refill(now);
    if (this.tokens >= cost) {
      this.tokens -= cost;
      return { ok: true, retryAfterMs: 0 };
    }
    return { ok: false, retryAfterMs: this.msUntil(cost) };
  }

  /**
   * Takes as many tokens as are there, up to `max`, if at least `min` are: for a cost
   * known only afterwards, of which `max` is the most it can be. 0 when fewer than `min`.
   */
  takeUpTo(now: number, max: number, min: number): number {
    this.refill(now);
    if (this.tokens < min) return 0;
    const taken = Math.min(max, this.tokens);
    this.tokens -= taken;
    return taken;
  }

  /** How long until `min` tokens are there. */
  msUntilAtLeast(now: number, min: number): number {
    this.refill(now);
    return this.tokens >= min ? 0 : this.msUntil(min);
  }

  spend(now: number, cost: number): void {
    this.refill(now);
    this.tokens -= cost;
  }

  give(now: number, amount: number): void {
    this.refill(now);
    this.tokens = Math.min(this.rate.burst, this.tokens + amount);
  }

  /** Whether the bucket is full (nothing to remember about it). */
  isFull(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.rate.burst;
  }

  private msUntil(cost: number): number {
    return Math.ceil(
      ((Math.min(cost, this.rate.burst) - this.tokens) / this.rate.perSecond) * 1000,
    );
  }

  private refill(now: number): void {
    const elapsed = Math.max(0, now - this.updatedAt) / 1000;
    this.tokens = Math.min(this.rate.burst, this.tokens + elapsed * this.rate.perSecond);
    this.updatedAt = now;
  }
}

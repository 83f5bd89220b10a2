import { Inject, Injectable } from '@nestjs/common';
import { RateLimitedError } from '../errors/rate-limited.error.js';
import { type ResolvedRelayOptions } from '../thread-relay.options.js';
import { RELAY_OPTIONS } from '../thread-relay.constants.js';
import { LocalBuckets } from './local-buckets.js';

/**
 * `limits.readBytes`: how many bytes of log a user may read per second on this instance,
 * over history pages and join replays together. A read reserves its page's bound before it
 * runs and pays what it took after, so reads running at once share what the user has; a
 * user without enough left waits (replays) or is refused (history). Reading the log is the
 * one thing a user can make the shared Redis do in bulk.
 */
/** Less than this left and a read waits: a page of small events costs about this much. */
const MIN_RESERVE = 64 * 1024;

@Injectable()
export class UserReadBudget {
  private readonly buckets: LocalBuckets;
  private readonly burst: number;

  constructor(@Inject(RELAY_OPTIONS) options: ResolvedRelayOptions) {
    this.buckets = new LocalBuckets(options.limits.readBytes);
    this.burst = options.limits.readBytes.burst;
  }

  /**
   * Holds what the user has left, up to `bytes` (a read's bound), for a read about to
   * happen, so reads running at once share it rather than each spending it all. Throws
   * `RateLimitedError` when less than a small part of a page is left. Settle it with what
   * the read took: a read that held little and took much owes the rest.
   */
  reserve(userId: string, bytes: number): number {
    const hold = this.tryReserve(userId, bytes);
    if (hold.waitMs === 0) return hold.reserved;
    throw new RateLimitedError(
      'limits.readBytes',
      hold.waitMs,
      `Too much history read; retry in ${hold.waitMs} ms (limits.readBytes)`,
    );
  }

  /** `reserve` for a reader that waits: how long when not enough is left, else 0. */
  tryReserve(userId: string, bytes: number): { reserved: number; waitMs: number } {
    const min = Math.min(MIN_RESERVE, this.burst, bytes);
    const { taken, waitMs } = this.buckets.takeUpTo(userId, Math.max(1, bytes), Math.max(1, min));
    return { reserved: taken, waitMs };
  }

  /** Pays what a read took against what it reserved: the rest goes back, more is owed. */
  settle(userId: string, reserved: number, used: number): void {
    if (used > reserved) this.buckets.spend(userId, used - reserved);
    else if (used < reserved) this.buckets.give(userId, reserved - used);
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { RateLimitedError } from '../errors/rate-limited.error.js';
import { quoteId } from '../errors/relay-error.js';
import { type RateLimitStore } from '../limits/rate-limit-store.interface.js';
import { RATE_LIMIT_STORE, RELAY_OPTIONS } from '../thread-relay.constants.js';
import type { BucketRate } from '../limits/token-bucket.js';
import { type ResolvedRelayOptions } from '../thread-relay.options.js';

/**
 * `limits.userMessages`: a token bucket per user, over every instance with Redis, because
 * each accepted message may start an agent run (the expensive part the limit protects).
 */
@Injectable()
export class UserMessageRateLimiter {
  private readonly rate: BucketRate;

  constructor(
    @Inject(RATE_LIMIT_STORE) private readonly store: RateLimitStore,
    @Inject(RELAY_OPTIONS) options: ResolvedRelayOptions,
  ) {
    const { perMinute, burst } = options.limits.userMessages;
    this.rate = { perSecond: perMinute / 60, burst };
  }

  /** Takes one message's token or throws `RateLimitedError` (nothing else happens then). */
  async take(userId: string): Promise<void> {
    const result = await this.store.take(`um:${userId}`, this.rate);
    if (result.ok) return;
    throw new RateLimitedError(
      'limits.userMessages',
      result.retryAfterMs,
      `User ${quoteId(userId)} sends messages too fast; retry in ${result.retryAfterMs} ms`,
    );
  }
}

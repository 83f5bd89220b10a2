import type { Provider } from '@nestjs/common';
import { LocalRateLimiter } from '../limits/local-rate-limiter.js';
import {
  PRODUCER_REQUEST_LIMITER,
  RELAY_OPTIONS,
  USER_REQUEST_LIMITER,
} from '../thread-relay.constants.js';
import type { ResolvedRelayOptions } from '../thread-relay.options.js';

/**
 * Token buckets of the HTTP routes, on this instance: they protect this instance's work and
 * need no store round trip on the hot path. A user (or producer key) spread over instances
 * is held on each. Over the limit: `RateLimitedError`, 429 with Retry-After; a producer
 * batch pays per event, capped at the burst so any batch fits an idle bucket.
 */
function requestLimiter(
  token: symbol,
  option: 'httpRequests' | 'producerRequests',
  what: string,
): Provider {
  return {
    provide: token,
    useFactory: (options: ResolvedRelayOptions) =>
      new LocalRateLimiter(`limits.${option}`, options.limits[option], what),
    inject: [RELAY_OPTIONS],
  };
}

/** `limits.httpRequests`, per user: the REST twin of the socket's per-connection limit. */
export const userRequestLimiter = requestLimiter(
  USER_REQUEST_LIMITER,
  'httpRequests',
  'Too many requests',
);

/** `limits.producerRequests`, per producer key. */
export const producerRequestLimiter = requestLimiter(
  PRODUCER_REQUEST_LIMITER,
  'producerRequests',
  'Too many producer requests',
);

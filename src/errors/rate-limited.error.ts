import { RelayError } from './relay-error.js';

/** Too many requests in a short time; nothing was done. Retry after `retryAfterMs`. */
export class RateLimitedError extends RelayError {
  constructor(
    readonly limit: string,
    readonly retryAfterMs: number,
    message: string,
  ) {
    super('RATE_LIMITED', message);
  }
}

import { asUnavailableIfUnreachable } from './store-unreachable.js';
import type { ErrorBody } from '../protocol.js';
import { RateLimitedError } from './rate-limited.error.js';
import { RelayError } from './relay-error.js';

/** What a client sees of any error: typed errors keep their code, anything else is INTERNAL without internals. */
export function toErrorBody(thrown: unknown): ErrorBody {
  const error = asUnavailableIfUnreachable(thrown);
  if (error instanceof RateLimitedError) {
    return { code: error.code, message: error.message, retryAfterMs: error.retryAfterMs };
  }
  if (error instanceof RelayError) return { code: error.code, message: error.message };
  return { code: 'INTERNAL', message: 'internal error' };
}

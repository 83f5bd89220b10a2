import type { ErrorBody } from '../protocol.js';
import { RateLimitedError } from './rate-limited.error.js';
import { ERROR_STATUS, RelayError } from './relay-error.js';
import { asUnavailableIfUnreachable } from './store-unreachable.js';

/** How long a client waits after a 503: long enough to not hammer a store that is down, short for a blip. */
const UNAVAILABLE_RETRY_AFTER_SECONDS = 1;

/** What a client is told of an error, the same on a socket ack, an HTTP answer and an SSE frame. */
export interface ErrorAnswer {
  status: number;
  body: ErrorBody;
  /** `Retry-After` of an HTTP answer, in seconds. */
  retryAfterSeconds?: number;
  /** Not an error of ours: a bug, which the client learns nothing of and the log everything. */
  unexpected: boolean;
}

/** The one mapping of errors to answers: typed errors keep their code, anything else is INTERNAL. */
export function errorAnswer(thrown: unknown): ErrorAnswer {
  const error = asUnavailableIfUnreachable(thrown);
  if (error instanceof RateLimitedError) {
    return {
      status: error.status,
      body: { code: error.code, message: error.message, retryAfterMs: error.retryAfterMs },
      retryAfterSeconds: Math.max(1, Math.ceil(error.retryAfterMs / 1000)),
      unexpected: false,
    };
  }
  if (error instanceof RelayError) {
    return {
      status: error.status,
      body: { code: error.code, message: error.message },
      // A client that honours Retry-After (with the same idempotency key) is what keeps a
      // retry storm from meeting Redis as it comes back.
      ...(error.code === 'RELAY_UNAVAILABLE'
        ? { retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS }
        : {}),
      unexpected: false,
    };
  }
  return {
    status: ERROR_STATUS.INTERNAL,
    body: { code: 'INTERNAL', message: 'internal error' },
    unexpected: true,
  };
}

/** The body alone, for socket acks and SSE frames. */
export function toErrorBody(thrown: unknown): ErrorBody {
  return errorAnswer(thrown).body;
}

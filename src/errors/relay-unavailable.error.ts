import { RelayError } from './relay-error.js';

/** The backing store (Redis) did not answer within `unavailableTimeoutMs`; the caller must not assume the event was stored. */
export class RelayUnavailableError extends RelayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RELAY_UNAVAILABLE', message, options);
  }
}

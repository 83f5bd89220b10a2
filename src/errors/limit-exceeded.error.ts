import { RelayError } from './relay-error.js';

/** A quota is used up (joined threads, connections, auto-registered threads); nothing was done. */
export class LimitExceededError extends RelayError {
  constructor(
    readonly limit: string,
    message: string,
  ) {
    super('LIMIT_EXCEEDED', message);
  }
}

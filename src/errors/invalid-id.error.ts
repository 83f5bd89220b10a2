import { quoteId, RelayError } from './relay-error.js';

export class InvalidIdError extends RelayError {
  readonly code = 'INVALID_ID';
  readonly status = 400;

  constructor(
    readonly field: string,
    value: unknown,
    reason: string,
  ) {
    super(`Invalid ${field} ${quoteId(value)}: ${reason}`);
  }
}

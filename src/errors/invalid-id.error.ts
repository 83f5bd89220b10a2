import { quoteId, RelayError } from './relay-error.js';

export class InvalidIdError extends RelayError {
  readonly code = 'INVALID_ID';

  constructor(
    readonly field: string,
    value: unknown,
    reason: string,
  ) {
    super(`Invalid ${field} ${quoteId(value)}: ${reason}`);
  }
}

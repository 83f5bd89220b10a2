import { quoteId, RelayError } from './relay-error.js';

export class InvalidIdError extends RelayError {
  constructor(
    readonly field: string,
    value: unknown,
    reason: string,
  ) {
    super('INVALID_ID', `Invalid ${field} ${quoteId(value)}: ${reason}`);
  }
}

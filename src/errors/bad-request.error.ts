import { RelayError } from './relay-error.js';

export class BadRequestError extends RelayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BAD_REQUEST', message, options);
  }
}

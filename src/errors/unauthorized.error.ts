import { RelayError } from './relay-error.js';

export class UnauthorizedError extends RelayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNAUTHORIZED', message, options);
  }
}

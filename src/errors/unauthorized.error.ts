import { RelayError } from './relay-error.js';

export class UnauthorizedError extends RelayError {
  readonly code = 'UNAUTHORIZED';
  readonly status = 401;
}

import { RelayError } from '../errors/relay-error.js';

export class UnauthorizedError extends RelayError {
  readonly code = 'UNAUTHORIZED';
}

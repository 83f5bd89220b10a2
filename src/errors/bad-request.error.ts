import { RelayError } from './relay-error.js';

export class BadRequestError extends RelayError {
  readonly code = 'BAD_REQUEST';
  readonly status = 400;
}

import { RelayError } from './relay-error.js';

/** The connection's token has expired; the server closes the connection after saying so. */
export class TokenExpiredError extends RelayError {
  readonly code = 'TOKEN_EXPIRED';
  readonly status = 401;
}

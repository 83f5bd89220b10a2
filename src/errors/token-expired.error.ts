import { RelayError } from './relay-error.js';

/** The connection's token has expired; the server closes the connection after saying so. */
export class TokenExpiredError extends RelayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TOKEN_EXPIRED', message, options);
  }
}

import { ThreadRelayClientError, toClientError } from './client-error.js';
import type { TokenSource } from './client.options.js';

/** Turns the `token` option into a function that yields a non-empty token or a typed error. */
export function tokenResolver(token: TokenSource): () => Promise<string> {
  return async () => {
    let value: unknown;
    try {
      value = typeof token === 'function' ? await token() : token;
    } catch (error) {
      throw toClientError(error, 'TOKEN_FAILED', 'the token function failed');
    }
    if (typeof value !== 'string' || value.length === 0) {
      throw new ThreadRelayClientError('TOKEN_FAILED', 'the token function returned no token');
    }
    return value;
  };
}

import type { ErrorCode } from '../protocol.js';

/**
 * Codes the SDK itself produces. Server codes (`ErrorCode`: `FORBIDDEN`, `BAD_REQUEST`,
 * `THREAD_NOT_FOUND`, `RELAY_UNAVAILABLE`, ...) pass through unchanged.
 */
export type ClientErrorCode =
  | 'UNAUTHORIZED'
  | 'CONNECT_REFUSED'
  | 'TOKEN_FAILED'
  | 'TIMEOUT'
  | 'DISCONNECTED'
  | 'NETWORK'
  | 'HTTP_ERROR'
  | 'BAD_RESPONSE'
  | 'BAD_MESSAGE'
  | 'HANDLER_FAILED'
  | 'INTERNAL'
  | 'SEND_TIMEOUT'
  | 'LEFT'
  | 'CLOSED'
  | 'INVALID_OPTION'
  /** The server took the connection out of a thread (unregistered, expired, access revoked). */
  | 'THREAD_LEFT';

/** Worth another attempt with the same request: the failure says nothing about the request itself. */
const RETRYABLE = new Set<string>([
  'TIMEOUT',
  'DISCONNECTED',
  'TOKEN_FAILED',
  'NETWORK',
  'RELAY_UNAVAILABLE',
  'INTERNAL',
  // Over a rate: the same request goes through once `retryAfterMs` has passed.
  'RATE_LIMITED',
  // The connection's credential lapsed: the same request goes through on the next connection,
  // which asks the token function for a fresh token.
  'TOKEN_EXPIRED',
]);

export interface ClientErrorOptions {
  retryable?: boolean;
  threadId?: string;
  status?: number;
  /** The server's `retryAfterMs` (or HTTP `Retry-After`) with `RATE_LIMITED`. */
  retryAfterMs?: number;
  cause?: unknown;
}

/** Every error the client rejects with or reports through `onError`. */
export class ThreadRelayClientError extends Error {
  override readonly name = 'ThreadRelayClientError';
  readonly retryable: boolean;
  readonly threadId: string | undefined;
  /** HTTP status, for errors from the REST routes. */
  readonly status: number | undefined;
  /** How long the server asked to wait before trying again (`RATE_LIMITED`). */
  readonly retryAfterMs: number | undefined;

  constructor(
    // A newer server may answer with a code this SDK does not know yet; it passes through.
    readonly code: ClientErrorCode | ErrorCode | (string & {}),
    message: string,
    options: ClientErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? RETRYABLE.has(code);
    this.threadId = options.threadId;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }
}

export function isRetryable(error: unknown): boolean {
  return error instanceof ThreadRelayClientError && error.retryable;
}

/**
 * How long to wait before another attempt after `error`: the caller's own backoff, or
 * longer when the server said how long (retrying sooner would only be refused again).
 */
export function retryDelay(error: unknown, backoffMs: number): number {
  const asked = error instanceof ThreadRelayClientError ? (error.retryAfterMs ?? 0) : 0;
  return Math.max(backoffMs, asked);
}

/** Wraps anything thrown into a client error, keeping client errors as they are. */
export function toClientError(
  error: unknown,
  code: ClientErrorCode,
  message: string,
  threadId?: string,
): ThreadRelayClientError {
  if (error instanceof ThreadRelayClientError) return error;
  const detail = error instanceof Error ? `: ${error.message}` : '';
  return new ThreadRelayClientError(code, `${message}${detail}`, { cause: error, threadId });
}

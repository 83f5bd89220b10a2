import type { ErrorCode } from '../protocol.js';

/**
 * The HTTP status each code is answered with. Every code has one, codes no RelayError
 * raises too (NOT_FOUND, INTERNAL), so a new code cannot be added without its status.
 */
export const ERROR_STATUS: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  INVALID_ID: 400,
  INVALID_EVENT_TYPE: 400,
  PAYLOAD_NOT_JSON: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNAUTHORIZED: 401,
  TOKEN_EXPIRED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  THREAD_NOT_FOUND: 404,
  THREAD_OWNERSHIP_CONFLICT: 409,
  RUN_CONFLICT: 409,
  RATE_LIMITED: 429,
  LIMIT_EXCEEDED: 429,
  RELAY_UNAVAILABLE: 503,
  DELIVERY_TIMEOUT: 504,
  // A bad option stops the module at startup: the fault is the host's, not a client's.
  INVALID_OPTION: 500,
  INTERNAL: 500,
};

/**
 * Base class of every error thread-relay raises on purpose. `code` is stable and is
 * what clients see in `{ ok: false, error: { code, message } }` and HTTP bodies; `status`
 * is the HTTP status the routes answer it with, from `ERROR_STATUS`.
 */
export abstract class RelayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.status = ERROR_STATUS[code];
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** Ids and other strings are quoted in messages; long ones are cut so a 10 KB id cannot flood a log line. */
export function quoteId(value: unknown, max = 120): string {
  if (typeof value !== 'string') return `<${value === null ? 'null' : typeof value}>`;
  const text = value.length > max ? `${value.slice(0, max)}...(${value.length} chars)` : value;
  return JSON.stringify(text);
}

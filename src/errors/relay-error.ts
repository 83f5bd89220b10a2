import type { ErrorCode } from '../protocol.js';

/**
 * Base class of every error thread-relay raises on purpose. `code` is stable and is
 * what clients see in `{ ok: false, error: { code, message } }` and HTTP bodies; `status`
 * is the HTTP status the routes answer it with.
 */
export abstract class RelayError extends Error {
  abstract readonly code: ErrorCode;
  abstract readonly status: number;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
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

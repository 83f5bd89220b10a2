import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  Inject,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { RateLimitedError } from '../errors/rate-limited.error.js';
import { RelayError } from '../errors/relay-error.js';
import { asUnavailableIfUnreachable } from '../errors/store-unreachable.js';
import { toErrorBody } from '../errors/to-error-body.js';
import { RelayLogger } from '../thread-relay.logger.js';
import { type ResolvedRelayOptions } from '../thread-relay.options.js';
import { RELAY_OPTIONS } from '../thread-relay.constants.js';

const STATUS_BY_CODE: Record<string, number> = {
  BAD_REQUEST: 400,
  INVALID_ID: 400,
  INVALID_EVENT_TYPE: 400,
  PAYLOAD_NOT_JSON: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNAUTHORIZED: 401,
  TOKEN_EXPIRED: 401,
  FORBIDDEN: 403,
  THREAD_NOT_FOUND: 404,
  THREAD_OWNERSHIP_CONFLICT: 409,
  RUN_CONFLICT: 409,
  RATE_LIMITED: 429,
  LIMIT_EXCEEDED: 429,
  RELAY_UNAVAILABLE: 503,
  DELIVERY_TIMEOUT: 504,
};

/** `Retry-After` of a 503: long enough to not hammer a store that is down, short for a blip. */
const UNAVAILABLE_RETRY_AFTER_SECONDS = 1;

/** Maps typed relay errors to HTTP statuses with the same `{ code, message }` body the socket acks use. */
@Catch()
export class RelayErrorFilter implements ExceptionFilter {
  private readonly log: RelayLogger;

  constructor(@Inject(RELAY_OPTIONS) options: ResolvedRelayOptions) {
    this.log = RelayLogger.for(RelayErrorFilter.name, options);
  }

  catch(thrown: unknown, host: ArgumentsHost): void {
    const error = asUnavailableIfUnreachable(thrown);
    const response = host.switchToHttp().getResponse<Response>();
    const request = host.switchToHttp().getRequest<Request>();
    if (error instanceof RelayError) {
      if (error instanceof RateLimitedError) {
        response.setHeader(
          'Retry-After',
          String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))),
        );
      }
      // The store is unreachable for now; a client that honours Retry-After (with the same
      // idempotency key) is what keeps a retry storm from meeting Redis as it comes back.
      if (error.code === 'RELAY_UNAVAILABLE') {
        response.setHeader('Retry-After', String(UNAVAILABLE_RETRY_AFTER_SECONDS));
      }
      response
        .status(STATUS_BY_CODE[error.code] ?? 500)
        .json({ ok: false, error: toErrorBody(error) });
      return;
    }
    if (error instanceof HttpException) {
      const status = error.getStatus();
      const body = error.getResponse();
      const message =
        typeof body === 'object' && body !== null && 'message' in body
          ? String(body.message)
          : error.message;
      response.status(status).json({ ok: false, error: { code: codeForStatus(status), message } });
      return;
    }
    // Not an error of ours: a bug. The client learns nothing of it, the log everything.
    this.log.error(
      { msg: 'http request failed', path: request.path, method: request.method },
      error,
    );
    response
      .status(500)
      .json({ ok: false, error: { code: 'INTERNAL', message: 'internal error' } });
  }
}

function codeForStatus(status: number): string {
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'FORBIDDEN';
  if (status === 404) return 'NOT_FOUND';
  if (status === 413) return 'PAYLOAD_TOO_LARGE';
  if (status >= 400 && status < 500) return 'BAD_REQUEST';
  return 'INTERNAL';
}

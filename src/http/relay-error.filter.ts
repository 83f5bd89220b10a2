import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  Inject,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { errorAnswer } from '../errors/error-answer.js';
import type { ErrorCode } from '../protocol.js';
import { RelayLogger } from '../thread-relay.logger.js';
import { type ResolvedRelayOptions } from '../thread-relay.options.js';
import { RELAY_OPTIONS } from '../thread-relay.constants.js';

/** Answers HTTP requests with the same `{ code, message }` body the socket acks use (`errorAnswer`). */
@Catch()
export class RelayErrorFilter implements ExceptionFilter {
  private readonly log: RelayLogger;

  constructor(@Inject(RELAY_OPTIONS) options: ResolvedRelayOptions) {
    this.log = RelayLogger.for(RelayErrorFilter.name, options);
  }

  catch(thrown: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const request = host.switchToHttp().getRequest<Request>();
    if (thrown instanceof HttpException) {
      const status = thrown.getStatus();
      const body = thrown.getResponse();
      const message =
        typeof body === 'object' && body !== null && 'message' in body
          ? String(body.message)
          : thrown.message;
      response.status(status).json({ ok: false, error: { code: codeForStatus(status), message } });
      return;
    }
    const answer = errorAnswer(thrown);
    if (answer.unexpected) {
      this.log.error(
        { msg: 'http request failed', path: request.path, method: request.method },
        thrown,
      );
    }
    if (answer.retryAfterSeconds !== undefined) {
      response.setHeader('Retry-After', String(answer.retryAfterSeconds));
    }
    response.status(answer.status).json({ ok: false, error: answer.body });
  }
}

function codeForStatus(status: number): ErrorCode {
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'FORBIDDEN';
  if (status === 404) return 'NOT_FOUND';
  if (status === 413) return 'PAYLOAD_TOO_LARGE';
  if (status >= 400 && status < 500) return 'BAD_REQUEST';
  return 'INTERNAL';
}

import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';
import type { ErrorCode } from '../protocol.js';
import { PRODUCER_ROUTE } from './producer/producer-routes.js';

/**
 * The module's routes, after any global prefix: the thread routes (`/threads/:id/messages`,
 * `/events`, `/stream-tickets`), the debug routes and the producer routes
 * (`PRODUCER_ROUTE`). Matched loosely (any prefix, trailing slash, any case) as express
 * routes them.
 */
const MODULE_ROUTE =
  /\/threads\/[^/]+\/(?:messages|events|stream-tickets)\/?$|\/debug\/websocket(?:\/|$)/i;

/**
 * What body-parser (via express.json/urlencoded) and express's router attach to the
 * errors they raise (http-errors): a `type` for body-parser's own, always a 4xx `status`.
 */
interface EarlyHttpError {
  type?: unknown;
  limit?: unknown;
  status?: unknown;
}

interface ModuleAnswer {
  status: number;
  code: ErrorCode;
  message: string;
}

/**
 * Body-parser's own errors, by `type`. JSON.parse messages can quote part of the body, so a
 * client's bytes are never echoed. 415 keeps the code BAD_REQUEST: RelayErrorFilter gives
 * every 4xx it has no name for that code, so clients need no new one; the status tells
 * those cases apart.
 */
const BY_TYPE = new Map<unknown, [status: number, code: ErrorCode, message: string]>([
  ['entity.parse.failed', [400, 'BAD_REQUEST', 'request body is not valid JSON']],
  ['entity.too.large', [413, 'PAYLOAD_TOO_LARGE', 'request body is too large']],
  ['charset.unsupported', [415, 'BAD_REQUEST', 'request body charset must be UTF-8']],
  ['encoding.unsupported', [415, 'BAD_REQUEST', 'request body content encoding is not supported']],
  ['parameters.too.many', [413, 'PAYLOAD_TOO_LARGE', 'request body has too many parameters']],
  ['querystring.parse.rangeError', [400, 'BAD_REQUEST', 'request body nests too deep']],
]);

function answerFor(error: EarlyHttpError): ModuleAnswer | undefined {
  if (error.type === 'entity.too.large' && typeof error.limit === 'number') {
    const message = `request body is larger than the ${error.limit}-byte limit`;
    return { status: 413, code: 'PAYLOAD_TOO_LARGE', message };
  }
  const known = BY_TYPE.get(error.type);
  if (known === undefined) return byStatus(error);
  const [status, code, message] = known;
  return { status, code, message };
}

/**
 * Anything else that fails before the route with a client error: a path segment that is not
 * valid percent-encoding (the router's URIError), a body that does not decompress. The
 * messages of those quote the client's bytes, so a fixed one is said instead.
 */
function byStatus(error: EarlyHttpError): ModuleAnswer | undefined {
  const { status } = error;
  if (typeof status !== 'number' || status < 400 || status > 499) return undefined;
  if (error instanceof URIError) {
    return {
      status: 400,
      code: 'BAD_REQUEST',
      message: 'request path is not valid percent-encoding',
    };
  }
  if (status === 413) {
    return { status, code: 'PAYLOAD_TOO_LARGE', message: 'request body is too large' };
  }
  return { status, code: 'BAD_REQUEST', message: 'request could not be read' };
}

/**
 * Body parsing runs in global middleware before routing, so the controllers' RelayErrorFilter
 * never sees its errors and Nest's global handler answers in its own shape. This mounts an
 * express error middleware in onModuleInit, which Nest calls after the routes are registered
 * and before its own not-found and exception handlers, so it is the first to see them. Other
 * errors and other paths go on to the host app's handling untouched.
 */
@Injectable()
export class BodyParserErrors implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    // Undefined in an application context without HTTP; other platforms have other parsers.
    const adapter = this.adapterHost.httpAdapter;
    if (adapter?.getType() !== 'express') return;
    adapter.use(answerBodyParserErrors);
  }
}

function answerBodyParserErrors(
  error: unknown,
  request: Request,
  response: Response,
  next: NextFunction,
): void {
  const answer =
    typeof error === 'object' && error !== null && !response.headersSent
      ? answerFor(error)
      : undefined;
  const ours = MODULE_ROUTE.test(request.path) || PRODUCER_ROUTE.test(request.path);
  if (answer === undefined || !ours) {
    next(error);
    return;
  }
  response
    .status(answer.status)
    .json({ ok: false, error: { code: answer.code, message: answer.message } });
}

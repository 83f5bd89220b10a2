import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';
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
  code: string;
  message: string;
}

function answerFor(error: EarlyHttpError): ModuleAnswer | undefined {
  switch (error.type) {
    case 'entity.parse.failed':
      // JSON.parse messages can quote part of the body; a client's bytes are not echoed.
      return { status: 400, code: 'BAD_REQUEST', message: 'request body is not valid JSON' };
    case 'entity.too.large':
      return {
        status: 413,
        code: 'PAYLOAD_TOO_LARGE',
        message:
          typeof error.limit === 'number'
            ? `request body is larger than the ${error.limit}-byte limit`
            : 'request body is too large',
      };
    // 415 keeps the code BAD_REQUEST: RelayErrorFilter gives every 4xx it has no name for
    // that code, so clients need no new one; the status tells this case apart.
    case 'charset.unsupported':
      return { status: 415, code: 'BAD_REQUEST', message: 'request body charset must be UTF-8' };
    case 'encoding.unsupported':
      return {
        status: 415,
        code: 'BAD_REQUEST',
        message: 'request body content encoding is not supported',
      };
    case 'parameters.too.many':
      return {
        status: 413,
        code: 'PAYLOAD_TOO_LARGE',
        message: 'request body has too many parameters',
      };
    case 'querystring.parse.rangeError':
      return { status: 400, code: 'BAD_REQUEST', message: 'request body nests too deep' };
    default:
      return byStatus(error);
  }
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

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Options } from 'pino-http';
import { REDACTED, redactQuery, redactUrl } from './query-redaction.js';

export const REQUEST_ID_HEADER = 'x-request-id';

/** An incoming id is kept only when it is short and plain, so a client cannot inject into logs. */
const ACCEPTED_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The request id of an HTTP request: the caller's `x-request-id` when it is well formed,
 * otherwise a new UUID. Echoed in the response header so clients can quote it.
 */
export function requestId(request: IncomingMessage, response: ServerResponse): string {
  const incoming = request.headers[REQUEST_ID_HEADER];
  const id =
    typeof incoming === 'string' && ACCEPTED_REQUEST_ID.test(incoming) ? incoming : randomUUID();
  if (!response.headersSent) response.setHeader(REQUEST_ID_HEADER, id);
  return id;
}

/**
 * Header paths never written to a log: user JWTs and the admin token travel in
 * `Authorization`, sessions in cookies.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
];

/**
 * Query-string credentials out of the logged request; headers are left to `redact`.
 * pino-http passes a fresh serialized request (wrapSerializers defaults to true), so
 * setting `url` is safe, but its `query` is the live object and is replaced, not edited.
 */
function requestWithoutQueryCredentials(req: { url?: unknown; query?: unknown }): unknown {
  if (typeof req.url === 'string') req.url = redactUrl(req.url);
  if (req.query !== undefined) req.query = redactQuery(req.query);
  return req;
}

/** pino-http settings of the reference server: request ids, redaction, no noise from probes. */
export function httpLoggerOptions(level: string): Options {
  return {
    level,
    genReqId: requestId,
    redact: { paths: REDACTED_PATHS, censor: REDACTED },
    serializers: { req: requestWithoutQueryCredentials },
    autoLogging: {
      ignore: (request) => request.url === '/health' || request.url === '/metrics',
    },
  };
}

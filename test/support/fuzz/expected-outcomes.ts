/** The outcomes the socket and HTTP fuzz must each reach (checked with `Findings.unreached`). */

/** Outcomes the socket fuzz must reach, so it is known to get past validation. */
export const SOCKET_OUTCOMES = [
  'thread:join -> ok',
  'thread:join -> FORBIDDEN',
  'thread:join -> BAD_REQUEST',
  'thread:leave -> ok',
  'thread:leave -> BAD_REQUEST',
  'thread:ack -> ok',
  'thread:ack -> BAD_REQUEST',
  'user:message -> ok',
  'user:message -> FORBIDDEN',
  'user:message -> BAD_REQUEST',
  'user:message -> PAYLOAD_TOO_LARGE',
  'auth:refresh -> ok',
  'auth:refresh -> UNAUTHORIZED',
  'auth:refresh -> BAD_REQUEST',
  'unknown event -> BAD_REQUEST',
];

/** Outcomes the HTTP fuzz must reach. */
export const HTTP_OUTCOMES = [
  'history:get -> 200',
  'history:get -> 400 BAD_REQUEST',
  'history:get -> 400 INVALID_ID',
  'history:get -> 401 UNAUTHORIZED',
  'history:get -> 403 FORBIDDEN',
  'history:get -> 404 THREAD_NOT_FOUND',
  'history:post -> 200',
  'history:post -> 400 BAD_REQUEST',
  'history:post -> 401 UNAUTHORIZED',
  'history:post -> 403 FORBIDDEN',
  'history:post -> 413 PAYLOAD_TOO_LARGE',
  'debug:send -> 201',
  'debug:send -> 400 BAD_REQUEST',
  'debug:send -> 400 INVALID_EVENT_TYPE',
  'debug:send -> 401 UNAUTHORIZED',
  'debug:send -> 404 THREAD_NOT_FOUND',
  'debug:connections -> 200',
  'debug:threads -> 200',
  'debug:mappings -> 200',
  'health -> 200',
  'metrics -> 200',
];

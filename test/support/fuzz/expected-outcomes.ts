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

/** Outcomes the Server-Sent Events fuzz must reach. */
export const SSE_OUTCOMES = [
  'sse:events -> 200',
  'sse:events by ticket -> 200',
  'sse:events -> 400 BAD_REQUEST',
  'sse:events -> 400 INVALID_ID',
  'sse:events -> 401 UNAUTHORIZED',
  'sse:events -> 403 FORBIDDEN',
  'sse:events -> 404 THREAD_NOT_FOUND',
  'sse:ticket -> 201',
  'sse:ticket -> 401 UNAUTHORIZED',
  'sse:ticket -> 403 FORBIDDEN',
  'sse:ticket -> 404 THREAD_NOT_FOUND',
];

/** Outcomes the producer API fuzz must reach. */
export const PRODUCER_OUTCOMES = [
  'producer:send -> 201',
  'producer:send -> 200',
  'producer:send -> 400 BAD_REQUEST',
  'producer:send -> 400 INVALID_ID',
  'producer:send -> 400 INVALID_EVENT_TYPE',
  'producer:send -> 401 UNAUTHORIZED',
  'producer:send -> 404 THREAD_NOT_FOUND',
  'producer:send -> 413 PAYLOAD_TOO_LARGE',
  'producer:batch -> 200',
  'producer:batch -> 400 BAD_REQUEST',
  'producer:batch -> 413 PAYLOAD_TOO_LARGE',
  'producer:thread -> 200',
  'producer:thread -> 400 BAD_REQUEST',
  'producer:thread -> 409 THREAD_OWNERSHIP_CONFLICT',
  'producer:run -> 200',
  'producer:run -> 404 THREAD_NOT_FOUND',
  'producer:delivery -> 200',
  'producer:delivery -> 400 BAD_REQUEST',
  'producer:user -> 202',
  'producer:user -> 400 BAD_REQUEST',
];

/**
 * Shape oracles: the documented error codes and their HTTP statuses, and the problems
 * with an error body, an `ok: true` socket ack or a 2xx HTTP body (empty when well formed).
 */
import { describeValue } from './fuzz-input.js';
import type { HttpCase } from './http-cases.js';
import { isNonNegativeInt, isRecord, type Json } from './json.js';

/** Every code the protocol documents for a refusal; INTERNAL is reported separately. */
const ERROR_CODES = new Set([
  'BAD_REQUEST',
  'INVALID_ID',
  'INVALID_EVENT_TYPE',
  'PAYLOAD_NOT_JSON',
  'PAYLOAD_TOO_LARGE',
  'UNAUTHORIZED',
  'TOKEN_EXPIRED',
  'FORBIDDEN',
  'THREAD_NOT_FOUND',
  'THREAD_OWNERSHIP_CONFLICT',
  'RUN_CONFLICT',
  'RATE_LIMITED',
  'LIMIT_EXCEEDED',
  'RELAY_UNAVAILABLE',
]);
/** The HTTP status each code is answered with (BAD_REQUEST is also 415 for bad charsets). */
export const STATUS_BY_CODE: Record<string, number[]> = {
  BAD_REQUEST: [400, 415],
  INVALID_ID: [400],
  INVALID_EVENT_TYPE: [400],
  PAYLOAD_NOT_JSON: [400],
  PAYLOAD_TOO_LARGE: [413],
  UNAUTHORIZED: [401],
  TOKEN_EXPIRED: [401],
  FORBIDDEN: [403],
  THREAD_NOT_FOUND: [404],
  THREAD_OWNERSHIP_CONFLICT: [409],
  RUN_CONFLICT: [409],
  RATE_LIMITED: [429],
  LIMIT_EXCEEDED: [429],
  RELAY_UNAVAILABLE: [503],
};
const RESET_REASONS = new Set(['epoch_mismatch', 'trimmed', 'ahead_of_log']);

/** Problems with an `{ ok: false, error }` body; empty when it is well formed. */
export function errorBodyProblems(body: Json): string[] {
  const error = body.error;
  if (!isRecord(error)) return ['error is not an object'];
  const problems: string[] = [];
  if (typeof error.code !== 'string' || !ERROR_CODES.has(error.code)) {
    problems.push(`undocumented code ${describeValue(error.code)}`);
  }
  if (typeof error.message !== 'string' || error.message.length === 0) {
    problems.push('message is not a non-empty string');
  }
  if (error.code === 'RATE_LIMITED' && typeof error.retryAfterMs !== 'number') {
    problems.push('RATE_LIMITED without a numeric retryAfterMs');
  }
  return problems;
}

export function threadEventProblems(event: unknown): string[] {
  if (!isRecord(event)) return ['message is not an object'];
  const problems: string[] = [];
  for (const field of ['id', 'threadId', 'epoch', 'type'] as const) {
    if (typeof event[field] !== 'string') problems.push(`message.${field} is not a string`);
  }
  if (!isNonNegativeInt(event.seq)) problems.push('message.seq is not a non-negative integer');
  if (typeof event.ts !== 'number') problems.push('message.ts is not a number');
  if (!('payload' in event)) problems.push('message without payload');
  if (event.runId !== undefined && typeof event.runId !== 'string') {
    problems.push('message.runId is not a string');
  }
  return problems;
}

/** Problems with an `ok: true` ack of `event`. */
export function okAckProblems(event: string, answer: Json, threadId: unknown): string[] {
  const problems: string[] = [];
  switch (event) {
    case 'thread:join':
      if (typeof answer.threadId !== 'string') problems.push('threadId is not a string');
      else if (answer.threadId !== threadId) problems.push('threadId is not the one joined');
      if (typeof answer.epoch !== 'string') problems.push('epoch is not a string');
      if (!isNonNegativeInt(answer.headSeq)) problems.push('headSeq is not a non-negative int');
      if (!isNonNegativeInt(answer.replayed)) problems.push('replayed is not a non-negative int');
      if (answer.reset !== undefined && !RESET_REASONS.has(answer.reset as string)) {
        problems.push(`undocumented reset ${describeValue(answer.reset)}`);
      }
      break;
    case 'thread:ack':
      if (!isNonNegativeInt(answer.cursor) && answer.ignored !== 'stale_epoch') {
        problems.push('neither a cursor nor ignored: stale_epoch');
      }
      break;
    case 'user:message':
      if (!isNonNegativeInt(answer.seq) || answer.seq === 0) problems.push('seq is not >= 1');
      if (typeof answer.epoch !== 'string') problems.push('epoch is not a string');
      if (typeof answer.messageId !== 'string') problems.push('messageId is not a string');
      if (typeof answer.duplicate !== 'boolean') problems.push('duplicate is not a boolean');
      break;
    case 'auth:refresh':
      if (answer.expiresAt !== null && typeof answer.expiresAt !== 'number') {
        problems.push('expiresAt is neither a number nor null');
      }
      break;
    case 'thread:leave':
      break;
    default:
      problems.push('an unknown event was answered ok');
  }
  return problems;
}

/** Problems with a send receipt (`DeliveryReceipt`). */
function receiptProblems(body: Json): string[] {
  const problems: string[] = [];
  for (const field of ['messageId', 'threadId', 'epoch'] as const) {
    if (typeof body[field] !== 'string') problems.push(`${field} is not a string`);
  }
  if (!isNonNegativeInt(body.seq) || body.seq === 0) problems.push('seq is not >= 1');
  if (!isNonNegativeInt(body.onlineConnections)) {
    problems.push('onlineConnections is not a non-negative int');
  }
  if (typeof body.duplicate !== 'boolean') problems.push('duplicate is not a boolean');
  return problems;
}

/** Problems with the `results` of a producer batch: one receipt or error per event sent. */
function batchProblems(c: HttpCase, body: Json): string[] {
  if (!Array.isArray(body.results)) return ['results is not an array'];
  const problems: string[] = [];
  const sent = sentEvents(c);
  if (sent !== undefined && body.results.length !== sent) {
    problems.push(`${body.results.length} results for ${sent} events`);
  }
  for (const result of body.results) {
    if (!isRecord(result)) problems.push('a result is not an object');
    else if (result.ok === false) problems.push(...errorBodyProblems(result));
    else problems.push(...receiptProblems(result).map((p) => `a receipt's ${p}`));
  }
  return [...new Set(problems)];
}

/** How many events a batch body carried, when it is plain JSON with an `events` array. */
function sentEvents(c: HttpCase): number | undefined {
  try {
    const body: unknown = JSON.parse(c.body?.toString('utf8') ?? '');
    return isRecord(body) && Array.isArray(body.events) ? body.events.length : undefined;
  } catch {
    return undefined;
  }
}

export function okBodyProblems(c: HttpCase, status: number, body: Json): string[] {
  const problems: string[] = [];
  switch (c.route) {
    case 'history:get':
      if (status !== 200) problems.push(`status ${status} instead of 200`);
      if (typeof body.threadId !== 'string') problems.push('threadId is not a string');
      if (typeof body.epoch !== 'string') problems.push('epoch is not a string');
      if (!isNonNegativeInt(body.headSeq)) problems.push('headSeq is not a non-negative int');
      if (!Array.isArray(body.messages)) problems.push('messages is not an array');
      else for (const message of body.messages) problems.push(...threadEventProblems(message));
      break;
    case 'history:post':
      if (status !== 200) problems.push(`status ${status} instead of 200`);
      if (body.ok !== true) problems.push('ok is not true');
      if (!isNonNegativeInt(body.seq) || body.seq === 0) problems.push('seq is not >= 1');
      if (typeof body.epoch !== 'string') problems.push('epoch is not a string');
      if (typeof body.messageId !== 'string') problems.push('messageId is not a string');
      if (typeof body.duplicate !== 'boolean') problems.push('duplicate is not a boolean');
      break;
    case 'debug:send':
      if (status !== 201) problems.push(`status ${status} instead of 201`);
      for (const field of ['messageId', 'threadId', 'epoch'] as const) {
        if (typeof body[field] !== 'string') problems.push(`${field} is not a string`);
      }
      if (!isNonNegativeInt(body.seq)) problems.push('seq is not a non-negative int');
      if (typeof body.onlineConnections !== 'number')
        problems.push('onlineConnections is not a number');
      if (typeof body.duplicate !== 'boolean') problems.push('duplicate is not a boolean');
      break;
    case 'debug:connections':
    case 'debug:threads':
    case 'debug:mappings': {
      if (status !== 200) problems.push(`status ${status} instead of 200`);
      if (typeof body.answeredBy !== 'string') problems.push('answeredBy is not a string');
      if (body.nextCursor !== null && typeof body.nextCursor !== 'string') {
        problems.push('nextCursor is neither a string nor null');
      }
      const list = c.route === 'debug:mappings' ? body.threadToConnections : body[c.route.slice(6)];
      if (c.route === 'debug:mappings' ? !isRecord(list) : !Array.isArray(list)) {
        problems.push(`${c.route.slice(6)} has the wrong type`);
      }
      break;
    }
    case 'sse:ticket':
      if (status !== 201) problems.push(`status ${status} instead of 201`);
      if (typeof body.ticket !== 'string' || !/^[A-Za-z0-9_-]{32}$/.test(body.ticket)) {
        problems.push('ticket is not 32 base64url characters');
      }
      if (body.expiresInMs !== 60_000) problems.push('expiresInMs is not 60000');
      break;
    case 'producer:thread':
      if (status !== 200) problems.push(`status ${status} instead of 200`);
      if (c.pathKind === 'encoded' && body.threadId !== c.threadId) {
        problems.push('threadId is not the one registered');
      }
      if (typeof body.ownerId !== 'string') problems.push('ownerId is not a string');
      if (typeof body.created !== 'boolean') problems.push('created is not a boolean');
      break;
    case 'producer:run':
      if (status !== 200) problems.push(`status ${status} instead of 200`);
      if (c.pathKind === 'encoded' && body.runId !== c.threadId) {
        problems.push('runId is not the one registered');
      }
      if (typeof body.threadId !== 'string') problems.push('threadId is not a string');
      if (typeof body.created !== 'boolean') problems.push('created is not a boolean');
      break;
    case 'producer:send':
      problems.push(...receiptProblems(body));
      if (status !== (body.duplicate === true ? 200 : 201)) {
        problems.push(`status ${status} with duplicate: ${String(body.duplicate)}`);
      }
      break;
    case 'producer:batch':
      if (status !== 200) problems.push(`status ${status} instead of 200`);
      problems.push(...batchProblems(c, body));
      break;
    case 'producer:delivery':
      if (status !== 200) problems.push(`status ${status} instead of 200`);
      if (typeof body.threadId !== 'string') problems.push('threadId is not a string');
      if (!isNonNegativeInt(body.seq) || body.seq === 0) problems.push('seq is not >= 1');
      if (typeof body.delivered !== 'boolean') problems.push('delivered is not a boolean');
      if (!isNonNegativeInt(body.cursor)) problems.push('cursor is not a non-negative int');
      break;
    case 'producer:user':
      if (status !== 202) problems.push(`status ${status} instead of 202`);
      if (typeof body.messageId !== 'string') problems.push('messageId is not a string');
      break;
    default:
      break;
  }
  return problems;
}

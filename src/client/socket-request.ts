import type { Socket } from 'socket.io-client';
import type { ErrorBody } from '../protocol.js';
import { ThreadRelayClientError } from './client-error.js';
import { isRecord } from './record-checks.js';

/**
 * One client->server request: emits with an ack and a timeout and unwraps the
 * `{ ok, ... }` answer. It refuses to emit on a disconnected socket, because socket.io
 * would buffer the packet and send it after the next connect, long after the caller gave
 * up and possibly with a stale cursor.
 */
export async function socketRequest(
  socket: Socket,
  event: string,
  payload: object,
  timeoutMs: number,
  threadId?: string,
): Promise<Record<string, unknown>> {
  if (!socket.connected) {
    throw new ThreadRelayClientError('DISCONNECTED', `${event}: the socket is not connected`, {
      threadId,
    });
  }
  let answer: unknown;
  try {
    answer = await socket.timeout(timeoutMs).emitWithAck(event, payload);
  } catch (error) {
    throw new ThreadRelayClientError(
      socket.connected ? 'TIMEOUT' : 'DISCONNECTED',
      `${event}: no answer within ${timeoutMs} ms`,
      { cause: error, threadId },
    );
  }
  return unwrapAck(event, answer, threadId);
}

/** `{ ok: true, ...rest }` -> rest; `{ ok: false, error }` -> a client error with the server's code. */
export function unwrapAck(
  what: string,
  answer: unknown,
  threadId?: string,
  status?: number,
): Record<string, unknown> {
  if (isRecord(answer) && answer.ok === true) return answer;
  if (isRecord(answer) && answer.ok === false && isErrorBody(answer.error)) {
    return throwServerError(what, answer.error, threadId, status);
  }
  throw new ThreadRelayClientError('BAD_RESPONSE', `${what}: unexpected answer from the server`, {
    threadId,
    status,
  });
}

export function isErrorBody(value: unknown): value is ErrorBody {
  return isRecord(value) && typeof value.code === 'string' && typeof value.message === 'string';
}

function throwServerError(
  what: string,
  body: ErrorBody,
  threadId: string | undefined,
  status: number | undefined,
): never {
  throw new ThreadRelayClientError(body.code, `${what}: ${body.message}`, {
    threadId,
    status,
    retryAfterMs: retryAfterOf(body),
  });
}

/** The body's `retryAfterMs`, when it is a usable one. */
export function retryAfterOf(body: ErrorBody): number | undefined {
  const { retryAfterMs } = body;
  return typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) && retryAfterMs >= 0
    ? retryAfterMs
    : undefined;
}

import type { Socket } from 'socket.io';
import { toErrorBody } from '../errors/error-answer.js';
import type { RelayMetrics } from '../observability/relay-metrics.service.js';
import { ServerEvents, type Ack, type ErrorBody, type RelayErrorNotice } from '../protocol.js';
import type { RelayLogger } from '../thread-relay.logger.js';
import type { ConnectionSession } from './connection-session.js';

/** The callback socket.io hands a handler when the client waits for an answer. */
export type AckFn = (answer: Ack) => void;

/** The ack body of a refusal. */
export function failure(error: unknown): { ok: false; error: ErrorBody } {
  return { ok: false, error: toErrorBody(error) };
}

/**
 * How a connection is told the outcome of what it sent: through the ack when it asked for
 * one; a refusal without an ack becomes a `relay:error` notice, so it is never lost. Every
 * refusal is counted, and logged at most once per connection and code per minute.
 */
export class ConnectionAnswers {
  constructor(
    private readonly metrics: RelayMetrics,
    private readonly log: RelayLogger,
  ) {}

  answer(socket: Socket, event: string | null, ack: AckFn | undefined, value: Ack): void {
    if (ack) ack(value);
    else if (!value.ok) {
      socket.emit(ServerEvents.error, { event, error: value.error } satisfies RelayErrorNotice);
    }
  }

  /** A handler failed: the client hears the error's code, the log the whole of a bug. */
  refuse(
    socket: Socket,
    session: ConnectionSession,
    event: string,
    ack: AckFn | undefined,
    error: unknown,
  ): void {
    const body = toErrorBody(error);
    this.metrics.errors.inc({ source: 'socket', code: body.code });
    if (body.code === 'INTERNAL') {
      this.log.error(
        { msg: 'handler failed', event, connectionId: socket.id, userId: session.userId },
        error,
      );
    } else {
      this.warn(socket, session, event, body.code, body.message);
    }
    this.answer(socket, event, ack, { ok: false, error: body });
  }

  /** One warning line per connection and code per minute, however often the client errs. */
  warn(
    socket: Socket,
    session: ConnectionSession,
    event: string | null,
    code: string,
    reason: string,
  ): void {
    const suppressed = session.warnings.admit(code);
    if (suppressed === null) return;
    this.log.warn({
      msg: 'request refused',
      event,
      connectionId: socket.id,
      userId: session.userId,
      code,
      reason,
      suppressed,
    });
  }
}

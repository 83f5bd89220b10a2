import type { Socket } from 'socket.io';
import { LimitExceededError } from '../errors/limit-exceeded.error.js';
import { TokenExpiredError } from '../errors/token-expired.error.js';
import type { RelayMetrics } from '../observability/relay-metrics.service.js';
import type { RelayLogger } from '../thread-relay.logger.js';
import type { ResolvedRelayOptions } from '../thread-relay.options.js';
import { failure, type AckFn, type ConnectionAnswers } from './connection-answers.js';
import type { ConnectionSession } from './connection-session.js';

/** How long a closing connection gets to take its last notice before it is cut. */
const CLOSE_GRACE_MS = 2_000;

/**
 * The ways the relay ends a connection: its credential lapsed, its client does not read or
 * floods, or it is one more than its user may hold. Each is counted and logged once.
 */
export class ConnectionCloser {
  constructor(
    private readonly answers: ConnectionAnswers,
    private readonly metrics: RelayMetrics,
    private readonly log: RelayLogger,
    private readonly options: ResolvedRelayOptions,
  ) {}

  /** The credential lapsed: say so (as the event's answer, if one is waiting), then close. */
  expire(
    socket: Socket,
    session: ConnectionSession,
    event: string | null = null,
    ack?: AckFn,
  ): void {
    if (socket.disconnected) return;
    const error = new TokenExpiredError(
      "the connection's token has expired; reconnect with a new one (renew with auth:refresh before it expires)",
    );
    this.metrics.errors.inc({ source: 'socket', code: error.code });
    // The answer to a waiting event says it; otherwise the notice does.
    this.answers.answer(socket, event, ack, failure(error));
    this.log.info({
      msg: 'connection expired',
      connectionId: socket.id,
      userId: session.userId,
    });
    closeAfterNotice(socket, session);
  }

  /** The client does not read what it is sent: drop the connection and what it holds. */
  cutSlowConsumer(socket: Socket, session: ConnectionSession, bytes: number): void {
    if (socket.disconnected) return;
    this.metrics.errors.inc({ source: 'socket', code: 'SLOW_CONSUMER' });
    this.log.warn({
      msg: 'connection cut',
      connectionId: socket.id,
      userId: session.userId,
      reason: 'slow_consumer',
      bufferedBytes: bytes,
    });
    session.outbound.cut();
  }

  /** The client keeps sending far past its rate, whatever it is told. */
  cutFlood(socket: Socket, session: ConnectionSession): void {
    this.log.warn({
      msg: 'connection cut',
      connectionId: socket.id,
      userId: session.userId,
      reason: 'rate_limit',
    });
    // At once: a client that floods may not read either, and a polite close waits for it.
    session.outbound.cut();
  }

  /** The user holds `limits.connectionsPerUser` connections already. */
  refuseConnection(socket: Socket, session: ConnectionSession): void {
    const error = connectionsLimit(session.userId, this.options);
    this.metrics.errors.inc({ source: 'socket', code: error.code });
    this.answers.warn(socket, session, null, error.code, error.message);
    this.answers.answer(socket, null, undefined, failure(error));
    closeAfterNotice(socket, session);
  }
}

/** The refusal of a connection past `limits.connectionsPerUser`, and of what it sends. */
export function connectionsLimit(
  userId: string,
  options: Pick<ResolvedRelayOptions, 'limits'>,
): LimitExceededError {
  const max = options.limits.connectionsPerUser;
  return new LimitExceededError(
    'limits.connectionsPerUser',
    `User ${JSON.stringify(userId.slice(0, 120))} already holds ${max} connections (limits.connectionsPerUser); close one first`,
  );
}

/**
 * Closes politely, so the notice just sent reaches the client; a client that does not
 * read would hold that close open (and its buffers) for long, so it is cut after a grace.
 */
function closeAfterNotice(socket: Socket, session: ConnectionSession): void {
  socket.disconnect(true);
  setTimeout(() => {
    if (socket.conn.readyState !== 'closed') session.outbound.cut();
  }, CLOSE_GRACE_MS).unref();
}

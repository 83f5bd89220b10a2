import type { Socket } from 'socket.io';
import { BadRequestError } from '../errors/bad-request.error.js';
import { RateLimitedError } from '../errors/rate-limited.error.js';
import type { RelayMetrics } from '../observability/relay-metrics.service.js';
import { ClientEvents } from '../protocol.js';
import { errorText, type RelayLogger } from '../thread-relay.logger.js';
import type { ResolvedRelayOptions } from '../thread-relay.options.js';
import type { ClientEventHandler, ClientEventHandlers } from './client-event-handlers.js';
import { failure, type AckFn, type ConnectionAnswers } from './connection-answers.js';
import { connectionsLimit, type ConnectionCloser } from './connection-closer.js';
import type { ConnectionSession } from './connection-session.js';

const KNOWN_EVENTS = new Set<string>(Object.values(ClientEvents));

/**
 * How a client event reaches its handler. Before anything is parsed, an expired credential
 * ends the connection and an event over the rate is refused (a flood is cut); the handler
 * runs once the connection is admitted, and its outcome is the answer. Any other event is
 * answered BAD_REQUEST under the same checks. Nothing throws into socket.io.
 */
export class ClientEventDispatch {
  constructor(
    private readonly handlers: ClientEventHandlers,
    private readonly answers: ConnectionAnswers,
    private readonly closer: ConnectionCloser,
    private readonly metrics: RelayMetrics,
    private readonly log: RelayLogger,
    private readonly options: Pick<ResolvedRelayOptions, 'limits'>,
    /** The client was heard from: its `lastSeenAt` may be written. */
    private readonly heard: (socket: Socket, session: ConnectionSession) => void,
  ) {}

  /** Wires the connection's events: the relay's own, then a catch-all for any other. */
  wire(socket: Socket, session: ConnectionSession): void {
    for (const [event, handler] of this.handlers.byEvent) {
      this.on(socket, session, event, handler);
    }
    socket.onAny((event: unknown, ...args: unknown[]) => {
      if (typeof event === 'string' && KNOWN_EVENTS.has(event)) return;
      this.unknownEvent(socket, session, event, args);
    });
  }

  /** Wires one client event: checks the credential and the rate, parses, runs, answers. */
  private on(
    socket: Socket,
    session: ConnectionSession,
    event: string,
    handler: ClientEventHandler,
  ): void {
    socket.on(event, (...args: unknown[]) => {
      const last = args[args.length - 1];
      const ack = typeof last === 'function' ? (args.pop() as AckFn) : undefined;
      if (!this.admit(socket, session, event, ack)) return;
      this.heard(socket, session);
      session.admitted
        .then((admitted) => {
          if (!admitted) throw connectionsLimit(session.userId, this.options);
          return handler(socket, session, args[0]);
        })
        .then(
          (result) => this.answers.answer(socket, event, ack, { ok: true, ...result }),
          (error: unknown) => this.answers.refuse(socket, session, event, ack, error),
        )
        .catch((error: unknown) => {
          // Only an ack that itself throws lands here; the socket stays up.
          this.log.error({
            msg: 'ack failed',
            event,
            connectionId: socket.id,
            reason: errorText(error),
          });
        });
    });
  }

  /**
   * The checks every client event passes before its handler: an expired credential ends
   * the connection, an event over the rate is refused (and a flood is cut).
   */
  private admit(
    socket: Socket,
    session: ConnectionSession,
    event: string,
    ack: AckFn | undefined,
  ): boolean {
    const now = Date.now();
    if (session.isExpired(now)) {
      this.closer.expire(socket, session, event, ack);
      return false;
    }
    // Per connection; a new connection's fresh bucket is bounded by the connection-attempt rate.
    const taken = session.take(now);
    if (taken.ok) return true;
    const error = new RateLimitedError(
      'limits.clientEvents',
      taken.retryAfterMs,
      `Too many client events on this connection; retry in ${taken.retryAfterMs} ms (limits.clientEvents)`,
    );
    this.metrics.errors.inc({ source: 'socket', code: error.code });
    this.answers.warn(socket, session, event, error.code, error.message);
    if (session.flooding(now)) {
      this.closer.cutFlood(socket, session);
      return false;
    }
    if (ack || session.mayNotifyRateLimit(now)) {
      this.answers.answer(socket, event, ack, failure(error));
    }
    return false;
  }

  private unknownEvent(
    socket: Socket,
    session: ConnectionSession,
    event: unknown,
    args: unknown[],
  ): void {
    const last = args[args.length - 1];
    const ack = typeof last === 'function' ? (last as AckFn) : undefined;
    const name = typeof event === 'string' ? event.slice(0, 100) : typeof event;
    if (!this.admit(socket, session, name, ack) || !ack) return;
    this.answers.refuse(
      socket,
      session,
      name,
      ack,
      new BadRequestError(
        `unknown event ${JSON.stringify(name)}; the relay answers ${[...KNOWN_EVENTS].join(', ')}`,
      ),
    );
  }
}

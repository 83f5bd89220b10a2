import { Inject, Injectable } from '@nestjs/common';
import type { Namespace, Socket } from 'socket.io';
import { checkCredential } from '../auth/credential.js';
import { DeliveryAcks } from '../delivery/delivery-acks.service.js';
import { LiveUserEvents } from '../delivery/live-user-events.service.js';
import { LocalSockets } from '../sockets/local-sockets.js';
import { userRoom } from '../sockets/rooms.js';
import { UserMessageService } from '../delivery/user-message.service.js';
import { BadRequestError } from '../errors/bad-request.error.js';
import { LimitExceededError } from '../errors/limit-exceeded.error.js';
import { RateLimitedError } from '../errors/rate-limited.error.js';
import { toErrorBody } from '../errors/error-answer.js';
import { TokenExpiredError } from '../errors/token-expired.error.js';
import { UnauthorizedError } from '../errors/unauthorized.error.js';
import { RedisHealthService } from '../redis/redis-health.service.js';
import { RelayMetrics } from '../observability/relay-metrics.service.js';
import {
  ClientEvents,
  ServerEvents,
  type Ack,
  type ErrorBody,
  type RelayErrorNotice,
  type RelaySessionNotice,
} from '../protocol.js';
import type { AccessChange } from '../registry/thread-access-changes.js';
import { ThreadAccessChanges } from '../registry/thread-access-changes.js';
import { ThreadRegistryService } from '../registry/thread-registry.service.js';
import { errorText, RelayLogger } from '../thread-relay.logger.js';
import { type ResolvedRelayOptions } from '../thread-relay.options.js';
import { RELAY_OPTIONS } from '../thread-relay.constants.js';
import {
  ackSchema,
  authRefreshSchema,
  joinSchema,
  leaveSchema,
  userMessageSchema,
} from '../payloads/client-payload.schemas.js';
import { ConnectionSession } from './connection-session.js';
import { handshakeAuth, type RelaySocketData } from './handshake-auth.js';
import { parseClientPayload } from '../payloads/parse-client-payload.js';
import { ThreadMembership } from './thread-membership.js';

type AckFn = (answer: Ack) => void;
type Handler = (socket: Socket, session: ConnectionSession, payload: unknown) => Promise<object>;

/** How often, at most, a connection's `lastSeenAt` is written to the registry. */
const TOUCH_EVERY_MS = 10_000;
const KNOWN_EVENTS = new Set<string>(Object.values(ClientEvents));

/**
 * The socket side of the wire protocol: authenticates handshakes, registers connections,
 * and answers `thread:join`, `thread:leave`, `thread:ack`, `user:message` and
 * `auth:refresh`. Every handler answers through the ack (when there is one) and never
 * throws into socket.io. Each connection is held to `limits` and `backpressure`, and is
 * closed when its credential expires without a renewal.
 */
@Injectable()
export class RelayConnectionHandler {
  private readonly log: RelayLogger;
  private readonly sessions = new Map<string, ConnectionSession>();
  private stopWatching: () => void = () => undefined;
  private stopWatchingHealth: () => void = () => undefined;

  constructor(
    private readonly registry: ThreadRegistryService,
    private readonly acks: DeliveryAcks,
    private readonly userMessages: UserMessageService,
    private readonly sockets: LocalSockets,
    private readonly userEvents: LiveUserEvents,
    private readonly membership: ThreadMembership,
    private readonly accessChanges: ThreadAccessChanges,
    @Inject(RELAY_OPTIONS) private readonly options: ResolvedRelayOptions,
    private readonly metrics: RelayMetrics,
    private readonly redisHealth: RedisHealthService,
  ) {
    this.log = RelayLogger.for('RelayGateway', options);
    metrics.observeGateway(() => ({
      connections: this.sessions.size,
      joinedThreads: this.membership.joinedThreads,
    }));
  }

  /** Connections this instance tracks; tests assert it drains to zero. */
  get localConnections(): number {
    return this.sessions.size;
  }

  attach(nsp: Namespace): void {
    nsp.use(handshakeAuth(this.options, this.log));
    nsp.on('connection', (socket) => this.onConnection(socket));
    this.sockets.attach(nsp);
    this.membership.attach(nsp, (id) => this.sessions.get(id));
    // Changes made by any process, this one included, to threads joined here.
    this.stopWatching = this.accessChanges.on((change) => this.recheck(change));
    // Notices of other instances published while this one's Redis was away were missed.
    this.stopWatchingHealth = this.redisHealth.onRealtime(() => {
      this.membership.recheckAll().catch((error: unknown) => {
        this.log.error({ msg: 'thread access recheck failed', threadId: '*' }, error);
      });
    });
  }

  detach(): void {
    this.stopWatching();
    this.stopWatchingHealth();
    this.sockets.detach();
  }

  private recheck(change: AccessChange): void {
    this.membership.recheck(change).catch((error: unknown) => {
      this.log.error({ msg: 'thread access recheck failed', threadId: change.threadId }, error);
    });
  }

  private onConnection(socket: Socket): void {
    const { userId, expiresAt } = socket.data as RelaySocketData;
    const session = new ConnectionSession(socket, userId, expiresAt, this.options, {
      expired: () => this.expire(socket, session),
      slowConsumer: (bytes) => this.cutSlowConsumer(socket, session, bytes),
    });
    const now = Date.now();
    session.admitted = this.registry
      .registerConnection({
        connectionId: socket.id,
        userId,
        transport: socket.conn.transport.name,
        connectedAt: now,
        lastSeenAt: now,
      })
      .catch((error: unknown) => {
        // Redis away: the connection still works on this instance (degraded mode).
        this.log.error(
          { msg: 'connection registration failed', connectionId: socket.id, userId },
          error,
        );
        return true;
      });
    this.sessions.set(socket.id, session);
    void session.admitted.then((admitted) => {
      if (!admitted) this.refuseConnection(socket, session);
    });
    void socket.join(userRoom(userId));
    this.userEvents.watch(userId).catch((error: unknown) => {
      this.log.warn({ msg: 'user events not subscribed', userId, reason: errorText(error) });
    });
    const status = this.redisHealth.status();
    if (status.mode === 'degraded') socket.emit(ServerEvents.status, status);
    if (expiresAt !== null) {
      socket.emit(ServerEvents.session, { expiresAt } satisfies RelaySessionNotice);
    }

    this.on(socket, session, ClientEvents.join, (s, sess, payload) => this.join(s, sess, payload));
    this.on(socket, session, ClientEvents.leave, (s, sess, payload) =>
      this.leave(s, sess, payload),
    );
    this.on(socket, session, ClientEvents.ack, (s, sess, payload) => this.ack(s, sess, payload));
    this.on(socket, session, ClientEvents.userMessage, (_s, sess, payload) =>
      this.userMessage(sess, payload),
    );
    this.on(socket, session, ClientEvents.authRefresh, (s, sess, payload) =>
      this.refresh(s, sess, payload),
    );
    socket.onAny((event: unknown, ...args: unknown[]) => {
      if (typeof event === 'string' && KNOWN_EVENTS.has(event)) return;
      this.unknownEvent(socket, session, event, args);
    });
    socket.conn.on('heartbeat', () => this.touch(socket.id, session));
    // Polling clients upgrade to websocket after connecting; the registry should say so.
    socket.conn.on('upgrade', () => {
      const transport = socket.conn.transport.name;
      void session.admitted.then(() =>
        this.registry.touchConnection(socket.id, Date.now(), transport).catch(() => undefined),
      );
    });
    socket.on('disconnect', (reason) => {
      this.sessions.delete(socket.id);
      this.membership.release(socket, session);
      this.userEvents.unwatch(userId);
      session.close();
      void session.admitted.then((admitted) => {
        if (!admitted) return;
        this.registry.unregisterConnection(socket.id, reason).catch((error: unknown) => {
          this.log.error(
            { msg: 'connection cleanup failed', connectionId: socket.id, userId },
            error,
          );
        });
      });
    });
  }

  /** Wires one client event: checks the credential and the rate, parses, runs, answers. */
  private on(socket: Socket, session: ConnectionSession, event: string, handler: Handler): void {
    socket.on(event, (...args: unknown[]) => {
      const last = args[args.length - 1];
      const ack = typeof last === 'function' ? (args.pop() as AckFn) : undefined;
      if (!this.admit(socket, session, event, ack)) return;
      this.touch(socket.id, session);
      session.admitted
        .then((admitted) => {
          if (!admitted) throw connectionsLimit(session.userId, this.options);
          return handler(socket, session, args[0]);
        })
        .then(
          (result) => this.answer(socket, event, ack, { ok: true, ...result }),
          (error: unknown) => this.refuse(socket, session, event, ack, error),
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
      this.expire(socket, session, event, ack);
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
    this.warn(socket, session, event, error.code, error.message);
    if (session.flooding(now)) {
      this.log.warn({
        msg: 'connection cut',
        connectionId: socket.id,
        userId: session.userId,
        reason: 'rate_limit',
      });
      // At once: a client that floods may not read either, and a polite close waits for it.
      session.outbound.cut();
      return false;
    }
    if (ack || session.mayNotifyRateLimit(now)) this.answer(socket, event, ack, failure(error));
    return false;
  }

  private answer(socket: Socket, event: string | null, ack: AckFn | undefined, value: Ack): void {
    if (ack) ack(value);
    else if (!value.ok) {
      socket.emit(ServerEvents.error, { event, error: value.error } satisfies RelayErrorNotice);
    }
  }

  private refuse(
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
  private warn(
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
    this.refuse(
      socket,
      session,
      name,
      ack,
      new BadRequestError(
        `unknown event ${JSON.stringify(name)}; the relay answers ${[...KNOWN_EVENTS].join(', ')}`,
      ),
    );
  }

  private async join(
    socket: Socket,
    session: ConnectionSession,
    payload: unknown,
  ): Promise<object> {
    const input = parseClientPayload(joinSchema, payload, ClientEvents.join);
    return this.membership.join(socket, session, input, {
      stalled: () => this.cutSlowConsumer(socket, session, session.outbound.bytes()),
      failed: (error) => {
        this.log.error(
          { msg: 'replay failed', connectionId: socket.id, threadId: input.threadId },
          error,
        );
        this.answer(socket, ClientEvents.join, undefined, failure(error));
      },
    });
  }

  private async leave(
    socket: Socket,
    session: ConnectionSession,
    payload: unknown,
  ): Promise<object> {
    const { threadId } = parseClientPayload(leaveSchema, payload, ClientEvents.leave);
    await this.membership.leave(socket, session, threadId);
    return {};
  }

  private async ack(socket: Socket, session: ConnectionSession, payload: unknown): Promise<object> {
    const { threadId, seq, epoch } = parseClientPayload(ackSchema, payload, ClientEvents.ack);
    if (!session.isJoined(threadId)) {
      throw new BadRequestError(
        `${ClientEvents.ack}: this connection has not joined thread ${threadId}`,
      );
    }
    return this.acks.acknowledge(threadId, session.userId, seq, epoch, socket.id);
  }

  private async userMessage(session: ConnectionSession, payload: unknown): Promise<object> {
    const input = parseClientPayload(userMessageSchema, payload, ClientEvents.userMessage);
    return this.userMessages.submit(
      session.userId,
      input.threadId,
      input.text,
      input.clientMessageId,
    );
  }

  /** `auth:refresh`: a new credential of the same user moves the connection's expiry. */
  private async refresh(
    socket: Socket,
    session: ConnectionSession,
    payload: unknown,
  ): Promise<object> {
    const { token } = parseClientPayload(authRefreshSchema, payload, ClientEvents.authRefresh);
    const check = await checkCredential(this.options.authenticate, {
      token,
      headers: socket.handshake.headers,
      transport: 'socket',
      address: socket.handshake.address,
    });
    if (!check.ok) throw new UnauthorizedError(`${ClientEvents.authRefresh}: ${check.reason}`);
    if (check.credential.userId !== session.userId) {
      throw new UnauthorizedError(
        `${ClientEvents.authRefresh}: the token is for another user than this connection's`,
      );
    }
    session.renew(check.credential.expiresAt);
    this.log.debug({ msg: 'credential renewed', connectionId: socket.id, userId: session.userId });
    return { expiresAt: check.credential.expiresAt };
  }

  /** The credential lapsed: say so (as the event's answer, if one is waiting), then close. */
  private expire(
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
    if (ack) ack(failure(error));
    else
      socket.emit(ServerEvents.error, {
        event,
        error: toErrorBody(error),
      } satisfies RelayErrorNotice);
    this.log.info({
      msg: 'connection expired',
      connectionId: socket.id,
      userId: session.userId,
    });
    closeAfterNotice(socket, session);
  }

  /** The client does not read what it is sent: drop the connection and what it holds. */
  private cutSlowConsumer(socket: Socket, session: ConnectionSession, bytes: number): void {
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

  /** The user holds `limits.connectionsPerUser` connections already. */
  private refuseConnection(socket: Socket, session: ConnectionSession): void {
    const error = connectionsLimit(session.userId, this.options);
    this.metrics.errors.inc({ source: 'socket', code: error.code });
    this.warn(socket, session, null, error.code, error.message);
    socket.emit(ServerEvents.error, {
      event: null,
      error: toErrorBody(error),
    } satisfies RelayErrorNotice);
    closeAfterNotice(socket, session);
  }

  private touch(connectionId: string, session: ConnectionSession): void {
    const now = Date.now();
    if (now - session.lastTouch < TOUCH_EVERY_MS) return;
    session.lastTouch = now;
    void session.admitted.then((admitted) => {
      if (!admitted) return;
      this.registry.touchConnection(connectionId, now).catch(() => undefined);
    });
  }
}

/** How long a closing connection gets to take its last notice before it is cut. */
const CLOSE_GRACE_MS = 2_000;

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

function failure(error: unknown): { ok: false; error: ErrorBody } {
  return { ok: false, error: toErrorBody(error) };
}

function connectionsLimit(userId: string, options: ResolvedRelayOptions): LimitExceededError {
  const max = options.limits.connectionsPerUser;
  return new LimitExceededError(
    'limits.connectionsPerUser',
    `User ${JSON.stringify(userId.slice(0, 120))} already holds ${max} connections (limits.connectionsPerUser); close one first`,
  );
}

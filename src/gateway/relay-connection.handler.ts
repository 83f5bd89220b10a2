import { Inject, Injectable } from '@nestjs/common';
import type { RegistryStore } from '../registry/registry-store.interface.js';
import { REGISTRY_STORE, RELAY_OPTIONS } from '../thread-relay.constants.js';
import type { Namespace, Socket } from 'socket.io';
import { DeliveryAcks } from '../delivery/delivery-acks.service.js';
import { LiveUserEvents } from '../delivery/live-user-events.service.js';
import { UserMessageService } from '../delivery/user-message.service.js';
import { RelayMetrics } from '../observability/relay-metrics.service.js';
import { ServerEvents, type RelaySessionNotice } from '../protocol.js';
import { RedisHealthService } from '../redis/redis-health.service.js';
import type { AccessChange } from '../registry/thread-access-changes.js';
import { ThreadAccessChanges } from '../registry/thread-access-changes.js';
import { ThreadRegistryService } from '../registry/thread-registry.service.js';
import { LocalSockets } from '../sockets/local-sockets.js';
import { userRoom } from '../sockets/rooms.js';
import { errorText, RelayLogger } from '../thread-relay.logger.js';
import { type ResolvedRelayOptions } from '../thread-relay.options.js';
import { ClientEventDispatch } from './client-event-dispatch.js';
import { ClientEventHandlers } from './client-event-handlers.js';
import { ConnectionAnswers } from './connection-answers.js';
import { ConnectionCloser } from './connection-closer.js';
import { ConnectionSession } from './connection-session.js';
import { handshakeAuth, type RelaySocketData } from './handshake-auth.js';
import { ThreadMembership } from './thread-membership.js';

/** How often, at most, a connection's `lastSeenAt` is written to the registry. */
const TOUCH_EVERY_MS = 10_000;

/**
 * The socket side of the wire protocol, from a connection's handshake to its disconnect:
 * authenticates handshakes, registers connections, wires their client events (see
 * `ClientEventDispatch`) and cleans up after them. Each connection is held to `limits` and
 * `backpressure`, and is closed when its credential expires without a renewal
 * (`ConnectionCloser`).
 */
@Injectable()
export class RelayConnectionHandler {
  private readonly log: RelayLogger;
  private readonly sessions = new Map<string, ConnectionSession>();
  private readonly closer: ConnectionCloser;
  private readonly events: ClientEventDispatch;
  private stopWatching: () => void = () => undefined;
  private stopWatchingHealth: () => void = () => undefined;

  constructor(
    private readonly registry: ThreadRegistryService,
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
    acks: DeliveryAcks,
    userMessages: UserMessageService,
    private readonly sockets: LocalSockets,
    private readonly userEvents: LiveUserEvents,
    private readonly membership: ThreadMembership,
    private readonly accessChanges: ThreadAccessChanges,
    @Inject(RELAY_OPTIONS) private readonly options: ResolvedRelayOptions,
    metrics: RelayMetrics,
    private readonly redisHealth: RedisHealthService,
  ) {
    this.log = RelayLogger.for('RelayGateway', options);
    const answers = new ConnectionAnswers(metrics, this.log);
    this.closer = new ConnectionCloser(answers, metrics, this.log, options);
    const handlers = new ClientEventHandlers(
      membership,
      acks,
      userMessages,
      answers,
      this.closer,
      options,
      this.log,
    );
    this.events = new ClientEventDispatch(
      handlers,
      answers,
      this.closer,
      metrics,
      this.log,
      options,
      (socket, session) => this.touch(socket.id, session),
    );
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
      expired: () => this.closer.expire(socket, session),
      slowConsumer: (bytes) => this.closer.cutSlowConsumer(socket, session, bytes),
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
      if (!admitted) this.closer.refuseConnection(socket, session);
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

    this.events.wire(socket, session);
    socket.conn.on('heartbeat', () => this.touch(socket.id, session));
    // Polling clients upgrade to websocket after connecting; the registry should say so.
    socket.conn.on('upgrade', () => {
      const transport = socket.conn.transport.name;
      void session.admitted.then(() =>
        this.store.touchConnection(socket.id, Date.now(), transport).catch(() => undefined),
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

  private touch(connectionId: string, session: ConnectionSession): void {
    const now = Date.now();
    if (now - session.lastTouch < TOUCH_EVERY_MS) return;
    session.lastTouch = now;
    void session.admitted.then((admitted) => {
      if (!admitted) return;
      this.store.touchConnection(connectionId, now).catch(() => undefined);
    });
  }
}

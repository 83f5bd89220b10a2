import { Inject, Injectable } from '@nestjs/common';
import type { Namespace, Socket } from 'socket.io';
import { DeliveryService } from '../delivery/delivery.service.js';
import { EventFanoutService } from '../delivery/event-fanout.service.js';
import { MESSAGE_LOG, type MessageLog } from '../delivery/message-log.interface.js';
import { threadRoom, userRoom } from '../delivery/rooms.js';
import { UserMessageService } from '../delivery/user-message.service.js';
import { BadRequestError } from '../errors/bad-request.error.js';
import { RedisHealthService } from '../observability/redis-health.service.js';
import { RelayMetrics } from '../observability/relay-metrics.service.js';
import { ClientEvents, ServerEvents, type Ack } from '../protocol.js';
import { ThreadAdmissionService } from '../registry/thread-admission.service.js';
import { ThreadRegistryService } from '../registry/thread-registry.service.js';
import { errorText, RelayLogger } from '../thread-relay.logger.js';
import { RELAY_OPTIONS, type ResolvedRelayOptions } from '../thread-relay.options.js';
import { ackSchema, joinSchema, leaveSchema, userMessageSchema } from './client-payload.schemas.js';
import { toErrorBody } from './error-body.js';
import { handshakeAuth, type RelaySocketData } from './handshake-auth.js';
import { parseClientPayload } from './parse-client-payload.js';
import { planReplay } from './thread-replay.js';

type AckFn = (answer: Ack) => void;
type Handler = (socket: Socket, userId: string, payload: unknown) => Promise<object>;

/** How often, at most, a connection's `lastSeenAt` is written to the registry. */
const TOUCH_EVERY_MS = 10_000;

interface ConnectionState {
  userId: string;
  /** Settles once the connection is in the registry; later steps wait for it. */
  registered: Promise<void>;
  threads: Set<string>;
  lastTouch: number;
}

/**
 * The socket side of the wire protocol: authenticates handshakes, registers connections,
 * and answers `thread:join`, `thread:leave`, `thread:ack` and `user:message`. Every
 * handler answers through the ack (when there is one) and never throws into socket.io.
 */
@Injectable()
export class RelayConnectionHandler {
  private readonly log: RelayLogger;
  private readonly connections = new Map<string, ConnectionState>();
  private nsp: Namespace | null = null;

  constructor(
    private readonly registry: ThreadRegistryService,
    private readonly admission: ThreadAdmissionService,
    private readonly delivery: DeliveryService,
    private readonly userMessages: UserMessageService,
    private readonly fanout: EventFanoutService,
    @Inject(MESSAGE_LOG) private readonly messages: MessageLog,
    @Inject(RELAY_OPTIONS) private readonly options: ResolvedRelayOptions,
    private readonly metrics: RelayMetrics,
    private readonly redisHealth: RedisHealthService,
  ) {
    this.log = RelayLogger.for('RelayGateway', options);
    metrics.observeGateway(() => ({
      connections: this.connections.size,
      joinedThreads: new Set([...this.connections.values()].flatMap((c) => [...c.threads])).size,
    }));
  }

  /** Connections this instance tracks; tests assert it drains to zero. */
  get localConnections(): number {
    return this.connections.size;
  }

  attach(nsp: Namespace): void {
    this.nsp = nsp;
    nsp.use(handshakeAuth(this.options.authenticate, this.log));
    nsp.on('connection', (socket) => this.onConnection(socket));
    this.fanout.attach(nsp);
  }

  detach(): void {
    this.nsp = null;
    this.fanout.detach();
  }

  private onConnection(socket: Socket): void {
    const { userId } = socket.data as RelaySocketData;
    const now = Date.now();
    const state: ConnectionState = {
      userId,
      threads: new Set(),
      lastTouch: now,
      registered: this.registry
        .registerConnection({
          connectionId: socket.id,
          userId,
          transport: socket.conn.transport.name,
          connectedAt: now,
          lastSeenAt: now,
        })
        .catch((error: unknown) => {
          this.log.error(
            { msg: 'connection registration failed', connectionId: socket.id, userId },
            error,
          );
        }),
    };
    this.connections.set(socket.id, state);
    void socket.join(userRoom(userId));
    const status = this.redisHealth.status();
    if (status.mode === 'degraded') socket.emit(ServerEvents.status, status);

    this.on(socket, state, ClientEvents.join, (s, uid, payload) =>
      this.join(s, uid, payload, state),
    );
    this.on(socket, state, ClientEvents.leave, (s, _uid, payload) => this.leave(s, payload, state));
    this.on(socket, state, ClientEvents.ack, (s, uid, payload) => this.ack(s, uid, payload, state));
    this.on(socket, state, ClientEvents.userMessage, (_s, uid, payload) =>
      this.userMessage(uid, payload),
    );
    socket.conn.on('heartbeat', () => this.touch(socket.id, state));
    // Polling clients upgrade to websocket after connecting; the registry should say so.
    socket.conn.on('upgrade', () => {
      const transport = socket.conn.transport.name;
      void state.registered.then(() =>
        this.registry.touchConnection(socket.id, Date.now(), transport).catch(() => undefined),
      );
    });
    socket.on('disconnect', (reason) => {
      this.connections.delete(socket.id);
      void state.registered.then(() =>
        this.registry.unregisterConnection(socket.id, reason).catch((error: unknown) => {
          this.log.error(
            { msg: 'connection cleanup failed', connectionId: socket.id, userId },
            error,
          );
        }),
      );
    });
  }

  /** Wires one client event: parses the arguments, runs the handler, answers the ack. */
  private on(socket: Socket, state: ConnectionState, event: string, handler: Handler): void {
    socket.on(event, (...args: unknown[]) => {
      const last = args[args.length - 1];
      const ack = typeof last === 'function' ? (args.pop() as AckFn) : undefined;
      const answer = (value: Ack) => {
        if (ack) ack(value);
        else if (!value.ok) socket.emit('relay:error', { event, error: value.error });
      };
      this.touch(socket.id, state);
      state.registered
        .then(() => handler(socket, state.userId, args[0]))
        .then(
          (result) => answer({ ok: true, ...result }),
          (error: unknown) => {
            const body = toErrorBody(error);
            this.metrics.errors.inc({ source: 'socket', code: body.code });
            if (body.code === 'INTERNAL') {
              this.log.error(
                { msg: 'handler failed', event, connectionId: socket.id, userId: state.userId },
                error,
              );
            } else {
              this.log.warn({
                msg: 'request refused',
                event,
                connectionId: socket.id,
                userId: state.userId,
                code: body.code,
                reason: body.message,
              });
            }
            answer({ ok: false, error: body });
          },
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

  private async join(
    socket: Socket,
    userId: string,
    payload: unknown,
    state: ConnectionState,
  ): Promise<object> {
    const input = parseClientPayload(joinSchema, payload, ClientEvents.join);
    await this.admission.admit(userId, input.threadId, 'join');
    const plan = await planReplay(
      socket,
      input.threadId,
      input.lastSeq,
      input.epoch,
      this.messages,
      this.fanout,
    );
    try {
      await Promise.all([
        this.registry.addConnectionThread(socket.id, input.threadId),
        plan.resumedFrom > 0
          ? this.delivery.acknowledgeResume(
              input.threadId,
              userId,
              plan.resumedFrom,
              plan.result.epoch,
              socket.id,
            )
          : undefined,
      ]);
    } catch (error) {
      plan.abort();
      throw error;
    }
    state.threads.add(input.threadId);
    this.log.info({
      msg: 'thread joined',
      connectionId: socket.id,
      userId,
      threadId: input.threadId,
      lastSeq: input.lastSeq,
      headSeq: plan.result.headSeq,
      reset: plan.reset?.reason ?? null,
    });
    if (plan.reset) this.metrics.resets.inc({ reason: plan.reset.reason });
    // The ack goes out first, then the replay: socket.io keeps that order on the wire.
    setImmediate(() => {
      plan.run().then(
        (sent) => {
          this.metrics.eventsReplayed.inc(sent);
          if (sent > 0)
            this.log.debug({
              msg: 'replayed',
              connectionId: socket.id,
              threadId: input.threadId,
              count: sent,
            });
        },
        (error: unknown) => {
          this.log.error(
            { msg: 'replay failed', connectionId: socket.id, threadId: input.threadId },
            error,
          );
          socket.emit('relay:error', { event: ClientEvents.join, error: toErrorBody(error) });
        },
      );
    });
    return { ...plan.result, ...(plan.reset ? { reset: plan.reset.reason } : {}) };
  }

  private async leave(socket: Socket, payload: unknown, state: ConnectionState): Promise<object> {
    const { threadId } = parseClientPayload(leaveSchema, payload, ClientEvents.leave);
    await socket.leave(threadRoom(threadId));
    state.threads.delete(threadId);
    await this.registry.removeConnectionThread(socket.id, threadId);
    this.log.info({ msg: 'thread left', connectionId: socket.id, threadId });
    return {};
  }

  private async ack(
    socket: Socket,
    userId: string,
    payload: unknown,
    state: ConnectionState,
  ): Promise<object> {
    const { threadId, seq, epoch } = parseClientPayload(ackSchema, payload, ClientEvents.ack);
    if (!state.threads.has(threadId)) {
      throw new BadRequestError(
        `${ClientEvents.ack}: this connection has not joined thread ${threadId}`,
      );
    }
    // The cursor counts in the log's current epoch. An ack up to a seq this instance sent
    // in that epoch needs no look at the log; anything else is checked against it.
    const sent = this.fanout.sentHead(threadId);
    let current: string;
    if (sent && seq <= sent.head && (epoch === undefined || epoch === sent.epoch)) {
      current = sent.epoch;
    } else {
      const log = await this.messages.state(threadId);
      if (epoch !== undefined && epoch !== log.epoch) {
        // Sent before the client learned of the new log (its reset is on the way): nothing to record.
        return { ignored: 'stale_epoch' };
      }
      if (seq > log.headSeq) {
        throw new BadRequestError(
          `${ClientEvents.ack}: seq ${seq} is beyond the thread's head ${log.headSeq}`,
        );
      }
      current = log.epoch;
    }
    const cursor = await this.delivery.acknowledge(threadId, userId, seq, current, socket.id);
    return { cursor };
  }

  private async userMessage(userId: string, payload: unknown): Promise<object> {
    const input = parseClientPayload(userMessageSchema, payload, ClientEvents.userMessage);
    const result = await this.userMessages.submit(
      userId,
      input.threadId,
      input.text,
      input.clientMessageId,
    );
    return result;
  }

  private touch(connectionId: string, state: ConnectionState): void {
    const now = Date.now();
    if (now - state.lastTouch < TOUCH_EVERY_MS) return;
    state.lastTouch = now;
    void state.registered.then(() =>
      this.registry.touchConnection(connectionId, now).catch(() => undefined),
    );
  }

  /** Disconnects every local socket; used on shutdown. */
  disconnectAll(): void {
    this.nsp?.local.disconnectSockets(true);
  }
}

import { Inject, Injectable } from '@nestjs/common';
import type { Namespace, Socket } from 'socket.io';
import { DeliveryService } from '../delivery/delivery.service.js';
import { EventFanoutService } from '../delivery/event-fanout.service.js';
import { MESSAGE_LOG, type MessageLog } from '../delivery/message-log.interface.js';
import { threadRoom } from '../delivery/rooms.js';
import { LimitExceededError } from '../errors/limit-exceeded.error.js';
import { RateLimitedError } from '../errors/rate-limited.error.js';
import { UserReadBudget } from '../limits/user-read-budget.js';
import { RelayMetrics } from '../observability/relay-metrics.service.js';
import { ServerEvents, type JoinRequest, type ThreadLeftNotice } from '../protocol.js';
import type { AccessChange } from '../registry/thread-access-changes.js';
import { ThreadAdmissionService } from '../registry/thread-admission.service.js';
import { ThreadRegistryService } from '../registry/thread-registry.service.js';
import { RelayLogger } from '../thread-relay.logger.js';
import { RELAY_OPTIONS, type ResolvedRelayOptions } from '../thread-relay.options.js';
import type { ConnectionSession, ReplayTicket } from './connection-session.js';
import { LocalThreadMembers } from './local-thread-members.js';
import { planReplay, type ReplayOutcome } from './thread-replay.js';

/** How long a client refused for too many joins in progress should wait. */
const JOIN_RETRY_MS = 250;

export interface JoinHooks {
  /** The replay found the client behind for too long. */
  stalled(): void;
  /** The replay failed after the ack went out. */
  failed(error: unknown): void;
}

/**
 * Which threads each local connection is in: joins (admission, replay, then the room),
 * leaves, and evictions when who may use a thread changes (it was unregistered, expired,
 * registered anew, or the application asked for its access to be checked again). A
 * connection is only ever in the room of a thread it may join now.
 */
@Injectable()
export class ThreadMembership {
  private readonly log: RelayLogger;
  private readonly members = new LocalThreadMembers();
  private nsp: Namespace | null = null;
  private sessionOf: (socketId: string) => ConnectionSession | undefined = () => undefined;

  constructor(
    private readonly registry: ThreadRegistryService,
    private readonly admission: ThreadAdmissionService,
    private readonly delivery: DeliveryService,
    private readonly fanout: EventFanoutService,
    @Inject(MESSAGE_LOG) private readonly messages: MessageLog,
    @Inject(RELAY_OPTIONS) private readonly options: ResolvedRelayOptions,
    private readonly metrics: RelayMetrics,
    private readonly readBudget: UserReadBudget,
  ) {
    this.log = RelayLogger.for('RelayGateway', options);
  }

  /** Distinct threads joined by local connections (the `relay_joined_threads` gauge). */
  get joinedThreads(): number {
    return this.members.size;
  }

  attach(nsp: Namespace, sessionOf: (socketId: string) => ConnectionSession | undefined): void {
    this.nsp = nsp;
    this.sessionOf = sessionOf;
  }

  async join(socket: Socket, session: ConnectionSession, input: JoinRequest, hooks: JoinHooks) {
    const { limits } = this.options;
    const rejoin = session.isJoined(input.threadId);
    if (!rejoin && session.threadCount >= limits.joinedThreadsPerConnection) {
      throw new LimitExceededError(
        'limits.joinedThreadsPerConnection',
        `This connection has joined ${session.threadCount} threads; leave one first (limits.joinedThreadsPerConnection is ${limits.joinedThreadsPerConnection})`,
      );
    }
    if (session.joining >= limits.concurrentJoinsPerConnection) {
      throw new RateLimitedError(
        'limits.concurrentJoinsPerConnection',
        JOIN_RETRY_MS,
        `${session.joining} joins of this connection are still replaying; retry in ${JOIN_RETRY_MS} ms (limits.concurrentJoinsPerConnection)`,
      );
    }
    session.joining += 1;
    let replaying = false;
    try {
      const threadId = await this.admission.admit(session.userId, input.threadId, 'join');
      let abort = () => undefined as void;
      const ticket: ReplayTicket = { abort: () => abort() };
      const plan = await planReplay(socket, threadId, input.lastSeq, input.epoch, {
        log: this.messages,
        fanout: this.fanout,
        outbound: session.outbound,
        backpressure: this.options.backpressure,
        wanted: () => session.holds(threadId, ticket),
        budget: {
          waitFor: () => this.readBudget.waitFor(session.userId),
          spend: (bytes) => this.readBudget.spend(session.userId, bytes),
        },
      });
      abort = () => plan.abort();
      try {
        await Promise.all([
          this.registry.addConnectionThread(socket.id, threadId),
          plan.resumedFrom > 0
            ? this.delivery.acknowledgeResume(
                threadId,
                session.userId,
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
      if (socket.disconnected) {
        plan.abort();
        return plan.result;
      }
      // Counted in from here: a leave now stops the replay before it goes live.
      session.startReplay(threadId, ticket);
      this.members.add(threadId, socket.id);
      this.log.debug({
        msg: 'thread joined',
        connectionId: socket.id,
        userId: session.userId,
        threadId,
        lastSeq: input.lastSeq,
        headSeq: plan.result.headSeq,
        reset: plan.reset?.reason ?? null,
      });
      if (plan.reset) this.metrics.resets.inc({ reason: plan.reset.reason });
      replaying = true;
      // The ack goes out first, then the replay: socket.io keeps that order on the wire.
      setImmediate(() => {
        plan
          .run()
          .then(
            (outcome: ReplayOutcome) => {
              this.metrics.eventsReplayed.inc(outcome.sent);
              if (outcome.stalled) hooks.stalled();
            },
            (error: unknown) => hooks.failed(error),
          )
          .finally(() => {
            session.endReplay(threadId, ticket);
            session.joining -= 1;
          });
      });
      return { ...plan.result, ...(plan.reset ? { reset: plan.reset.reason } : {}) };
    } finally {
      if (!replaying) session.joining -= 1;
    }
  }

  /** The connection leaves the thread (its replay, if one runs, stops first). */
  async leave(socket: Socket, session: ConnectionSession, threadId: string): Promise<void> {
    const wasJoined = session.leave(threadId);
    await socket.leave(threadRoom(threadId));
    // Nothing to undo for a thread this connection never joined: no write, no log line.
    if (!wasJoined) return;
    this.members.remove(threadId, socket.id);
    await this.registry.removeConnectionThread(socket.id, threadId);
    this.log.debug({ msg: 'thread left', connectionId: socket.id, threadId });
  }

  /** The connection is gone: its threads no longer count here. */
  release(socket: Socket, session: ConnectionSession): void {
    for (const threadId of session.joinedThreads()) {
      session.leave(threadId);
      this.members.remove(threadId, socket.id);
    }
  }

  /**
   * Who may use the thread may have changed: each local connection joined to it is checked
   * against the access rule again, with the thread as it is now, and leaves it if it may
   * not join it any more (told `thread:left`). The new owner of a thread registered anew
   * stays; everyone else goes.
   */
  async recheck(change: AccessChange): Promise<void> {
    const members = this.localMembers(change.threadId);
    if (members.length === 0) return;
    const thread = await this.registry.getThread(change.threadId);
    for (const [socket, session] of members) {
      // A thread that is gone is left by everyone, whatever a hook would say of a new one
      // under its id; only a revalidation asks the hook about a thread never registered.
      const gone = thread === null && change.reason !== 'revalidate';
      const allowed =
        !gone && (await this.registry.mayAccess(session.userId, change.threadId, thread, 'join'));
      if (allowed) continue;
      await this.leave(socket, session, change.threadId);
      socket.emit(ServerEvents.left, {
        threadId: change.threadId,
        reason: change.reason === 'revalidate' ? 'access_revoked' : change.reason,
      } satisfies ThreadLeftNotice);
      this.log.info({
        msg: 'connection removed from thread',
        connectionId: socket.id,
        userId: session.userId,
        threadId: change.threadId,
        reason: change.reason,
      });
    }
  }

  /** Local connections joined to the thread: in its room, or still replaying it. */
  private localMembers(threadId: string): [Socket, ConnectionSession][] {
    const found: [Socket, ConnectionSession][] = [];
    for (const id of this.members.of(threadId)) {
      const socket = this.nsp?.sockets.get(id);
      const session = this.sessionOf(id);
      if (socket && session?.isJoined(threadId)) found.push([socket, session]);
    }
    return found;
  }
}

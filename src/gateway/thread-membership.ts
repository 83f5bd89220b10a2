import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Namespace, Socket } from 'socket.io';
import { DeliveryAcks } from '../delivery/delivery-acks.service.js';
import { LiveThreadEvents } from '../delivery/live-thread-events.service.js';
import { type MessageLog } from '../delivery/message-log.interface.js';
import { MESSAGE_LOG } from '../thread-relay.constants.js';
import { planReplay, type ReplayOutcome, type ReplayPlan } from '../delivery/thread-replayer.js';
import { threadRoom } from '../sockets/rooms.js';
import { BadRequestError } from '../errors/bad-request.error.js';
import { ForbiddenError } from '../errors/forbidden.error.js';
import { LimitExceededError } from '../errors/limit-exceeded.error.js';
import { UserReadBudget } from '../limits/user-read-budget.js';
import { RelayMetrics } from '../observability/relay-metrics.service.js';
import { ServerEvents, type JoinRequest, type ThreadLeftNotice } from '../protocol.js';
import type { AccessChange } from '../registry/thread-access-changes.js';
import { ThreadAdmissionService } from '../registry/thread-admission.service.js';
import { ThreadRegistryService } from '../registry/thread-registry.service.js';
import { errorText, RelayLogger } from '../thread-relay.logger.js';
import { type ResolvedRelayOptions } from '../thread-relay.options.js';
import { RELAY_OPTIONS } from '../thread-relay.constants.js';
import type { ConnectionSession, ReplayTicket } from './connection-session.js';
import { LocalThreadMembers } from './local-thread-members.js';
import { PendingJoins, type PendingJoin } from './pending-joins.js';

export interface JoinHooks {
  /** The replay found the client behind for too long. */
  stalled(): void;
  /** The replay failed after the ack went out. */
  failed(error: unknown): void;
}

/**
 * Which threads each local connection is in: joins (admission, replay, then the room),
 * leaves, and removals when who may use a thread changes (it was unregistered, expired,
 * registered anew, or the application asked for its access to be checked again). A
 * connection is only ever in the room of a thread it may join now: a change that lands
 * while a join is in flight makes that join check again before it counts.
 */
@Injectable()
export class ThreadMembership implements OnModuleDestroy {
  private readonly log: RelayLogger;
  private readonly members = new LocalThreadMembers();
  private readonly pending = new PendingJoins();
  private nsp: Namespace | null = null;
  private keepAlive: NodeJS.Timeout | null = null;
  private sessionOf: (socketId: string) => ConnectionSession | undefined = () => undefined;
  private attempts = 0;

  constructor(
    private readonly registry: ThreadRegistryService,
    private readonly admission: ThreadAdmissionService,
    private readonly acks: DeliveryAcks,
    private readonly live: LiveThreadEvents,
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
    // A thread someone is joined to is in use, even when nothing is sent to it: its lease
    // (if it has one) is renewed a few times per term, so it does not lapse under them.
    const every = Math.min((this.options.history.autoThreadTtlSeconds * 1000) / 4, 3_600_000);
    this.keepAlive = setInterval(() => {
      for (const threadId of this.members.threads()) this.registry.touchThread(threadId);
    }, every);
    this.keepAlive.unref();
  }

  onModuleDestroy(): void {
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.keepAlive = null;
  }

  async join(socket: Socket, session: ConnectionSession, input: JoinRequest, hooks: JoinHooks) {
    this.assertRoomFor(session, input.threadId);
    // Before any await: a leave that arrives from here on finds this join to cancel.
    const pending = this.pending.open(input.threadId, socket.id);
    const attempt = `${socket.id}#join${++this.attempts}`;
    let watching: Promise<void> | null = null;
    let release: () => void = () => undefined;
    let handedOver = false;
    try {
      release = await session.joinSlots.acquire();
      // Heard from before the thread is read: an access change or an event stored from
      // here on reaches this join. The join holds the thread under a name of its own, so
      // a refused join lets go of its hold only, never of the connection's membership.
      watching = this.live.watch(input.threadId, attempt);
      await watching;
      const threadId = await this.admission.admit(session.userId, input.threadId, 'join');
      let abort = () => undefined as void;
      const ticket: ReplayTicket = { abort: () => abort() };
      const plan = await planReplay(socket, threadId, input.lastSeq, input.epoch, {
        log: this.messages,
        live: this.live,
        seamWaitMs: this.options.delivery.unavailableTimeoutMs,
        outbound: session.outbound,
        backpressure: this.options.backpressure,
        wanted: () => session.holds(threadId, ticket),
        budget: {
          reserve: (bytes) => this.readBudget.tryReserve(session.userId, bytes),
          settle: (reserved, used) => this.readBudget.settle(session.userId, reserved, used),
        },
      });
      abort = () => plan.abort();
      try {
        await this.registry.addConnectionThread(socket.id, threadId);
        await this.confirm(socket, session, pending);
      } catch (error) {
        plan.abort();
        if (!session.isJoined(threadId)) {
          await this.registry.removeConnectionThread(socket.id, threadId).catch(() => undefined);
        }
        throw error;
      }
      // From here it counts: a change or a leave now finds it among the members. The cap is
      // checked in the same turn as the count grows, so joins completing together hold it.
      try {
        this.assertRoomFor(session, threadId);
      } catch (error) {
        plan.abort();
        await this.registry.removeConnectionThread(socket.id, threadId).catch(() => undefined);
        throw error;
      }
      this.pending.close(pending);
      session.startReplay(threadId, ticket);
      this.members.add(threadId, socket.id);
      // The connection's membership holds the thread from now on, in the same turn.
      this.live.transfer(threadId, attempt, socket.id);
      await this.resumed(socket, session, threadId, plan);
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
      handedOver = true;
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
            release();
          });
      });
      return { ...plan.result, ...(plan.reset ? { reset: plan.reset.reason } : {}) };
    } finally {
      this.pending.close(pending);
      if (!handedOver) {
        release();
        if (watching) this.live.unwatch(input.threadId, attempt);
      }
    }
  }

  /** The connection leaves the thread (its replay, or its join in flight, stops first). */
  async leave(socket: Socket, session: ConnectionSession, threadId: string): Promise<void> {
    this.pending.cancel(threadId, socket.id);
    const wasJoined = session.leave(threadId);
    await socket.leave(threadRoom(threadId));
    // Nothing to undo for a thread this connection never joined: no write, no log line.
    if (!wasJoined) return;
    this.members.remove(threadId, socket.id);
    this.live.unwatch(threadId, socket.id);
    await this.registry.removeConnectionThread(socket.id, threadId);
    this.log.debug({ msg: 'thread left', connectionId: socket.id, threadId });
  }

  /** The connection is gone: its threads no longer count here. */
  release(socket: Socket, session: ConnectionSession): void {
    for (const threadId of session.joinedThreads()) {
      session.leave(threadId);
      this.members.remove(threadId, socket.id);
      this.live.unwatch(threadId, socket.id);
    }
  }

  /**
   * Who may use the thread may have changed: each local connection joined to it is checked
   * against the access rule again, with the thread as it is now, and leaves it if it may
   * not join it any more (told `thread:left`); joins in flight check again before they
   * count. The new owner of a thread registered anew stays; everyone else goes. A check
   * that fails (the hook throws, the store is away) counts as a refusal.
   */
  async recheck(change: AccessChange): Promise<void> {
    // Synchronously, before any await: a join that completes meanwhile is either a member
    // seen here or flagged to check itself, and the thread's live events (and replays)
    // wait until every member here has been checked.
    this.pending.flagRecheck(change.threadId);
    const release = this.live.hold(change.threadId);
    try {
      await this.recheckMembers(change);
    } finally {
      release();
    }
  }

  private async recheckMembers(change: AccessChange): Promise<void> {
    const members = this.localMembers(change.threadId);
    if (members.length === 0) return;
    const thread = await this.registry.getThread(change.threadId).catch(() => undefined);
    for (const [socket, session] of members) {
      // A thread that is gone is left by everyone, whatever a hook would say of a new one
      // under its id; only a revalidation asks the hook about a thread never registered.
      const gone = thread === null && change.reason !== 'revalidate';
      const allowed =
        thread !== undefined &&
        !gone &&
        (await this.registry
          .mayAccess(session.userId, change.threadId, thread, 'join')
          .catch(() => false));
      if (allowed) continue;
      await this.remove(socket, session, change);
    }
  }

  /** Checks every thread joined here again (after this instance may have missed notices). */
  async recheckAll(): Promise<void> {
    for (const threadId of this.members.threads()) {
      await this.recheck({ threadId, reason: 'revalidate' });
    }
  }

  private async remove(
    socket: Socket,
    session: ConnectionSession,
    change: AccessChange,
  ): Promise<void> {
    try {
      await this.leave(socket, session, change.threadId);
    } catch (error) {
      // Out of the room and the session already; the registry entry goes with the connection.
      this.log.warn({
        msg: 'thread removal not recorded',
        connectionId: socket.id,
        threadId: change.threadId,
        reason: errorText(error),
      });
    }
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

  /**
   * The last check before a join counts: the connection did not leave meanwhile, and may
   * still join if the thread's access changed while it was being admitted (checked again
   * until no change lands during the check).
   */
  private async confirm(
    socket: Socket,
    session: ConnectionSession,
    pending: PendingJoin,
  ): Promise<void> {
    const { threadId } = pending;
    while (pending.recheck && !pending.cancelled) {
      pending.recheck = false;
      const thread = await this.registry.getThread(threadId);
      const allowed =
        thread !== null &&
        (await this.registry.mayAccess(session.userId, threadId, thread, 'join'));
      if (!allowed) throw new ForbiddenError(session.userId, threadId);
    }
    if (pending.cancelled || socket.disconnected) {
      throw new BadRequestError(
        `thread:join: the connection left ${threadId} before the join completed`,
      );
    }
  }

  /** A join that resumes in the current epoch raises the delivered cursor (acks lost with a connection). */
  private async resumed(
    socket: Socket,
    session: ConnectionSession,
    threadId: string,
    plan: ReplayPlan,
  ): Promise<void> {
    if (plan.resumedFrom === 0) return;
    await this.acks.acknowledgeResume(
      threadId,
      session.userId,
      plan.resumedFrom,
      plan.result.epoch,
      socket.id,
    );
  }

  private assertRoomFor(session: ConnectionSession, threadId: string): void {
    const max = this.options.limits.joinedThreadsPerConnection;
    if (session.isJoined(threadId) || session.threadCount < max) return;
    throw new LimitExceededError(
      'limits.joinedThreadsPerConnection',
      `This connection has joined ${session.threadCount} threads; leave one first (limits.joinedThreadsPerConnection is ${max})`,
    );
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

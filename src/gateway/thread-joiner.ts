import type { Socket } from 'socket.io';
import type { RegistryStore } from '../registry/registry-store.interface.js';
import type { DeliveryAcks } from '../delivery/delivery-acks.service.js';
import type { LiveThreadEvents } from '../delivery/live-thread-events.service.js';
import type { MessageLog } from '../delivery/message-log.interface.js';
import { planReplay, type ReplayOutcome, type ReplayPlan } from '../delivery/thread-replayer.js';
import { BadRequestError } from '../errors/bad-request.error.js';
import { ForbiddenError } from '../errors/forbidden.error.js';
import { LimitExceededError } from '../errors/limit-exceeded.error.js';
import type { UserReadBudget } from '../limits/user-read-budget.js';
import type { RelayMetrics } from '../observability/relay-metrics.service.js';
import type { JoinRequest } from '../protocol.js';
import type { ThreadAdmissionService } from '../registry/thread-admission.service.js';
import type { ThreadRegistryService } from '../registry/thread-registry.service.js';
import type { RelayLogger } from '../thread-relay.logger.js';
import type { ResolvedRelayOptions } from '../thread-relay.options.js';
import type { ConnectionSession, ReplayTicket } from './connection-session.js';
import type { LocalThreadMembers } from './local-thread-members.js';
import type { PendingJoin, PendingJoins } from './pending-joins.js';

export interface JoinHooks {
  /** The replay found the client behind for too long. */
  stalled(): void;
  /** The replay failed after the ack went out. */
  failed(error: unknown): void;
}

/**
 * One `thread:join` from admission to live: a slot among the connection's joins, the
 * thread's live events heard before it is read, the access rule, the replay planned from
 * the client's cursor, the registry entry, and the last checks before the join counts
 * among the members. The ack goes out before the replay runs.
 */
export class ThreadJoiner {
  private attempts = 0;

  constructor(
    private readonly registry: ThreadRegistryService,
    private readonly store: RegistryStore,
    private readonly admission: ThreadAdmissionService,
    private readonly acks: DeliveryAcks,
    private readonly live: LiveThreadEvents,
    private readonly messages: MessageLog,
    private readonly options: ResolvedRelayOptions,
    private readonly metrics: RelayMetrics,
    private readonly readBudget: UserReadBudget,
    private readonly log: RelayLogger,
    private readonly members: LocalThreadMembers,
    private readonly pending: PendingJoins,
  ) {}

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
        await this.store.addConnectionThread(socket.id, threadId);
        await this.confirm(socket, session, pending);
      } catch (error) {
        plan.abort();
        if (!session.isJoined(threadId)) {
          await this.store.removeConnectionThread(socket.id, threadId).catch(() => undefined);
        }
        throw error;
      }
      // From here it counts: a change or a leave now finds it among the members. The cap is
      // checked in the same turn as the count grows, so joins completing together hold it.
      try {
        this.assertRoomFor(session, threadId);
      } catch (error) {
        plan.abort();
        await this.store.removeConnectionThread(socket.id, threadId).catch(() => undefined);
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
}

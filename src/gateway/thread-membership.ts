import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { RegistryStore } from '../registry/registry-store.interface.js';
import { MESSAGE_LOG, REGISTRY_STORE, RELAY_OPTIONS } from '../thread-relay.constants.js';
import type { Namespace, Socket } from 'socket.io';
import { DeliveryAcks } from '../delivery/delivery-acks.service.js';
import { LiveThreadEvents } from '../delivery/live-thread-events.service.js';
import { type MessageLog } from '../delivery/message-log.interface.js';
import { UserReadBudget } from '../limits/user-read-budget.js';
import { RelayMetrics } from '../observability/relay-metrics.service.js';
import { ServerEvents, type JoinRequest, type ThreadLeftNotice } from '../protocol.js';
import type { AccessChange } from '../registry/thread-access-changes.js';
import { ThreadAdmissionService } from '../registry/thread-admission.service.js';
import { ThreadRegistryService } from '../registry/thread-registry.service.js';
import { threadRoom } from '../sockets/rooms.js';
import { errorText, RelayLogger } from '../thread-relay.logger.js';
import { type ResolvedRelayOptions } from '../thread-relay.options.js';
import type { ConnectionSession } from './connection-session.js';
import { LocalThreadMembers } from './local-thread-members.js';
import { PendingJoins } from './pending-joins.js';
import { ThreadJoiner, type JoinHooks } from './thread-joiner.js';

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
  private readonly joiner: ThreadJoiner;

  constructor(
    private readonly registry: ThreadRegistryService,
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
    admission: ThreadAdmissionService,
    acks: DeliveryAcks,
    private readonly live: LiveThreadEvents,
    @Inject(MESSAGE_LOG) messages: MessageLog,
    @Inject(RELAY_OPTIONS) private readonly options: ResolvedRelayOptions,
    metrics: RelayMetrics,
    readBudget: UserReadBudget,
  ) {
    this.log = RelayLogger.for('RelayGateway', options);
    this.joiner = new ThreadJoiner(
      registry,
      store,
      admission,
      acks,
      live,
      messages,
      options,
      metrics,
      readBudget,
      this.log,
      this.members,
      this.pending,
    );
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

  /** A `thread:join`: see `ThreadJoiner`. The same promise, so the ack is not delayed. */
  join(
    socket: Socket,
    session: ConnectionSession,
    input: JoinRequest,
    hooks: JoinHooks,
  ): ReturnType<ThreadJoiner['join']> {
    return this.joiner.join(socket, session, input, hooks);
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
    await this.store.removeConnectionThread(socket.id, threadId);
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

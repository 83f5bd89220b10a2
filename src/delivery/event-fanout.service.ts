import { Inject, Injectable } from '@nestjs/common';
import type { Namespace } from 'socket.io';
import { ServerEvents, type ThreadEvent } from '../protocol.js';
import { RelayLogger } from '../thread-relay.logger.js';
import { RELAY_OPTIONS, type ResolvedRelayOptions } from '../thread-relay.options.js';
import type { AccessChange } from '../registry/thread-access-changes.js';
import { ReplayGate } from './replay-gate.js';
import { threadIdOfRoom, threadRoom, userRoom } from './rooms.js';

/**
 * Server-side events between instances, carried by the socket.io adapter. What one tick
 * produced goes out as one batch (one Redis PUBLISH, one decode per instance) instead of
 * one message per event; the single-event forms are still accepted from older instances.
 */
const REMOTE_EVENT = 'relay:thread-event';
const REMOTE_EVENTS = 'relay:thread-events';
const REMOTE_DELIVERED = 'relay:delivered';
const REMOTE_DELIVERED_BATCH = 'relay:delivered-batch';
const REMOTE_INSTANCE_GONE = 'relay:instance-gone';
const REMOTE_ACCESS_CHANGE = 'relay:access-change';

/** Threads whose latest events this instance remembers (oldest forgotten first). */
const RECENT_THREADS_MAX = 10_000;
/** How many of a thread's latest events are remembered (seq and ts). */
const RECENT_PER_THREAD = 16;

type DeliveredNotice = [threadId: string, userId: string, cursor: number, epoch: string];

/** The latest events of one thread dispatched here: its head and a ring of (seq, ts). */
interface RecentEvents {
  epoch: string;
  head: number;
  /** seq at even indexes, ts at odd ones. */
  ring: Float64Array;
  next: number;
}

/** `epoch` is '' for a notice from an instance that predates epochs in cursors. */
export type DeliveredListener = (
  threadId: string,
  userId: string,
  cursor: number,
  epoch: string,
) => void;
export type InstanceGoneListener = (instanceId: string) => void;

/**
 * Fans thread events out to the connections joined to the thread, on this instance and,
 * through the socket.io adapter's server-side emit, on every other instance. Each instance
 * delivers to its own sockets through the thread's room, which is what lets a connection
 * in replay hold live events back until its replay is done.
 */
@Injectable()
export class EventFanoutService {
  private readonly log: RelayLogger;
  private nsp: Namespace | null = null;
  private crossInstance = false;
  private readonly gates = new Map<string, Set<ReplayGate>>();
  private readonly deliveredListeners = new Set<DeliveredListener>();
  private readonly instanceGoneListeners = new Set<InstanceGoneListener>();
  private readonly accessListeners = new Set<(change: AccessChange) => void>();
  private readonly recent = new Map<string, RecentEvents>();
  private outboxEvents: ThreadEvent[] = [];
  private outboxDelivered: DeliveredNotice[] = [];
  private flushScheduled = false;

  constructor(@Inject(RELAY_OPTIONS) options: ResolvedRelayOptions) {
    this.log = RelayLogger.for(EventFanoutService.name, options);
    this.crossInstance = options.redis.kind !== 'none';
  }

  get namespace(): Namespace | null {
    return this.nsp;
  }

  attach(nsp: Namespace): void {
    this.nsp = nsp;
    if (!this.crossInstance) return;
    nsp.on(REMOTE_EVENT, (event: ThreadEvent) => this.dispatchLocal(event));
    nsp.on(REMOTE_EVENTS, (events: ThreadEvent[]) => {
      for (const event of events) this.dispatchLocal(event);
    });
    nsp.on(REMOTE_DELIVERED, (threadId: string, userId: string, cursor: number) =>
      this.notifyDelivered(threadId, userId, cursor, ''),
    );
    nsp.on(REMOTE_DELIVERED_BATCH, (notices: DeliveredNotice[]) => {
      for (const [threadId, userId, cursor, epoch] of notices) {
        this.notifyDelivered(threadId, userId, cursor, typeof epoch === 'string' ? epoch : '');
      }
    });
    nsp.on(REMOTE_INSTANCE_GONE, (instanceId: string) => this.notifyInstanceGone(instanceId));
    nsp.on(REMOTE_ACCESS_CHANGE, (change: unknown) => {
      if (isAccessChange(change)) for (const listener of this.accessListeners) listener(change);
    });
  }

  detach(): void {
    this.flush();
    this.nsp = null;
  }

  publish(event: ThreadEvent): void {
    this.dispatchLocal(event);
    if (this.crossInstance && this.nsp) {
      this.outboxEvents.push(event);
      this.scheduleFlush();
    }
  }

  /** Sends to every connection of a user on every instance (events that belong to no thread). */
  publishToUser(userId: string, event: object): void {
    this.nsp?.to(userRoom(userId)).emit(ServerEvents.userEvent, event);
  }

  /** Live events of the thread are held by the gate until `closeGate`. */
  openGate(threadId: string): ReplayGate {
    const gate = new ReplayGate(threadId);
    let set = this.gates.get(threadId);
    if (!set) {
      set = new Set();
      this.gates.set(threadId, set);
    }
    set.add(gate);
    return gate;
  }

  closeGate(gate: ReplayGate): void {
    const set = this.gates.get(gate.threadId);
    if (!set) return;
    set.delete(gate);
    if (set.size === 0) this.gates.delete(gate.threadId);
  }

  /** How many gates are open; tests use it to assert nothing is left behind. */
  get openGates(): number {
    let count = 0;
    for (const set of this.gates.values()) count += set.size;
    return count;
  }

  announceDelivered(threadId: string, userId: string, cursor: number, epoch: string): void {
    this.notifyDelivered(threadId, userId, cursor, epoch);
    if (this.crossInstance && this.nsp) {
      this.outboxDelivered.push([threadId, userId, cursor, epoch]);
      this.scheduleFlush();
    }
  }

  /** `ts` of a recent event of the thread fanned out here, if it is still remembered. */
  recentTimestamp(threadId: string, seq: number): number | undefined {
    const recent = this.recent.get(threadId);
    // Seqs start at 1; unused ring slots hold 0.
    if (!recent || seq < 1) return undefined;
    for (let i = 0; i < recent.ring.length; i += 2) {
      if (recent.ring[i] === seq) return recent.ring[i + 1];
    }
    return undefined;
  }

  /**
   * Tells every instance, this one included, that `instanceId` died without a clean leave:
   * events it stored but had not fanned out yet may be missing on their connections.
   */
  announceInstanceGone(instanceId: string): void {
    this.notifyInstanceGone(instanceId);
    try {
      if (this.crossInstance) this.nsp?.serverSideEmit(REMOTE_INSTANCE_GONE, instanceId);
    } catch (error) {
      this.log.error({ msg: 'instance-gone notice failed', instanceId }, error);
    }
  }

  /** Tells the other instances that who may use a thread may have changed. */
  announceAccessChange(change: AccessChange): void {
    try {
      if (this.crossInstance) this.nsp?.serverSideEmit(REMOTE_ACCESS_CHANGE, change);
    } catch (error) {
      this.log.error({ msg: 'access-change notice failed', threadId: change.threadId }, error);
    }
  }

  /** Access changes announced by other instances. */
  onRemoteAccessChange(listener: (change: AccessChange) => void): () => void {
    this.accessListeners.add(listener);
    return () => this.accessListeners.delete(listener);
  }

  onInstanceGone(listener: InstanceGoneListener): () => void {
    this.instanceGoneListeners.add(listener);
    return () => this.instanceGoneListeners.delete(listener);
  }

  /** Threads some local connection has joined (its room exists here). */
  locallyJoinedThreads(): string[] {
    const threads: string[] = [];
    for (const room of this.nsp?.adapter.rooms.keys() ?? []) {
      const threadId = threadIdOfRoom(room);
      if (threadId !== null) threads.push(threadId);
    }
    return threads;
  }

  /** The epoch and highest seq this instance sent to the thread's local connections. */
  sentHead(threadId: string): { epoch: string; head: number } | undefined {
    const recent = this.recent.get(threadId);
    return recent ? { epoch: recent.epoch, head: recent.head } : undefined;
  }

  /** A replay sent the thread's events up to `seq` of `epoch` to a local connection. */
  noteReplayed(threadId: string, epoch: string, seq: number): void {
    const recent = this.recentOf(threadId, epoch);
    if (seq > recent.head) recent.head = seq;
  }

  /** A replay sent this event to a local connection: its ack's latency can be measured. */
  noteSent(event: ThreadEvent): void {
    this.remember(event);
  }

  /** Sends an event that never reached this instance's connections (clients drop repeats). */
  redeliver(event: ThreadEvent): void {
    this.dispatchLocal(event);
  }

  onDelivered(listener: DeliveredListener): () => void {
    this.deliveredListeners.add(listener);
    return () => this.deliveredListeners.delete(listener);
  }

  private notifyDelivered(threadId: string, userId: string, cursor: number, epoch: string): void {
    for (const listener of this.deliveredListeners) listener(threadId, userId, cursor, epoch);
  }

  private notifyInstanceGone(instanceId: string): void {
    for (const listener of this.instanceGoneListeners) listener(instanceId);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // After the callback and the promise jobs now running: the appends one Redis read
    // answered all join the batch, without waiting for the rest of the I/O phase.
    process.nextTick(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const events = this.outboxEvents;
    const delivered = this.outboxDelivered;
    if (events.length === 0 && delivered.length === 0) return;
    this.outboxEvents = [];
    this.outboxDelivered = [];
    const nsp = this.nsp;
    if (!nsp) return;
    try {
      if (events.length > 0) nsp.serverSideEmit(REMOTE_EVENTS, events);
      if (delivered.length > 0) nsp.serverSideEmit(REMOTE_DELIVERED_BATCH, delivered);
    } catch (error) {
      this.log.error({ msg: 'cross-instance fan-out failed', events: events.length }, error);
    }
  }

  private dispatchLocal(event: ThreadEvent): void {
    const gates = this.gates.get(event.threadId);
    if (gates) for (const gate of gates) gate.push(event);
    if (!this.nsp) return;
    const room = threadRoom(event.threadId);
    const joinedHere = this.nsp.adapter.rooms.has(room);
    if (gates || joinedHere) this.remember(event);
    // socket.io encodes the packet before it looks at the room: skip threads nobody here joined.
    if (!joinedHere) return;
    try {
      this.nsp.local.to(room).emit(ServerEvents.event, event);
    } catch (error) {
      this.log.error({ msg: 'fan-out failed', threadId: event.threadId, seq: event.seq }, error);
    }
  }

  /** Notes the event for acks of local connections (threads with none here are skipped). */
  private remember(event: ThreadEvent): void {
    const recent = this.recentOf(event.threadId, event.epoch);
    if (event.seq > recent.head) recent.head = event.seq;
    recent.ring[recent.next] = event.seq;
    recent.ring[recent.next + 1] = event.ts;
    recent.next = (recent.next + 2) % recent.ring.length;
  }

  /** The thread's entry for `epoch`: a new epoch starts over; the oldest thread is forgotten. */
  private recentOf(threadId: string, epoch: string): RecentEvents {
    const recent = this.recent.get(threadId);
    if (recent?.epoch === epoch) return recent;
    if (!recent && this.recent.size >= RECENT_THREADS_MAX) {
      const oldest = this.recent.keys().next();
      if (!oldest.done) this.recent.delete(oldest.value);
    }
    const fresh: RecentEvents = {
      epoch,
      head: 0,
      ring: new Float64Array(RECENT_PER_THREAD * 2),
      next: 0,
    };
    this.recent.set(threadId, fresh);
    return fresh;
  }
}

function isAccessChange(value: unknown): value is AccessChange {
  if (typeof value !== 'object' || value === null) return false;
  const { threadId, reason } = value as Record<string, unknown>;
  return (
    typeof threadId === 'string' &&
    (reason === 'unregistered' ||
      reason === 'expired' ||
      reason === 'registered' ||
      reason === 'revalidate')
  );
}

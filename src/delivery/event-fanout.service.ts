import { Inject, Injectable } from '@nestjs/common';
import type { Namespace } from 'socket.io';
import { ServerEvents, type ThreadEvent } from '../protocol.js';
import { RelayLogger } from '../thread-relay.logger.js';
import { RELAY_OPTIONS, type ResolvedRelayOptions } from '../thread-relay.options.js';
import { ReplayGate } from './replay-gate.js';
import { threadRoom, userRoom } from './rooms.js';

/** Server-side events between instances, carried by the socket.io adapter. */
const REMOTE_EVENT = 'relay:thread-event';
const REMOTE_DELIVERED = 'relay:delivered';

export type DeliveredListener = (threadId: string, userId: string, cursor: number) => void;

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
    nsp.on(REMOTE_DELIVERED, (threadId: string, userId: string, cursor: number) =>
      this.notifyDelivered(threadId, userId, cursor),
    );
  }

  detach(): void {
    this.nsp = null;
  }

  publish(event: ThreadEvent): void {
    this.dispatchLocal(event);
    if (this.crossInstance && this.nsp) this.nsp.serverSideEmit(REMOTE_EVENT, event);
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

  announceDelivered(threadId: string, userId: string, cursor: number): void {
    this.notifyDelivered(threadId, userId, cursor);
    if (this.crossInstance && this.nsp) {
      this.nsp.serverSideEmit(REMOTE_DELIVERED, threadId, userId, cursor);
    }
  }

  onDelivered(listener: DeliveredListener): () => void {
    this.deliveredListeners.add(listener);
    return () => this.deliveredListeners.delete(listener);
  }

  private notifyDelivered(threadId: string, userId: string, cursor: number): void {
    for (const listener of this.deliveredListeners) listener(threadId, userId, cursor);
  }

  private dispatchLocal(event: ThreadEvent): void {
    const gates = this.gates.get(event.threadId);
    if (gates) for (const gate of gates) gate.push(event);
    if (!this.nsp) return;
    try {
      this.nsp.local.to(threadRoom(event.threadId)).emit(ServerEvents.event, event);
    } catch (error) {
      this.log.error({ msg: 'fan-out failed', threadId: event.threadId, seq: event.seq }, error);
    }
  }
}

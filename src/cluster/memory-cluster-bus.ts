import type { ThreadEvent } from '../protocol.js';
import { BusListeners } from './bus-listeners.js';
import { ChannelInterest } from './channel-interest.js';
import { LiveEvent } from './live-event.js';
import type {
  AccessChange,
  ClusterBus,
  ClusterBusListeners,
  DeliveredNotice,
  UserEvent,
} from './cluster-bus.js';

const none = () => Promise.resolve();

/** The bus of one process (no Redis): notices go straight to this process's watchers. */
export class MemoryClusterBus implements ClusterBus {
  private readonly listeners: BusListeners;
  private readonly threads = new ChannelInterest(none, none);
  private readonly acks = new ChannelInterest(none, none);
  private readonly users = new ChannelInterest(none, none);

  constructor(onError: (kind: keyof ClusterBusListeners, error: unknown) => void) {
    this.listeners = new BusListeners(onError);
  }

  listen(listeners: Partial<ClusterBusListeners>): () => void {
    return this.listeners.add(listeners);
  }

  watchThread(threadId: string): Promise<void> {
    return this.threads.watch(threadId);
  }

  unwatchThread(threadId: string): void {
    this.threads.unwatch(threadId);
  }

  watchAcks(threadId: string): Promise<void> {
    return this.acks.watch(threadId);
  }

  unwatchAcks(threadId: string): void {
    this.acks.unwatch(threadId);
  }

  watchUser(userId: string): Promise<void> {
    return this.users.watch(userId);
  }

  unwatchUser(userId: string): void {
    this.users.unwatch(userId);
  }

  announceAppended(event: ThreadEvent): void {
    if (this.threads.watched.has(event.threadId))
      this.listeners.emit('threadEvent', LiveEvent.of(event));
  }

  announceDelivered(notice: DeliveredNotice): void {
    if (this.acks.watched.has(notice.threadId)) this.listeners.emit('delivered', notice);
  }

  publishAccessChange(change: AccessChange): Promise<void> {
    if (this.threads.watched.has(change.threadId)) this.listeners.emit('accessChange', change);
    return Promise.resolve();
  }

  publishUserEvent(event: UserEvent): Promise<void> {
    if (this.users.watched.has(event.userId)) this.listeners.emit('userEvent', event);
    return Promise.resolve();
  }

  get watchedChannels(): number {
    return this.threads.watched.size + this.acks.watched.size + this.users.watched.size;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

import type { Redis } from 'ioredis';
import type { ThreadEvent } from '../protocol.js';
import { BusListeners } from './bus-listeners.js';
import { ChannelInterest } from './channel-interest.js';
import type {
  AccessChange,
  ClusterBus,
  ClusterBusListeners,
  DeliveredNotice,
  UserEvent,
} from './cluster-bus.js';
import { ClusterChannels } from './cluster-channels.js';
import {
  decodeDelivered,
  decodeThreadMessage,
  decodeUserEvent,
  encodeAccessChange,
  encodeUserEvent,
} from './live-messages.js';

/**
 * The bus over Redis pub/sub: one subscriber connection per process, subscribed to the
 * channels of what the process watches. Events and cursors are published by the scripts
 * that store them; access changes and user events by `publish*` on the command connection.
 *
 * Pub/sub is at-most-once: what is published while the subscriber is away is lost. ioredis
 * subscribes again on reconnect, and `resync` tells the listeners, who re-read the log
 * (events) and check access again (changes), so a lost message never becomes a lost event.
 */
export class RedisClusterBus implements ClusterBus {
  private readonly listeners: BusListeners;
  private readonly interest: ChannelInterest;
  private lostSubscriber = false;

  constructor(
    private readonly publisher: Redis,
    readonly subscriber: Redis,
    private readonly channels: ClusterChannels,
    private readonly onError: (kind: keyof ClusterBusListeners | 'message', error: unknown) => void,
  ) {
    this.listeners = new BusListeners(onError);
    this.interest = new ChannelInterest(
      async (channel) => {
        await subscriber.subscribe(channel);
      },
      async (channel) => {
        await subscriber.unsubscribe(channel);
      },
    );
    subscriber.on('message', this.onMessage);
    subscriber.on('close', this.onClose);
    subscriber.on('ready', this.onReady);
  }

  listen(listeners: Partial<ClusterBusListeners>): () => void {
    return this.listeners.add(listeners);
  }

  watchThread(threadId: string): Promise<void> {
    return this.interest.watch(this.channels.threadLive(threadId));
  }

  unwatchThread(threadId: string): void {
    this.interest.unwatch(this.channels.threadLive(threadId));
  }

  watchAcks(threadId: string): Promise<void> {
    return this.interest.watch(this.channels.threadAcks(threadId));
  }

  unwatchAcks(threadId: string): void {
    this.interest.unwatch(this.channels.threadAcks(threadId));
  }

  watchUser(userId: string): Promise<void> {
    return this.interest.watch(this.channels.userLive(userId));
  }

  unwatchUser(userId: string): void {
    this.interest.unwatch(this.channels.userLive(userId));
  }

  /** Published by the append script. */
  announceAppended(_event: ThreadEvent): void {}

  /** Published by the cursor script. */
  announceDelivered(_notice: DeliveredNotice): void {}

  async publishAccessChange(change: AccessChange): Promise<void> {
    await this.publisher.publish(
      this.channels.threadLive(change.threadId),
      encodeAccessChange(change),
    );
  }

  async publishUserEvent(event: UserEvent): Promise<void> {
    await this.publisher.publish(this.channels.userLive(event.userId), encodeUserEvent(event));
  }

  get watchedChannels(): number {
    return this.interest.size;
  }

  close(): Promise<void> {
    this.subscriber.off('message', this.onMessage);
    this.subscriber.off('close', this.onClose);
    this.subscriber.off('ready', this.onReady);
    return Promise.resolve();
  }

  private readonly onMessage = (channel: string, message: string): void => {
    const target = this.channels.parse(channel);
    if (!target || !this.interest.has(channel)) return;
    try {
      if (target.kind === 'thread') {
        const decoded = decodeThreadMessage(target.id, message);
        if (decoded.kind === 'event') this.listeners.emit('threadEvent', decoded.event);
        else this.listeners.emit('accessChange', decoded.change);
      } else if (target.kind === 'acks') {
        this.listeners.emit('delivered', decodeDelivered(target.id, message));
      } else {
        this.listeners.emit('userEvent', decodeUserEvent(target.id, message));
      }
    } catch (error) {
      this.onError('message', error);
    }
  };

  private readonly onClose = (): void => {
    this.lostSubscriber = true;
  };

  /**
   * ioredis subscribes again on its own when it reconnects, but does not say when Redis has
   * taken the subscriptions; the log must be re-read only after that, or an event stored in
   * between would be neither heard nor read. Subscribing again is harmless and answers once
   * they are in place.
   */
  private readonly onReady = (): void => {
    if (!this.lostSubscriber) return;
    this.lostSubscriber = false;
    const channels = this.interest.channels();
    const subscribed = channels.length > 0 ? this.subscriber.subscribe(...channels) : null;
    Promise.resolve(subscribed).then(
      () => this.listeners.emit('resync'),
      (error: unknown) => {
        // The connection dropped again: its next ready tries once more.
        this.lostSubscriber = true;
        this.onError('resync', error);
      },
    );
  };
}

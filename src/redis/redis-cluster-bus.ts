import type { Cluster, Redis } from 'ioredis';
import { isClusterClient, type RedisClient } from './redis-client.js';
import type { ThreadEvent } from '../protocol.js';
import { BusListeners } from '../cluster/bus-listeners.js';
import { ChannelInterest } from '../cluster/channel-interest.js';
import type {
  AccessChange,
  ClusterBus,
  ClusterBusListeners,
  DeliveredNotice,
  UserEvent,
} from '../cluster/cluster-bus.js';
import type { RedisKeys } from './redis-keys.js';
import {
  decodeDelivered,
  decodeThreadMessage,
  decodeUserEvent,
  encodeAccessChange,
  encodeUserEvent,
} from '../cluster/live-messages.js';

/** Longest an SSUBSCRIBE may go unanswered before the watch that needs it fails. */
const SUBSCRIBE_TIMEOUT_MS = 5_000;

/**
 * The bus over Redis pub/sub: one subscriber connection per process (per master on Redis
 * Cluster, where channels are sharded: SSUBSCRIBE/SPUBLISH, each channel on its thread's
 * or user's slot), subscribed to the channels of what the process watches. Events and
 * cursors are published by the scripts that store them; access changes and user events by
 * `publish*` on the command connection.
 *
 * Pub/sub is at-most-once: what is published while the subscriber is away is lost. ioredis
 * subscribes again on reconnect (on a cluster, on the node that owns the slot after a
 * failover), and `resync` tells the listeners, who re-read the log (events) and check
 * access again (changes), so a lost message never becomes a lost event.
 */
export class RedisClusterBus implements ClusterBus {
  private readonly listeners: BusListeners;
  private readonly interest: ChannelInterest;
  private lostSubscriber = false;
  private readonly sharded: boolean;

  constructor(
    private readonly publisher: RedisClient,
    readonly subscriber: RedisClient,
    private readonly channels: RedisKeys,
    private readonly onError: (kind: keyof ClusterBusListeners | 'message', error: unknown) => void,
  ) {
    this.listeners = new BusListeners(onError);
    this.sharded = isClusterClient(subscriber);
    this.interest = new ChannelInterest(
      (channel) => this.subscribe(channel),
      async (channel) => {
        if (isClusterClient(subscriber)) await subscriber.sunsubscribe(channel);
        else await subscriber.unsubscribe(channel);
      },
    );
    if (isClusterClient(subscriber)) {
      subscriber.on('smessage', this.onMessage);
      subscriber.on('subscribersReady', this.onShardsReady);
      subscriber.on('nodeError', this.onNodeError);
    } else {
      subscriber.on('message', this.onMessage);
      subscriber.on('close', this.onClose);
      subscriber.on('ready', this.onReady);
    }
  }

  listen(listeners: Partial<ClusterBusListeners>): () => void {
    return this.listeners.add(listeners);
  }

  watchThread(threadId: string): Promise<void> {
    return this.interest.watch(this.channels.thread(threadId, 'live'));
  }

  unwatchThread(threadId: string): void {
    this.interest.unwatch(this.channels.thread(threadId, 'live'));
  }

  watchAcks(threadId: string): Promise<void> {
    return this.interest.watch(this.channels.thread(threadId, 'acks'));
  }

  unwatchAcks(threadId: string): void {
    this.interest.unwatch(this.channels.thread(threadId, 'acks'));
  }

  watchUser(userId: string): Promise<void> {
    return this.interest.watch(this.channels.user(userId, 'live'));
  }

  unwatchUser(userId: string): void {
    this.interest.unwatch(this.channels.user(userId, 'live'));
  }

  /** Published by the append script. */
  announceAppended(_event: ThreadEvent): void {}

  /** Published by the cursor script. */
  announceDelivered(_notice: DeliveredNotice): void {}

  async publishAccessChange(change: AccessChange): Promise<void> {
    await this.publish(this.channels.thread(change.threadId, 'live'), encodeAccessChange(change));
  }

  async publishUserEvent(event: UserEvent): Promise<void> {
    await this.publish(this.channels.user(event.userId, 'live'), encodeUserEvent(event));
  }

  get watchedChannels(): number {
    return this.interest.watched.size;
  }

  close(): Promise<void> {
    for (const event of ['message', 'smessage']) this.subscriber.off(event, this.onMessage);
    this.subscriber.off('close', this.onClose);
    this.subscriber.off('ready', this.onReady);
    this.subscriber.off('subscribersReady', this.onShardsReady);
    this.subscriber.off('nodeError', this.onNodeError);
    return Promise.resolve();
  }

  private async subscribe(channel: string): Promise<void> {
    if (!isClusterClient(this.subscriber)) {
      await this.subscriber.subscribe(channel);
      return;
    }
    // ioredis never settles an SSUBSCRIBE that a node answers with MOVED (a slot that just
    // migrated): without a bound, the watch, and everyone waiting on it, would hang for good.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(`SSUBSCRIBE got no answer within ${SUBSCRIBE_TIMEOUT_MS} ms (slot moved?)`),
          ),
        SUBSCRIBE_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([this.subscriber.ssubscribe(channel), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async publish(channel: string, message: string): Promise<void> {
    if (this.sharded) await (this.publisher as Cluster).spublish(channel, message);
    else await (this.publisher as Redis).publish(channel, message);
  }

  private readonly onMessage = (channel: string, message: string): void => {
    const target = this.channels.parseChannel(channel);
    if (!target || !this.interest.watched.has(channel)) return;
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
    const channels = [...this.interest.watched.keys()];
    const subscribed =
      channels.length > 0 ? (this.subscriber as Redis).subscribe(...channels) : null;
    Promise.resolve(subscribed).then(
      () => this.listeners.emit('resync'),
      (error: unknown) => {
        // The connection dropped again: its next ready tries once more.
        this.lostSubscriber = true;
        this.onError('resync', error);
      },
    );
  };

  /**
   * ioredis moved its per-master subscriber connections (failover, slot migration, a lost
   * node) and subscribed them again, without waiting for the replies. Each channel is
   * unsubscribed and subscribed again here: the reply says it is in place, and ioredis's
   * own list keeps one entry per channel (a second SSUBSCRIBE alone would add a copy per
   * topology change). Only then are the logs re-read, so an event published in between,
   * when neither heard nor read yet, is read.
   */
  private readonly onShardsReady = (): void => {
    const subscriber = this.subscriber as Cluster;
    const renew = async (channel: string): Promise<void> => {
      await subscriber.sunsubscribe(channel);
      // Unwatched meanwhile: leave it unsubscribed.
      if (this.interest.watched.has(channel)) await this.subscribe(channel);
    };
    Promise.all([...this.interest.watched.keys()].map(renew)).then(
      () => this.listeners.emit('resync'),
      // A node is still away: ioredis resets its subscribers again, and this runs again.
      (error: unknown) => this.onError('resync', error),
    );
  };

  /**
   * A master that loses a slot (failover, migration) unsubscribes its shard channels with
   * a push that ioredis does not expect and reports as an error of that node. The slot map
   * is then out of date: refreshing it now moves the subscriptions at once instead of at
   * the next periodic refresh.
   */
  private readonly onNodeError = (error: unknown): void => {
    if (error instanceof Error && error.message.includes('sunsubscribe')) {
      (this.subscriber as Cluster).refreshSlotsCache();
    }
  };
}

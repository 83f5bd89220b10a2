import type { ThreadEvent } from '../protocol.js';
import type { LiveEvent } from './live-event.js';

/** Why who may use a thread may have changed. */
export type AccessChangeReason = 'unregistered' | 'expired' | 'registered' | 'revalidate';

export interface AccessChange {
  threadId: string;
  reason: AccessChangeReason;
}

/** A user's delivered cursor of a thread was raised (or confirmed) to `cursor` of `epoch`. */
export interface DeliveredNotice {
  threadId: string;
  userId: string;
  cursor: number;
  epoch: string;
}

/** An event for every connection of a user, outside any thread (live only). */
export interface UserEvent {
  id: string;
  userId: string;
  type: string;
  payload: unknown;
  ts: number;
}

export interface ClusterBusListeners {
  /** A live event of a thread this process watches, in the order the log stored them. */
  threadEvent(event: LiveEvent): void;
  /** Who may use a watched thread may have changed. */
  accessChange(change: AccessChange): void;
  /** A cursor of a thread whose acks this process watches. */
  delivered(notice: DeliveredNotice): void;
  /** An event for a user this process watches. */
  userEvent(event: UserEvent): void;
  /**
   * The bus was away and is back: notices sent meanwhile were missed. Live events are
   * re-read from the log by whoever tracks them; access is checked again.
   */
  resync(): void;
}

/**
 * What instances and producers say to each other, below every other layer. Interest is
 * explicit: a process hears a thread's events and access changes only while it watches
 * the thread, its cursors only while it watches its acks, a user's events only while it
 * watches the user, so what an instance receives grows with its own connections and
 * waiters, not with the cluster's traffic.
 *
 * Events and cursors are announced by whatever stored them: in Redis the append and the
 * cursor scripts publish in the same atomic step as the write (so nothing stored is
 * stranded if its writer dies), and `announceAppended`/`announceDelivered` are no-ops; in
 * memory they hand the notice to this process's listeners.
 *
 * `watch*` resolve once the subscription is in place: whatever is published after that
 * is heard. Each `watch*` must be matched by one `unwatch*` of the same key.
 */
export interface ClusterBus {
  listen(listeners: Partial<ClusterBusListeners>): () => void;
  watchThread(threadId: string): Promise<void>;
  unwatchThread(threadId: string): void;
  watchAcks(threadId: string): Promise<void>;
  unwatchAcks(threadId: string): void;
  watchUser(userId: string): Promise<void>;
  unwatchUser(userId: string): void;
  announceAppended(event: ThreadEvent): void;
  announceDelivered(notice: DeliveredNotice): void;
  publishAccessChange(change: AccessChange): Promise<void>;
  publishUserEvent(event: UserEvent): Promise<void>;
  /** Subscriptions in place now; tests and metrics read it. */
  readonly watchedChannels: number;
  close(): Promise<void>;
}

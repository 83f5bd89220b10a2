import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { SetsByKey } from '../sets-by-key.js';
import type { RegistryStore } from '../registry/registry-store.interface.js';
import {
  CLUSTER_BUS,
  MESSAGE_LOG,
  REGISTRY_STORE,
  RELAY_OPTIONS,
} from '../thread-relay.constants.js';
import { type ClusterBus, type DeliveredNotice } from '../cluster/cluster-bus.js';
import { BadRequestError } from '../errors/bad-request.error.js';
import { DeliveryTimeoutError } from '../errors/delivery-timeout.error.js';
import { toError } from '../errors/to-error.js';
import { RelayMetrics } from '../observability/relay-metrics.service.js';
import { errorText, RelayLogger } from '../thread-relay.logger.js';
import { type ResolvedRelayOptions } from '../thread-relay.options.js';
import { LiveThreadEvents } from './live-thread-events.service.js';
import { type MessageLog } from './message-log.interface.js';

/** An ack that named a log epoch the thread no longer has: nothing was recorded. */
export interface StaleAck {
  ignored: 'stale_epoch';
}

/**
 * Delivery confirmation: clients' cumulative acks become the delivered cursor per user
 * and thread, and producers wait on it (`waitForDelivery`). A waiter listens to the
 * thread's cursor notices only while it waits, so only instances and producers with
 * waiters hear them.
 */
@Injectable()
export class DeliveryAcks implements OnModuleDestroy {
  private readonly log: RelayLogger;
  private readonly waiters = new SetsByKey<string, (notice: DeliveredNotice) => void>();
  private readonly stopListening: () => void;

  constructor(
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
    @Inject(MESSAGE_LOG) private readonly messages: MessageLog,
    @Inject(CLUSTER_BUS) private readonly bus: ClusterBus,
    private readonly live: LiveThreadEvents,
    private readonly metrics: RelayMetrics,
    @Inject(RELAY_OPTIONS) options: ResolvedRelayOptions,
  ) {
    this.log = RelayLogger.for(DeliveryAcks.name, options);
    this.stopListening = bus.listen({
      delivered: (notice) => {
        for (const waiter of this.waiters.get(notice.threadId) ?? []) waiter(notice);
      },
    });
  }

  onModuleDestroy(): void {
    this.stopListening();
  }

  /**
   * A client's cumulative ack of `seq` on a thread it is joined to. The cursor counts in
   * the log's current epoch: an ack up to a seq this instance sent in that epoch needs no
   * look at the log; anything else is checked against it. An ack naming an older epoch
   * was sent before the client learned of the new log (its reset is on the way).
   */
  async acknowledge(
    threadId: string,
    userId: string,
    seq: number,
    epoch: string | undefined,
    connectionId: string,
  ): Promise<{ cursor: number } | StaleAck> {
    const sent = this.live.sentHead(threadId);
    let current: string;
    if (sent && seq <= sent.head && (epoch === undefined || epoch === sent.epoch)) {
      current = sent.epoch;
    } else {
      const log = await this.messages.state(threadId);
      if (epoch !== undefined && epoch !== log.epoch) return { ignored: 'stale_epoch' };
      if (seq > log.headSeq) {
        throw new BadRequestError(
          `thread:ack: seq ${seq} is beyond the thread's head ${log.headSeq}`,
        );
      }
      current = log.epoch;
    }
    const cursor = await this.raise(threadId, userId, seq, current);
    this.metrics.acks.inc();
    this.observeLatency(threadId, seq);
    this.log.debug({ msg: 'acked', threadId, seq, cursor, userId, connectionId });
    return { cursor };
  }

  /**
   * A join resuming from `seq` in the current epoch shows the client holds everything up to
   * it, so the cursor is raised that far: acks are sent without an answer, and one lost
   * with its connection is made up for here. A failure is logged, not thrown: the cursor
   * only lags, and the join itself should not fail for it.
   */
  async acknowledgeResume(
    threadId: string,
    userId: string,
    seq: number,
    epoch: string,
    connectionId: string,
  ): Promise<void> {
    try {
      const cursor = await this.raise(threadId, userId, seq, epoch);
      this.log.debug({ msg: 'resumed', threadId, seq, cursor, userId, connectionId });
    } catch (error) {
      this.log.warn({
        msg: 'cursor not raised on resume',
        threadId,
        seq,
        userId,
        connectionId,
        reason: errorText(error),
      });
    }
  }

  /**
   * Resolves with the delivered cursor once `userId` (by default the thread's owner) has
   * acknowledged `seq` of the thread's current log; rejects with `DeliveryTimeoutError`
   * after `timeoutMs`. The stored cursors are authoritative: they are read after the
   * notices are listened to (so an ack in between is not missed) and again before giving
   * up (so a notice lost with its connection does not make a delivered seq time out).
   * `threadId` is resolved and checked already (`DeliveryService.waitForDelivery`).
   */
  async waitForDelivery(
    threadId: string,
    seq: number,
    timeoutMs: number,
    userId?: string,
  ): Promise<number> {
    if (!Number.isInteger(seq) || seq < 1)
      throw new BadRequestError(`seq must be a positive integer, got ${seq}`);
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
      throw new BadRequestError(`timeoutMs must be a non-negative number, got ${timeoutMs}`);
    }
    const target = userId ?? (await this.store.getThread(threadId))?.ownerId;
    // Cursors count in one epoch: one left from a log that expired says nothing about this one.
    const { epoch } = await this.messages.state(threadId);
    let best = 0;
    let resolveDone: (cursor: number) => void = () => undefined;
    const done = new Promise<number>((resolve) => (resolveDone = resolve));
    const consider = (uid: string, cursor: number) => {
      if (target !== undefined && uid !== target) return;
      best = Math.max(best, cursor);
      if (cursor >= seq) resolveDone(cursor);
    };
    const waiter = (notice: DeliveredNotice) => {
      if (notice.epoch === epoch) consider(notice.userId, notice.cursor);
    };
    this.waiters.add(threadId, waiter);
    let timer: NodeJS.Timeout | undefined;
    try {
      await this.bus.watchAcks(threadId);
      const readStore = async () => {
        const cursors = await this.store.deliveredCursors(threadId, epoch);
        for (const [uid, cursor] of Object.entries(cursors)) consider(uid, cursor);
      };
      await readStore();
      const expired = new Promise<'expired'>((resolve) => {
        timer = setTimeout(() => resolve('expired'), timeoutMs);
      });
      const outcome = await Promise.race([done, expired]);
      if (outcome !== 'expired') return outcome;
      await readStore();
      const late = await Promise.race([done, Promise.resolve('expired' as const)]);
      if (late !== 'expired') return late;
      throw new DeliveryTimeoutError(threadId, seq, timeoutMs, best);
    } catch (error) {
      throw toError(error);
    } finally {
      clearTimeout(timer);
      this.waiters.delete(threadId, waiter);
      this.bus.unwatchAcks(threadId);
    }
  }

  private async raise(threadId: string, userId: string, seq: number, epoch: string) {
    const cursor = await this.store.recordDelivered(threadId, userId, seq, epoch);
    this.bus.announceDelivered({ threadId, userId, cursor, epoch });
    return cursor;
  }

  /**
   * Send-to-ack latency of the acked event, from its `ts`, when this instance still
   * remembers it (the recent events of threads hosted here). An older one is not looked up
   * in the log: that would let acks of old seqs read the log at the client's pace.
   */
  private observeLatency(threadId: string, seq: number): void {
    const ts = this.live.recentTimestamp(threadId, seq);
    if (ts === undefined) return;
    this.metrics.deliverySeconds.observe(Math.max(0, Date.now() - ts) / 1000);
  }
}

import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DeliveryTimeoutError } from '../errors/delivery-timeout.error.js';
import { BadRequestError } from '../errors/bad-request.error.js';
import { RelayUnavailableError } from '../errors/relay-unavailable.error.js';
import type { HistoryPage } from '../protocol.js';
import { RelayMetrics } from '../observability/relay-metrics.service.js';
import { assertValidId } from '../registry/thread-id.js';
import { ThreadRegistryService, type Resolution } from '../registry/thread-registry.service.js';
import { errorText, RelayLogger } from '../thread-relay.logger.js';
import { RELAY_OPTIONS, type ResolvedRelayOptions } from '../thread-relay.options.js';
import { AvailabilityDeadlines } from './availability.js';
import type { DeliveryReceipt, SendOptions, UserDeliveryReceipt } from './delivery.types.js';
import { assertEventType, normalisePayload } from './event-payload.js';
import { EventFanoutService } from './event-fanout.service.js';
import { MESSAGE_LOG, type AppendResult, type MessageLog } from './message-log.interface.js';
import { toError } from '../errors/to-error.js';

/** Largest page `history()` returns; callers page with `afterSeq`. */
export const MAX_HISTORY_PAGE = 1000;

/**
 * Sends events to threads: resolve the id, append to the thread's log (the event is
 * durable before anyone sees it), then fan out to every joined connection on every
 * instance. A thread with nobody online is fine: the event waits in the log.
 */
@Injectable()
export class DeliveryService {
  private readonly log: RelayLogger;
  private readonly deadlines: AvailabilityDeadlines;

  constructor(
    private readonly registry: ThreadRegistryService,
    @Inject(MESSAGE_LOG) private readonly messages: MessageLog,
    private readonly fanout: EventFanoutService,
    @Inject(RELAY_OPTIONS) private readonly options: ResolvedRelayOptions,
    private readonly metrics: RelayMetrics,
  ) {
    this.log = RelayLogger.for(DeliveryService.name, options);
    this.deadlines = new AvailabilityDeadlines(options.delivery.unavailableTimeoutMs);
  }

  /**
   * Resolves `threadOrRunId` (a thread id, a registered run id, or a run-form id of a
   * registered thread), appends the event to the thread's log, then fans it out.
   */
  async sendToThread(
    threadOrRunId: string,
    type: string,
    payload: unknown,
    sendOptions: SendOptions = {},
  ): Promise<DeliveryReceipt> {
    return this.send(threadOrRunId, type, payload, sendOptions, async () => {
      const cached =
        typeof threadOrRunId === 'string'
          ? this.registry.cachedResolution(threadOrRunId)
          : undefined;
      return (
        cached ??
        (await this.deadlines.within(this.registry.resolveDetailed(threadOrRunId), 'resolve'))
      );
    });
  }

  /**
   * Appends to a thread the caller has already resolved and checked access to (a user's
   * message): the event goes to exactly `target.threadId`, with no second lookup between
   * the decision and the write.
   */
  deliver(
    target: Resolution,
    type: string,
    payload: unknown,
    sendOptions: SendOptions = {},
  ): Promise<DeliveryReceipt> {
    return this.send(target.threadId, type, payload, sendOptions, () => Promise.resolve(target));
  }

  private async send(
    id: string,
    type: string,
    payload: unknown,
    sendOptions: SendOptions,
    resolve: () => Promise<Resolution>,
  ): Promise<DeliveryReceipt> {
    const eventType = assertEventType(type);
    const body = normalisePayload(payload, this.options.delivery.maxEventBytes);
    const idempotencyKey =
      sendOptions.idempotencyKey === undefined
        ? undefined
        : assertValidId(sendOptions.idempotencyKey, 'idempotencyKey');
    const timeoutMs = this.options.delivery.unavailableTimeoutMs;
    try {
      const { threadId, runId } = await resolve();
      const stopAppendTimer = this.metrics.appendSeconds.startTimer();
      const appending = this.messages.append(
        { id: randomUUID(), threadId, type: eventType, payload: body, runId, ts: Date.now() },
        {
          notAfter: Date.now() + timeoutMs,
          ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
        },
      );
      const { event, appended, countedMembers } = await this.deadlines
        .within(appending, 'append')
        .catch((error: unknown) => {
          if (error instanceof RelayUnavailableError) this.fanOutIfStoredLate(appending);
          throw error;
        });
      stopAppendTimer();
      this.metrics.eventsAppended.inc({ result: appended ? 'appended' : 'duplicate' });
      if (appended) {
        this.fanout.publish(event);
        this.metrics.eventsFannedOut.inc();
        // An auto-registered thread that gets events stays registered.
        this.registry.touchThread(threadId);
      }
      // The Redis log counts the thread's joined connections in the append itself.
      const onlineConnections =
        countedMembers ??
        (await this.deadlines
          .within(this.registry.countConnectionsOfThread(threadId), 'count connections')
          .catch(() => -1));
      this.log.debug({
        msg: appended ? 'routed' : 'duplicate send',
        threadId,
        runId,
        seq: event.seq,
        type: eventType,
        onlineConnections,
      });
      return {
        messageId: event.id,
        threadId,
        seq: event.seq,
        epoch: event.epoch,
        onlineConnections,
        duplicate: !appended,
      };
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'INTERNAL';
      this.metrics.errors.inc({ source: 'send', code });
      this.log.warn({
        msg: 'send failed',
        id: typeof id === 'string' ? id.slice(0, 200) : typeof id,
        type: eventType,
        code,
        reason: error instanceof Error ? error.message : String(error),
      });
      throw error;
    }
  }

  /** Events that belong to no thread: live only, to every connection of the user. */
  sendToUser(userId: string, type: string, payload: unknown): UserDeliveryReceipt {
    const uid = assertValidId(userId, 'userId');
    const eventType = assertEventType(type);
    const body = normalisePayload(payload, this.options.delivery.maxEventBytes);
    const messageId = randomUUID();
    this.fanout.publishToUser(uid, {
      id: messageId,
      userId: uid,
      type: eventType,
      payload: body,
      ts: Date.now(),
    });
    this.log.debug({ msg: 'routed to user', userId: uid, type: eventType });
    return { messageId, userId: uid };
  }

  /** A page of the thread's log after `afterSeq`: at most `limit` events and, if given, `maxBytes` of them. */
  async history(
    threadId: string,
    afterSeq = 0,
    limit = 100,
    maxBytes?: number,
  ): Promise<HistoryPage> {
    return (await this.readPage(threadId, afterSeq, limit, maxBytes)).page;
  }

  /** `history`, with the bytes the page took to read (what a reader's budget is charged). */
  async readPage(
    threadId: string,
    afterSeq: number,
    limit: number,
    maxBytes?: number,
  ): Promise<{ page: HistoryPage; bytes: number }> {
    const tid = assertValidId(threadId, 'threadId');
    if (!Number.isInteger(afterSeq) || afterSeq < 0) {
      throw new BadRequestError(`afterSeq must be a non-negative integer, got ${afterSeq}`);
    }
    if (!Number.isInteger(limit) || limit < 1) {
      throw new BadRequestError(`limit must be a positive integer, got ${limit}`);
    }
    const slice = await this.deadlines.within(
      this.messages.read(tid, afterSeq, Math.min(limit, MAX_HISTORY_PAGE), maxBytes),
      'history',
    );
    return {
      page: { threadId: tid, epoch: slice.epoch, headSeq: slice.headSeq, messages: slice.events },
      bytes: slice.bytes ?? 0,
    };
  }

  /**
   * Resolves with the delivered cursor once the thread's owner (or `userId`) has
   * acknowledged `seq`; rejects with `DeliveryTimeoutError` after `timeoutMs`.
   */
  async waitForDelivery(
    threadOrRunId: string,
    seq: number,
    timeoutMs: number,
    userId?: string,
  ): Promise<number> {
    if (!Number.isInteger(seq) || seq < 1)
      throw new BadRequestError(`seq must be a positive integer, got ${seq}`);
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
      throw new BadRequestError(`timeoutMs must be a non-negative number, got ${timeoutMs}`);
    }
    const threadId = await this.registry.resolve(threadOrRunId);
    const target = userId ?? (await this.registry.getThread(threadId))?.ownerId;
    // Cursors count in one epoch: one left from a log that expired says nothing about this one.
    const { epoch } = await this.messages.state(threadId);
    let best = 0;
    return new Promise<number>((resolve, reject) => {
      let settled = false;
      const finish = (error: Error | null, cursor: number) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        unsubscribe();
        if (error) reject(error);
        else resolve(cursor);
      };
      const consider = (uid: string, cursor: number) => {
        if (target !== undefined && uid !== target) return;
        best = Math.max(best, cursor);
        if (cursor >= seq) finish(null, cursor);
      };
      // Subscribe before reading the store so an ack landing in between is not missed.
      const unsubscribe = this.fanout.onDelivered((tid, uid, cursor, cursorEpoch) => {
        if (tid === threadId && cursorEpoch === epoch) consider(uid, cursor);
      });
      // The stored cursor is authoritative: a timeout that fires before it has been read
      // waits for the read, so an already-delivered seq never times out under load.
      let storeRead = false;
      let expired = false;
      const timeout = () => finish(new DeliveryTimeoutError(threadId, seq, timeoutMs, best), best);
      const timer = setTimeout(() => {
        expired = true;
        if (storeRead) timeout();
      }, timeoutMs);
      this.registry.deliveredCursors(threadId, epoch).then(
        (cursors) => {
          for (const [uid, cursor] of Object.entries(cursors)) consider(uid, cursor);
          storeRead = true;
          if (expired) timeout();
        },
        (error: unknown) => finish(toError(error), best),
      );
    });
  }

  /**
   * Records a cumulative ack of `seq` of log `epoch` (the caller checked it is the current
   * one) on the thread by `userId`, and tells waiting producers.
   */
  async acknowledge(
    threadId: string,
    userId: string,
    seq: number,
    epoch: string,
    connectionId: string,
  ): Promise<number> {
    const cursor = await this.registry.recordDelivered(threadId, userId, seq, epoch);
    this.fanout.announceDelivered(threadId, userId, cursor, epoch);
    this.metrics.acks.inc();
    this.observeDeliveryLatency(threadId, seq);
    this.log.debug({ msg: 'acked', threadId, seq, cursor, userId, connectionId });
    return cursor;
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
      const cursor = await this.registry.recordDelivered(threadId, userId, seq, epoch);
      this.fanout.announceDelivered(threadId, userId, cursor, epoch);
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
   * An append already sent to the store whose answer came after the caller was told
   * `RELAY_UNAVAILABLE` is stored all the same: it is fanned out when it lands, so
   * connected clients see it now rather than when a later event reveals the gap.
   */
  private fanOutIfStoredLate(appending: Promise<AppendResult>): void {
    appending.then(
      ({ event, appended }) => {
        if (!appended) return;
        this.fanout.publish(event);
        this.metrics.eventsFannedOut.inc();
        this.log.warn({
          msg: 'stored after the send was refused; fanned out late',
          threadId: event.threadId,
          seq: event.seq,
        });
      },
      () => undefined,
    );
  }

  /**
   * Send-to-ack latency of the acked event, from its `ts`, when the fan-out still remembers
   * it (the recent events of threads joined here). An older one is not looked up in the log:
   * that would let acks of old seqs read the log at the client's pace, outside any budget.
   */
  private observeDeliveryLatency(threadId: string, seq: number): void {
    const ts = this.fanout.recentTimestamp(threadId, seq);
    if (ts === undefined) return;
    this.metrics.deliverySeconds.observe(Math.max(0, Date.now() - ts) / 1000);
  }
}

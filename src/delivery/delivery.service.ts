import { randomUUID } from 'node:crypto';
import type { RegistryStore } from '../registry/registry-store.interface.js';
import {
  CLUSTER_BUS,
  MESSAGE_LOG,
  REGISTRY_STORE,
  RELAY_OPTIONS,
} from '../thread-relay.constants.js';
import { Inject, Injectable } from '@nestjs/common';
import { BadRequestError } from '../errors/bad-request.error.js';
import { type ClusterBus } from '../cluster/cluster-bus.js';
import type { HistoryPage } from '../protocol.js';
import { RelayMetrics } from '../observability/relay-metrics.service.js';
import { assertValidId } from '../ids.js';
import { ThreadRegistryService } from '../registry/thread-registry.service.js';
import { type Resolution } from '../registry/id-resolver.js';
import { RelayLogger } from '../thread-relay.logger.js';
import { type ResolvedRelayOptions } from '../thread-relay.options.js';
import { AvailabilityDeadlines } from './availability.js';
import type { DeliveryReceipt, SendOptions, UserDeliveryReceipt } from './delivery.types.js';
import { assertEventType, normalisePayload } from './event-payload.js';
import { DeliveryAcks } from './delivery-acks.service.js';
import { type MessageLog } from './message-log.interface.js';

/** Largest page `history()` returns; callers page with `afterSeq`. */
export const MAX_HISTORY_PAGE = 1000;

/**
 * Sends events to threads: resolve the id, append to the thread's log (the event is
 * durable before anyone sees it, and announced on the cluster bus by the same step), from
 * where every instance hosting the thread sends it to its joined connections. A thread
 * with nobody online is fine: the event waits in the log. Needs no socket.io server: a
 * producer-only process uses this service as it is.
 */
@Injectable()
export class DeliveryService {
  private readonly log: RelayLogger;
  private readonly deadlines: AvailabilityDeadlines;

  constructor(
    private readonly registry: ThreadRegistryService,
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
    @Inject(MESSAGE_LOG) private readonly messages: MessageLog,
    @Inject(CLUSTER_BUS) private readonly bus: ClusterBus,
    private readonly acks: DeliveryAcks,
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
      // Announced when stored, also when that is after the deadline refused the send: the
      // event is in the log, so connected clients should see it now, not at the next event.
      const appending = this.messages
        .append(
          {
            id: randomUUID(),
            threadId,
            type: eventType,
            payload: body.value,
            payloadJson: body.json,
            runId,
            ts: Date.now(),
          },
          {
            notAfter: Date.now() + timeoutMs,
            ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
          },
        )
        .then((result) => {
          if (result.appended) {
            this.bus.announceAppended(result.event);
            this.metrics.eventsFannedOut.inc();
          }
          return result;
        });
      const { event, appended, countedMembers } = await this.deadlines.within(appending, 'append');
      stopAppendTimer();
      this.metrics.eventsAppended.inc({ result: appended ? 'appended' : 'duplicate' });
      if (appended) {
        // An auto-registered thread that gets events stays registered.
        this.registry.touchThread(threadId);
      }
      // The Redis log counts the thread's joined connections in the append itself.
      const onlineConnections =
        countedMembers ??
        (await this.deadlines
          .within(this.store.countConnectionsOfThread(threadId), 'count connections')
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

  /**
   * Events that belong to no thread: live only (at most once), to every connection of the
   * user on every instance. Resolves once the event is handed to the bus.
   */
  async sendToUser(userId: string, type: string, payload: unknown): Promise<UserDeliveryReceipt> {
    const uid = assertValidId(userId, 'userId');
    const eventType = assertEventType(type);
    const body = normalisePayload(payload, this.options.delivery.maxEventBytes);
    const messageId = randomUUID();
    await this.deadlines.within(
      this.bus.publishUserEvent({
        id: messageId,
        userId: uid,
        type: eventType,
        payload: body.value,
        ts: Date.now(),
      }),
      'send to user',
    );
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
  ): Promise<{ page: HistoryPage; bytes: number; firstSeq: number }> {
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
      firstSeq: slice.firstSeq,
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
    const threadId = await this.registry.resolve(threadOrRunId);
    return this.acks.waitForDelivery(threadId, seq, timeoutMs, userId);
  }
}

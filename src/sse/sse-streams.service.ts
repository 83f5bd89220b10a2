import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Response } from 'express';
import { type ClusterBus } from '../cluster/cluster-bus.js';
import { CLUSTER_BUS, RELAY_OPTIONS } from '../thread-relay.constants.js';
import { DeliveryService } from '../delivery/delivery.service.js';
import { LiveThreadEvents } from '../delivery/live-thread-events.service.js';
import { LimitExceededError } from '../errors/limit-exceeded.error.js';
import { RelayMetrics } from '../observability/relay-metrics.service.js';
import { UserReadBudget } from '../limits/user-read-budget.js';
import { ThreadAccessChanges } from '../registry/thread-access-changes.js';
import { ThreadRegistryService } from '../registry/thread-registry.service.js';
import { RelayLogger } from '../thread-relay.logger.js';
import { type ResolvedRelayOptions } from '../thread-relay.options.js';
import type { SseCursor } from './sse-cursor.js';
import { sseEncoder, type SseFormat } from './sse-formats.js';
import { ThreadEventStream, type LogReader, type StreamEnd } from './thread-event-stream.js';

/** Bytes per log read while catching up. */
const PAGE_BYTES = 256 * 1024;
/** setTimeout's longest delay; a later expiry is re-armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface StreamRequest {
  userId: string;
  /** An admitted thread id. */
  threadId: string;
  cursor: SseCursor | null;
  format: SseFormat;
  /** The token's expiry (ms); the stream ends then. */
  expiresAt: number | null;
}

interface OpenStream {
  userId: string;
  threadId: string;
  stream: ThreadEventStream;
}

/**
 * The SSE streams open on this instance: each follows its thread's live events here (the
 * instance watches the thread while a stream is open, as for a joined socket), ends when
 * its token expires or its user loses access to the thread, and counts against the user's
 * connection cap on this instance (`limits.connectionsPerUser`).
 */
@Injectable()
export class SseStreams implements OnModuleDestroy {
  private readonly log: RelayLogger;
  private readonly open = new Set<OpenStream>();
  private readonly perUser = new Map<string, number>();
  private readonly stopListening: Array<() => void>;
  private readonly keepAlive: NodeJS.Timeout;

  constructor(
    private readonly live: LiveThreadEvents,
    private readonly delivery: DeliveryService,
    private readonly registry: ThreadRegistryService,
    private readonly readBudget: UserReadBudget,
    private readonly metrics: RelayMetrics,
    accessChanges: ThreadAccessChanges,
    @Inject(CLUSTER_BUS) bus: ClusterBus,
    @Inject(RELAY_OPTIONS) private readonly options: ResolvedRelayOptions,
  ) {
    this.log = RelayLogger.for('SseStreams', options);
    metrics.observeSseStreams(() => this.open.size);
    this.stopListening = [
      accessChanges.on((change) => this.recheck((open) => open.threadId === change.threadId)),
      // Access changes published while the bus was away were lost: check every stream.
      bus.listen({ resync: () => this.recheck(() => true) }),
    ];
    // A thread someone follows is in use: its lease (if any) is renewed, as for a joined socket.
    const every = Math.min((options.history.autoThreadTtlSeconds * 1000) / 4, 3_600_000);
    this.keepAlive = setInterval(() => {
      for (const threadId of new Set([...this.open].map((o) => o.threadId))) {
        void this.registry.touchThread(threadId);
      }
    }, every);
    this.keepAlive.unref();
  }

  get size(): number {
    return this.open.size;
  }

  /** Checks the cap, then answers with the stream's headers and follows the thread. */
  async follow(res: Response, request: StreamRequest): Promise<void> {
    const { userId, threadId } = request;
    // The client left while it was being admitted: there is no one to stream to.
    if (res.destroyed || res.socket?.destroyed !== false) return;
    const held = this.perUser.get(userId) ?? 0;
    const cap = this.options.limits.connectionsPerUser;
    if (held >= cap) {
      throw new LimitExceededError(
        'connectionsPerUser',
        `at most ${cap} streams per user on this instance`,
      );
    }
    this.perUser.set(userId, held + 1);
    res.status(200).set({
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      ...(request.format === 'ai-sdk' ? { 'x-vercel-ai-ui-message-stream': 'v1' } : {}),
    });
    res.flushHeaders();
    const holder = `sse:${randomUUID()}`;
    let expiry: NodeJS.Timeout | undefined;
    let untap = (): void => undefined;
    const entry: OpenStream = {
      userId,
      threadId,
      stream: new ThreadEventStream(
        res,
        threadId,
        this.reader(userId, threadId, () => entry.stream.ended),
        sseEncoder(request.format, threadId),
        {
          maxBufferedBytes: this.options.backpressure.maxBufferedBytes,
          highWaterBytes: this.options.backpressure.highWaterBytes,
          stallTimeoutMs: this.options.backpressure.stallTimeoutMs,
          heartbeatMs: this.options.sse.heartbeatMs,
        },
        (reason) => {
          untap();
          clearTimeout(expiry);
          this.live.unwatch(threadId, holder);
          this.open.delete(entry);
          const left = (this.perUser.get(userId) ?? 1) - 1;
          if (left > 0) this.perUser.set(userId, left);
          else this.perUser.delete(userId);
          this.ended(entry, reason);
        },
      ),
    };
    this.open.add(entry);
    untap = this.live.tap(threadId, (event) => entry.stream.live(event));
    const { expiresAt } = request;
    if (expiresAt !== null) {
      const arm = (): void => {
        const left = expiresAt - Date.now();
        if (left <= 0) {
          entry.stream.end('token_expired', { reason: 'token_expired' });
          return;
        }
        expiry = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
        expiry.unref();
      };
      arm();
    }
    try {
      await this.live.watch(threadId, holder);
    } catch {
      entry.stream.end('failed', { reason: 'relay_unavailable' });
      return;
    }
    // An access change between the admission and now found no stream to check: check once.
    if (!(await this.mayStillRead(entry))) {
      entry.stream.end('access_revoked', { reason: 'access_revoked' });
      return;
    }
    await entry.stream.start(request.cursor);
  }

  /** Log pages charged to the user's read budget (`limits.readBytes`), waiting while it refills. */
  private reader(userId: string, threadId: string, ended: () => boolean): LogReader {
    return async (afterSeq, limit) => {
      for (;;) {
        if (ended()) return null;
        const hold = this.readBudget.tryReserve(userId, PAGE_BYTES);
        if (hold.waitMs > 0) {
          await new Promise((resolve) => setTimeout(resolve, hold.waitMs));
          continue;
        }
        let used = 0;
        try {
          const read = await this.delivery.readPage(threadId, afterSeq, limit, hold.reserved);
          used = read.bytes;
          return read;
        } finally {
          this.readBudget.settle(userId, hold.reserved, used);
        }
      }
    };
  }

  onModuleDestroy(): void {
    clearInterval(this.keepAlive);
    for (const open of [...this.open]) open.stream.end('client_closed', { reason: 'shutdown' });
    for (const stop of this.stopListening) stop();
  }

  private recheck(which: (open: OpenStream) => boolean): void {
    for (const open of this.open) {
      if (!which(open)) continue;
      void this.mayStillRead(open).then((allowed) => {
        if (!allowed) open.stream.end('access_revoked', { reason: 'access_revoked' });
      });
    }
  }

  /** As the gateway decides: the access rule on the thread as it is now; a failed check is a no. */
  private async mayStillRead({ userId, threadId }: OpenStream): Promise<boolean> {
    try {
      const thread = await this.registry.getThread(threadId);
      return await this.registry.mayAccess(userId, threadId, thread, 'read');
    } catch {
      return false;
    }
  }

  private ended(open: OpenStream, reason: StreamEnd): void {
    this.metrics.sseStreamsEnded.inc({ reason });
    if (reason === 'client_closed') return;
    this.log.info({
      msg: 'sse stream ended',
      threadId: open.threadId,
      userId: open.userId,
      reason,
    });
  }
}

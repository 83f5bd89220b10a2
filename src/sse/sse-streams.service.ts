import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Response } from 'express';
import { CLUSTER_BUS, type ClusterBus } from '../cluster/cluster-bus.js';
import { DeliveryService } from '../delivery/delivery.service.js';
import { LiveThreadEvents } from '../delivery/live-thread-events.service.js';
import { LimitExceededError } from '../errors/limit-exceeded.error.js';
import { ThreadAccessChanges } from '../registry/thread-access-changes.js';
import { ThreadRegistryService } from '../registry/thread-registry.service.js';
import { RelayLogger } from '../thread-relay.logger.js';
import { RELAY_OPTIONS, type ResolvedRelayOptions } from '../thread-relay.options.js';
import type { SseCursor } from './sse-cursor.js';
import { sseEncoder, type SseFormat } from './sse-formats.js';
import { ThreadEventStream, type StreamEnd } from './thread-event-stream.js';

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

  constructor(
    private readonly live: LiveThreadEvents,
    private readonly delivery: DeliveryService,
    private readonly registry: ThreadRegistryService,
    accessChanges: ThreadAccessChanges,
    @Inject(CLUSTER_BUS) bus: ClusterBus,
    @Inject(RELAY_OPTIONS) private readonly options: ResolvedRelayOptions,
  ) {
    this.log = RelayLogger.for('SseStreams', options);
    this.stopListening = [
      accessChanges.on((change) => this.recheck((open) => open.threadId === change.threadId)),
      // Access changes published while the bus was away were lost: check every stream.
      bus.listen({ resync: () => this.recheck(() => true) }),
    ];
  }

  get size(): number {
    return this.open.size;
  }

  /** Checks the cap, then answers with the stream's headers and follows the thread. */
  async follow(res: Response, request: StreamRequest): Promise<void> {
    const { userId, threadId } = request;
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
        this.delivery,
        sseEncoder(request.format, threadId),
        {
          maxBufferedBytes: this.options.backpressure.maxBufferedBytes,
          highWaterBytes: this.options.backpressure.highWaterBytes,
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
    if (request.expiresAt !== null) {
      expiry = setTimeout(
        () => entry.stream.end('token_expired', { reason: 'token_expired' }),
        Math.max(0, request.expiresAt - Date.now()),
      );
      expiry.unref();
    }
    try {
      await this.live.watch(threadId, holder);
    } catch {
      entry.stream.end('failed', { reason: 'relay_unavailable' });
      return;
    }
    await entry.stream.start(request.cursor);
  }

  onModuleDestroy(): void {
    for (const open of [...this.open]) open.stream.end('client_closed', { reason: 'shutdown' });
    for (const stop of this.stopListening) stop();
  }

  private recheck(which: (open: OpenStream) => boolean): void {
    for (const open of this.open) {
      if (!which(open)) continue;
      void this.mayStillRead(open).then(
        (allowed) => {
          if (!allowed) open.stream.end('access_revoked', { reason: 'access_revoked' });
        },
        // The store is away: the next change or resync checks again.
        () => undefined,
      );
    }
  }

  private async mayStillRead({ userId, threadId }: OpenStream): Promise<boolean> {
    const thread = await this.registry.getThread(threadId);
    return thread !== null && (await this.registry.mayAccess(userId, threadId, thread, 'read'));
  }

  private ended(open: OpenStream, reason: StreamEnd): void {
    if (reason === 'client_closed') return;
    this.log.info({
      msg: 'sse stream ended',
      threadId: open.threadId,
      userId: open.userId,
      reason,
    });
  }
}

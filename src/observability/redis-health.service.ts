import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { Redis } from 'ioredis';
import { EventFanoutService } from '../delivery/event-fanout.service.js';
import { ServerEvents, type RelayStatusNotice } from '../protocol.js';
import type { RedisBackend } from '../redis/redis-backend.js';
import { errorText, RelayLogger } from '../thread-relay.logger.js';
import { RELAY_OPTIONS, type ResolvedRelayOptions } from '../thread-relay.options.js';
import { RELAY_REDIS } from '../thread-relay.providers.js';

/** How often a ready connection is probed with PING (catches a Redis that hangs without closing). */
const PING_EVERY_MS = 2_000;
/** Longest a PING may take before the connection counts as down. */
const PING_TIMEOUT_MS = 2_000;

/** Reasons sent to clients: fixed strings, never addresses or driver messages. */
export type DegradedReason = 'redis_connecting' | 'redis_connection_lost' | 'redis_not_answering';

const REALTIME: RelayStatusNotice = { mode: 'realtime' };

/**
 * Watches this instance's Redis command connection (Redis mode only; in memory mode the
 * relay is always realtime). When it is lost, every local socket is told
 * `relay:status { mode: 'degraded', reason }` and `/health` answers 503; when it returns,
 * `relay:status { mode: 'realtime' }`. Producers meanwhile get `RELAY_UNAVAILABLE` from
 * `sendToThread` within `delivery.unavailableTimeoutMs`, never a silent loss.
 */
@Injectable()
export class RedisHealthService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log: RelayLogger;
  private readonly client: Redis | null;
  private down: DegradedReason | null = null;
  private timer: NodeJS.Timeout | null = null;
  private pinging = false;
  private readonly listeners: Array<[string, (...args: unknown[]) => void]> = [];

  constructor(
    @Inject(RELAY_REDIS) redis: RedisBackend | null,
    private readonly fanout: EventFanoutService,
    @Inject(RELAY_OPTIONS) options: ResolvedRelayOptions,
  ) {
    this.log = RelayLogger.for(RedisHealthService.name, options);
    this.client = redis?.connections.commands ?? null;
  }

  /** null in memory mode; otherwise whether the command connection is ready and answering. */
  get redisUp(): boolean | null {
    if (!this.client) return null;
    return this.down === null && this.client.status === 'ready';
  }

  /** What a client should be told now. */
  status(): RelayStatusNotice {
    const reason = this.currentReason();
    return reason === null ? REALTIME : { mode: 'degraded', reason };
  }

  onApplicationBootstrap(): void {
    const client = this.client;
    if (!client) return;
    if (client.status !== 'ready') this.down = 'redis_connecting';
    this.listen(client, 'ready', () => this.markUp('ready'));
    this.listen(client, 'close', () => this.markDown('redis_connection_lost', 'connection closed'));
    this.listen(client, 'end', () => this.markDown('redis_connection_lost', 'connection ended'));
    this.listen(client, 'error', (error) => {
      if (client.status !== 'ready') this.markDown('redis_connection_lost', errorText(error));
    });
    this.timer = setInterval(() => this.probe(client), PING_EVERY_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    // Before the module quits its clients, so a clean shutdown is not announced as an outage.
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const [event, listener] of this.listeners.splice(0)) this.client?.off(event, listener);
  }

  private currentReason(): DegradedReason | null {
    if (!this.client) return null;
    if (this.down) return this.down;
    return this.client.status === 'ready' ? null : 'redis_connection_lost';
  }

  private listen(client: Redis, event: string, listener: (...args: unknown[]) => void): void {
    client.on(event, listener);
    this.listeners.push([event, listener]);
  }

  private probe(client: Redis): void {
    if (this.pinging || client.status !== 'ready') return;
    this.pinging = true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no PONG within ${PING_TIMEOUT_MS} ms`)),
        PING_TIMEOUT_MS,
      );
    });
    Promise.race([client.ping(), timeout])
      .then(
        () => {
          if (this.down === 'redis_not_answering' && client.status === 'ready') this.markUp('ping');
        },
        (error: unknown) => this.markDown('redis_not_answering', errorText(error)),
      )
      .finally(() => {
        clearTimeout(timer);
        this.pinging = false;
      })
      .catch(() => undefined);
  }

  private markDown(reason: DegradedReason, detail: string): void {
    if (this.down !== null) return;
    this.down = reason;
    this.log.warn({ msg: 'relay degraded', reason, detail });
    this.announce({ mode: 'degraded', reason });
  }

  private markUp(via: string): void {
    if (this.down === null) return;
    this.down = null;
    this.log.info({ msg: 'relay realtime again', via });
    this.announce(REALTIME);
  }

  private announce(notice: RelayStatusNotice): void {
    try {
      this.fanout.namespace?.local.emit(ServerEvents.status, notice);
    } catch (error) {
      this.log.error({ msg: 'status broadcast failed', mode: notice.mode }, error);
    }
  }
}

import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { RedisClient } from './redis-client.js';
import { ServerEvents, type RelayStatusNotice } from '../protocol.js';
import type { RedisBackend } from './redis-backend.js';
import { LocalSockets } from '../sockets/local-sockets.js';
import { errorText, RelayLogger } from '../thread-relay.logger.js';
import { type ResolvedRelayOptions } from '../thread-relay.options.js';
import { RELAY_OPTIONS, RELAY_REDIS } from '../thread-relay.constants.js';

/** How often a ready connection is probed with PING (catches a Redis that hangs without closing). */
const PING_EVERY_MS = 2_000;
/** Longest a PING may take before the connection counts as down. */
const PING_TIMEOUT_MS = 2_000;

/** Reasons sent to clients: fixed strings, never addresses or driver messages. */
export type DegradedReason = 'redis_connecting' | 'redis_connection_lost' | 'redis_not_answering';

const REALTIME: RelayStatusNotice = { mode: 'realtime' };

/** One watched connection: the command connection, or the cluster bus's subscriber. */
interface Watched {
  name: 'commands' | 'subscriber';
  client: RedisClient;
  down: DegradedReason | null;
}

/**
 * Watches this instance's Redis connections (Redis mode only; in memory mode the relay is
 * always realtime): the command connection, which stores and reads, and the socket.io
 * cluster bus's subscriber, which hears the events of the threads hosted here. When either is lost,
 * every local socket is told `relay:status { mode: 'degraded', reason }` and `/health`
 * answers 503; when both are back, `relay:status { mode: 'realtime' }`. Events published
 * while the subscriber was away are in the log, and clients read them on that notice (the
 * SDK does), so a lost pub/sub message never becomes a lost event. Producers meanwhile get
 * `RELAY_UNAVAILABLE` from `sendToThread` within `delivery.unavailableTimeoutMs`.
 */
@Injectable()
export class RedisHealthService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log: RelayLogger;
  private readonly watched: Watched[];
  private timer: NodeJS.Timeout | null = null;
  private pinging = false;
  private readonly realtimeListeners = new Set<() => void>();
  private readonly listeners: Array<[RedisClient, string, (...args: unknown[]) => void]> = [];

  constructor(
    @Inject(RELAY_REDIS) redis: RedisBackend | null,
    private readonly sockets: LocalSockets,
    @Inject(RELAY_OPTIONS) options: ResolvedRelayOptions,
  ) {
    this.log = RelayLogger.for(RedisHealthService.name, options);
    this.watched = redis
      ? [
          { name: 'commands', client: redis.connections.commands, down: null },
          { name: 'subscriber', client: redis.connections.subscriber, down: null },
        ]
      : [];
  }

  /** null in memory mode; otherwise whether every connection is ready and answering. */
  get redisUp(): boolean | null {
    if (this.watched.length === 0) return null;
    return this.currentReason() === null;
  }

  /** What a client should be told now. */
  status(): RelayStatusNotice {
    const reason = this.currentReason();
    return reason === null ? REALTIME : { mode: 'degraded', reason };
  }

  onApplicationBootstrap(): void {
    for (const conn of this.watched) {
      const { client } = conn;
      if (client.status !== 'ready') conn.down = 'redis_connecting';
      this.listen(client, 'ready', () => this.ready(conn));
      this.listen(client, 'close', () =>
        this.markDown(conn, 'redis_connection_lost', 'connection closed'),
      );
      this.listen(client, 'end', () =>
        this.markDown(conn, 'redis_connection_lost', 'connection ended'),
      );
      this.listen(client, 'error', (error) => {
        if (client.status !== 'ready')
          this.markDown(conn, 'redis_connection_lost', errorText(error));
      });
    }
    const commands = this.watched[0];
    if (!commands) return;
    this.timer = setInterval(() => this.probe(commands), PING_EVERY_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    // Before the module quits its clients, so a clean shutdown is not announced as an outage.
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const [client, event, listener] of this.listeners.splice(0)) client.off(event, listener);
  }

  private currentReason(): DegradedReason | null {
    for (const conn of this.watched) {
      if (conn.down) return conn.down;
      if (conn.client.status !== 'ready') return 'redis_connection_lost';
    }
    return null;
  }

  private listen(client: RedisClient, event: string, listener: (...args: unknown[]) => void): void {
    client.on(event, listener);
    this.listeners.push([client, event, listener]);
  }

  private ready(conn: Watched): void {
    if (conn.name === 'commands') {
      this.markUp(conn, 'ready');
      return;
    }
    // ioredis writes the subscriber's SUBSCRIBEs again when it is ready; the PING's reply
    // comes after theirs, so once it is back the instance hears the others again.
    conn.client.ping().then(
      () => this.markUp(conn, 'resubscribed'),
      (error: unknown) => this.markDown(conn, 'redis_connection_lost', errorText(error)),
    );
  }

  private probe(conn: Watched): void {
    const { client } = conn;
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
          if (conn.down === 'redis_not_answering' && client.status === 'ready')
            this.markUp(conn, 'ping');
        },
        (error: unknown) => this.markDown(conn, 'redis_not_answering', errorText(error)),
      )
      .finally(() => {
        clearTimeout(timer);
        this.pinging = false;
      })
      .catch(() => undefined);
  }

  private markDown(conn: Watched, reason: DegradedReason, detail: string): void {
    if (conn.down !== null) return;
    const wasUp = this.watched.every((c) => c.down === null);
    conn.down = reason;
    this.log.warn({ msg: 'redis connection lost', connection: conn.name, reason, detail });
    if (!wasUp) return;
    this.log.warn({ msg: 'relay degraded', reason, connection: conn.name });
    this.announce({ mode: 'degraded', reason });
  }

  private markUp(conn: Watched, via: string): void {
    if (conn.down === null) return;
    conn.down = null;
    if (this.currentReason() !== null) return;
    this.log.info({ msg: 'relay realtime again', via, connection: conn.name });
    this.announce(REALTIME);
    for (const listener of this.realtimeListeners) listener();
  }

  /** Called each time the relay is realtime again after a degraded spell. */
  onRealtime(listener: () => void): () => void {
    this.realtimeListeners.add(listener);
    return () => this.realtimeListeners.delete(listener);
  }

  private announce(notice: RelayStatusNotice): void {
    try {
      this.sockets.emitToAll(ServerEvents.status, notice);
    } catch (error) {
      this.log.error({ msg: 'status broadcast failed', mode: notice.mode }, error);
    }
  }
}

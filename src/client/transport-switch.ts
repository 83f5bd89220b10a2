import type { RelayStatusNotice } from '../protocol.js';
import type { ThreadRelayClientError } from './client-error.js';
import type { ClientSignals } from './client-signals.js';
import { Deferred } from './deferred.js';
import type { FallbackTransport } from './fallback-transport.js';
import type { RelayRestApi } from './relay-rest-api.js';
import type { RelaySocketApi } from './relay-socket-api.js';
import type { SendAttempt } from './send-with-retry.js';
import type { SocketConnection } from './socket-connection.js';
import type { TimerSet } from './timer-set.js';

export interface TransportSwitchConfig {
  link: SocketConnection;
  fallback: FallbackTransport;
  rest: RelayRestApi;
  socketApi: RelaySocketApi;
  signals: ClientSignals;
  timers: TimerSet;
  /** How long the socket may be down (or not up yet) before the fallback takes over. */
  pollAfterMs: number;
  closed: () => boolean;
}

/**
 * Decides what carries events: the socket while it is up; once it has been down (or not
 * up yet) for `pollAfterMs`, the fallback (Server-Sent Events, else polling) until it is
 * back. Sets `status` and `transport` to match, settles `connect()`, and routes the
 * application's messages the same way.
 */
export class TransportSwitch {
  /** What the pending `connect()` calls wait on. */
  private ready: Deferred<void> | null = null;
  private cancelFallback: (() => void) | undefined;
  /** The server said it runs degraded (its Redis is away). */
  private serverDegraded = false;

  constructor(private readonly config: TransportSwitchConfig) {}

  /** Resolves once the socket is up or the fallback took over; rejects when refused. */
  connect(): Promise<void> {
    const { link, fallback, signals } = this.config;
    if (link.live || fallback.active) return Promise.resolve();
    this.ready ??= new Deferred<void>();
    link.open(() => {
      signals.setStatus('connecting');
      this.armFallback();
    });
    return this.ready.promise;
  }

  /**
   * How a user message can go now: over the socket, over REST while the fallback runs, or
   * not at all (null) until one of them is up. `remainingMs` is what is left of `send()`'s time.
   */
  messageRoute(
    threadId: string,
    text: string,
    clientMessageId: string,
    remainingMs: number,
  ): SendAttempt | null {
    const { link, fallback, rest, socketApi } = this.config;
    const socket = link.live;
    if (socket) {
      return () => socketApi.postMessage(socket, threadId, text, clientMessageId, remainingMs);
    }
    if (fallback.active) return () => rest.postMessage(threadId, text, clientMessageId);
    return null;
  }

  /** The socket connected: it carries events from now on, and the fallback stops. */
  socketUp(): void {
    const { link, signals } = this.config;
    this.serverDegraded = false;
    this.disarmFallback();
    this.config.fallback.stop();
    signals.setStatus('connected');
    signals.setTransport(link.transport);
    this.ready?.resolve();
    this.ready = null;
  }

  /** The socket went down: the fallback takes over unless it is back within `pollAfterMs`. */
  socketDown(): void {
    if (!this.config.fallback.active) {
      this.config.signals.setStatus('reconnecting');
      this.config.signals.setTransport(null);
    }
    this.armFallback();
  }

  /** Connecting failed on the transport; socket.io retries, the fallback covers the meantime. */
  socketFailed(): void {
    this.armFallback();
  }

  /** The server refused the handshake: `connect()` rejects with it. */
  socketRefused(error: ThreadRelayClientError): void {
    this.disarmFallback();
    this.config.signals.reportError(error);
    this.ready?.reject(error);
    this.ready = null;
  }

  /** `relay:status`: the server's mode, degraded or realtime. */
  serverStatus(notice: RelayStatusNotice): void {
    const wasDegraded = this.serverDegraded;
    this.serverDegraded = notice.mode === 'degraded';
    if (this.config.link.live) {
      this.config.signals.setStatus(this.serverDegraded ? 'degraded' : 'connected');
    }
    // Pub/sub keeps nothing: what other instances published while this one's Redis was away
    // never reached the socket. It is in the log, so read past each cursor once.
    if (wasDegraded && !this.serverDegraded) void this.config.fallback.readAll();
  }

  /** The fallback's carrier changed (a stream opened or closed). */
  fallbackChanged(): void {
    const { fallback, signals } = this.config;
    if (!fallback.active || this.config.closed()) return;
    const kind = fallback.kind;
    signals.setStatus(kind === 'sse' ? 'streaming' : 'polling');
    signals.setTransport(kind);
  }

  /** The client closed: a pending `connect()` rejects with `error`. */
  close(error: ThreadRelayClientError): void {
    this.ready?.reject(error);
    this.ready = null;
  }

  private armFallback(): void {
    const { link, fallback, timers, pollAfterMs, closed } = this.config;
    if (fallback.active || this.cancelFallback || closed()) return;
    this.cancelFallback = timers.after(pollAfterMs, () => {
      this.cancelFallback = undefined;
      if (closed() || link.live || fallback.active) return;
      fallback.start();
      this.fallbackChanged();
      this.ready?.resolve();
      this.ready = null;
    });
  }

  private disarmFallback(): void {
    this.cancelFallback?.();
    this.cancelFallback = undefined;
  }
}

import type { io, Socket } from 'socket.io-client';
import type { RelaySessionNotice } from '../protocol.js';
import { ThreadRelayClientError, toClientError } from './client-error.js';
import type { ClientTransport, ResolvedClientOptions } from './client.options.js';
import type { RelaySocketApi } from './relay-socket-api.js';
import { listenToServer, type ServerMessageHandlers } from './server-messages.js';
import { SessionRenewal } from './session-renewal.js';
import { isErrorBody, retryAfterOf } from './socket-request.js';
import { backoff, type TimerSet } from './timer-set.js';

export interface SocketConnectionConfig {
  options: Pick<
    ResolvedClientOptions,
    'socketUrl' | 'path' | 'socketOptions' | 'renewBeforeMs' | 'token'
  >;
  io: typeof io;
  token: () => Promise<string>;
  socketApi: RelaySocketApi;
  timers: TimerSet;
}

export interface SocketConnectionHooks {
  /** The socket connected; `number` counts the connections so far. */
  connected(): void;
  /** The socket went down; it connects again by itself. */
  disconnected(): void;
  /** Connecting failed on the transport; socket.io tries again by itself. */
  connectFailed(): void;
  /** The server's handshake check refused the connection; it is tried again later. */
  refused(error: ThreadRelayClientError): void;
  /** socket.io moved the live connection to another transport (an upgrade). */
  transportChanged(transport: ClientTransport | null): void;
  reportError(error: ThreadRelayClientError): void;
  /** The server's messages, but for `relay:session`, which is the connection's own. */
  messages: Omit<ServerMessageHandlers, 'session'>;
}

/**
 * The socket.io connection to the relay: a fresh token at every handshake, reconnects
 * where socket.io leaves them to the client (a server disconnect, a refused handshake),
 * numbered connections so that answers from an earlier one are recognised, and the
 * renewal of each connection's credential.
 */
export class SocketConnection {
  private socketRef: Socket | null = null;
  private connection = 0;
  private reconnectAttempts = 0;
  private closed = false;
  private readonly renewal: SessionRenewal;

  constructor(
    private readonly config: SocketConnectionConfig,
    private readonly hooks: SocketConnectionHooks,
  ) {
    this.renewal = new SessionRenewal(config.timers, config.options.renewBeforeMs, {
      renew: () => this.refreshCredential(),
      report: (error) => hooks.reportError(error),
    });
  }

  /** The socket.io socket, `null` before `open()`. */
  get socket(): Socket | null {
    return this.socketRef;
  }

  /** The socket while it is connected, else `null`. */
  get live(): Socket | null {
    return this.socketRef?.connected ? this.socketRef : null;
  }

  /** The number of the current (or last) connection; 0 before the first. */
  get number(): number {
    return this.connection;
  }

  /** The socket.io transport the connection runs on; `null` when there is none. */
  get transport(): ClientTransport | null {
    const name = this.socketRef?.io.engine?.transport?.name;
    if (name === 'websocket' || name === 'webtransport') return name;
    return name === 'polling' ? 'long-polling' : null;
  }

  /**
   * Creates the socket and connects it, unless it exists. `starting` runs in between, so
   * what it sets up comes before anything the connection reports.
   */
  open(starting: () => void): void {
    if (this.socketRef) return;
    this.socketRef = this.createSocket();
    starting();
    this.socketRef.connect();
  }

  close(): void {
    this.closed = true;
    this.renewal.stop();
    this.socketRef?.close();
  }

  private createSocket(): Socket {
    const { socketUrl, path, socketOptions } = this.config.options;
    const socket = this.config.io(socketUrl, {
      ...socketOptions,
      ...(path === undefined ? {} : { path }),
      autoConnect: false,
      // A function, so every reconnect asks for a fresh token.
      auth: (cb: (data: object) => void) => {
        this.config.token().then(
          (token) => cb({ token }),
          (error: unknown) => {
            this.hooks.reportError(toClientError(error, 'TOKEN_FAILED', 'token'));
            cb({});
          },
        );
      },
    });
    socket.on(
      'connect',
      this.guard(() => this.handleConnect(socket)),
    );
    socket.on(
      'disconnect',
      this.guard((reason: Socket.DisconnectReason) => this.handleDisconnect(reason)),
    );
    socket.on(
      'connect_error',
      this.guard((error: Error) => this.handleConnectError(error)),
    );
    const { messages } = this.hooks;
    const handlers: ServerMessageHandlers = {
      ...messages,
      relayError: (error) => {
        // Too late to renew: a refresh would only be answered TOKEN_EXPIRED.
        if (error.code === 'TOKEN_EXPIRED') this.renewal.stop();
        messages.relayError(error);
      },
      session: (notice) => this.handleSessionNotice(notice),
    };
    listenToServer(socket, handlers, (fn) => this.guard(fn));
    return socket;
  }

  private handleConnect(socket: Socket): void {
    this.connection += 1;
    this.reconnectAttempts = 0;
    // socket.io starts on long-polling unless told otherwise and upgrades when it can.
    socket.io.engine?.once('upgrade', () => {
      if (socket.connected) this.hooks.transportChanged(this.transport);
    });
    this.hooks.connected();
  }

  private handleDisconnect(reason: Socket.DisconnectReason): void {
    if (this.closed) return;
    this.renewal.stop();
    this.hooks.disconnected();
    // socket.io reconnects by itself after every other reason; this one is left to us.
    if (reason === 'io server disconnect') this.reconnectLater();
  }

  private handleConnectError(error: Error): void {
    if (this.closed) return;
    if (this.socketRef?.active) {
      // A transport failure: socket.io retries by itself.
      this.hooks.connectFailed();
      return;
    }
    // Refused by the server's handshake check; socket.io does not retry those.
    const code =
      error.message === 'unauthorized'
        ? 'UNAUTHORIZED'
        : error.message === 'rate_limited'
          ? 'RATE_LIMITED'
          : 'CONNECT_REFUSED';
    // Too many attempts: the server says when the next one is allowed.
    const data = (error as Error & { data?: unknown }).data;
    const retryAfterMs = isErrorBody(data) ? retryAfterOf(data) : undefined;
    this.hooks.refused(
      new ThreadRelayClientError(code, `connection refused: ${error.message}`, {
        cause: error,
        retryAfterMs,
      }),
    );
    this.reconnectLater(retryAfterMs);
  }

  /** `relay:session`: the credential expires; renew it in time, if there is a way to. */
  private handleSessionNotice(notice: RelaySessionNotice): void {
    // A string token is the only one there is: sending it again would renew nothing.
    if (typeof this.config.options.token === 'string' || !this.socketRef?.connected) return;
    this.renewal.start(notice.expiresAt);
  }

  private reconnectLater(atLeastMs = 0): void {
    const { reconnectionDelay = 1000, reconnectionDelayMax = 5000 } =
      this.config.options.socketOptions;
    const delay = Math.max(
      atLeastMs,
      backoff(this.reconnectAttempts, reconnectionDelay, reconnectionDelayMax),
    );
    this.reconnectAttempts += 1;
    this.config.timers.after(delay, () => {
      const socket = this.socketRef;
      if (!this.closed && socket && !socket.connected && !socket.active) socket.connect();
    });
  }

  /** One renewal: a fresh token for the live connection; resolves with its new expiry. */
  private async refreshCredential(): Promise<number | null> {
    const connection = this.connection;
    const token = await this.config.token();
    const socket = this.socketRef;
    // A token fetched for a connection that has since dropped is the next handshake's job.
    if (connection !== this.connection || !socket?.connected) {
      throw new ThreadRelayClientError('DISCONNECTED', 'auth:refresh: the connection was lost');
    }
    return this.config.socketApi.refreshAuth(socket, token);
  }

  /** Wraps a socket.io listener: nothing the client does may throw into socket.io. */
  private guard<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
    return (...args: A) => {
      try {
        fn(...args);
      } catch (error) {
        this.hooks.reportError(toClientError(error, 'INTERNAL', 'internal error'));
      }
    };
  }
}

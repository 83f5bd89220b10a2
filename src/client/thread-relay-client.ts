import { io as defaultIo, type Socket } from 'socket.io-client';
import {
  ClientEvents,
  ServerEvents,
  type JoinResult,
  type ThreadEvent,
  type UserMessageResult,
} from '../protocol.js';
import { AckBatcher } from './ack-batcher.js';
import { retryDelay, ThreadRelayClientError, toClientError } from './client-error.js';
import { newClientMessageId } from './client-message-id.js';
import {
  resolveClientOptions,
  type ClientStatus,
  type ClientTransport,
  type ErrorHandler,
  type EventHandler,
  type JoinOptions,
  type ResetHandler,
  type ResolvedClientOptions,
  type SendOptions,
  type StatusHandler,
  type ThreadRelayClientOptions,
  type TransportHandler,
  type ThreadResetEvent,
  type UserEvent,
  type UserEventHandler,
} from './client.options.js';
import { Deferred } from './deferred.js';
import { JoinPacer } from './join-pacer.js';
import type { JoinedThread } from './joined-thread.js';
import { Listeners } from './listeners.js';
import { RelayRestApi } from './relay-rest-api.js';
import { FallbackTransport } from './fallback-transport.js';
import { sendWithRetry } from './send-with-retry.js';
import { SessionRenewal } from './session-renewal.js';
import { isErrorBody, retryAfterOf, socketRequest } from './socket-request.js';
import type { CursorPosition } from './thread-cursor.js';
import { ThreadStream, type ThreadStreamConfig } from './thread-stream.js';
import { backoff, TimerSet } from './timer-set.js';
import { tokenResolver } from './token-source.js';
import {
  isJoinResult,
  isRecord,
  isResetNotice,
  isSessionNotice,
  isThreadLeftNotice,
  isStatusNotice,
  isThreadEvent,
  toAuthRefreshResult,
  toUserMessageResult,
} from './wire-guards.js';

/** Final acks on close wait at most this long, so a dead server cannot stall `close()`. */
const CLOSE_FLUSH_MS = 1000;

/**
 * The browser and Node client of thread-relay: connects with a token, joins threads,
 * and hands the application every event of each joined thread once and in order,
 * whatever happens to the connection in between. See DESIGN.md, guarantees 3-5 and 10.
 *
 * Register handlers (`onEvent`, `onReset`, ...) before `join()`: events are not kept for
 * handlers added later.
 */
export class ThreadRelayClient {
  private readonly options: ResolvedClientOptions;
  private readonly ioFactory: NonNullable<ThreadRelayClientOptions['io']>;
  private readonly rest: RelayRestApi;
  private readonly resolveToken: () => Promise<string>;
  private readonly timers = new TimerSet();
  private readonly acks: AckBatcher;
  private readonly streamConfig: ThreadStreamConfig;
  private readonly threads = new Map<string, JoinedThread>();
  private readonly eventListeners = new Listeners<ThreadEvent>();
  private readonly resetListeners = new Listeners<ThreadResetEvent>();
  private readonly statusListeners = new Listeners<ClientStatus>();
  private readonly transportListeners = new Listeners<ClientTransport | null>();
  private readonly errorListeners = new Listeners<ThreadRelayClientError>();
  private readonly userEventListeners = new Listeners<UserEvent>();
  private readonly statusWaiters = new Set<() => void>();
  private socketRef: Socket | null = null;
  private statusValue: ClientStatus = 'idle';
  private transportValue: ClientTransport | null = null;
  private serverDegraded = false;
  /** Counts successful connects, so answers from an earlier connection are recognised. */
  private connection = 0;
  private reconnectAttempts = 0;
  private ready: Deferred<void> | null = null;
  private cancelFallback: (() => void) | undefined;
  private readonly fallback: FallbackTransport;
  private readonly joinPacer: JoinPacer;
  private readonly renewal: SessionRenewal;
  private closed = false;

  constructor(options: ThreadRelayClientOptions) {
    this.options = resolveClientOptions(options);
    this.ioFactory = options.io ?? defaultIo;
    this.resolveToken = tokenResolver(this.options.token);
    this.rest = new RelayRestApi(
      this.options.restUrl,
      this.resolveToken,
      this.options.fetch,
      this.options.requestTimeoutMs,
    );
    this.acks = new AckBatcher(
      this.options.ackBatchMs,
      this.options.ackIntervalMs,
      this.timers,
      (threadId, seq, confirm) => this.sendAck(threadId, seq, confirm),
    );
    this.fallback = new FallbackTransport(
      {
        rest: this.rest,
        token: this.resolveToken,
        fetch: this.options.fetch,
        timers: this.timers,
        sse: this.options.sse,
        maxEventStreams: this.options.maxEventStreams,
        pollIntervalMs: this.options.pollIntervalMs,
        requestTimeoutMs: this.options.requestTimeoutMs,
        streamIdleTimeoutMs: this.options.streamIdleTimeoutMs,
      },
      {
        threads: () => this.threads.values(),
        isCurrent: (thread) => this.threads.get(thread.threadId) === thread,
        drop: (thread, error) => this.drop(thread, error),
        reportError: (error) => this.reportError(error),
        changed: () => this.fallbackChanged(),
      },
    );
    this.joinPacer = new JoinPacer(this.options.maxConcurrentJoins, this.timers);
    this.renewal = new SessionRenewal(this.timers, this.options.renewBeforeMs, {
      renew: () => this.refreshCredential(),
      report: (error) => this.reportError(error),
    });
    this.streamConfig = {
      rest: this.rest,
      timers: this.timers,
      gapGraceMs: this.options.gapGraceMs,
      pageSize: this.options.historyPageSize,
    };
  }

  get status(): ClientStatus {
    return this.statusValue;
  }

  /**
   * What carries events now: `websocket` (or `long-polling`, `webtransport`) when the
   * socket is up, `sse` or `polling` while it is not, `null` before a connection.
   */
  get transport(): ClientTransport | null {
    return this.transportValue;
  }

  /** The underlying socket.io socket, `null` before `connect()`; for diagnostics and tests. */
  get socket(): Socket | null {
    return this.socketRef;
  }

  /**
   * Opens the connection. Resolves once connected, or once the fallback (Server-Sent
   * Events, else REST polling) took over because the socket could not connect within
   * `pollAfterMs`. Rejects when the server refuses the
   * token (code `UNAUTHORIZED`); the client keeps retrying in the background (a token
   * function may produce a better token) until `close()`.
   */
  connect(): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    if (this.socketRef?.connected || this.fallback.active) return Promise.resolve();
    this.ready ??= new Deferred<void>();
    if (!this.socketRef) {
      this.socketRef = this.createSocket();
      this.setStatus('connecting');
      this.armFallback();
      this.socketRef.connect();
    }
    return this.ready.promise;
  }

  /**
   * Joins a thread (again after every reconnect, from its cursor). Resolves with the
   * server's answer; while polling, with one built from the first history read. Rejects
   * when the server refuses the join (e.g. `FORBIDDEN`); the thread is then dropped.
   * Joining a thread already joined returns the first join's promise. Called before
   * `connect()` or while reconnecting, it settles once the connection (or polling) is up.
   * At most `maxConcurrentJoins` joins wait for their answer at once; the others wait their
   * turn, and a join refused `RATE_LIMITED` is sent again after the server's `retryAfterMs`.
   * While polling, a thread that has no log yet (nobody joined it over a socket or wrote
   * to it) resolves with `{ epoch: '', headSeq: 0, replayed: 0 }` and is polled on.
   */
  async join(threadId: string, options: JoinOptions = {}): Promise<JoinResult> {
    if (this.closed) throw closedError();
    if (typeof threadId !== 'string' || threadId.length === 0) {
      throw new ThreadRelayClientError('BAD_REQUEST', 'join: threadId must be a non-empty string');
    }
    const existing = this.threads.get(threadId);
    if (existing) return existing.joined.promise;
    const lastSeq =
      options.lastSeq ?? (options.fromSeq === undefined ? undefined : options.fromSeq - 1);
    if (lastSeq !== undefined && (!Number.isInteger(lastSeq) || lastSeq < 0)) {
      throw new ThreadRelayClientError(
        'BAD_REQUEST',
        'join: lastSeq must be an integer >= 0 (fromSeq >= 1)',
        { threadId },
      );
    }
    const epoch = options.epoch === '' ? undefined : options.epoch;
    const thread = this.track(threadId, { lastSeq, epoch });
    if (this.socketRef?.connected) this.joinOnSocket(thread);
    else this.fallback.add(thread);
    return thread.joined.promise;
  }

  /**
   * Stops following a thread: its last ack goes out first, then `thread:leave`. Local
   * state is dropped at once; the promise rejects if the server refuses the leave.
   */
  async leave(threadId: string): Promise<void> {
    const thread = this.threads.get(threadId);
    if (!thread) return;
    const socket = this.socketRef;
    const onSocket = () => socket?.connected === true && thread.joinedOn === this.connection;
    // The server refuses acks for threads the connection has left.
    if (onSocket()) await this.acks.flushThread(threadId, true);
    const wasOnSocket = onSocket();
    this.drop(thread, new ThreadRelayClientError('LEFT', `left thread ${threadId}`, { threadId }));
    if (wasOnSocket && socket) {
      await socketRequest(
        socket,
        ClientEvents.leave,
        { threadId },
        this.options.requestTimeoutMs,
        threadId,
      );
    }
  }

  /**
   * Posts a user message, over the socket or, while polling, over REST. Failures that say
   * nothing about the message (timeouts, lost connections, an unavailable relay) are
   * retried with the same `clientMessageId`, on which the server is idempotent, until
   * `sendTimeoutMs`; so is `RATE_LIMITED`, after the server's `retryAfterMs` (at once with
   * `SEND_TIMEOUT` when that lies past the deadline). Refusals (`FORBIDDEN`, `BAD_REQUEST`,
   * `LIMIT_EXCEEDED`, ...) reject at once.
   */
  async send(
    threadId: string,
    text: string,
    options: SendOptions = {},
  ): Promise<UserMessageResult> {
    const clientMessageId = options.clientMessageId ?? newClientMessageId();
    return sendWithRetry(threadId, this.options.sendTimeoutMs, {
      current: (remainingMs) => {
        const socket = this.socketRef;
        if (socket?.connected) {
          return () => this.sendOverSocket(socket, threadId, text, clientMessageId, remainingMs);
        }
        if (this.fallback.active) {
          return () => this.rest.postMessage(threadId, text, clientMessageId);
        }
        return null;
      },
      waitForChange: (ms) => this.waitForStatusChange(ms),
      sleep: (ms) => this.timers.sleep(ms),
      assertOpen: () => {
        if (this.closed) throw closedError();
      },
    });
  }

  /** Where the application stands in a thread; pass it to `join()` to resume there later. */
  cursor(threadId: string): CursorPosition | undefined {
    return this.threads.get(threadId)?.stream.cursor.position();
  }

  /** Every event of every joined thread, once, in seq order per thread. */
  onEvent(handler: EventHandler): () => void {
    return this.eventListeners.add(handler);
  }

  /**
   * A thread's log was replaced (new epoch), trimmed past the cursor, or is behind it:
   * `events` is the thread's history as reloaded from the log; `onEvent` continues after
   * `headSeq`. Drop what was shown for the thread and show `events` instead.
   */
  onReset(handler: ResetHandler): () => void {
    return this.resetListeners.add(handler);
  }

  onStatus(handler: StatusHandler): () => void {
    return this.statusListeners.add(handler);
  }

  /** Every change of `transport`, including socket.io's upgrade from long-polling. */
  onTransport(handler: TransportHandler): () => void {
    return this.transportListeners.add(handler);
  }

  /** Errors that have no caller to reject: background joins, history reads, handler throws. */
  onError(handler: ErrorHandler): () => void {
    return this.errorListeners.add(handler);
  }

  /** Events sent to the user outside any thread (`DeliveryService.sendToUser`); not sequenced. */
  onUserEvent(handler: UserEventHandler): () => void {
    return this.userEventListeners.add(handler);
  }

  /** Sends the outstanding acks (briefly), then closes the socket and stops every timer. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.socketRef?.connected) {
      const flushes = [...this.threads.keys()].map((id) => this.acks.flushThread(id, true));
      await Promise.race([Promise.all(flushes), this.timers.sleep(CLOSE_FLUSH_MS)]);
    }
    if (this.closed) return;
    this.closed = true;
    this.fallback.stop();
    this.renewal.stop();
    this.joinPacer.reset();
    this.timers.clear();
    this.acks.close();
    for (const thread of [...this.threads.values()]) this.drop(thread, closedError());
    this.ready?.reject(closedError());
    this.ready = null;
    this.socketRef?.close();
    this.setStatus('closed');
    this.setTransport(null);
    for (const listeners of [
      this.eventListeners,
      this.resetListeners,
      this.statusListeners,
      this.transportListeners,
      this.errorListeners,
      this.userEventListeners,
    ]) {
      listeners.clear();
    }
  }

  private createSocket(): Socket {
    const { socketUrl, path, socketOptions } = this.options;
    const socket = this.ioFactory(socketUrl, {
      ...socketOptions,
      ...(path === undefined ? {} : { path }),
      autoConnect: false,
      // A function, so every reconnect asks for a fresh token.
      auth: (cb: (data: object) => void) => {
        this.resolveToken().then(
          (token) => cb({ token }),
          (error: unknown) => {
            this.reportError(toClientError(error, 'TOKEN_FAILED', 'token'));
            cb({});
          },
        );
      },
    });
    socket.on(
      'connect',
      this.guard(() => this.handleConnect()),
    );
    socket.on(
      'disconnect',
      this.guard((reason: Socket.DisconnectReason) => this.handleDisconnect(reason)),
    );
    socket.on(
      'connect_error',
      this.guard((error: Error) => this.handleConnectError(error)),
    );
    socket.on(
      ServerEvents.event,
      this.guard((payload: unknown) => this.handleThreadEvent(payload)),
    );
    socket.on(
      ServerEvents.reset,
      this.guard((payload: unknown) => this.handleResetNotice(payload)),
    );
    socket.on(
      ServerEvents.status,
      this.guard((payload: unknown) => this.handleStatusNotice(payload)),
    );
    socket.on(
      ServerEvents.userEvent,
      this.guard((payload: unknown) => this.handleUserEvent(payload)),
    );
    socket.on(
      ServerEvents.error,
      this.guard((payload: unknown) => this.handleRelayError(payload)),
    );
    socket.on(
      ServerEvents.session,
      this.guard((payload: unknown) => this.handleSessionNotice(payload)),
    );
    socket.on(
      ServerEvents.left,
      this.guard((payload: unknown) => this.handleThreadLeft(payload)),
    );
    return socket;
  }

  private handleConnect(): void {
    this.connection += 1;
    this.reconnectAttempts = 0;
    this.serverDegraded = false;
    this.cancelFallback?.();
    this.cancelFallback = undefined;
    this.fallback.stop();
    this.setStatus('connected');
    const socket = this.socketRef;
    this.setTransport(socketTransport(socket));
    // socket.io starts on long-polling unless told otherwise and upgrades when it can.
    socket?.io.engine?.once('upgrade', () => {
      if (socket === this.socketRef && socket.connected) this.setTransport(socketTransport(socket));
    });
    this.ready?.resolve();
    this.ready = null;
    this.joinPacer.reset();
    for (const thread of this.threads.values()) this.joinOnSocket(thread);
  }

  private handleDisconnect(reason: Socket.DisconnectReason): void {
    if (this.closed) return;
    this.renewal.stop();
    this.joinPacer.reset();
    for (const thread of this.threads.values()) {
      thread.joinedOn = 0;
      thread.joiningOn = 0;
    }
    if (!this.fallback.active) {
      this.setStatus('reconnecting');
      this.setTransport(null);
    }
    this.armFallback();
    // socket.io reconnects by itself after every other reason; this one is left to us.
    if (reason === 'io server disconnect') this.reconnectLater();
  }

  private handleConnectError(error: Error): void {
    if (this.closed) return;
    if (this.socketRef?.active) {
      // A transport failure: socket.io retries by itself, the fallback covers the meantime.
      this.armFallback();
      return;
    }
    // Refused by the server's handshake check; socket.io does not retry those.
    this.cancelFallback?.();
    this.cancelFallback = undefined;
    const code =
      error.message === 'unauthorized'
        ? 'UNAUTHORIZED'
        : error.message === 'rate_limited'
          ? 'RATE_LIMITED'
          : 'CONNECT_REFUSED';
    // Too many attempts: the server says when the next one is allowed.
    const data = (error as Error & { data?: unknown }).data;
    const retryAfterMs = isErrorBody(data) ? retryAfterOf(data) : undefined;
    const refused = new ThreadRelayClientError(code, `connection refused: ${error.message}`, {
      cause: error,
      retryAfterMs,
    });
    this.reportError(refused);
    this.ready?.reject(refused);
    this.ready = null;
    this.reconnectLater(retryAfterMs);
  }

  private reconnectLater(atLeastMs = 0): void {
    const { reconnectionDelay = 1000, reconnectionDelayMax = 5000 } = this.options.socketOptions;
    const delay = Math.max(
      atLeastMs,
      backoff(this.reconnectAttempts, reconnectionDelay, reconnectionDelayMax),
    );
    this.reconnectAttempts += 1;
    this.timers.after(delay, () => {
      const socket = this.socketRef;
      if (!this.closed && socket && !socket.connected && !socket.active) socket.connect();
    });
  }

  private handleThreadEvent(payload: unknown): void {
    if (!isThreadEvent(payload)) {
      this.reportError(new ThreadRelayClientError('BAD_MESSAGE', 'thread:event: malformed'));
      return;
    }
    this.threads.get(payload.threadId)?.stream.ingest([payload]);
  }

  private handleResetNotice(payload: unknown): void {
    if (!isResetNotice(payload)) {
      this.reportError(new ThreadRelayClientError('BAD_MESSAGE', 'thread:reset: malformed'));
      return;
    }
    this.threads.get(payload.threadId)?.stream.notice(payload);
  }

  private handleStatusNotice(payload: unknown): void {
    if (!isStatusNotice(payload)) {
      this.reportError(new ThreadRelayClientError('BAD_MESSAGE', 'relay:status: malformed'));
      return;
    }
    const wasDegraded = this.serverDegraded;
    this.serverDegraded = payload.mode === 'degraded';
    if (this.socketRef?.connected) this.setStatus(this.serverDegraded ? 'degraded' : 'connected');
    // Pub/sub keeps nothing: what other instances published while this one's Redis was away
    // never reached the socket. It is in the log, so read past each cursor once.
    if (wasDegraded && !this.serverDegraded) void this.fallback.readAll();
  }

  private handleUserEvent(payload: unknown): void {
    if (!isRecord(payload) || typeof payload.type !== 'string') {
      this.reportError(new ThreadRelayClientError('BAD_MESSAGE', 'user:event: malformed'));
      return;
    }
    const event = payload as UserEvent;
    this.userEventListeners.emit(event, (error) => this.handlerFailed('onUserEvent', error));
  }

  /**
   * The server's report of a failure no ack could carry: a replay that broke off, a refused
   * ack, or the connection itself (`event` null) when its credential lapsed or a limit
   * closes it. The server disconnects after those; the reconnect gets a fresh token.
   */
  private handleRelayError(payload: unknown): void {
    const body = isRecord(payload) ? payload.error : undefined;
    const event =
      isRecord(payload) && typeof payload.event === 'string' ? payload.event : 'connection';
    if (!isErrorBody(body)) {
      this.reportError(new ThreadRelayClientError('BAD_MESSAGE', 'relay:error: malformed'));
      return;
    }
    // Too late to renew: a refresh would only be answered TOKEN_EXPIRED.
    if (body.code === 'TOKEN_EXPIRED') this.renewal.stop();
    this.reportError(
      new ThreadRelayClientError(body.code, `${event}: ${body.message}`, {
        retryAfterMs: retryAfterOf(body),
      }),
    );
  }

  /**
   * `thread:left`: the server took this connection out of a thread (it was unregistered or
   * expired, registered to someone else, or access was revoked). It is dropped here as a
   * refused join is, and said through `onError`; joining it again asks anew.
   */
  private handleThreadLeft(payload: unknown): void {
    if (!isThreadLeftNotice(payload)) {
      this.reportError(new ThreadRelayClientError('BAD_MESSAGE', 'thread:left: malformed'));
      return;
    }
    const thread = this.threads.get(payload.threadId);
    if (!thread) return;
    const error = new ThreadRelayClientError(
      'THREAD_LEFT',
      `the server took this client out of thread ${payload.threadId} (${payload.reason})`,
      { threadId: payload.threadId, retryable: false },
    );
    this.drop(thread, error);
    this.reportError(error);
  }

  /** `relay:session`: the credential expires; renew it in time, if there is a way to. */
  private handleSessionNotice(payload: unknown): void {
    if (!isSessionNotice(payload)) {
      this.reportError(new ThreadRelayClientError('BAD_MESSAGE', 'relay:session: malformed'));
      return;
    }
    // A string token is the only one there is: sending it again would renew nothing.
    if (typeof this.options.token === 'string' || !this.socketRef?.connected) return;
    this.renewal.start(payload.expiresAt);
  }

  /** One renewal: a fresh token for the live connection; resolves with its new expiry. */
  private async refreshCredential(): Promise<number | null> {
    const connection = this.connection;
    const token = await this.resolveToken();
    const socket = this.socketRef;
    // A token fetched for a connection that has since dropped is the next handshake's job.
    if (connection !== this.connection || !socket?.connected) {
      throw new ThreadRelayClientError('DISCONNECTED', 'auth:refresh: the connection was lost');
    }
    const answer = await socketRequest(
      socket,
      ClientEvents.authRefresh,
      { token },
      this.options.requestTimeoutMs,
    );
    const result = toAuthRefreshResult(answer);
    if (!result) {
      throw new ThreadRelayClientError('BAD_RESPONSE', 'auth:refresh: unexpected answer');
    }
    return result.expiresAt;
  }

  private track(threadId: string, start: { lastSeq?: number; epoch?: string }): JoinedThread {
    const isCurrent = () => this.threads.get(threadId) === thread;
    const stream = new ThreadStream(threadId, start, this.streamConfig, {
      event: (event) => {
        this.eventListeners.emit(event, (error) => this.handlerFailed('onEvent', error, threadId));
      },
      reset: (reset) => {
        // A new epoch numbers from 1 again: earlier acks must not hide the new ones.
        this.acks.forget(threadId);
        this.resetListeners.emit(reset, (error) => this.handlerFailed('onReset', error, threadId));
      },
      delivered: (seq) => {
        if (isCurrent()) this.acks.note(threadId, seq);
      },
      error: (error) => this.reportError(error),
    });
    const thread: JoinedThread = {
      threadId,
      stream,
      joined: new Deferred<JoinResult>(),
      joinedOn: 0,
      joiningOn: 0,
      joinAttempts: 0,
    };
    this.threads.set(threadId, thread);
    return thread;
  }

  private drop(thread: JoinedThread, reason: ThreadRelayClientError): void {
    if (this.threads.get(thread.threadId) === thread) this.threads.delete(thread.threadId);
    thread.stream.dispose();
    this.fallback.remove(thread);
    this.acks.forget(thread.threadId);
    thread.joined.reject(reason);
  }

  /** Queues the thread's join on the current connection, unless it is joined or queued. */
  private joinOnSocket(thread: JoinedThread): void {
    const socket = this.socketRef;
    const connection = this.connection;
    if (!socket?.connected || thread.joinedOn === connection || thread.joiningOn === connection) {
      return;
    }
    thread.joiningOn = connection;
    this.joinPacer.enqueue(() => {
      // Left, or the connection changed, while it waited its turn.
      const current = this.threads.get(thread.threadId) === thread;
      if (!current || connection !== this.connection || thread.joiningOn !== connection) {
        return undefined;
      }
      return this.requestJoin(socket, thread, connection);
    });
  }

  private async requestJoin(
    socket: Socket,
    thread: JoinedThread,
    connection: number,
  ): Promise<void> {
    const { threadId, stream } = thread;
    let result: JoinResult;
    try {
      const answer = await socketRequest(
        socket,
        ClientEvents.join,
        stream.cursor.joinRequest(),
        this.options.requestTimeoutMs,
        threadId,
      );
      if (!isJoinResult(answer) || answer.threadId !== threadId) {
        throw new ThreadRelayClientError('BAD_RESPONSE', 'thread:join: unexpected answer', {
          threadId,
        });
      }
      result = {
        threadId,
        epoch: answer.epoch,
        headSeq: answer.headSeq,
        replayed: answer.replayed,
      };
    } catch (error) {
      this.joinFailed(thread, connection, error);
      return;
    }
    if (this.threads.get(threadId) !== thread || connection !== this.connection) return;
    thread.joiningOn = 0;
    thread.joinedOn = connection;
    thread.joinAttempts = 0;
    stream.joined(result);
    thread.joined.resolve(result);
    // Acks held back while the thread was not joined on this connection can go now.
    this.acks.schedule();
  }

  private joinFailed(thread: JoinedThread, connection: number, error: unknown): void {
    if (this.threads.get(thread.threadId) !== thread) return;
    if (thread.joiningOn === connection) thread.joiningOn = 0;
    const failure = toClientError(error, 'INTERNAL', `join ${thread.threadId}`, thread.threadId);
    // TOKEN_EXPIRED: the server closes the connection right after saying so.
    const connectionLost =
      connection !== this.connection ||
      !this.socketRef?.connected ||
      failure.code === 'TOKEN_EXPIRED';
    // The next connect re-joins every thread; a lost connection is not worth a report.
    if (failure.retryable && connectionLost) return;
    this.reportError(failure);
    if (!failure.retryable) {
      this.drop(thread, failure);
      return;
    }
    const delay = retryDelay(failure, backoff(thread.joinAttempts, 250, 5000));
    // The other queued joins would be refused just the same until then.
    if (failure.retryAfterMs !== undefined) this.joinPacer.holdFor(failure.retryAfterMs);
    thread.joinAttempts += 1;
    this.timers.after(delay, () => {
      if (connection === this.connection) this.joinOnSocket(thread);
    });
  }

  private async sendOverSocket(
    socket: Socket,
    threadId: string,
    text: string,
    clientMessageId: string,
    remainingMs: number,
  ): Promise<UserMessageResult> {
    const answer = await socketRequest(
      socket,
      ClientEvents.userMessage,
      { threadId, text, clientMessageId },
      Math.min(this.options.requestTimeoutMs, remainingMs),
      threadId,
    );
    const result = toUserMessageResult(answer);
    if (!result) {
      throw new ThreadRelayClientError('BAD_RESPONSE', 'user:message: unexpected answer', {
        threadId,
      });
    }
    return result;
  }

  /**
   * Acks ask for no answer: the server then writes back only a refusal (`relay:error`,
   * reported through `onError`), which saves a frame each way per ack. An ack lost with
   * its connection is not resent: the next join resumes from `lastSeq`, and the server
   * raises the cursor that far. Before a leave or a close the ack is confirmed instead
   * (`confirm`), since nothing follows it on this connection.
   */
  private async sendAck(threadId: string, seq: number, confirm: boolean): Promise<boolean> {
    const thread = this.threads.get(threadId);
    const socket = this.socketRef;
    if (!thread || !socket?.connected || thread.joinedOn !== this.connection) return false;
    // The epoch tells the server which log `seq` counts in, so a late ack cannot move the
    // cursor of a log that replaced it.
    const { epoch } = thread.stream.cursor.position();
    const ack = epoch === '' ? { threadId, seq } : { threadId, seq, epoch };
    if (!confirm) {
      socket.emit(ClientEvents.ack, ack);
      return true;
    }
    try {
      await socketRequest(socket, ClientEvents.ack, ack, this.options.requestTimeoutMs, threadId);
      return true;
    } catch (error) {
      const failure = toClientError(error, 'INTERNAL', `ack ${threadId}`, threadId);
      if (failure.retryable) return false;
      // A refused ack would be refused again; the next delivery acks anew.
      this.reportError(failure);
      return true;
    }
  }

  private armFallback(): void {
    if (this.fallback.active || this.cancelFallback || this.closed) return;
    this.cancelFallback = this.timers.after(this.options.pollAfterMs, () => {
      this.cancelFallback = undefined;
      if (this.closed || this.socketRef?.connected || this.fallback.active) return;
      this.fallback.start();
      this.fallbackChanged();
      this.ready?.resolve();
      this.ready = null;
    });
  }

  private fallbackChanged(): void {
    if (!this.fallback.active || this.closed) return;
    const kind = this.fallback.kind;
    this.setStatus(kind === 'sse' ? 'streaming' : 'polling');
    this.setTransport(kind);
  }

  private waitForStatusChange(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.statusWaiters.delete(done);
        cancel();
        resolve();
      };
      const cancel = this.timers.after(ms, done);
      this.statusWaiters.add(done);
    });
  }

  private setTransport(next: ClientTransport | null): void {
    if (this.transportValue === next) return;
    this.transportValue = next;
    this.transportListeners.emit(next, (error) => this.handlerFailed('onTransport', error));
  }

  private setStatus(next: ClientStatus): void {
    if (this.statusValue === next) return;
    this.statusValue = next;
    this.statusListeners.emit(next, (error) => this.handlerFailed('onStatus', error));
    for (const wake of [...this.statusWaiters]) wake();
  }

  private handlerFailed(kind: string, error: unknown, threadId?: string): void {
    const detail = error instanceof Error ? error.message : String(error);
    this.reportError(
      new ThreadRelayClientError('HANDLER_FAILED', `${kind} handler threw: ${detail}`, {
        cause: error,
        threadId,
        retryable: false,
      }),
    );
  }

  private reportError(error: ThreadRelayClientError): void {
    // An onError handler that throws has nowhere left to report to.
    this.errorListeners.emit(error, () => undefined);
  }

  /** Wraps a socket.io listener: nothing the client does may throw into socket.io. */
  private guard<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
    return (...args: A) => {
      try {
        fn(...args);
      } catch (error) {
        this.reportError(toClientError(error, 'INTERNAL', 'internal error'));
      }
    };
  }
}

function socketTransport(socket: Socket | null): ClientTransport | null {
  const name = socket?.io.engine?.transport?.name;
  if (name === 'websocket' || name === 'webtransport') return name;
  return name === 'polling' ? 'long-polling' : null;
}

function closedError(): ThreadRelayClientError {
  return new ThreadRelayClientError('CLOSED', 'the client is closed', { retryable: false });
}

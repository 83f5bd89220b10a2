import { io as defaultIo, type Socket } from 'socket.io-client';
import type { JoinResult, UserMessageResult } from '../protocol.js';
import { ThreadRelayClientError } from './client-error.js';
import { newClientMessageId } from './client-message-id.js';
import { ClientSignals } from './client-signals.js';
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
  type UserEventHandler,
} from './client.options.js';
import { FallbackTransport } from './fallback-transport.js';
import { JoinedThreads, threadStart } from './joined-threads.js';
import { RelayRestApi } from './relay-rest-api.js';
import { RelaySocketApi } from './relay-socket-api.js';
import { sendWithRetry } from './send-with-retry.js';
import { SocketConnection } from './socket-connection.js';
import type { CursorPosition } from './thread-cursor.js';
import { TimerSet } from './timer-set.js';
import { tokenResolver } from './token-source.js';
import { TransportSwitch } from './transport-switch.js';

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
  private readonly timers = new TimerSet();
  private readonly signals = new ClientSignals(this.timers);
  private readonly fallback: FallbackTransport;
  private readonly link: SocketConnection;
  private readonly threads: JoinedThreads;
  private readonly switch: TransportSwitch;
  private closed = false;

  constructor(options: ThreadRelayClientOptions) {
    this.options = resolveClientOptions(options);
    const { timers, signals } = this;
    const { restUrl, fetch, requestTimeoutMs, pollAfterMs } = this.options;
    const token = tokenResolver(this.options.token);
    const reportError = (error: ThreadRelayClientError) => signals.reportError(error);
    const rest = new RelayRestApi(restUrl, token, fetch, requestTimeoutMs);
    const socketApi = new RelaySocketApi(requestTimeoutMs);
    this.fallback = new FallbackTransport(
      { ...this.options, rest, token, timers },
      {
        threads: () => this.threads.values(),
        isCurrent: (thread) => this.threads.isCurrent(thread),
        drop: (thread, error) => this.threads.drop(thread, error),
        reportError,
        changed: () => this.switch.fallbackChanged(),
      },
    );
    const io = options.io ?? defaultIo;
    this.link = new SocketConnection(
      { options: this.options, io, token, socketApi, timers },
      {
        connected: () => {
          this.switch.socketUp();
          this.threads.connected();
        },
        disconnected: () => {
          this.threads.disconnected();
          this.switch.socketDown();
        },
        connectFailed: () => this.switch.socketFailed(),
        refused: (error) => this.switch.socketRefused(error),
        transportChanged: (transport) => signals.setTransport(transport),
        reportError,
        messages: {
          event: (event) => this.threads.ingest(event),
          reset: (notice) => this.threads.notice(notice),
          threadLeft: (notice) => this.threads.left(notice),
          status: (notice) => this.switch.serverStatus(notice),
          userEvent: (event) => signals.userEvent(event),
          relayError: reportError,
          malformed: reportError,
        },
      },
    );
    const parts = { rest, socketApi, link: this.link, fallback: this.fallback, timers, signals };
    this.threads = new JoinedThreads({ ...parts, options: this.options });
    this.switch = new TransportSwitch({ ...parts, pollAfterMs, closed: () => this.closed });
  }

  get status(): ClientStatus {
    return this.signals.status;
  }

  /**
   * What carries events now: `websocket` (or `long-polling`, `webtransport`) when the
   * socket is up, `sse` or `polling` while it is not, `null` before a connection.
   */
  get transport(): ClientTransport | null {
    return this.signals.transport;
  }

  /** The underlying socket.io socket, `null` before `connect()`; for diagnostics and tests. */
  get socket(): Socket | null {
    return this.link.socket;
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
    return this.switch.connect();
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
    const thread = this.threads.add(threadId, threadStart(threadId, options));
    if (this.link.live) this.threads.joinOnSocket(thread);
    else this.fallback.add(thread);
    return thread.joined.promise;
  }

  /**
   * Stops following a thread: its last ack goes out first, then `thread:leave`. Local
   * state is dropped at once; the promise rejects if the server refuses the leave.
   */
  async leave(threadId: string): Promise<void> {
    await this.threads.leave(threadId);
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
      current: (remainingMs) =>
        this.switch.messageRoute(threadId, text, clientMessageId, remainingMs),
      waitForChange: (ms) =>
        this.closed ? Promise.resolve() : this.signals.waitForStatusChange(ms),
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
  readonly onEvent = (handler: EventHandler): (() => void) => this.signals.events.add(handler);

  /**
   * A thread's log was replaced (new epoch), trimmed past the cursor, or is behind it:
   * `events` is the thread's history as reloaded from the log; `onEvent` continues after
   * `headSeq`. Drop what was shown for the thread and show `events` instead.
   */
  readonly onReset = (handler: ResetHandler): (() => void) => this.signals.resets.add(handler);

  readonly onStatus = (handler: StatusHandler): (() => void) => this.signals.statuses.add(handler);

  /** Every change of `transport`, including socket.io's upgrade from long-polling. */
  readonly onTransport = (handler: TransportHandler): (() => void) =>
    this.signals.transports.add(handler);

  /** Errors that have no caller to reject: background joins, history reads, handler throws. */
  readonly onError = (handler: ErrorHandler): (() => void) => this.signals.errors.add(handler);

  /** Events sent to the user outside any thread (`DeliveryService.sendToUser`); not sequenced. */
  readonly onUserEvent = (handler: UserEventHandler): (() => void) =>
    this.signals.userEvents.add(handler);

  /** Sends the outstanding acks (briefly), then closes the socket and stops every timer. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.link.live) {
      await Promise.race([this.threads.flushAcks(), this.timers.sleep(CLOSE_FLUSH_MS)]);
    }
    if (this.closed) return;
    this.closed = true;
    this.fallback.stop();
    this.timers.clear();
    this.threads.close(closedError());
    this.switch.close(closedError());
    this.link.close();
    this.signals.setStatus('closed');
    this.signals.setTransport(null);
    this.signals.clear();
  }
}

function closedError(): ThreadRelayClientError {
  return new ThreadRelayClientError('CLOSED', 'the client is closed', { retryable: false });
}

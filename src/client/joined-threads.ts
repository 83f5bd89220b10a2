import type { JoinResult, ThreadEvent, ThreadLeftNotice, ThreadResetNotice } from '../protocol.js';
import { AckBatcher } from './ack-batcher.js';
import { ThreadRelayClientError } from './client-error.js';
import type { ClientSignals } from './client-signals.js';
import type { JoinOptions, ResolvedClientOptions } from './client.options.js';
import { Deferred } from './deferred.js';
import type { FallbackTransport } from './fallback-transport.js';
import type { JoinedThread } from './joined-thread.js';
import type { RelayRestApi } from './relay-rest-api.js';
import type { RelaySocketApi } from './relay-socket-api.js';
import { socketAckSender } from './socket-acks.js';
import type { SocketConnection } from './socket-connection.js';
import { SocketJoins } from './socket-joins.js';
import { ThreadStream, type ThreadStreamConfig } from './thread-stream.js';
import type { TimerSet } from './timer-set.js';

export interface JoinedThreadsConfig {
  options: Pick<
    ResolvedClientOptions,
    'gapGraceMs' | 'historyPageSize' | 'ackBatchMs' | 'ackIntervalMs' | 'maxConcurrentJoins'
  >;
  rest: RelayRestApi;
  socketApi: RelaySocketApi;
  link: Pick<SocketConnection, 'live' | 'number'>;
  timers: TimerSet;
  signals: ClientSignals;
  /** Lets go of a dropped thread, if it follows one. */
  fallback: Pick<FallbackTransport, 'remove'>;
}

/** Where a thread is followed from: after `lastSeq` (of `epoch`), else where the server starts. */
export interface ThreadStart {
  lastSeq?: number;
  epoch?: string;
}

/** The start of a join from the application's options; throws `BAD_REQUEST` for a bad seq. */
export function threadStart(threadId: string, options: JoinOptions): ThreadStart {
  const lastSeq =
    options.lastSeq ?? (options.fromSeq === undefined ? undefined : options.fromSeq - 1);
  if (lastSeq !== undefined && (!Number.isInteger(lastSeq) || lastSeq < 0)) {
    throw new ThreadRelayClientError(
      'BAD_REQUEST',
      'join: lastSeq must be an integer >= 0 (fromSeq >= 1)',
      { threadId },
    );
  }
  return { lastSeq, epoch: options.epoch === '' ? undefined : options.epoch };
}

/**
 * The threads the application joined, by id: each one's stream, its join on the live
 * connection (`SocketJoins`) and its acks (`AckBatcher`). A thread left and joined again
 * is a new `JoinedThread`: `isCurrent` tells the old one's late answers apart.
 */
export class JoinedThreads {
  private readonly byId = new Map<string, JoinedThread>();
  private readonly streamConfig: ThreadStreamConfig;
  private readonly joins: SocketJoins;
  private readonly acks: AckBatcher;

  constructor(private readonly config: JoinedThreadsConfig) {
    const { options, rest, timers, socketApi: api } = config;
    const reportError = (error: ThreadRelayClientError) => config.signals.reportError(error);
    this.streamConfig = {
      rest,
      timers,
      gapGraceMs: options.gapGraceMs,
      pageSize: options.historyPageSize,
    };
    this.joins = new SocketJoins(options.maxConcurrentJoins, timers, config.link, api, {
      isCurrent: (thread) => this.isCurrent(thread),
      drop: (thread, error) => this.drop(thread, error),
      reportError,
      // Acks held back while the thread was not joined on this connection can go now.
      joined: () => this.acks.schedule(),
    });
    const sendAck = socketAckSender({
      thread: (threadId) => this.byId.get(threadId),
      socketOf: (thread) => this.joins.socketOf(thread),
      api,
      reportError,
    });
    this.acks = new AckBatcher(options.ackBatchMs, options.ackIntervalMs, timers, sendAck);
  }

  get(threadId: string): JoinedThread | undefined {
    return this.byId.get(threadId);
  }

  isCurrent(thread: JoinedThread): boolean {
    return this.byId.get(thread.threadId) === thread;
  }

  values(): IterableIterator<JoinedThread> {
    return this.byId.values();
  }

  /** Starts following a thread from `start`; nothing carries its events yet. */
  add(threadId: string, start: ThreadStart): JoinedThread {
    const { signals } = this.config;
    const stream = new ThreadStream(threadId, start, this.streamConfig, {
      event: (event) => signals.event(event, threadId),
      reset: (reset) => {
        // A new epoch numbers from 1 again: earlier acks must not hide the new ones.
        this.acks.forget(threadId);
        signals.reset(reset, threadId);
      },
      delivered: (seq) => {
        if (this.isCurrent(thread)) this.acks.note(threadId, seq);
      },
      error: (error) => signals.reportError(error),
    });
    const thread: JoinedThread = {
      threadId,
      stream,
      joined: new Deferred<JoinResult>(),
      joinedOn: 0,
      joiningOn: 0,
      joinAttempts: 0,
    };
    this.byId.set(threadId, thread);
    return thread;
  }

  /** Queues the thread's join on the live connection. */
  joinOnSocket(thread: JoinedThread): void {
    this.joins.join(thread);
  }

  /** A new connection: every thread joins it. */
  connected(): void {
    this.joins.joinAll(this.byId.values());
  }

  /** The connection is gone: no thread is joined on it any more. */
  disconnected(): void {
    this.joins.connectionLost(this.byId.values());
  }

  /** Stops following a thread: its last ack goes out first, then `thread:leave`. */
  async leave(threadId: string): Promise<void> {
    const thread = this.byId.get(threadId);
    if (!thread) return;
    // The server refuses acks for threads the connection has left.
    if (this.joins.socketOf(thread)) await this.acks.flushThread(threadId, true);
    const socket = this.joins.socketOf(thread);
    this.drop(thread, new ThreadRelayClientError('LEFT', `left thread ${threadId}`, { threadId }));
    if (socket) await this.config.socketApi.leave(socket, threadId);
  }

  /** `thread:event` on the socket. */
  ingest(event: ThreadEvent): void {
    this.byId.get(event.threadId)?.stream.ingest([event]);
  }

  /** `thread:reset` on the socket. */
  notice(notice: ThreadResetNotice): void {
    this.byId.get(notice.threadId)?.stream.notice(notice);
  }

  /**
   * `thread:left`: the server took this connection out of a thread (it was unregistered or
   * expired, registered to someone else, or access was revoked). It is dropped here as a
   * refused join is, and said through `onError`; joining it again asks anew.
   */
  left({ threadId, reason }: ThreadLeftNotice): void {
    const thread = this.byId.get(threadId);
    if (!thread) return;
    const error = new ThreadRelayClientError(
      'THREAD_LEFT',
      `the server took this client out of thread ${threadId} (${reason})`,
      { threadId, retryable: false },
    );
    this.drop(thread, error);
    this.config.signals.reportError(error);
  }

  /** Sends every thread's outstanding ack and waits for the server to confirm it. */
  async flushAcks(): Promise<void> {
    const threadIds = [...this.byId.keys()];
    await Promise.all(threadIds.map((threadId) => this.acks.flushThread(threadId, true)));
  }

  drop(thread: JoinedThread, reason: ThreadRelayClientError): void {
    if (this.isCurrent(thread)) this.byId.delete(thread.threadId);
    thread.stream.dispose();
    this.config.fallback.remove(thread);
    this.acks.forget(thread.threadId);
    thread.joined.reject(reason);
  }

  /** The client closed: every thread is dropped, its join rejecting with `reason`. */
  close(reason: ThreadRelayClientError): void {
    this.joins.stop();
    this.acks.close();
    for (const thread of [...this.byId.values()]) this.drop(thread, reason);
  }
}

import type { Socket } from 'socket.io-client';
import type { JoinResult } from '../protocol.js';
import { retryDelay, type ThreadRelayClientError, toClientError } from './client-error.js';
import { JoinPacer } from './join-pacer.js';
import type { JoinedThread } from './joined-thread.js';
import type { RelaySocketApi } from './relay-socket-api.js';
import type { SocketConnection } from './socket-connection.js';
import { backoff, type TimerSet } from './timer-set.js';

export interface SocketJoinsHost {
  /** Whether the thread is still the one followed under its id (not left meanwhile). */
  isCurrent(thread: JoinedThread): boolean;
  drop(thread: JoinedThread, error: ThreadRelayClientError): void;
  reportError(error: ThreadRelayClientError): void;
  /** The server confirmed the thread's join on the live connection. */
  joined(thread: JoinedThread): void;
}

/**
 * Joins threads on the live connection, and again on every new one, from each thread's
 * cursor: paced by `JoinPacer`, retried when the failure allows, dropped when the server
 * refuses. `thread.joinedOn` says on which connection a thread is joined.
 */
export class SocketJoins {
  private readonly pacer: JoinPacer;

  constructor(
    maxConcurrentJoins: number,
    private readonly timers: TimerSet,
    private readonly link: Pick<SocketConnection, 'live' | 'number'>,
    private readonly api: RelaySocketApi,
    private readonly host: SocketJoinsHost,
  ) {
    this.pacer = new JoinPacer(maxConcurrentJoins, timers);
  }

  /** The live socket, when the thread is joined on its connection; else `null`. */
  socketOf(thread: JoinedThread): Socket | null {
    const socket = this.link.live;
    return socket && thread.joinedOn === this.link.number ? socket : null;
  }

  /** A new connection: every thread joins it, within a fresh budget. */
  joinAll(threads: Iterable<JoinedThread>): void {
    this.pacer.reset();
    for (const thread of threads) this.join(thread);
  }

  /** The connection is gone: no thread is joined, nor joining, on any. */
  connectionLost(threads: Iterable<JoinedThread>): void {
    this.pacer.reset();
    for (const thread of threads) {
      thread.joinedOn = 0;
      thread.joiningOn = 0;
    }
  }

  stop(): void {
    this.pacer.reset();
  }

  /** Queues the thread's join on the current connection, unless it is joined or queued. */
  join(thread: JoinedThread): void {
    const socket = this.link.live;
    const connection = this.link.number;
    if (!socket || thread.joinedOn === connection || thread.joiningOn === connection) return;
    thread.joiningOn = connection;
    this.pacer.enqueue(() => {
      // Left, or the connection changed, while it waited its turn.
      const current = this.host.isCurrent(thread);
      if (!current || connection !== this.link.number || thread.joiningOn !== connection) {
        return undefined;
      }
      return this.request(socket, thread, connection);
    });
  }

  private async request(socket: Socket, thread: JoinedThread, connection: number): Promise<void> {
    let result: JoinResult;
    try {
      result = await this.api.join(socket, thread.stream.cursor.joinRequest());
    } catch (error) {
      this.failed(thread, connection, error);
      return;
    }
    if (!this.host.isCurrent(thread) || connection !== this.link.number) return;
    thread.joiningOn = 0;
    thread.joinedOn = connection;
    thread.joinAttempts = 0;
    thread.stream.joined(result);
    thread.joined.resolve(result);
    this.host.joined(thread);
  }

  private failed(thread: JoinedThread, connection: number, error: unknown): void {
    if (!this.host.isCurrent(thread)) return;
    if (thread.joiningOn === connection) thread.joiningOn = 0;
    const failure = toClientError(error, 'INTERNAL', `join ${thread.threadId}`, thread.threadId);
    // TOKEN_EXPIRED: the server closes the connection right after saying so.
    const connectionLost =
      connection !== this.link.number || !this.link.live || failure.code === 'TOKEN_EXPIRED';
    // The next connect re-joins every thread; a lost connection is not worth a report.
    if (failure.retryable && connectionLost) return;
    this.host.reportError(failure);
    if (!failure.retryable) {
      this.host.drop(thread, failure);
      return;
    }
    const delay = retryDelay(failure, backoff(thread.joinAttempts, 250, 5000));
    // The other queued joins would be refused just the same until then.
    if (failure.retryAfterMs !== undefined) this.pacer.holdFor(failure.retryAfterMs);
    thread.joinAttempts += 1;
    this.timers.after(delay, () => {
      if (connection === this.link.number) this.join(thread);
    });
  }
}

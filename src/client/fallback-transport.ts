import { ThreadRelayClientError, toClientError } from './client-error.js';
import type { HttpAccess } from './http-access.js';
import type { JoinedThread } from './joined-thread.js';
import { PollLoop } from './poll-loop.js';
import type { RelayRestApi } from './relay-rest-api.js';
import { SseFollower } from './sse-follower.js';

/** After SSE failed to open this many times in a row for want of a network, try again this late. */
const SSE_RETRY_AFTER_NETWORK_MS = 60_000;

export interface FallbackConfig extends HttpAccess {
  rest: RelayRestApi;
  /** Whether SSE is tried before REST polling. */
  sse: boolean;
  /** Threads followed over SSE at once; the others are polled. */
  maxEventStreams: number;
  pollIntervalMs: number;
  requestTimeoutMs: number;
  streamIdleTimeoutMs: number;
}

export interface FallbackHost {
  threads(): Iterable<JoinedThread>;
  isCurrent(thread: JoinedThread): boolean;
  drop(thread: JoinedThread, error: ThreadRelayClientError): void;
  reportError(error: ThreadRelayClientError): void;
  /** Which of the two carries events changed (`sse` while at least one stream is open). */
  changed(): void;
}

/**
 * What carries a thread's events while the socket is down: its Server-Sent Events stream
 * when one is open, else REST polling. Each thread is first read from its cursor over
 * REST (which also settles a pending join), then followed over SSE from where that read
 * ended; the poll loop keeps reading the threads with no open stream (SSE refused, over the
 * per-user stream cap, the thread has no log yet, a stream reconnecting).
 */
export class FallbackTransport {
  private readonly poller: PollLoop;
  private readonly followers = new Map<string, { thread: JoinedThread; follower: SseFollower }>();
  private readonly streaming = new Set<string>();
  /** No polling read before this (epoch ms): the server refused one with a rate. */
  private heldUntil = 0;
  /** SSE is not tried before this (epoch ms); Infinity for the rest of the episode. */
  private sseBlockedUntil = 0;

  constructor(
    private readonly config: FallbackConfig,
    private readonly host: FallbackHost,
  ) {
    this.poller = new PollLoop(config.timers, config.pollIntervalMs, () => this.pollRound());
  }

  get active(): boolean {
    return this.poller.running;
  }

  /** `sse` while at least one thread is followed over an open stream, else `polling`. */
  get kind(): 'sse' | 'polling' {
    return this.streaming.size > 0 ? 'sse' : 'polling';
  }

  start(): void {
    if (this.poller.running) return;
    this.sseBlockedUntil = 0;
    // Started before the host hears of it: a send() woken by the change must find REST.
    this.poller.start();
  }

  stop(): void {
    if (!this.poller.running) return;
    this.poller.stop();
    for (const { follower } of this.followers.values()) follower.stop();
    this.followers.clear();
    this.streaming.clear();
  }

  /** A thread joined while the fallback runs: read it now, unless reads are held. */
  add(thread: JoinedThread): void {
    if (this.active && this.heldUntil <= Date.now()) void this.pollThread(thread);
  }

  remove(thread: JoinedThread): void {
    const entry = this.followers.get(thread.threadId);
    if (entry?.thread !== thread) return;
    entry.follower.stop();
    this.followers.delete(thread.threadId);
    if (this.streaming.delete(thread.threadId)) this.host.changed();
  }

  /** Reads every thread past its cursor once (also while the socket is up). */
  async readAll(): Promise<void> {
    await Promise.all([...this.host.threads()].map((thread) => this.pollThread(thread)));
  }

  /**
   * One polling round over the threads without an open stream; resolves with how long the
   * next one must wait beyond the interval: the server's `retryAfterMs` when it refused a
   * read for a rate. The limit is the user's, not the thread's, so every thread waits.
   */
  private async pollRound(): Promise<number> {
    const held = this.heldUntil - Date.now();
    if (held > 0) return held;
    const unstreamed = [...this.host.threads()].filter((t) => !this.streaming.has(t.threadId));
    await Promise.all(unstreamed.map((thread) => this.pollThread(thread)));
    return Math.max(0, this.heldUntil - Date.now());
  }

  /** One history read for a thread, then its stream if it may have one; never rejects. */
  private async pollThread(thread: JoinedThread): Promise<void> {
    const { threadId } = thread;
    try {
      const result = await thread.stream.sync();
      if (!this.host.isCurrent(thread)) return;
      thread.joined.resolve({
        threadId,
        epoch: result.epoch,
        headSeq: result.headSeq,
        replayed: result.delivered,
      });
      this.follow(thread);
    } catch (error) {
      if (!this.host.isCurrent(thread)) return;
      const failure = toClientError(error, 'NETWORK', `polling ${threadId}`, threadId);
      this.host.reportError(failure);
      if (failure.retryAfterMs !== undefined) {
        this.heldUntil = Math.max(this.heldUntil, Date.now() + failure.retryAfterMs);
      }
      // A join the server refuses is dropped, as on the socket; a joined thread keeps trying.
      if (!failure.retryable && !thread.joined.settled) this.host.drop(thread, failure);
    }
  }

  /** Opens the thread's stream, when SSE is on and the thread has a log to resume in. */
  private follow(thread: JoinedThread): void {
    const { threadId, stream } = thread;
    if (!this.active || !this.config.sse || this.sseBlockedUntil > Date.now()) return;
    // A browser opens about six HTTP/1.1 connections per origin: streams past the cap would
    // leave none for sends and history reads.
    if (this.followers.has(threadId) || this.followers.size >= this.config.maxEventStreams) return;
    const follower = new SseFollower(
      threadId,
      {
        url: this.config.rest.eventsUrl(threadId),
        token: this.config.token,
        fetch: this.config.fetch,
        timers: this.config.timers,
        openTimeoutMs: this.config.requestTimeoutMs,
        idleTimeoutMs: this.config.streamIdleTimeoutMs,
        cursor: () => stream.cursor.position(),
      },
      {
        opened: () => this.setStreaming(threadId, true),
        down: () => this.setStreaming(threadId, false),
        event: (event) => stream.ingest([event]),
        reset: (hint) => stream.notice(hint),
        refused: (error) => {
          this.forget(threadId);
          this.host.drop(thread, error);
          this.host.reportError(error);
        },
        unsupported: (error) => this.sseUnsupported(error),
        error: (error) => this.host.reportError(error),
      },
    );
    this.followers.set(threadId, { thread, follower });
    follower.start();
  }

  /** SSE does not get through: every thread goes back to polling. */
  private sseUnsupported(error: ThreadRelayClientError): void {
    if (this.sseBlockedUntil > Date.now()) return;
    // A refusal stands for the episode; a network that failed may be back in a minute.
    this.sseBlockedUntil =
      error.code === 'SSE_REFUSED' ? Infinity : Date.now() + SSE_RETRY_AFTER_NETWORK_MS;
    for (const { follower } of this.followers.values()) follower.stop();
    this.followers.clear();
    const wasStreaming = this.streaming.size > 0;
    this.streaming.clear();
    // Not reported through onError: nothing failed for the application, `transport` says it.
    if (wasStreaming) this.host.changed();
  }

  private forget(threadId: string): void {
    this.followers.delete(threadId);
    if (this.streaming.delete(threadId)) this.host.changed();
  }

  private setStreaming(threadId: string, open: boolean): void {
    const before = this.kind;
    if (open) this.streaming.add(threadId);
    else this.streaming.delete(threadId);
    if (this.kind !== before) this.host.changed();
  }
}

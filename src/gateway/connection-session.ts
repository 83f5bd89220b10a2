import type { Socket } from 'socket.io';
import { TokenBucket, type TakeResult } from '../limits/token-bucket.js';
import { WarnLimiter } from '../observability/warn-limiter.js';
import type { ResolvedRelayOptions } from '../thread-relay.options.js';
import { JoinSlots } from './join-slots.js';
import { OutboundBuffer } from './outbound-buffer.js';

/** setTimeout's largest delay; a later expiry re-arms when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A connection refused more than ten times `burst` events within this window is flooding. */
const FLOOD_WINDOW_MS = 60_000;
/** A client told it is rate limited hears it at most this often when it asked for no ack. */
const RATE_NOTICE_EVERY_MS = 1_000;

export interface SessionHooks {
  /** The credential lapsed without a renewal. */
  expired(): void;
  /** More than `backpressure.maxBufferedBytes` is waiting for the client. */
  slowConsumer(bytes: number): void;
}

/** A join whose replay is still running: `abort` stops it before it goes live. */
export interface ReplayTicket {
  abort(): void;
}

/**
 * What the gateway keeps per connection: who it is and until when, what it joined, how
 * often it was refused, and how much it has not read. Every piece is bounded by an option, so
 * a connection's memory stays bounded whatever its client does.
 */
export class ConnectionSession {
  /** Joined threads, each with the replays still running for it (none once live). */
  private readonly joined = new Map<string, Set<ReplayTicket>>();
  /** Joins in progress (admission to the end of the replay) and those waiting their turn. */
  readonly joinSlots: JoinSlots;
  lastTouch: number;
  /** Settles once the connection is in the registry; false when a per-user cap refused it. */
  admitted: Promise<boolean> = Promise.resolve(true);
  readonly warnings = new WarnLimiter();
  readonly outbound: OutboundBuffer;
  private readonly floodLimit: number;
  private readonly bucket: TokenBucket;
  private refusals = 0;
  private refusalsSince: number;
  private lastRateNotice = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    socket: Socket,
    readonly userId: string,
    private expiresAt: number | null,
    options: ResolvedRelayOptions,
    private readonly hooks: SessionHooks,
  ) {
    const now = Date.now();
    this.lastTouch = now;
    this.refusalsSince = now;
    this.bucket = new TokenBucket(options.limits.clientEvents, now);
    this.joinSlots = new JoinSlots(
      options.limits.concurrentJoinsPerConnection,
      options.limits.joinedThreadsPerConnection,
    );
    // Far past the rate, for long: a client that ignores RATE_LIMITED, not one a little
    // over it (a tab following many busy threads acks them all).
    this.floodLimit = options.limits.clientEvents.burst * 10;
    this.outbound = new OutboundBuffer(socket, options.backpressure.maxBufferedBytes, (bytes) =>
      hooks.slowConsumer(bytes),
    );
    this.arm();
  }

  get threadCount(): number {
    return this.joined.size;
  }

  isJoined(threadId: string): boolean {
    return this.joined.has(threadId);
  }

  joinedThreads(): string[] {
    return [...this.joined.keys()];
  }

  /**
   * The thread is joined with this replay running (a rejoin's replay runs beside an earlier
   * one: each sends from its own cursor). True when the thread is new to this connection.
   */
  startReplay(threadId: string, ticket: ReplayTicket): boolean {
    const replays = this.joined.get(threadId);
    if (replays) {
      replays.add(ticket);
      return false;
    }
    this.joined.set(threadId, new Set([ticket]));
    return true;
  }

  /** Whether this replay may go on: the connection has not left the thread since. */
  holds(threadId: string, ticket: ReplayTicket): boolean {
    return this.joined.get(threadId)?.has(ticket) === true;
  }

  endReplay(threadId: string, ticket: ReplayTicket): void {
    this.joined.get(threadId)?.delete(ticket);
  }

  /** Forgets the thread, stopping its replays; true when it was joined. */
  leave(threadId: string): boolean {
    const replays = this.joined.get(threadId);
    if (!replays) return false;
    for (const ticket of replays) ticket.abort();
    this.joined.delete(threadId);
    return true;
  }

  isExpired(now = Date.now()): boolean {
    return this.expiresAt !== null && this.expiresAt <= now;
  }

  /** A renewed credential (`auth:refresh`). */
  renew(expiresAt: number | null): void {
    this.expiresAt = expiresAt;
    this.arm();
  }

  /** One client event's token. */
  take(now = Date.now()): TakeResult {
    return this.bucket.take(now);
  }

  /** Counts a refusal; true when the client keeps sending far past its limit (cut it). */
  flooding(now = Date.now()): boolean {
    if (now - this.refusalsSince > FLOOD_WINDOW_MS) {
      this.refusals = 0;
      this.refusalsSince = now;
    }
    this.refusals += 1;
    return this.refusals > this.floodLimit;
  }

  /** Whether a rate-limit notice may go out now to a client that asked for no ack. */
  mayNotifyRateLimit(now = Date.now()): boolean {
    if (now - this.lastRateNotice < RATE_NOTICE_EVERY_MS) return false;
    this.lastRateNotice = now;
    return true;
  }

  close(): void {
    for (const threadId of this.joinedThreads()) this.leave(threadId);
    this.joinSlots.close();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.expiresAt === null || this.closed) return;
    const delay = Math.max(0, Math.min(this.expiresAt - Date.now(), MAX_TIMER_MS));
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.isExpired()) this.hooks.expired();
      else this.arm();
    }, delay);
  }
}

import { retryDelay, type ThreadRelayClientError, toClientError } from './client-error.js';
import { backoff, type TimerSet } from './timer-set.js';

/** First retry of a failed renewal; doubles up to `RETRY_MAX_MS`, and never past half the time left. */
const RETRY_BASE_MS = 1000;
const RETRY_MAX_MS = 30_000;
/**
 * A retry that would land closer than this to the expiry is not made: its answer could not
 * arrive in time, and the server's close is followed by a reconnect with a fresh token anyway.
 */
const MIN_LEAD_MS = 100;
/**
 * Renewals follow each other at least this far apart. A client clock running ahead of the
 * server's makes every expiry look past (or nearly), which would otherwise renew again at
 * once, in a loop at round-trip speed.
 */
const MIN_INTERVAL_MS = 500;

export interface RenewalHooks {
  /** Asks the token function for a token and hands it to the server; resolves with the new expiry (null: none). */
  renew(): Promise<number | null>;
  report(error: ThreadRelayClientError): void;
}

/**
 * Keeps one connection's credential alive: the server says when it expires
 * (`relay:session`), and a fresh token goes out (`auth:refresh`) `renewBeforeMs` earlier,
 * or a third of the lifetime earlier for short-lived tokens, so a slow token function or a
 * lost answer still leaves time to retry. Without a renewal the server closes the
 * connection at expiry; nothing is lost then, the reconnect just costs a replay.
 */
export class SessionRenewal {
  /** Bumped by every start and stop, so a renewal still on its way cannot plan the next one. */
  private generation = 0;
  private cancelTimer: (() => void) | undefined;
  private failures = 0;

  constructor(
    private readonly timers: TimerSet,
    private readonly renewBeforeMs: number,
    private readonly hooks: RenewalHooks,
    private readonly now: () => number = Date.now,
  ) {}

  /** The connection's credential expires at `expiresAt` (epoch ms): plans its renewal. */
  start(expiresAt: number): void {
    this.stop();
    this.planFrom(expiresAt, 0);
  }

  /** The connection is gone (or the client closed): nothing more to renew on it. */
  stop(): void {
    this.generation += 1;
    this.failures = 0;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  private planFrom(expiresAt: number, minDelayMs: number): void {
    const lifetime = expiresAt - this.now();
    const lead = Math.min(this.renewBeforeMs, lifetime / 3);
    this.renewAfter(Math.max(minDelayMs, lifetime - lead), expiresAt);
  }

  private renewAfter(delayMs: number, expiresAt: number): void {
    const generation = this.generation;
    this.cancelTimer = this.timers.after(delayMs, () => {
      this.cancelTimer = undefined;
      if (generation === this.generation) void this.attempt(expiresAt, generation);
    });
  }

  /** Never rejects: failures are reported and retried, socket.io never sees them. */
  private async attempt(expiresAt: number, generation: number): Promise<void> {
    let renewed: number | null;
    try {
      renewed = await this.hooks.renew();
    } catch (error) {
      if (generation !== this.generation) return;
      const failure = toClientError(error, 'INTERNAL', 'token renewal failed');
      this.hooks.report(failure);
      this.retry(expiresAt, failure);
      return;
    }
    if (generation !== this.generation || renewed === null) return;
    if (renewed <= expiresAt) {
      // The token function handed back the same token (or an older one): the server now
      // holds `renewed`. Ask again later; token caches often refresh only near the expiry.
      this.retry(renewed);
      return;
    }
    this.failures = 0;
    this.planFrom(renewed, MIN_INTERVAL_MS);
  }

  private retry(expiresAt: number, error?: ThreadRelayClientError): void {
    const remaining = expiresAt - this.now();
    const wait = Math.min(backoff(this.failures, RETRY_BASE_MS, RETRY_MAX_MS), remaining / 2);
    const delay = retryDelay(error, wait);
    this.failures += 1;
    if (remaining - delay < MIN_LEAD_MS) return;
    this.renewAfter(delay, expiresAt);
  }
}

import type { ThreadEvent } from '../protocol.js';
import { ThreadRelayClientError, toClientError } from './client-error.js';
import type { FetchLike } from './relay-rest-api.js';
import { responseError } from './relay-rest-api.js';
import { isErrorBody } from './socket-request.js';
import { SseFrameParser } from './sse-frame-parser.js';
import type { ResetHint } from './thread-stream.js';
import type { CursorPosition } from './thread-cursor.js';
import { backoff, type TimerSet } from './timer-set.js';
import { isRecord, isThreadEvent } from './wire-guards.js';

/** Characters one event-stream frame may take; the server's frames are far smaller. */
const MAX_FRAME_CHARS = 8 * 1024 * 1024;
/** Failed opens in a row (network, a proxy's 5xx) after which SSE counts as not getting through. */
const MAX_FAILED_OPENS = 3;
const MAX_BACKOFF_MS = 10_000;
/** A stream that stayed open this long was a working one, events or not. */
const HEALTHY_MS = 30_000;

export interface SseFollowerConfig {
  url: string;
  token: () => Promise<string>;
  fetch: FetchLike;
  timers: TimerSet;
  /** Headers and the first bytes must come within this. */
  openTimeoutMs: number;
  /** Nothing at all (not even a heartbeat) for this long: the stream is taken for dead. */
  idleTimeoutMs: number;
  /** Where the thread's application stands: the stream resumes after it. */
  cursor: () => CursorPosition;
}

export interface SseFollowerHooks {
  /** The stream is open: the thread's events arrive on it from now on. */
  opened(): void;
  /** The stream is down; it is opened again unless `stop()` was called or SSE is refused. */
  down(): void;
  event(event: ThreadEvent): void;
  reset(hint: ResetHint): void;
  /** The relay refuses this user the thread (forbidden, access revoked): no more attempts. */
  refused(error: ThreadRelayClientError): void;
  /** SSE does not get through to the relay (a proxy refuses or buffers it): no more attempts. */
  unsupported(error: ThreadRelayClientError): void;
  error(error: ThreadRelayClientError): void;
}

type Outcome =
  | { kind: 'retry'; delayMs?: number }
  | { kind: 'failed_open'; error: ThreadRelayClientError }
  | { kind: 'final' };

/**
 * Follows one thread over `GET /threads/:id/events` (fetch, so the token goes in a header
 * and no ticket is needed), resuming after the application's cursor each time it opens.
 * The stream is told apart from what may stand in its place: a relay error body is the
 * relay's answer; anything else (a proxy's page, no bytes at all) means SSE does not get
 * through.
 */
export class SseFollower {
  private stopped = false;
  private controller: AbortController | undefined;
  private failedOpens = 0;
  private attempt = 0;
  private wake: (() => void) | undefined;

  constructor(
    private readonly threadId: string,
    private readonly config: SseFollowerConfig,
    private readonly hooks: SseFollowerHooks,
  ) {}

  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
    this.wake?.();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const outcome = await this.once();
      if (this.stopped || outcome.kind === 'final') return;
      this.hooks.down();
      if (outcome.kind === 'failed_open') {
        this.failedOpens += 1;
        if (this.failedOpens >= MAX_FAILED_OPENS) {
          this.hooks.unsupported(outcome.error);
          return;
        }
      }
      const wait = outcome.kind === 'retry' ? outcome.delayMs : undefined;
      // Jittered: the streams an instance drops when it dies must not all come back at once.
      const delay = wait ?? backoff(this.attempt, 250, MAX_BACKOFF_MS) * (0.5 + Math.random() / 2);
      this.attempt += 1;
      await this.sleep(delay);
    }
  }

  /** A backoff wait that `stop()` cuts short. */
  private sleep(ms: number): Promise<void> {
    const stopped = new Promise<void>((resolve) => {
      this.wake = resolve;
    });
    return Promise.race([this.config.timers.sleep(ms), stopped]);
  }

  /** One stream, from open to end. */
  private async once(): Promise<Outcome> {
    let headers: Record<string, string>;
    try {
      headers = await this.headers();
    } catch (error) {
      if (this.stopped) return { kind: 'final' };
      // The token function failed: that says nothing about whether SSE gets through.
      this.hooks.error(toClientError(error, 'TOKEN_FAILED', 'token', this.threadId));
      return { kind: 'retry' };
    }
    const controller = new AbortController();
    this.controller = controller;
    const { url } = this.config;
    let timedOut = false;
    let cancelTimer = this.config.timers.after(this.config.openTimeoutMs, () => {
      timedOut = true;
      controller.abort();
    });
    try {
      const response = await this.config.fetch(url, {
        method: 'GET',
        headers,
        signal: controller.signal,
      });
      if (!response.ok) return await this.refusal(response);
      const type = response.headers.get('content-type') ?? '';
      if (!type.startsWith('text/event-stream') || !response.body) {
        await response.body?.cancel();
        return this.notGettingThrough(`answered ${type || 'no content type'}, not an event stream`);
      }
      cancelTimer();
      return await this.read(
        response.body,
        controller,
        (ms) => {
          cancelTimer();
          cancelTimer = this.config.timers.after(ms, () => {
            timedOut = true;
            controller.abort();
          });
        },
        () => timedOut,
      );
    } catch (error) {
      if (this.stopped) return { kind: 'final' };
      const what = timedOut ? `no answer within ${this.config.openTimeoutMs} ms` : 'failed';
      return {
        kind: 'failed_open',
        error: toClientError(error, 'NETWORK', `GET ${url}: ${what}`, this.threadId),
      };
    } finally {
      cancelTimer();
    }
  }

  private async headers(): Promise<Record<string, string>> {
    const token = await this.config.token();
    const { epoch, lastSeq } = this.config.cursor();
    return {
      Authorization: `Bearer ${token}`,
      Accept: 'text/event-stream',
      // Without a known log the stream starts at its oldest event; the cursor drops repeats.
      ...(epoch === '' ? {} : { 'Last-Event-ID': `${epoch}:${lastSeq}` }),
    };
  }

  private async refusal(response: Response): Promise<Outcome> {
    const { error, fromRelay } = await responseError(
      'GET',
      this.config.url,
      response,
      this.threadId,
    );
    if (!fromRelay) {
      // A proxy in the way: its 5xx may pass, its 403/404 will not.
      if (response.status >= 500) return { kind: 'failed_open', error };
      return this.notGettingThrough(`HTTP ${response.status} from something other than the relay`);
    }
    // The thread itself is refused; anything else (a token, a cap, a rate, no log) may pass later.
    if (error.code === 'FORBIDDEN' || error.code === 'BAD_REQUEST') {
      this.hooks.refused(error);
      return { kind: 'final' };
    }
    // Nobody registered the thread yet (it is polled meanwhile): not worth a report.
    if (error.code === 'THREAD_NOT_FOUND') return { kind: 'retry' };
    this.hooks.error(error);
    // Over the per-user stream cap: the thread is polled meanwhile, so no hurry.
    if (error.code === 'LIMIT_EXCEEDED') return { kind: 'retry', delayMs: 30_000 };
    return { kind: 'retry', delayMs: error.retryAfterMs };
  }

  private notGettingThrough(detail: string): Outcome {
    this.hooks.unsupported(
      new ThreadRelayClientError('SSE_REFUSED', `GET ${this.config.url}: ${detail}`, {
        threadId: this.threadId,
        retryable: false,
      }),
    );
    return { kind: 'final' };
  }

  /** Reads the open stream until it ends; `arm` restarts the no-data timer. */
  private async read(
    body: ReadableStream<Uint8Array>,
    controller: AbortController,
    arm: (ms: number) => void,
    timedOut: () => boolean,
  ): Promise<Outcome> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseFrameParser(MAX_FRAME_CHARS);
    const startedAt = Date.now();
    let first = true;
    let closing: Outcome | undefined;
    // The relay writes a comment at once: a proxy that buffers the stream holds it back.
    arm(this.config.openTimeoutMs);
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || this.stopped) break;
        if (first) {
          first = false;
          this.failedOpens = 0;
          this.hooks.opened();
        }
        arm(this.config.idleTimeoutMs);
        for (const frame of parser.push(decoder.decode(value, { stream: true }))) {
          closing = this.frame(frame.event, frame.data);
          // Nothing after the relay's closing notice belongs to this stream.
          if (closing) break;
        }
        if (closing) break;
      }
    } catch (error) {
      if (this.stopped) return { kind: 'final' };
      if (first) {
        if (timedOut())
          return this.notGettingThrough(
            `no bytes within ${this.config.openTimeoutMs} ms (a proxy buffering the stream?)`,
          );
        return {
          kind: 'failed_open',
          error: toClientError(error, 'NETWORK', 'event stream', this.threadId),
        };
      }
      if (error instanceof RangeError) {
        this.hooks.error(
          new ThreadRelayClientError('BAD_MESSAGE', error.message, { threadId: this.threadId }),
        );
      }
    } finally {
      controller.abort();
    }
    if (this.stopped) return { kind: 'final' };
    if (Date.now() - startedAt >= HEALTHY_MS) this.attempt = 0;
    if (first)
      return {
        kind: 'failed_open',
        error: new ThreadRelayClientError('NETWORK', 'the event stream ended before it started', {
          threadId: this.threadId,
        }),
      };
    return closing ?? { kind: 'retry' };
  }

  /** One frame of the stream; an outcome when it says how the stream ends. */
  private frame(event: string, data: string): Outcome | undefined {
    let body: unknown;
    try {
      body = JSON.parse(data);
    } catch {
      this.malformed(event);
      return undefined;
    }
    if (event === 'thread.event') {
      if (isThreadEvent(body) && body.threadId === this.threadId) {
        // A stream that delivers works: its end starts the backoff anew. One that only
        // opens and closes (a server failing after its first bytes) keeps backing off.
        this.attempt = 0;
        this.hooks.event(body);
      } else {
        this.malformed(event);
      }
    } else if (event === 'thread.reset') {
      if (isRecord(body) && typeof body.epoch === 'string') this.hooks.reset(this.resetHint(body));
      else this.malformed(event);
    } else if (event === 'relay.closed') {
      return this.closed(body);
    }
    return undefined;
  }

  private resetHint(body: Record<string, unknown>): ResetHint {
    const epoch = body.epoch as string;
    const headSeq = typeof body.headSeq === 'number' ? body.headSeq : 0;
    const { epoch: mine, lastSeq } = this.config.cursor();
    if (body.reason === 'log_replaced' || epoch !== mine) {
      return { epoch, headSeq, reason: 'epoch_mismatch' };
    }
    return { epoch, headSeq, reason: lastSeq > headSeq ? 'ahead_of_log' : 'trimmed' };
  }

  /** `relay.closed`: the relay ends the stream and says why. */
  private closed(body: unknown): Outcome {
    const reason = isRecord(body) ? body.reason : undefined;
    if (reason === 'access_revoked') {
      this.hooks.refused(
        new ThreadRelayClientError(
          'THREAD_LEFT',
          `the server took this client out of thread ${this.threadId} (access_revoked)`,
          { threadId: this.threadId, retryable: false },
        ),
      );
      return { kind: 'final' };
    }
    // The next open asks the token function for a fresh token.
    if (reason === 'token_expired') return { kind: 'retry', delayMs: 0 };
    const error = isRecord(body) && isErrorBody(body.error) ? body.error : undefined;
    if (error) {
      this.hooks.error(
        new ThreadRelayClientError(error.code, `event stream: ${error.message}`, {
          threadId: this.threadId,
        }),
      );
    }
    return { kind: 'retry' };
  }

  private malformed(event: string): void {
    this.hooks.error(
      new ThreadRelayClientError('BAD_MESSAGE', `event stream: malformed ${event}`, {
        threadId: this.threadId,
      }),
    );
  }
}

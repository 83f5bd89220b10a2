import { ThreadRelayClientError, toClientError } from './client-error.js';
import type { HttpAccess } from './http-access.js';
import { JitteredBackoff } from './jittered-backoff.js';
import { SseAnswers, type SseAnswerHooks, type StreamOutcome } from './sse-answers.js';
import { SseFrameParser } from './sse-frame-parser.js';
import type { CursorPosition } from './thread-cursor.js';

/** Characters one event-stream frame may take; the server's frames are far smaller. */
const MAX_FRAME_CHARS = 8 * 1024 * 1024;
/** Failed opens in a row (network, a proxy's 5xx) after which SSE counts as not getting through. */
const MAX_FAILED_OPENS = 3;
const MAX_BACKOFF_MS = 10_000;
/** A stream that stayed open this long was a working one, events or not. */
const HEALTHY_MS = 30_000;

export interface SseFollowerConfig extends HttpAccess {
  url: string;
  /** Headers and the first bytes must come within this. */
  openTimeoutMs: number;
  /** Nothing at all (not even a heartbeat) for this long: the stream is taken for dead. */
  idleTimeoutMs: number;
  /** Where the thread's application stands: the stream resumes after it. */
  cursor: () => CursorPosition;
}

export interface SseFollowerHooks extends SseAnswerHooks {
  /** The stream is open: the thread's events arrive on it from now on. */
  opened(): void;
  /** The stream is down; it is opened again unless `stop()` was called or SSE is refused. */
  down(): void;
}

/**
 * Follows one thread over `GET /threads/:id/events` (fetch, so the token goes in a header
 * and no ticket is needed), resuming after the application's cursor each time it opens,
 * and backing off between streams. `SseAnswers` says what each answer means.
 */
export class SseFollower {
  private readonly answers: SseAnswers;
  private readonly backoff: JitteredBackoff;
  private stopped = false;
  private controller: AbortController | undefined;
  private failedOpens = 0;

  constructor(
    private readonly threadId: string,
    private readonly config: SseFollowerConfig,
    private readonly hooks: SseFollowerHooks,
  ) {
    this.backoff = new JitteredBackoff(config.timers, 250, MAX_BACKOFF_MS);
    this.answers = new SseAnswers(threadId, config.url, config.cursor, {
      event: (event) => {
        // A stream that delivers works: its end starts the backoff anew. One that only
        // opens and closes (a server failing after its first bytes) keeps backing off.
        this.backoff.reset();
        hooks.event(event);
      },
      reset: (hint) => hooks.reset(hint),
      refused: (error) => hooks.refused(error),
      unsupported: (error) => hooks.unsupported(error),
      error: (error) => hooks.error(error),
    });
  }

  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
    this.backoff.interrupt();
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
      await this.backoff.wait(outcome.kind === 'retry' ? outcome.delayMs : undefined);
    }
  }

  /** One stream, from open to end. */
  private async once(): Promise<StreamOutcome> {
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
      if (!response.ok) return await this.answers.refusal(response);
      const type = response.headers.get('content-type') ?? '';
      if (!type.startsWith('text/event-stream') || !response.body) {
        await response.body?.cancel();
        return this.answers.notGettingThrough(
          `answered ${type || 'no content type'}, not an event stream`,
        );
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

  /** Reads the open stream until it ends; `arm` restarts the no-data timer. */
  private async read(
    body: ReadableStream<Uint8Array>,
    controller: AbortController,
    arm: (ms: number) => void,
    timedOut: () => boolean,
  ): Promise<StreamOutcome> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseFrameParser(MAX_FRAME_CHARS);
    const startedAt = Date.now();
    let first = true;
    let closing: StreamOutcome | undefined;
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
          closing = this.answers.frame(frame.event, frame.data);
          // Nothing after the relay's closing notice belongs to this stream.
          if (closing) break;
        }
        if (closing) break;
      }
    } catch (error) {
      if (this.stopped) return { kind: 'final' };
      if (first) {
        if (timedOut())
          return this.answers.notGettingThrough(
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
    if (Date.now() - startedAt >= HEALTHY_MS) this.backoff.reset();
    if (first)
      return {
        kind: 'failed_open',
        error: new ThreadRelayClientError('NETWORK', 'the event stream ended before it started', {
          threadId: this.threadId,
        }),
      };
    return closing ?? { kind: 'retry' };
  }
}

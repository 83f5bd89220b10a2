import type { ThreadEvent } from '../protocol.js';
import { ThreadRelayClientError } from './client-error.js';
import { responseError } from './relay-rest-api.js';
import { isErrorBody } from './socket-request.js';
import type { CursorPosition } from './thread-cursor.js';
import type { ResetHint } from './thread-stream.js';
import { isRecord } from './record-checks.js';
import { isThreadEvent } from './wire-guards.js';

/** How one stream ended, and so what the follower does next. */
export type StreamOutcome =
  | { kind: 'retry'; delayMs?: number }
  | { kind: 'failed_open'; error: ThreadRelayClientError }
  | { kind: 'final' };

/** What the answers on a thread's event stream are passed on as. */
export interface SseAnswerHooks {
  event(event: ThreadEvent): void;
  reset(hint: ResetHint): void;
  /** The relay refuses this user the thread (forbidden, access revoked): no more attempts. */
  refused(error: ThreadRelayClientError): void;
  /** SSE does not get through to the relay (a proxy refuses or buffers it): no more attempts. */
  unsupported(error: ThreadRelayClientError): void;
  error(error: ThreadRelayClientError): void;
}

/**
 * What the answers on one thread's `GET /threads/:id/events` mean: a refusal, a body that
 * is not an event stream, and each frame of the stream. A relay error body is the relay's
 * answer; anything else (a proxy's page, no bytes at all) means SSE does not get through.
 */
export class SseAnswers {
  constructor(
    private readonly threadId: string,
    private readonly url: string,
    /** Where the thread's application stands: a reset is judged against it. */
    private readonly cursor: () => CursorPosition,
    private readonly hooks: SseAnswerHooks,
  ) {}

  async refusal(response: Response): Promise<StreamOutcome> {
    const { error, fromRelay } = await responseError('GET', this.url, response, this.threadId);
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

  notGettingThrough(detail: string): StreamOutcome {
    this.hooks.unsupported(
      new ThreadRelayClientError('SSE_REFUSED', `GET ${this.url}: ${detail}`, {
        threadId: this.threadId,
        retryable: false,
      }),
    );
    return { kind: 'final' };
  }

  /** One frame of the stream; an outcome when it says how the stream ends. */
  frame(event: string, data: string): StreamOutcome | undefined {
    let body: unknown;
    try {
      body = JSON.parse(data);
    } catch {
      this.malformed(event);
      return undefined;
    }
    if (event === 'thread.event') {
      if (isThreadEvent(body) && body.threadId === this.threadId) this.hooks.event(body);
      else this.malformed(event);
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
    const { epoch: mine, lastSeq } = this.cursor();
    if (body.reason === 'log_replaced' || epoch !== mine) {
      return { epoch, headSeq, reason: 'epoch_mismatch' };
    }
    return { epoch, headSeq, reason: lastSeq > headSeq ? 'ahead_of_log' : 'trimmed' };
  }

  /** `relay.closed`: the relay ends the stream and says why. */
  private closed(body: unknown): StreamOutcome {
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

import type { UserMessageResult } from '../protocol.js';
import { retryDelay, ThreadRelayClientError, toClientError } from './client-error.js';
import { backoff } from './timer-set.js';

export type SendAttempt = () => Promise<UserMessageResult>;

export interface SendRoutes {
  /** How the message can go right now (socket or REST), or null while neither is up. */
  current(remainingMs: number): SendAttempt | null;
  /** Resolves on the next connection status change, or after `ms`. */
  waitForChange(ms: number): Promise<void>;
  /** Resolves after `ms` whatever happens meanwhile (early only when the client closes). */
  sleep(ms: number): Promise<void>;
  /** Throws when the client was closed. */
  assertOpen(): void;
}

/**
 * Sends one message until it is confirmed or `timeoutMs` runs out. Every attempt carries
 * the same `clientMessageId`, so a message whose answer was lost is stored once. Only
 * failures that say nothing about the message itself are retried.
 */
export async function sendWithRetry(
  threadId: string,
  timeoutMs: number,
  routes: SendRoutes,
): Promise<UserMessageResult> {
  const deadline = Date.now() + timeoutMs;
  let lastError: ThreadRelayClientError | undefined;
  for (let attempt = 0; ; attempt += 1) {
    routes.assertOpen();
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw sendTimeout(threadId, timeoutMs, lastError);
    const send = routes.current(remaining);
    if (!send) {
      await routes.waitForChange(remaining);
      continue;
    }
    try {
      return await send();
    } catch (error) {
      const failure = toClientError(error, 'NETWORK', `send to thread ${threadId}`, threadId);
      if (!failure.retryable) throw failure;
      lastError = failure;
      const delay = retryDelay(failure, backoff(attempt, 100, 2000));
      if (failure.retryAfterMs === undefined) {
        // A reconnect or a switch to polling is worth trying at once.
        await routes.waitForChange(Math.min(remaining, delay));
      } else if (delay >= remaining) {
        // The server will refuse it until after the deadline: waiting for that helps no one.
        throw sendTimeout(threadId, timeoutMs, failure);
      } else {
        // The server said when; a new connection does not lift a limit that is the user's.
        await routes.sleep(delay);
      }
    }
  }
}

function sendTimeout(
  threadId: string,
  timeoutMs: number,
  lastError: ThreadRelayClientError | undefined,
): ThreadRelayClientError {
  const last = lastError ? ` (last error: ${lastError.message})` : '';
  return new ThreadRelayClientError(
    'SEND_TIMEOUT',
    `send to thread ${threadId}: not confirmed within ${timeoutMs} ms${last}`,
    { threadId, cause: lastError, retryable: true },
  );
}

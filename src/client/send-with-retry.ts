import type { UserMessageResult } from '../protocol.js';
import { ThreadRelayClientError, toClientError } from './client-error.js';
import { backoff } from './timer-set.js';

export type SendAttempt = () => Promise<UserMessageResult>;

export interface SendRoutes {
  /** How the message can go right now (socket or REST), or null while neither is up. */
  current(remainingMs: number): SendAttempt | null;
  /** Resolves on the next connection status change, or after `ms`. */
  waitForChange(ms: number): Promise<void>;
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
    if (remaining <= 0) {
      const last = lastError ? ` (last error: ${lastError.message})` : '';
      throw new ThreadRelayClientError(
        'SEND_TIMEOUT',
        `send to thread ${threadId}: not confirmed within ${timeoutMs} ms${last}`,
        { threadId, cause: lastError, retryable: true },
      );
    }
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
      await routes.waitForChange(Math.min(remaining, backoff(attempt, 100, 2000)));
    }
  }
}

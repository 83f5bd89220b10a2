import type { HistoryPage, UserMessageResult } from '../protocol.js';
import { ThreadRelayClientError } from './client-error.js';
import { isErrorBody, retryAfterOf, unwrapAck } from './socket-request.js';
import { isRecord } from './record-checks.js';
import { isHistoryPage, toUserMessageResult } from './wire-guards.js';

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/**
 * The two user routes the client needs when the socket cannot help: history (gap filling,
 * resets, polling) and posting a message (sending while polling).
 */
export class RelayRestApi {
  constructor(
    private readonly baseUrl: string,
    private readonly token: () => Promise<string>,
    private readonly fetchFn: FetchLike,
    private readonly timeoutMs: number,
  ) {}

  async history(threadId: string, after: number, limit: number): Promise<HistoryPage> {
    const query = `after=${after}&limit=${limit}`;
    const body = await this.call('GET', `${this.threadUrl(threadId)}?${query}`, threadId);
    if (!isHistoryPage(body) || body.threadId !== threadId) {
      throw new ThreadRelayClientError('BAD_RESPONSE', 'history: unexpected answer', { threadId });
    }
    return body;
  }

  async postMessage(
    threadId: string,
    text: string,
    clientMessageId: string,
  ): Promise<UserMessageResult> {
    const body = await this.call('POST', this.threadUrl(threadId), threadId, {
      text,
      clientMessageId,
    });
    const result = toUserMessageResult(unwrapAck('POST message', body, threadId));
    if (!result) {
      throw new ThreadRelayClientError('BAD_RESPONSE', 'POST message: unexpected answer', {
        threadId,
      });
    }
    return result;
  }

  /** The thread's Server-Sent Events route. */
  eventsUrl(threadId: string): string {
    return `${this.baseUrl}/threads/${encodeURIComponent(threadId)}/events`;
  }

  private threadUrl(threadId: string): string {
    return `${this.baseUrl}/threads/${encodeURIComponent(threadId)}/messages`;
  }

  private async call(
    method: 'GET' | 'POST',
    url: string,
    threadId: string,
    body?: object,
  ): Promise<unknown> {
    const token = await this.token();
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    try {
      let response: Response;
      try {
        response = await this.fetchFn(url, {
          method,
          headers: {
            Authorization: `Bearer ${token}`,
            Accept: 'application/json',
            ...(body ? { 'Content-Type': 'application/json' } : {}),
          },
          body: body ? JSON.stringify(body) : undefined,
          signal: controller.signal,
        });
      } catch (error) {
        const what = controller.signal.aborted ? `no answer within ${this.timeoutMs} ms` : 'failed';
        throw new ThreadRelayClientError('NETWORK', `${method} ${url}: ${what}`, {
          cause: error,
          threadId,
          retryable: true,
        });
      }
      if (!response.ok) throw (await responseError(method, url, response, threadId)).error;
      return await readJson(response);
    } finally {
      clearTimeout(timer);
    }
  }
}

async function readJson(response: Response): Promise<unknown> {
  try {
    const text = await response.text();
    return text.length > 0 ? (JSON.parse(text) as unknown) : null;
  } catch {
    return null;
  }
}

/**
 * The error a refused request stands for; `fromRelay` says whether the relay itself
 * answered (its error body) or something in between did (a proxy's page, a foreign 404).
 */
export async function responseError(
  method: string,
  url: string,
  response: Response,
  threadId: string,
): Promise<{ error: ThreadRelayClientError; fromRelay: boolean }> {
  const body = await readJson(response);
  const retryAfter = retryAfterHeaderMs(response.headers.get('retry-after'));
  const embedded = isRecord(body) ? (isErrorBody(body.error) ? body.error : body) : undefined;
  return {
    error: httpError(method, url, response.status, embedded, threadId, retryAfter),
    fromRelay: isErrorBody(embedded),
  };
}

/** `Retry-After` in delay-seconds, as milliseconds; an HTTP date or garbage is ignored. */
function retryAfterHeaderMs(header: string | null): number | undefined {
  if (header === null || !/^\s*\d+\s*$/.test(header)) return undefined;
  return Number(header) * 1000;
}

/** Prefers the server's own error code; falls back to one named after the status. */
function httpError(
  method: string,
  url: string,
  status: number,
  embedded: unknown,
  threadId: string,
  retryAfterHeader: number | undefined,
): ThreadRelayClientError {
  if (isErrorBody(embedded)) {
    return new ThreadRelayClientError(embedded.code, `${method} ${url}: ${embedded.message}`, {
      status,
      threadId,
      // Unset falls back to the code's own rule (RELAY_UNAVAILABLE, INTERNAL, RATE_LIMITED
      // retry). Not for 429: the relay answers a quota (LIMIT_EXCEEDED) with it too.
      retryable: status >= 500 || status === 408 ? true : undefined,
      // The body's milliseconds are exact; the header is rounded up to whole seconds.
      retryAfterMs: retryAfterOf(embedded) ?? retryAfterHeader,
    });
  }
  const code = STATUS_CODES[status] ?? 'HTTP_ERROR';
  return new ThreadRelayClientError(code, `${method} ${url}: HTTP ${status}`, {
    status,
    threadId,
    retryable: status >= 500 || status === 408 || status === 429,
    retryAfterMs: retryAfterHeader,
  });
}

const STATUS_CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  429: 'RATE_LIMITED',
  503: 'RELAY_UNAVAILABLE',
};

import { jest } from '@jest/globals';
import type { ThreadRelayClientError } from '../../src/client/client-error.js';
import { RelayRestApi, type FetchLike } from '../../src/client/relay-rest-api.js';

function apiAnswering(status: number, body: unknown, headers: Record<string, string> = {}) {
  const fetchFn = jest.fn<FetchLike>(() =>
    Promise.resolve(
      new Response(body === undefined ? null : JSON.stringify(body), {
        status,
        headers: { 'Content-Type': 'application/json', ...headers },
      }),
    ),
  );
  return new RelayRestApi('http://relay.test', () => Promise.resolve('tok'), fetchFn, 1000);
}

async function failure(promise: Promise<unknown>): Promise<ThreadRelayClientError> {
  try {
    await promise;
  } catch (error) {
    return error as ThreadRelayClientError;
  }
  throw new Error('expected a rejection');
}

describe('RelayRestApi errors', () => {
  const rateLimited = {
    ok: false,
    error: { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 1500 },
  };

  it("takes RATE_LIMITED's retryAfterMs from the body, exact, over the rounded header", async () => {
    const api = apiAnswering(429, rateLimited, { 'Retry-After': '2' });
    const error = await failure(api.history('t1', 0, 10));
    expect(error).toMatchObject({
      code: 'RATE_LIMITED',
      status: 429,
      retryable: true,
      retryAfterMs: 1500,
    });
  });

  it('falls back to the Retry-After header, in seconds', async () => {
    const api = apiAnswering(429, undefined, { 'Retry-After': '3' });
    const error = await failure(api.postMessage('t1', 'hi', 'id-1'));
    expect(error).toMatchObject({ code: 'RATE_LIMITED', retryable: true, retryAfterMs: 3000 });
  });

  it('ignores a Retry-After it cannot read', async () => {
    const api = apiAnswering(503, undefined, { 'Retry-After': 'Wed, 21 Oct 2015 07:28:00 GMT' });
    const error = await failure(api.history('t1', 0, 10));
    expect(error).toMatchObject({ code: 'RELAY_UNAVAILABLE', retryable: true });
    expect(error.retryAfterMs).toBeUndefined();
  });

  it('does not retry a quota the relay answers with 429 (LIMIT_EXCEEDED)', async () => {
    const api = apiAnswering(429, {
      ok: false,
      error: { code: 'LIMIT_EXCEEDED', message: 'too many threads' },
    });
    const error = await failure(api.postMessage('t1', 'hi', 'id-1'));
    expect(error).toMatchObject({ code: 'LIMIT_EXCEEDED', status: 429, retryable: false });
  });

  it('passes THREAD_NOT_FOUND through with its status (the stream decides what it means)', async () => {
    const api = apiAnswering(404, {
      ok: false,
      error: { code: 'THREAD_NOT_FOUND', message: 'No thread found for id "t1"' },
    });
    const error = await failure(api.history('t1', 0, 10));
    expect(error).toMatchObject({ code: 'THREAD_NOT_FOUND', status: 404, retryable: false });
  });
});

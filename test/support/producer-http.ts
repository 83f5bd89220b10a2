/** Producer keys the producer API tests configure (each >= 16 characters). */
export const PRODUCER_KEY = 'test-producer-key-0123456789';
export const OTHER_PRODUCER_KEY = 'other-producer-key-9876543210';

export interface HttpAnswer<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

export type ErrorBody = { ok: false; error: { code: string; message: string } };

/**
 * One request to the relay: `body` is sent as JSON unless it is a string (sent as is, for
 * malformed bodies), `key` as the Bearer credential (null: no Authorization header).
 */
export async function call<T = unknown>(
  baseUrl: string,
  method: string,
  path: string,
  options: {
    body?: unknown;
    key?: string | null;
    headers?: Record<string, string>;
  } = {},
): Promise<HttpAnswer<T>> {
  const key = options.key === undefined ? PRODUCER_KEY : options.key;
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: the raw text is what the assertion shows.
  }
  return { status: response.status, body: parsed as T, headers: response.headers };
}

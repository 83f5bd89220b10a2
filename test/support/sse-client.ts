import { waitUntil } from './wait-until.js';

/** A Server-Sent Events reader over fetch, for tests: every frame, comments included. */
export interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

export interface SseConnection {
  status: number;
  headers: Headers;
  frames: SseFrame[];
  /** Frames with data, parsed as JSON. */
  data(): unknown[];
  /** Resolves when the server ended the stream. */
  ended: Promise<void>;
  waitFor(
    predicate: (frames: SseFrame[]) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<void>;
  close(): void;
  /** The body of a refused request (status not 200). */
  body?: unknown;
}

function parseFrame(block: string): SseFrame {
  const frame: SseFrame = {};
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) frame.comment = line.slice(1).trim();
    else if (line.startsWith('id: ')) frame.id = line.slice(4);
    else if (line.startsWith('event: ')) frame.event = line.slice(7);
    else if (line.startsWith('data: '))
      frame.data = (frame.data ? `${frame.data}\n` : '') + line.slice(6);
  }
  return frame;
}

export async function openSse(
  url: string,
  headers: Record<string, string> = {},
): Promise<SseConnection> {
  const abort = new AbortController();
  const response = await fetch(url, { headers, signal: abort.signal });
  const frames: SseFrame[] = [];
  if (response.status !== 200 || !response.body) {
    const body: unknown = await response.json().catch(() => null);
    return {
      status: response.status,
      headers: response.headers,
      frames,
      data: () => [],
      ended: Promise.resolve(),
      waitFor: () => Promise.reject(new Error(`stream refused with ${response.status}`)),
      close: () => undefined,
      body,
    };
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const ended = (async () => {
    let buffered = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        buffered += decoder.decode(value, { stream: true });
        let end = buffered.indexOf('\n\n');
        while (end >= 0) {
          frames.push(parseFrame(buffered.slice(0, end)));
          buffered = buffered.slice(end + 2);
          end = buffered.indexOf('\n\n');
        }
      }
    } catch {
      // Aborted by close(), or the server cut the connection.
    }
  })();
  return {
    status: response.status,
    headers: response.headers,
    frames,
    data: () =>
      frames
        .filter((f) => f.data !== undefined)
        .map((f) => JSON.parse(f.data ?? 'null') as unknown),
    ended,
    waitFor: (predicate, what, timeoutMs = 10_000) =>
      waitUntil(() => predicate(frames), what, {
        timeoutMs,
        detail: () => `frames ${JSON.stringify(frames.slice(-5))}`,
      }),
    close: () => abort.abort(),
  };
}

import { jest } from '@jest/globals';
import type { ThreadEvent } from '../../src/protocol.js';
import type { ThreadRelayClientError } from '../../src/client/client-error.js';
import type { FetchLike } from '../../src/client/relay-rest-api.js';
import { SseFollower, type SseFollowerHooks } from '../../src/client/sse-follower.js';
import type { CursorPosition } from '../../src/client/thread-cursor.js';
import type { ResetHint } from '../../src/client/thread-stream.js';
import { TimerSet } from '../../src/client/timer-set.js';

const THREAD = 't1';
const EVENTS_URL = 'http://relay.test/threads/t1/events';
const MiB = 1024 * 1024;
const encoder = new TextEncoder();

/** Polls `predicate` every 5 ms until it holds; fails with `what` past the deadline. */
async function waitUntil(predicate: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Lets `ms` pass, only before asserting that something did NOT happen: longer than the
 * first reconnect delay (at most 250 ms), so a wrong reconnect would have shown by then.
 */
function quietFor(ms = 400): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** An event-stream body the test writes to; the request's abort errors it, as fetch does. */
class FakeBody {
  readonly stream: ReadableStream<Uint8Array>;
  /** Closed, errored (aborted) or cancelled by the reader: nothing more can be sent. */
  done = false;
  cancelled = false;
  bytesSent = 0;
  private controller!: ReadableStreamDefaultController<Uint8Array>;

  constructor(signal: AbortSignal) {
    this.stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.controller = controller;
      },
      cancel: () => {
        this.done = true;
        this.cancelled = true;
      },
    });
    signal.addEventListener('abort', () => this.fail(signal.reason), { once: true });
  }

  send(text: string): void {
    this.sendBytes(encoder.encode(text));
  }

  sendBytes(bytes: Uint8Array): void {
    if (this.done) return;
    this.bytesSent += bytes.length;
    this.controller.enqueue(bytes);
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    this.controller.close();
  }

  private fail(reason: unknown): void {
    if (this.done) return;
    this.done = true;
    this.controller.error(reason);
  }
}

interface Call {
  url: string;
  headers: Headers;
  signal: AbortSignal;
  body?: FakeBody;
}

type Answer = (call: Call) => Response | Promise<Response>;

/** 200 text/event-stream with a body the test controls (`call.body`). */
const eventStream: Answer = (call) => {
  const body = new FakeBody(call.signal);
  call.body = body;
  return new Response(body.stream, {
    status: 200,
    headers: { 'Content-Type': 'text/event-stream; charset=utf-8' },
  });
};

/** 200 with a body the test controls, of another content type. */
const streamOfType =
  (type: string): Answer =>
  (call) => {
    const body = new FakeBody(call.signal);
    call.body = body;
    return new Response(body.stream, { status: 200, headers: { 'Content-Type': type } });
  };

/** The relay's own error answer. */
const relayError =
  (status: number, code: string, extra: Record<string, unknown> = {}): Answer =>
  () =>
    new Response(JSON.stringify({ ok: false, error: { code, message: 'x', ...extra } }), {
      status,
      headers: { 'Content-Type': 'application/json' },
    });

/** Something other than the relay: a proxy's or a CDN's HTML page. */
const htmlPage =
  (status: number): Answer =>
  () =>
    new Response('<html><body><h1>Nope</h1></body></html>', {
      status,
      headers: { 'Content-Type': 'text/html' },
    });

const networkDown: Answer = () => Promise.reject(new TypeError('fetch failed'));

/** No headers ever: fails only when the request is aborted. */
const noAnswer: Answer = (call) =>
  new Promise((_resolve, reject) => {
    call.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
  });

/** A fetch answering the n-th request with `answers[n]` (the last one over and over). */
function relay(...answers: Answer[]) {
  const calls: Call[] = [];
  const fetch = jest.fn<FetchLike>((url, init) => {
    const { signal } = init;
    if (!signal) return Promise.reject(new Error('the follower sent no abort signal'));
    if (signal.aborted) return Promise.reject(new Error('aborted before the request'));
    const call: Call = { url, headers: new Headers(init.headers), signal };
    calls.push(call);
    const answer = answers[calls.length - 1] ?? answers[answers.length - 1] ?? eventStream;
    return Promise.resolve(answer(call));
  });
  /** The body of the n-th request, once it was made. */
  const body = (n: number): FakeBody => {
    const found = calls[n]?.body;
    if (!found) throw new Error(`request ${n} has no event-stream body`);
    return found;
  };
  return { fetch, calls, body };
}

function event(seq: number, overrides: Partial<ThreadEvent> = {}): ThreadEvent {
  return {
    id: `m${seq}`,
    threadId: THREAD,
    seq,
    epoch: 'e1',
    type: 'message',
    payload: { text: `hello ${seq}` },
    ts: 1_700_000_000_000 + seq,
    ...overrides,
  };
}

/** A frame as the relay writes it. */
function frame(name: string, data: unknown, id?: string): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

const eventFrame = (e: ThreadEvent): string => frame('thread.event', e, `${e.epoch}:${e.seq}`);

interface Running {
  follower: SseFollower;
  timers: TimerSet;
}
const running: Running[] = [];

afterEach(() => {
  for (const { follower, timers } of running.splice(0)) {
    follower.stop();
    timers.clear();
  }
});

/**
 * A started follower whose hooks record what they hear; `event` moves the cursor as the
 * application's would.
 */
function follow(
  fetch: FetchLike,
  options: {
    cursor?: CursorPosition;
    timers?: TimerSet;
    openTimeoutMs?: number;
    idleTimeoutMs?: number;
    token?: () => Promise<string>;
  } = {},
) {
  const timers = options.timers ?? new TimerSet();
  const log: string[] = [];
  const events: ThreadEvent[] = [];
  const resets: ResetHint[] = [];
  const errors: ThreadRelayClientError[] = [];
  const refused: ThreadRelayClientError[] = [];
  const unsupported: ThreadRelayClientError[] = [];
  const state = { cursor: options.cursor ?? { epoch: '', lastSeq: 0 } };
  let issued = 0;
  const token = jest.fn<() => Promise<string>>(
    options.token ?? (() => Promise.resolve(`tok-${++issued}`)),
  );
  const hooks: SseFollowerHooks = {
    opened: () => log.push('opened'),
    down: () => log.push('down'),
    event: (e) => {
      log.push(`event:${e.seq}`);
      events.push(e);
      state.cursor = { epoch: e.epoch, lastSeq: e.seq };
    },
    reset: (hint) => {
      log.push(`reset:${hint.reason}`);
      resets.push(hint);
    },
    refused: (error) => {
      log.push(`refused:${error.code}`);
      refused.push(error);
    },
    unsupported: (error) => {
      log.push(`unsupported:${error.code}`);
      unsupported.push(error);
    },
    error: (error) => {
      log.push(`error:${error.code}`);
      errors.push(error);
    },
  };
  const follower = new SseFollower(
    THREAD,
    {
      url: EVENTS_URL,
      token,
      fetch,
      timers,
      openTimeoutMs: options.openTimeoutMs ?? 200,
      idleTimeoutMs: options.idleTimeoutMs ?? 300,
      cursor: () => state.cursor,
    },
    hooks,
  );
  running.push({ follower, timers });
  follower.start();
  return { follower, token, log, events, resets, errors, refused, unsupported, state };
}

/** Records every backoff the follower asks for and skips the wait. */
function skippedSleeps(timers: TimerSet): number[] {
  const sleeps: number[] = [];
  jest.spyOn(timers, 'sleep').mockImplementation((ms) => {
    sleeps.push(ms);
    return Promise.resolve();
  });
  return sleeps;
}

describe('SseFollower', () => {
  describe('an open stream', () => {
    it('sends the token, asks for an event stream and resumes after the cursor', async () => {
      const server = relay(eventStream);
      follow(server.fetch, { cursor: { epoch: 'e1', lastSeq: 4 } });
      await waitUntil(() => server.calls.length === 1, 'the request');
      const [call] = server.calls;
      expect(call?.url).toBe(EVENTS_URL);
      expect(call?.headers.get('authorization')).toBe('Bearer tok-1');
      expect(call?.headers.get('accept')).toBe('text/event-stream');
      expect(call?.headers.get('last-event-id')).toBe('e1:4');
      expect(server.fetch.mock.calls[0]?.[1].method).toBe('GET');
    });

    it('sends no Last-Event-ID while the epoch is unknown', async () => {
      const server = relay(eventStream);
      follow(server.fetch, { cursor: { epoch: '', lastSeq: 0 } });
      await waitUntil(() => server.calls.length === 1, 'the request');
      expect(server.calls[0]?.headers.has('last-event-id')).toBe(false);
      expect(server.calls[0]?.headers.get('authorization')).toBe('Bearer tok-1');
    });

    it('calls opened() once the first bytes arrive, then hands over each thread event', async () => {
      const server = relay(eventStream);
      const f = follow(server.fetch);
      await waitUntil(() => server.calls[0]?.body?.stream.locked === true, 'the body read');
      // Headers alone do not make an open stream: a buffering proxy sends those too.
      expect(f.log).toEqual([]);

      const body = server.body(0);
      body.send(': open\n\n');
      await waitUntil(() => f.log.length === 1, 'opened');
      expect(f.log).toEqual(['opened']);

      const e1 = event(1);
      const e2 = event(2, { type: 'tool', payload: { text: 'héllo € 😀', n: [1, 2] } });
      const e3 = event(3, { runId: 'run-1' });
      // Split inside a frame and inside the 4-byte emoji: the decoder must join them again.
      const bytes = encoder.encode(': keep-alive\n\n' + eventFrame(e1) + eventFrame(e2));
      const emoji = bytes.indexOf(0xf0);
      expect(emoji).toBeGreaterThan(0);
      body.sendBytes(bytes.slice(0, 10));
      body.sendBytes(bytes.slice(10, emoji + 2));
      body.sendBytes(bytes.slice(emoji + 2));
      body.send(eventFrame(e3));
      await waitUntil(() => f.events.length === 3, 'three events');

      expect(f.events).toEqual([e1, e2, e3]);
      expect(f.log).toEqual(['opened', 'event:1', 'event:2', 'event:3']);
      expect(f.errors).toEqual([]);
      expect(server.fetch).toHaveBeenCalledTimes(1);
    });

    it('reports malformed frames as BAD_MESSAGE and goes on with the good ones', async () => {
      const server = relay(eventStream);
      const f = follow(server.fetch);
      await waitUntil(() => server.calls.length === 1, 'the request');
      const noTs: Partial<ThreadEvent> = event(2);
      delete noTs.ts;
      server.body(0).send(
        ': open\n\n' +
          eventFrame(event(1, { threadId: 't2' })) +
          'event: thread.event\ndata: {"id":"m1",\n\n' +
          frame('thread.event', noTs) +
          frame('thread.event', event(0)) +
          frame('thread.reset', { threadId: THREAD, reason: 'trimmed' }) +
          // An event this client does not know is skipped without a word.
          frame('relay.status', { mode: 'degraded' }) +
          eventFrame(event(1)) +
          eventFrame(event(2)),
      );
      await waitUntil(() => f.events.length === 2, 'the good events');

      expect(f.events).toEqual([event(1), event(2)]);
      expect(f.errors.map((e) => [e.code, e.threadId])).toEqual([
        ['BAD_MESSAGE', THREAD],
        ['BAD_MESSAGE', THREAD],
        ['BAD_MESSAGE', THREAD],
        ['BAD_MESSAGE', THREAD],
        ['BAD_MESSAGE', THREAD],
      ]);
      expect(f.errors[4]?.message).toBe('event stream: malformed thread.reset');
      expect(f.log).toEqual([
        'opened',
        'error:BAD_MESSAGE',
        'error:BAD_MESSAGE',
        'error:BAD_MESSAGE',
        'error:BAD_MESSAGE',
        'error:BAD_MESSAGE',
        'event:1',
        'event:2',
      ]);
      expect(f.resets).toEqual([]);
    });

    it('turns thread.reset frames into reset hints measured against the cursor', async () => {
      const server = relay(eventStream);
      const f = follow(server.fetch, { cursor: { epoch: 'e1', lastSeq: 5 } });
      await waitUntil(() => server.calls.length === 1, 'the request');
      const reset = (notice: Record<string, unknown>) =>
        frame('thread.reset', { threadId: THREAD, ...notice });
      server.body(0).send(
        ': open\n\n' +
          reset({ reason: 'log_replaced', epoch: 'e2' }) +
          // log_replaced means a new log even when the cursor already names its epoch.
          reset({ reason: 'log_replaced', epoch: 'e1', headSeq: 9 }) +
          reset({ reason: 'cursor_unavailable', epoch: 'e0', headSeq: 10, firstSeq: 1 }) +
          reset({ reason: 'cursor_unavailable', epoch: 'e1', headSeq: 10, firstSeq: 8 }) +
          reset({ reason: 'cursor_unavailable', epoch: 'e1', headSeq: 5, firstSeq: 1 }) +
          reset({ reason: 'cursor_unavailable', epoch: 'e1', headSeq: 3, firstSeq: 1 }),
      );
      await waitUntil(() => f.resets.length === 6, 'six resets');

      expect(f.resets).toEqual([
        { epoch: 'e2', headSeq: 0, reason: 'epoch_mismatch' },
        { epoch: 'e1', headSeq: 9, reason: 'epoch_mismatch' },
        { epoch: 'e0', headSeq: 10, reason: 'epoch_mismatch' },
        { epoch: 'e1', headSeq: 10, reason: 'trimmed' },
        { epoch: 'e1', headSeq: 5, reason: 'trimmed' },
        { epoch: 'e1', headSeq: 3, reason: 'ahead_of_log' },
      ]);
      expect(f.errors).toEqual([]);
    });
  });

  describe('how a stream ends', () => {
    it('relay.closed access_revoked: refused with THREAD_LEFT, never reopened', async () => {
      const server = relay(eventStream);
      const f = follow(server.fetch);
      await waitUntil(() => server.calls.length === 1, 'the request');
      const body = server.body(0);
      body.send(': open\n\n' + eventFrame(event(1)));
      body.send(frame('relay.closed', { reason: 'access_revoked' }));
      body.end();
      await waitUntil(() => f.refused.length === 1, 'refused');
      await quietFor();

      expect(f.refused[0]).toMatchObject({
        code: 'THREAD_LEFT',
        threadId: THREAD,
        retryable: false,
      });
      expect(f.log).toEqual(['opened', 'event:1', 'refused:THREAD_LEFT']);
      expect(server.fetch).toHaveBeenCalledTimes(1);
      expect(f.token).toHaveBeenCalledTimes(1);
    });

    it('relay.closed token_expired: reopens at once with a fresh token', async () => {
      const server = relay(eventStream, eventStream);
      const f = follow(server.fetch);
      await waitUntil(() => server.calls.length === 1, 'the request');
      const body = server.body(0);
      body.send(': open\n\n' + eventFrame(event(1)) + eventFrame(event(2)));
      body.send(frame('relay.closed', { reason: 'token_expired' }));
      body.end();
      await waitUntil(() => server.calls.length === 2, 'the second request');

      expect(f.token).toHaveBeenCalledTimes(2);
      expect(server.calls[1]?.headers.get('authorization')).toBe('Bearer tok-2');
      expect(server.calls[1]?.headers.get('last-event-id')).toBe('e1:2');
      expect(f.log).toEqual(['opened', 'event:1', 'event:2', 'down']);
      expect(f.errors).toEqual([]);
    });

    it('relay.closed failed with an error body: reports it, then reopens', async () => {
      const server = relay(eventStream, eventStream);
      const f = follow(server.fetch);
      await waitUntil(() => server.calls.length === 1, 'the request');
      const body = server.body(0);
      body.send(': open\n\n' + eventFrame(event(1)));
      body.send(
        frame('relay.closed', { reason: 'failed', error: { code: 'INTERNAL', message: 'boom' } }),
      );
      body.end();
      await waitUntil(() => server.calls.length === 2, 'the second request');

      expect(f.errors.map((e) => [e.code, e.message])).toEqual([
        ['INTERNAL', 'event stream: boom'],
      ]);
      expect(f.log).toEqual(['opened', 'event:1', 'error:INTERNAL', 'down']);
      expect(server.calls[1]?.headers.get('last-event-id')).toBe('e1:1');
    });

    it('a stream that just ends: down(), then reopens after the updated cursor', async () => {
      const server = relay(eventStream, eventStream);
      const f = follow(server.fetch, { cursor: { epoch: 'e1', lastSeq: 0 } });
      await waitUntil(() => server.calls.length === 1, 'the request');
      expect(server.calls[0]?.headers.get('last-event-id')).toBe('e1:0');
      server.body(0).send(': open\n\n' + eventFrame(event(1)) + eventFrame(event(2)));
      await waitUntil(() => f.events.length === 2, 'two events');
      server.body(0).end();
      await waitUntil(() => server.calls.length === 2, 'the second request');

      expect(server.calls[1]?.headers.get('last-event-id')).toBe('e1:2');
      expect(server.calls[1]?.headers.get('authorization')).toBe('Bearer tok-2');
      server.body(1).send(': open\n\n' + eventFrame(event(3)));
      await waitUntil(() => f.events.length === 3, 'the third event');
      expect(f.log).toEqual(['opened', 'event:1', 'event:2', 'down', 'opened', 'event:3']);
      expect(f.events.map((e) => e.seq)).toEqual([1, 2, 3]);
    });

    it('stop() on an open stream: the request is aborted, no hook and no request follow', async () => {
      const server = relay(eventStream);
      const f = follow(server.fetch);
      await waitUntil(() => server.calls.length === 1, 'the request');
      server.body(0).send(': open\n\n' + eventFrame(event(1)));
      await waitUntil(() => f.events.length === 1, 'the event');
      f.follower.stop();
      await waitUntil(() => server.calls[0]?.signal.aborted === true, 'the abort');
      server.body(0).send(eventFrame(event(2)));
      await quietFor();

      expect(server.body(0).done).toBe(true);
      expect(f.log).toEqual(['opened', 'event:1']);
      expect(server.fetch).toHaveBeenCalledTimes(1);
    });

    it('stop() while waiting to reconnect: no request follows', async () => {
      const server = relay(eventStream);
      const f = follow(server.fetch);
      await waitUntil(() => server.calls.length === 1, 'the request');
      server.body(0).send(': open\n\n');
      server.body(0).end();
      await waitUntil(() => f.log.includes('down'), 'down');
      f.follower.stop();
      await quietFor();

      expect(f.log).toEqual(['opened', 'down']);
      expect(server.fetch).toHaveBeenCalledTimes(1);
    });

    it('stop() while the request waits for headers: no hook, no other request', async () => {
      const server = relay(noAnswer);
      const f = follow(server.fetch, { openTimeoutMs: 5000 });
      await waitUntil(() => server.calls.length === 1, 'the request');
      f.follower.stop();
      expect(server.calls[0]?.signal.aborted).toBe(true);
      await quietFor();

      expect(f.log).toEqual([]);
      expect(server.fetch).toHaveBeenCalledTimes(1);
    });
  });

  describe('what the relay answers instead of a stream', () => {
    it.each([
      [403, 'FORBIDDEN'],
      [400, 'BAD_REQUEST'],
    ])('%i %s: refused, never retried', async (status, code) => {
      const server = relay(relayError(status, code));
      const f = follow(server.fetch);
      await waitUntil(() => f.refused.length === 1, 'refused');
      await quietFor();

      expect(f.refused[0]).toMatchObject({ code, status, threadId: THREAD });
      expect(f.log).toEqual([`refused:${code}`]);
      expect(server.fetch).toHaveBeenCalledTimes(1);
    });

    it('429 LIMIT_EXCEEDED: reported, retried 30 s later', async () => {
      const timers = new TimerSet();
      const sleeps = skippedSleeps(timers);
      const server = relay(relayError(429, 'LIMIT_EXCEEDED'), eventStream);
      const f = follow(server.fetch, { timers });
      await waitUntil(() => server.calls.length === 2, 'the retry');

      expect(f.errors[0]).toMatchObject({ code: 'LIMIT_EXCEEDED', status: 429 });
      expect(f.log).toEqual(['error:LIMIT_EXCEEDED', 'down']);
      expect(sleeps).toEqual([30_000]);
    });

    it('429 LIMIT_EXCEEDED with real timers: reported and down, then waiting', async () => {
      const server = relay(relayError(429, 'LIMIT_EXCEEDED'));
      const f = follow(server.fetch);
      await waitUntil(() => f.log.includes('down'), 'down');
      await quietFor();

      expect(f.log).toEqual(['error:LIMIT_EXCEEDED', 'down']);
      expect(server.fetch).toHaveBeenCalledTimes(1);
    });

    it('503 RELAY_UNAVAILABLE: reported, retried after its retryAfterMs', async () => {
      const timers = new TimerSet();
      const sleeps = skippedSleeps(timers);
      const server = relay(
        relayError(503, 'RELAY_UNAVAILABLE', { retryAfterMs: 1500 }),
        eventStream,
      );
      const f = follow(server.fetch, { timers });
      await waitUntil(() => server.calls.length === 2, 'the retry');

      expect(f.errors[0]).toMatchObject({ code: 'RELAY_UNAVAILABLE', status: 503 });
      expect(f.log).toEqual(['error:RELAY_UNAVAILABLE', 'down']);
      expect(sleeps).toEqual([1500]);
      expect(f.unsupported).toEqual([]);
    });

    it('404 THREAD_NOT_FOUND: not reported, retried', async () => {
      const server = relay(relayError(404, 'THREAD_NOT_FOUND'), eventStream);
      const f = follow(server.fetch);
      await waitUntil(() => server.calls.length === 2, 'the retry');
      server.body(1).send(': open\n\n' + eventFrame(event(1)));
      await waitUntil(() => f.events.length === 1, 'the event');

      expect(f.log).toEqual(['down', 'opened', 'event:1']);
      expect(f.errors).toEqual([]);
    });

    it('401 UNAUTHORIZED from the relay: reported, retried with a fresh token', async () => {
      const server = relay(relayError(401, 'UNAUTHORIZED'), eventStream);
      const f = follow(server.fetch);
      await waitUntil(() => server.calls.length === 2, 'the retry');

      expect(f.errors[0]).toMatchObject({ code: 'UNAUTHORIZED', status: 401, threadId: THREAD });
      expect(f.log).toEqual(['error:UNAUTHORIZED', 'down']);
      expect(server.calls[1]?.headers.get('authorization')).toBe('Bearer tok-2');
    });
  });

  describe('when SSE does not get through', () => {
    it("a proxy's 403 page: unsupported (SSE_REFUSED) at once, never retried", async () => {
      const server = relay(htmlPage(403));
      const f = follow(server.fetch);
      await waitUntil(() => f.unsupported.length === 1, 'unsupported');
      await quietFor();

      expect(f.unsupported[0]).toMatchObject({
        code: 'SSE_REFUSED',
        retryable: false,
        threadId: THREAD,
      });
      expect(f.unsupported[0]?.message).toContain('HTTP 403');
      expect(f.log).toEqual(['unsupported:SSE_REFUSED']);
      expect(server.fetch).toHaveBeenCalledTimes(1);
    });

    it('200 application/json: unsupported, the body released, never retried', async () => {
      const server = relay(streamOfType('application/json'));
      const f = follow(server.fetch);
      await waitUntil(() => f.unsupported.length === 1, 'unsupported');
      await quietFor();

      expect(f.unsupported[0]?.code).toBe('SSE_REFUSED');
      expect(f.unsupported[0]?.message).toContain('application/json');
      expect(server.body(0).cancelled).toBe(true);
      expect(f.log).toEqual(['unsupported:SSE_REFUSED']);
      expect(server.fetch).toHaveBeenCalledTimes(1);
    });

    it('502 pages three times in a row: unsupported after the third', async () => {
      const server = relay(htmlPage(502));
      const f = follow(server.fetch);
      await waitUntil(() => f.unsupported.length === 1, 'unsupported');
      await quietFor();

      expect(f.log).toEqual(['down', 'down', 'down', 'unsupported:HTTP_ERROR']);
      expect(f.unsupported[0]).toMatchObject({ code: 'HTTP_ERROR', status: 502 });
      expect(f.errors).toEqual([]);
      expect(server.fetch).toHaveBeenCalledTimes(3);
    });

    it('counts failed opens only in a row; a stream that delivered starts the backoff anew', async () => {
      const timers = new TimerSet();
      const sleeps = skippedSleeps(timers);
      const server = relay(
        htmlPage(502),
        htmlPage(502),
        eventStream,
        htmlPage(502),
        htmlPage(502),
        eventStream,
      );
      const f = follow(server.fetch, { timers });
      await waitUntil(() => server.calls.length === 3, 'the third request');
      server.body(2).send(': open\n\n' + eventFrame(event(1)));
      server.body(2).end();
      await waitUntil(() => server.calls.length === 6, 'the sixth request');
      server.body(5).send(': open\n\n');
      await waitUntil(() => f.log.length === 8, 'the second open');

      expect(f.log).toEqual([
        'down',
        'down',
        'opened',
        'event:1',
        'down',
        'down',
        'down',
        'opened',
      ]);
      expect(f.unsupported).toEqual([]);
      // Jittered exponential backoff, started anew by the stream that delivered an event.
      const [a, b, c, d, e] = sleeps;
      expect(sleeps).toHaveLength(5);
      expect(a).toBeGreaterThanOrEqual(125);
      expect(a).toBeLessThanOrEqual(250);
      expect(b).toBeGreaterThanOrEqual(250);
      expect(b).toBeLessThanOrEqual(500);
      expect(c).toBeGreaterThanOrEqual(125);
      expect(c).toBeLessThanOrEqual(250);
      expect(d).toBeGreaterThanOrEqual(250);
      expect(d).toBeLessThanOrEqual(500);
      expect(e).toBeGreaterThanOrEqual(500);
      expect(e).toBeLessThanOrEqual(1000);
    });

    it('a stream that opens and ends without delivering does not start the backoff anew', async () => {
      const timers = new TimerSet();
      const sleeps = skippedSleeps(timers);
      const server = relay(eventStream, eventStream, eventStream);
      const f = follow(server.fetch, { timers });
      for (let i = 0; i < 3; i += 1) {
        await waitUntil(() => server.calls.length === i + 1, `request ${i + 1}`);
        server.body(i).send(': open\n\n');
        server.body(i).end();
      }
      await waitUntil(() => sleeps.length === 3, 'three waits');
      expect(f.unsupported).toEqual([]);
      const [a, b, c] = sleeps;
      expect(a).toBeGreaterThanOrEqual(125);
      expect(a).toBeLessThanOrEqual(250);
      expect(b).toBeGreaterThanOrEqual(250);
      expect(b).toBeLessThanOrEqual(500);
      expect(c).toBeGreaterThanOrEqual(500);
      expect(c).toBeLessThanOrEqual(1000);
    });

    it('a failing token function is reported and retried, never taken for SSE not getting through', async () => {
      const timers = new TimerSet();
      skippedSleeps(timers);
      let calls = 0;
      const server = relay(eventStream);
      const f = follow(server.fetch, {
        timers,
        token: () => (++calls <= 4 ? Promise.reject(new Error('auth down')) : Promise.resolve('t')),
      });
      await waitUntil(() => server.calls.length === 1, 'the request once a token came');
      server.body(0).send(': open\n\n');
      await waitUntil(() => f.log.includes('opened'), 'the stream');
      expect(f.unsupported).toEqual([]);
      expect(f.log.slice(0, 8)).toEqual([
        'error:TOKEN_FAILED',
        'down',
        'error:TOKEN_FAILED',
        'down',
        'error:TOKEN_FAILED',
        'down',
        'error:TOKEN_FAILED',
        'down',
      ]);
    });

    it('fetch rejecting three times (network): unsupported with the network error', async () => {
      const server = relay(networkDown);
      const f = follow(server.fetch);
      await waitUntil(() => f.unsupported.length === 1, 'unsupported');
      await quietFor();

      expect(f.log).toEqual(['down', 'down', 'down', 'unsupported:NETWORK']);
      expect(f.unsupported[0]).toMatchObject({ code: 'NETWORK', threadId: THREAD });
      expect(f.unsupported[0]?.message).toBe(`GET ${EVENTS_URL}: failed: fetch failed`);
      expect((f.unsupported[0]?.cause as Error).message).toBe('fetch failed');
      expect(server.fetch).toHaveBeenCalledTimes(3);
    });

    it('no headers within openTimeoutMs three times: unsupported (NETWORK)', async () => {
      const server = relay(noAnswer);
      const f = follow(server.fetch, { openTimeoutMs: 100 });
      await waitUntil(() => f.unsupported.length === 1, 'unsupported');

      expect(f.log).toEqual(['down', 'down', 'down', 'unsupported:NETWORK']);
      expect(f.unsupported[0]?.message).toContain('no answer within 100 ms');
      expect(server.calls.every((call) => call.signal.aborted)).toBe(true);
      expect(server.fetch).toHaveBeenCalledTimes(3);
    });

    it('a 200 event stream that never sends a byte: unsupported (buffering proxy)', async () => {
      const server = relay(eventStream);
      const started = Date.now();
      const f = follow(server.fetch, { openTimeoutMs: 150 });
      await waitUntil(() => f.unsupported.length === 1, 'unsupported');
      const elapsed = Date.now() - started;
      await quietFor();

      expect(elapsed).toBeGreaterThanOrEqual(140);
      expect(f.unsupported[0]).toMatchObject({ code: 'SSE_REFUSED', retryable: false });
      expect(f.unsupported[0]?.message).toContain('no bytes within 150 ms');
      expect(server.calls[0]?.signal.aborted).toBe(true);
      expect(f.log).toEqual(['unsupported:SSE_REFUSED']);
      expect(server.fetch).toHaveBeenCalledTimes(1);
    });
  });

  describe('a stream that goes wrong', () => {
    it('heartbeats keep it open; silence past idleTimeoutMs takes it down and reopens it', async () => {
      const server = relay(eventStream, eventStream);
      const f = follow(server.fetch, { idleTimeoutMs: 150 });
      await waitUntil(() => server.calls.length === 1, 'the request');
      const body = server.body(0);
      body.send(': open\n\n' + eventFrame(event(1)));
      let beats = 0;
      const heartbeat = setInterval(() => {
        beats += 1;
        body.send(': keep-alive\n\n');
      }, 40);
      try {
        // 400 ms of heartbeats, well past the idle timeout.
        await waitUntil(() => beats >= 10, 'ten heartbeats');
      } finally {
        clearInterval(heartbeat);
      }
      expect(f.log).toEqual(['opened', 'event:1']);
      expect(body.done).toBe(false);

      const silentSince = Date.now();
      await waitUntil(() => f.log.includes('down'), 'down');
      expect(Date.now() - silentSince).toBeGreaterThanOrEqual(100);
      expect(server.calls[0]?.signal.aborted).toBe(true);
      await waitUntil(() => server.calls.length === 2, 'the second request');
      expect(server.calls[1]?.headers.get('last-event-id')).toBe('e1:1');
      expect(f.log).toEqual(['opened', 'event:1', 'down']);
      expect(f.unsupported).toEqual([]);
    });

    it.each([
      ['one line without a newline', 'x'.repeat(512 * 1024)],
      ['many data lines without a blank line', `data: ${'x'.repeat(1018)}\n`.repeat(512)],
    ])(
      'a frame past the parser limit (%s): BAD_MESSAGE, aborted near 8 MiB, reopened',
      async (_what, chunk) => {
        const server = relay(eventStream, eventStream);
        const f = follow(server.fetch);
        await waitUntil(() => server.calls.length === 1, 'the request');
        const body = server.body(0);
        body.send(': open\n\nevent: thread.event\ndata: ');
        const started = Date.now();
        // Up to 64 MiB, unless the follower gives up first (it must, past 8 MiB).
        while (!body.done && body.bytesSent < 64 * MiB) {
          body.send(chunk);
          await new Promise((resolve) => setImmediate(resolve));
        }
        await waitUntil(() => f.errors.length === 1, 'the error');
        await waitUntil(() => server.calls.length === 2, 'the second request');

        expect(Date.now() - started).toBeLessThan(2000);
        expect(body.bytesSent).toBeGreaterThan(8 * MiB);
        expect(body.bytesSent).toBeLessThan(9 * MiB + chunk.length);
        expect(f.errors[0]).toMatchObject({ code: 'BAD_MESSAGE', threadId: THREAD });
        expect(f.errors[0]?.message).toBe('an event-stream frame is over 8388608 characters');
        expect(f.log).toEqual(['opened', 'error:BAD_MESSAGE', 'down']);
        expect(f.events).toEqual([]);
      },
    );
  });
});

import { readUIMessageStream, type UIMessage, type UIMessageChunk } from 'ai';
import net from 'node:net';
import { MESSAGE_LOG, type MessageLog, signUserToken } from '../src/index.js';
import { SseStreams } from '../src/sse/sse-streams.service.js';
import { expectValidAgUi } from './support/ag-ui-validation.js';
import { aiSdkChunks } from './support/ai-sdk-stream.js';
import { openSse, type SseConnection } from './support/sse-client.js';
import { TEST_JWT_SECRET } from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';
import { waitUntil } from './support/wait-until.js';

interface StreamedEvent {
  seq: number;
  epoch: string;
  payload: { n: number };
}

/** `GET /threads/:threadId/events` and its tickets, on one instance in memory. */
describe('Server-Sent Events', () => {
  const open: SseConnection[] = [];

  const relay = useRelayApp({
    sse: { heartbeatMs: 200 },
    backpressure: { highWaterBytes: 16 * 1024, maxBufferedBytes: 64 * 1024 },
  });
  afterEach(() => {
    for (const connection of open.splice(0)) connection.close();
  });

  async function stream(
    path: string,
    options: { user?: string | null; headers?: Record<string, string> } = {},
  ): Promise<SseConnection> {
    const user = options.user === undefined ? 'alice' : options.user;
    const headers = { ...(options.headers ?? {}) };
    if (user !== null) headers.authorization = `Bearer ${await relay.token(user)}`;
    const connection = await openSse(`${relay.url}${path}`, headers);
    open.push(connection);
    return connection;
  }

  async function thread(threadId: string, events: number, owner = 'alice'): Promise<string> {
    await relay.registry.registerThread(threadId, owner);
    let epoch = '';
    for (let n = 1; n <= events; n++) {
      epoch = (await relay.delivery.sendToThread(threadId, 'tick', { n })).epoch;
    }
    return epoch;
  }

  const seqs = (c: SseConnection) =>
    c.frames
      .filter((f) => f.event === 'thread.event')
      .map((f) => (JSON.parse(f.data ?? '{}') as StreamedEvent).seq);

  it('streams the log, then live events, each once, with <epoch>:<seq> ids', async () => {
    const epoch = await thread('sse-live', 3);
    const c = await stream('/threads/sse-live/events');
    expect(c.status).toBe(200);
    expect(c.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await c.waitFor(() => seqs(c).length === 3, 'the log');
    for (let n = 4; n <= 6; n++) await relay.delivery.sendToThread('sse-live', 'tick', { n });
    await c.waitFor(() => seqs(c).length === 6, 'the live events');
    expect(seqs(c)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(c.frames.filter((f) => f.event === 'thread.event').map((f) => f.id)).toEqual(
      [1, 2, 3, 4, 5, 6].map((seq) => `${epoch}:${seq}`),
    );
    await c.waitFor((frames) => frames.some((f) => f.comment === 'keep-alive'), 'a heartbeat');
  });

  it('resumes after Last-Event-ID (or ?lastEventId=) with exactly the missed events', async () => {
    const epoch = await thread('sse-resume', 10);
    const byHeader = await stream('/threads/sse-resume/events', {
      headers: { 'last-event-id': `${epoch}:4` },
    });
    const byQuery = await stream(`/threads/sse-resume/events?lastEventId=${epoch}:7`);
    await byHeader.waitFor(() => seqs(byHeader).length === 6, 'events 5..10');
    await byQuery.waitFor(() => seqs(byQuery).length === 3, 'events 8..10');
    await relay.delivery.sendToThread('sse-resume', 'tick', { n: 11 });
    await byHeader.waitFor(() => seqs(byHeader).includes(11), 'the live event');
    await byQuery.waitFor(() => seqs(byQuery).includes(11), 'the live event');
    expect(seqs(byHeader)).toEqual([5, 6, 7, 8, 9, 10, 11]);
    expect(seqs(byQuery)).toEqual([8, 9, 10, 11]);
    expect(byHeader.frames.some((f) => f.event === 'thread.reset')).toBe(false);
  });

  it('sends thread.reset for a cursor it cannot serve, then the log it has', async () => {
    const epoch = await thread('sse-reset', 3);
    for (const cursor of ['0123456789abcdef:2', `${epoch}:99`]) {
      const c = await stream('/threads/sse-reset/events', { headers: { 'last-event-id': cursor } });
      await c.waitFor(() => seqs(c).length === 3, 'the whole log');
      const reset = c.frames.find((f) => f.event === 'thread.reset');
      expect(JSON.parse(reset?.data ?? '{}')).toMatchObject({
        threadId: 'sse-reset',
        reason: 'cursor_unavailable',
        epoch,
        headSeq: 3,
        firstSeq: 1,
      });
      expect(seqs(c)).toEqual([1, 2, 3]);
    }
    const bad = await stream('/threads/sse-reset/events', { headers: { 'last-event-id': 'nope' } });
    expect(bad.status).toBe(400);
  });

  it('refuses without a token, with a bad one, and on another user’s thread', async () => {
    await thread('sse-private', 1, 'bob');
    expect((await stream('/threads/sse-private/events', { user: null })).status).toBe(401);
    const forged = await openSse(`${relay.url}/threads/sse-private/events`, {
      authorization: `Bearer ${await signUserToken('bob', 'another-secret-of-32-bytes-or-more!!')}`,
    });
    expect(forged.status).toBe(401);
    const other = await stream('/threads/sse-private/events', { user: 'alice' });
    expect(other.status).toBe(403);
    expect(other.body).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect((await stream('/threads/sse-private/events?format=xml', { user: 'bob' })).status).toBe(
      400,
    );
  });

  it('takes a single-use ticket for EventSource, bound to its thread', async () => {
    await thread('sse-ticket', 2);
    await thread('sse-ticket-other', 1);
    const issue = async (threadId: string, user = 'alice') =>
      fetch(`${relay.url}/threads/${threadId}/stream-tickets`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await relay.token(user)}` },
      });
    const issued = await issue('sse-ticket');
    expect(issued.status).toBe(201);
    const { ticket, expiresInMs } = (await issued.json()) as {
      ticket: string;
      expiresInMs: number;
    };
    expect(expiresInMs).toBe(60_000);
    const first = await stream(`/threads/sse-ticket/events?ticket=${ticket}`, { user: null });
    expect(first.status).toBe(200);
    await first.waitFor(() => seqs(first).length === 2, 'the log');
    const again = await stream(`/threads/sse-ticket/events?ticket=${ticket}`, { user: null });
    expect(again.status).toBe(401);
    const { ticket: forOther } = (await (await issue('sse-ticket-other')).json()) as {
      ticket: string;
    };
    expect(
      (await stream(`/threads/sse-ticket/events?ticket=${forOther}`, { user: null })).status,
    ).toBe(401);
    expect((await stream('/threads/sse-ticket/events?ticket=short', { user: null })).status).toBe(
      401,
    );
    expect((await issue('sse-ticket', 'mallory')).status).toBe(403);
    const anonymous = await fetch(`${relay.url}/threads/sse-ticket/stream-tickets`, {
      method: 'POST',
    });
    expect(anonymous.status).toBe(401);
  });

  it('ends the stream when the token expires, and when the user loses the thread', async () => {
    await thread('sse-expiry', 1);
    const token = await signUserToken('alice', TEST_JWT_SECRET, { expiresIn: '1s' });
    const expiring = await openSse(`${relay.url}/threads/sse-expiry/events`, {
      authorization: `Bearer ${token}`,
    });
    open.push(expiring);
    await expiring.ended;
    expect(expiring.frames.at(-1)).toMatchObject({ event: 'relay.closed' });
    expect(JSON.parse(expiring.frames.at(-1)?.data ?? '{}')).toEqual({ reason: 'token_expired' });

    await thread('sse-revoked', 1);
    const revoked = await stream('/threads/sse-revoked/events');
    await revoked.waitFor(() => seqs(revoked).length === 1, 'the log');
    await relay.registry.unregisterThread('sse-revoked');
    await revoked.ended;
    expect(JSON.parse(revoked.frames.at(-1)?.data ?? '{}')).toEqual({ reason: 'access_revoked' });
  });

  it('cuts a client that stops reading instead of buffering for it', async () => {
    await thread('sse-slow', 0);
    const streams = relay.app.get(SseStreams);
    const before = streams.size;
    const { port } = new URL(relay.url);
    // A client that sends its request and never reads a byte of the answer.
    const socket = net.connect(Number(port), '127.0.0.1');
    socket.pause();
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(
      `GET /threads/sse-slow/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${await relay.token('alice')}\r\n\r\n`,
    );
    await waitUntil(() => streams.size === before + 1, 'the stream to open');
    const big = 'x'.repeat(8 * 1024);
    // Far more than the socket buffers and the 64 KiB allowed unsent.
    for (let n = 1; n <= 400 && streams.size > before; n++) {
      await relay.delivery.sendToThread('sse-slow', 'chunk', { n, big });
    }
    await waitUntil(() => streams.size === before, 'the slow stream to be cut');
    socket.resume();
    await closed;
  });
});

/**
 * The rendered formats when the stream starts again: a log replaced under a running stream
 * (`log_replaced`), and a resume from a cursor the log was trimmed past (`cursor_unavailable`).
 * Read by the AG-UI and AI SDK packages' own verifier, schemas and reader.
 */
describe('Server-Sent Events, rendered formats across a reset', () => {
  const open: SseConnection[] = [];
  const aborts: AbortController[] = [];

  // Five events kept per thread: a longer log is trimmed from its start.
  const relay = useRelayApp({ history: { maxPerThread: 5 } });
  afterEach(() => {
    for (const connection of open.splice(0)) connection.close();
    for (const abort of aborts.splice(0)) abort.abort();
  });

  type Events = ReadonlyArray<readonly [type: string, payload: Record<string, unknown>]>;
  interface AgUiEvent {
    type: string;
    [field: string]: unknown;
  }

  /** A run the old log leaves open: its text message too. */
  const OPEN_RUN: Events = [
    ['agent_started', { runId: 'old-run' }],
    ['assistant_message', { delta: 'Half an ', final: false }],
  ];
  /** What the log that replaces it holds. */
  const NEW_LOG: Events = [
    ['user_message', { text: 'again' }],
    ['agent_started', { runId: 'new-run' }],
    ['assistant_message', { delta: 'Fresh ', final: false }],
    ['assistant_message', { delta: 'start.', final: false }],
    ['assistant_message', { text: 'Fresh start.', final: true }],
    ['agent_completed', { status: 'ok' }],
  ];
  /** Seven events: seqs 1..2 are trimmed away, 3..7 kept. */
  const TRIMMED_LOG: Events = [
    ['agent_started', { runId: 'long-run' }],
    ['assistant_message', { delta: 'One ', final: false }],
    ['assistant_message', { delta: 'two ', final: false }],
    ['assistant_message', { delta: 'three.', final: false }],
    ['assistant_message', { text: 'One two three.', final: true }],
    ['agent_completed', { status: 'ok' }],
    ['user_message', { text: 'next' }],
  ];

  async function thread(threadId: string, events: Events): Promise<string> {
    await relay.registry.registerThread(threadId, 'alice');
    return send(threadId, events);
  }

  async function send(threadId: string, events: Events): Promise<string> {
    let epoch = '';
    for (const [type, payload] of events) {
      epoch = (await relay.delivery.sendToThread(threadId, type, payload)).epoch;
    }
    return epoch;
  }

  /** The log expires (dropped here): the next event starts a new one, a new epoch, at seq 1. */
  async function replaceLog(threadId: string, events: Events): Promise<string> {
    await relay.app.get<MessageLog>(MESSAGE_LOG).drop(threadId);
    return send(threadId, events);
  }

  async function stream(path: string, headers: Record<string, string> = {}) {
    const connection = await openSse(`${relay.url}${path}`, {
      authorization: `Bearer ${await relay.token('alice')}`,
      ...headers,
    });
    open.push(connection);
    return connection;
  }

  /**
   * Reads a `?format=ai-sdk` stream the way an AI SDK client does: the `ai` package's SSE
   * parser and chunk schema, then its UI message reader, until `done(chunks)`. `chunks`
   * fills as they come; `messages` answers every message built, each as last built.
   */
  function readAiSdk(
    path: string,
    done: (chunks: UIMessageChunk[]) => boolean,
    headers: Record<string, string> = {},
  ): { chunks: UIMessageChunk[]; messages: Promise<UIMessage[]> } {
    const chunks: UIMessageChunk[] = [];
    const abort = new AbortController();
    aborts.push(abort);
    // A stream that never gets there fails the test with what it got, not at jest's timeout.
    const timer = setTimeout(() => abort.abort(), 10_000);
    const messages = (async () => {
      const response = await fetch(`${relay.url}${path}`, {
        headers: { authorization: `Bearer ${await relay.token('alice')}`, ...headers },
        signal: abort.signal,
      });
      expect(response.headers.get('x-vercel-ai-ui-message-stream')).toBe('v1');
      const parsed = aiSdkChunks(
        response.body!,
        (chunk) => {
          chunks.push(chunk);
          return done(chunks);
        },
        () => abort.abort(),
      );
      const built = new Map<string, UIMessage>();
      for await (const message of readUIMessageStream({ stream: parsed, terminateOnError: true })) {
        built.set(message.id, message);
      }
      return [...built.values()];
    })()
      .catch((error: unknown) => {
        throw new Error(
          `the AI SDK reader stopped (${String(error)}); chunks: ${JSON.stringify(chunks)}`,
        );
      })
      .finally(() => clearTimeout(timer));
    return { chunks, messages };
  }

  const finishes = (chunks: UIMessageChunk[]) => chunks.filter((c) => c.type === 'finish').length;

  it('events: a replaced log gets the same thread.reset frame as ever, before the new log', async () => {
    const oldEpoch = await thread('reset-events', OPEN_RUN);
    const c = await stream('/threads/reset-events/events');
    await c.waitFor((f) => f.filter((x) => x.id).length === 2, 'the old log');
    const newEpoch = await replaceLog('reset-events', NEW_LOG.slice(0, 1));
    await c.waitFor((f) => f.filter((x) => x.id).length === 3, 'the new log');
    const frames = c.frames.filter((f) => f.data !== undefined);
    expect(frames.map((f) => [f.event, f.id])).toEqual([
      ['thread.event', `${oldEpoch}:1`],
      ['thread.event', `${oldEpoch}:2`],
      ['thread.reset', undefined],
      ['thread.event', `${newEpoch}:1`],
    ]);
    expect(frames[2]?.data).toBe(
      JSON.stringify({ threadId: 'reset-events', reason: 'log_replaced', epoch: newEpoch }),
    );
  });

  it('AG-UI: a replaced log ends the open run, sends CUSTOM thread.reset, then the new log', async () => {
    const oldEpoch = await thread('reset-agui-replaced', OPEN_RUN);
    const c = await stream('/threads/reset-agui-replaced/events?format=ag-ui');
    await c.waitFor((f) => f.filter((x) => x.id).length === 2, 'the old log');
    const newEpoch = await replaceLog('reset-agui-replaced', NEW_LOG);
    expect(newEpoch).not.toBe(oldEpoch);
    await c.waitFor((f) => f.filter((x) => x.id).length === 8, 'the new log');
    const agui = c.data() as AgUiEvent[];
    await expectValidAgUi(agui);

    const at = agui.findIndex((e) => e.type === 'CUSTOM' && e.name === 'thread.reset');
    expect(agui[at]?.value).toEqual({
      threadId: 'reset-agui-replaced',
      reason: 'log_replaced',
      epoch: newEpoch,
    });
    // The old run's message is ended and the run with it; the notice has a run of its own.
    expect(agui.slice(at - 3, at + 2)).toEqual([
      { type: 'TEXT_MESSAGE_END', messageId: `reset-agui-replaced:${oldEpoch}:2` },
      expect.objectContaining({ type: 'RUN_ERROR', code: 'thread_reset' }),
      { type: 'RUN_STARTED', threadId: 'reset-agui-replaced', runId: `thread-reset-${newEpoch}-0` },
      agui[at],
      {
        type: 'RUN_FINISHED',
        threadId: 'reset-agui-replaced',
        runId: `thread-reset-${newEpoch}-0`,
      },
    ]);
    // Then the new log, whole: its user message, then its run.
    const after = agui.slice(at + 2);
    expect(after[0]).toEqual({
      type: 'RUN_STARTED',
      threadId: 'reset-agui-replaced',
      runId: `thread-event-${newEpoch}-1`,
    });
    expect(after.filter((e) => e.type === 'RUN_STARTED').map((e) => e.runId)).toEqual([
      `thread-event-${newEpoch}-1`,
      'new-run',
    ]);
    expect(after.filter((e) => e.type === 'TEXT_MESSAGE_CONTENT').map((e) => e.delta)).toEqual([
      'again',
      'Fresh ',
      'start.',
    ]);
    expect(after.at(-1)).toMatchObject({ type: 'RUN_FINISHED', runId: 'new-run' });
    // The notice's frames carry no id: the client's cursor moves with the new log's events.
    const resetFrame = c.frames.find((f) => f.data?.includes('"thread.reset"'));
    expect(resetFrame && 'id' in resetFrame).toBe(false);
    expect(c.frames.filter((f) => f.id).map((f) => f.id)).toEqual([
      `${oldEpoch}:1`,
      `${oldEpoch}:2`,
      ...[1, 2, 3, 4, 5, 6].map((seq) => `${newEpoch}:${seq}`),
    ]);
  });

  it('AG-UI: a resume from a trimmed cursor sends CUSTOM thread.reset, then the log kept', async () => {
    const epoch = await thread('reset-agui-trimmed', TRIMMED_LOG);
    const c = await stream('/threads/reset-agui-trimmed/events?format=ag-ui', {
      'last-event-id': `${epoch}:1`,
    });
    await c.waitFor((f) => f.filter((x) => x.id).length === 5, 'the events kept');
    const agui = c.data() as AgUiEvent[];
    await expectValidAgUi(agui);
    const notice = {
      threadId: 'reset-agui-trimmed',
      reason: 'cursor_unavailable',
      epoch,
      headSeq: 7,
      firstSeq: 3,
    };
    expect(agui.slice(0, 3)).toEqual([
      { type: 'RUN_STARTED', threadId: 'reset-agui-trimmed', runId: `thread-reset-${epoch}-3` },
      { type: 'CUSTOM', name: 'thread.reset', value: notice },
      { type: 'RUN_FINISHED', threadId: 'reset-agui-trimmed', runId: `thread-reset-${epoch}-3` },
    ]);
    expect(c.frames.filter((f) => f.id).map((f) => f.id)).toEqual(
      [3, 4, 5, 6, 7].map((seq) => `${epoch}:${seq}`),
    );
    expect(agui.filter((e) => e.type === 'TEXT_MESSAGE_CONTENT').map((e) => e.delta)).toEqual([
      'two ',
      'three.',
      'One two three.',
      'next',
    ]);
  });

  it('AI SDK: a replaced log finishes the open message, sends data-thread-reset, then the new log', async () => {
    const oldEpoch = await thread('reset-ai-replaced', OPEN_RUN);
    const path = '/threads/reset-ai-replaced/events?format=ai-sdk';
    // Old message, notice, the new log's user message and run: four messages.
    const { chunks, messages } = readAiSdk(path, (c) => finishes(c) === 4);
    const raw = await stream(path);
    await waitUntil(() => chunks.length === 3, 'the old log');
    await raw.waitFor((f) => f.filter((x) => x.id).length === 2, 'the old log, raw');
    const newEpoch = await replaceLog('reset-ai-replaced', NEW_LOG);
    const built = await messages;

    const notice = { threadId: 'reset-ai-replaced', reason: 'log_replaced', epoch: newEpoch };
    const at = chunks.findIndex((c) => c.type === 'data-thread-reset');
    expect(chunks.slice(at - 3, at + 2)).toEqual([
      { type: 'text-end', id: `reset-ai-replaced:${oldEpoch}:2` },
      { type: 'finish', finishReason: 'other' },
      { type: 'start', messageId: `thread-reset-${newEpoch}-0` },
      { type: 'data-thread-reset', data: notice },
      { type: 'finish' },
    ]);
    expect(built).toEqual([
      expect.objectContaining({
        id: 'old-run',
        parts: [expect.objectContaining({ type: 'text', text: 'Half an ', state: 'done' })],
      }),
      expect.objectContaining({
        id: `thread-reset-${newEpoch}-0`,
        parts: [{ type: 'data-thread-reset', data: notice }],
      }),
      expect.objectContaining({
        id: `thread-event-${newEpoch}-1`,
        parts: [{ type: 'data-user_message', data: { text: 'again' } }],
      }),
      expect.objectContaining({
        id: 'new-run',
        parts: [expect.objectContaining({ type: 'text', text: 'Fresh start.', state: 'done' })],
      }),
    ]);
    // The notice's frames carry no id: the client's cursor moves with the new log's events.
    await raw.waitFor((f) => f.filter((x) => x.id).length === 8, 'the new log, raw');
    const resetFrame = raw.frames.find((f) => f.data?.includes('"data-thread-reset"'));
    expect(resetFrame && 'id' in resetFrame).toBe(false);
    expect(raw.frames.filter((f) => f.id).map((f) => f.id)).toEqual([
      `${oldEpoch}:1`,
      `${oldEpoch}:2`,
      ...[1, 2, 3, 4, 5, 6].map((seq) => `${newEpoch}:${seq}`),
    ]);
  });

  it('AI SDK: a resume from a trimmed cursor sends data-thread-reset, then the log kept', async () => {
    const epoch = await thread('reset-ai-trimmed', TRIMMED_LOG);
    // The notice, then one message for each of the five events kept.
    const { chunks, messages } = readAiSdk(
      '/threads/reset-ai-trimmed/events?format=ai-sdk',
      (c) => finishes(c) === 6,
      { 'last-event-id': `${epoch}:1` },
    );
    const built = await messages;
    const notice = {
      threadId: 'reset-ai-trimmed',
      reason: 'cursor_unavailable',
      epoch,
      headSeq: 7,
      firstSeq: 3,
    };
    expect(chunks.slice(0, 3)).toEqual([
      { type: 'start', messageId: `thread-reset-${epoch}-3` },
      { type: 'data-thread-reset', data: notice },
      { type: 'finish' },
    ]);
    expect(built.map((m) => m.id)).toEqual([
      `thread-reset-${epoch}-3`,
      ...[3, 4, 5, 6, 7].map((seq) => `thread-event-${epoch}-${seq}`),
    ]);
    expect(built[0]?.parts).toEqual([{ type: 'data-thread-reset', data: notice }]);
    expect(built.flatMap((m) => m.parts.map((p) => ('text' in p ? p.text : p.type)))).toEqual([
      'data-thread-reset',
      'two ',
      'three.',
      'One two three.',
      'data-user_message',
    ]);
  });
});

import { readUIMessageStream, type UIMessage } from 'ai';
import { expectValidAgUi } from './support/ag-ui-validation.js';
import { aiSdkChunks } from './support/ai-sdk-stream.js';
import { testRedisUrl, uniquePrefix } from './support/redis.js';
import { type RelayApp } from './support/relay-app.js';
import { useRelayApp } from './support/use-relay-app.js';
import { openSse, type SseConnection } from './support/sse-client.js';

/**
 * SSE across two instances sharing Redis, as behind a round-robin balancer with no sticky
 * sessions: every request may land on either instance.
 */
describe('Server-Sent Events across instances', () => {
  const prefix = uniquePrefix('sse');
  const open: SseConnection[] = [];

  const a = useRelayApp(() => ({ redis: testRedisUrl(), keyPrefix: prefix, instanceId: 'sse-a' }));
  const b = useRelayApp(() => ({ redis: testRedisUrl(), keyPrefix: prefix, instanceId: 'sse-b' }));
  afterEach(() => {
    for (const connection of open.splice(0)) connection.close();
  });

  async function stream(relay: RelayApp, path: string, headers: Record<string, string> = {}) {
    const connection = await openSse(`${relay.url}${path}`, {
      authorization: `Bearer ${await relay.token('alice')}`,
      ...headers,
    });
    open.push(connection);
    return connection;
  }

  const events = (c: SseConnection) => c.frames.filter((f) => f.event === 'thread.event');

  it('resumes on the other instance with exactly the missed events, then follows producers on both', async () => {
    await a.registry.registerThread('sse-rr', 'alice');
    for (let n = 1; n <= 5; n++) await a.delivery.sendToThread('sse-rr', 'tick', { n });
    const first = await stream(a, '/threads/sse-rr/events');
    await first.waitFor(() => events(first).length === 5, 'events 1..5 on A');
    const lastId = events(first).at(-1)?.id ?? '';
    first.close();
    for (let n = 6; n <= 8; n++) await b.delivery.sendToThread('sse-rr', 'tick', { n });

    const second = await stream(b, '/threads/sse-rr/events', { 'last-event-id': lastId });
    await second.waitFor(() => events(second).length === 3, 'events 6..8 on B');
    // Live: produced on A, streamed by B.
    for (let n = 9; n <= 12; n++) await a.delivery.sendToThread('sse-rr', 'tick', { n });
    await second.waitFor(() => events(second).length === 7, 'events 9..12 live');
    const seqs = events(second).map((f) => (JSON.parse(f.data ?? '{}') as { seq: number }).seq);
    expect(seqs).toEqual([6, 7, 8, 9, 10, 11, 12]);
  });

  it('spends a ticket issued by one instance on the other, once', async () => {
    await a.registry.registerThread('sse-ticket-rr', 'alice');
    const issued = await fetch(`${a.url}/threads/sse-ticket-rr/stream-tickets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await a.token('alice')}` },
    });
    const { ticket } = (await issued.json()) as { ticket: string };
    const onB = await openSse(`${b.url}/threads/sse-ticket-rr/events?ticket=${ticket}`);
    open.push(onB);
    expect(onB.status).toBe(200);
    const replayOnA = await openSse(`${a.url}/threads/sse-ticket-rr/events?ticket=${ticket}`);
    expect(replayOnA.status).toBe(401);
  });

  it('streams an agent run as AG-UI that a strict client accepts, resumed mid-run on the other instance', async () => {
    await a.registry.registerThread('sse-agui', 'alice');
    const run = [
      ['agent_started', { runId: 'r1' }],
      ['tool_executing', { tool: 'search', args: { q: 'x' } }],
      ['assistant_message', { delta: 'Hello ', final: false }],
      ['assistant_message', { delta: 'there.', final: false }],
      ['tool_completed', { tool: 'search', result: ['a'] }],
      ['assistant_message', { text: 'Hello there.', final: true }],
      ['agent_completed', { status: 'ok' }],
    ] as const;
    for (const [type, payload] of run.slice(0, 3))
      await a.delivery.sendToThread('sse-agui', type, payload);
    const first = await stream(a, '/threads/sse-agui/events?format=ag-ui');
    await first.waitFor((f) => f.filter((x) => x.id).length === 3, 'three events rendered');
    const resumeAt = first.frames.filter((f) => f.id).at(-1)?.id ?? '';
    first.close();
    for (const [type, payload] of run.slice(3))
      await a.delivery.sendToThread('sse-agui', type, payload);

    const resumed = await stream(b, '/threads/sse-agui/events?format=ag-ui', {
      'last-event-id': resumeAt,
    });
    await resumed.waitFor(
      () => resumed.data().some((e) => (e as { type: string }).type === 'RUN_FINISHED'),
      'the end of the run',
    );
    const agui = resumed.data() as Array<{ type: string; [k: string]: unknown }>;
    await expectValidAgUi(agui);
    // The prelude reopened the run, the tool call awaiting its result and the open message.
    expect(agui.slice(0, 5).map((e) => e.type)).toEqual([
      'RUN_STARTED',
      'TOOL_CALL_START',
      'TOOL_CALL_ARGS',
      'TOOL_CALL_END',
      'TEXT_MESSAGE_START',
    ]);
    const text = agui.filter((e) => e.type === 'TEXT_MESSAGE_CONTENT').map((e) => e.delta);
    expect(text).toEqual(['there.']);
  });

  /**
   * Reads a `?format=ai-sdk` stream the way an AI SDK client does: the `ai` package's own
   * SSE parser and chunk schema, then its UI message reader, until the message finishes.
   */
  async function readAiSdk(relay: RelayApp, path: string, headers: Record<string, string> = {}) {
    const abort = new AbortController();
    const response = await fetch(`${relay.url}${path}`, {
      headers: { authorization: `Bearer ${await relay.token('alice')}`, ...headers },
      signal: abort.signal,
    });
    expect(response.headers.get('x-vercel-ai-ui-message-stream')).toBe('v1');
    // The thread's stream goes on; this message is complete at its finish.
    const chunks = aiSdkChunks(
      response.body!,
      (chunk) => chunk.type === 'finish',
      () => abort.abort(),
    );
    let message: UIMessage | undefined;
    for await (const built of readUIMessageStream({ stream: chunks, terminateOnError: true })) {
      message = built;
    }
    return message;
  }

  it('streams an agent run as the AI SDK UI message stream, read whole and resumed on the other instance', async () => {
    await a.registry.registerThread('sse-aisdk', 'alice');
    const run = [
      ['agent_started', { runId: 'run-ai' }],
      ['agent_thinking', { thought: 'Looking it up.' }],
      ['tool_executing', { tool: 'search', args: { q: 'x' } }],
      ['tool_completed', { tool: 'search', result: ['a'] }],
      ['assistant_message', { delta: 'Found ', final: false }],
      ['assistant_message', { delta: 'it.', final: false }],
      ['assistant_message', { text: 'Found it.', final: true }],
      ['agent_completed', { status: 'ok' }],
    ] as const;
    for (const [type, payload] of run.slice(0, 5))
      await a.delivery.sendToThread('sse-aisdk', type, payload);
    // The id of the fifth event, as a client that read that far holds it.
    const partial = await stream(a, '/threads/sse-aisdk/events?format=ai-sdk');
    await partial.waitFor((f) => f.filter((x) => x.id).length === 5, 'five events rendered');
    const resumeAt = partial.frames.filter((f) => f.id).at(-1)?.id ?? '';
    partial.close();
    const resumedRead = readAiSdk(b, '/threads/sse-aisdk/events?format=ai-sdk', {
      'last-event-id': resumeAt,
    });
    const wholeRead = readAiSdk(a, '/threads/sse-aisdk/events?format=ai-sdk');
    for (const [type, payload] of run.slice(5))
      await a.delivery.sendToThread('sse-aisdk', type, payload);
    const [whole, resumed] = await Promise.all([wholeRead, resumedRead]);
    expect(whole?.id).toBe('run-ai');
    expect(whole?.parts).toEqual([
      expect.objectContaining({ type: 'reasoning', text: 'Looking it up.' }),
      expect.objectContaining({ type: 'tool-search', state: 'output-available', output: ['a'] }),
      expect.objectContaining({ type: 'text', text: 'Found it.', state: 'done' }),
    ]);
    expect(resumed).toEqual(whole);
  });
});

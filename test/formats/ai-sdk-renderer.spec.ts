import { readUIMessageStream, uiMessageChunkSchema, type UIMessage, type UIMessageChunk } from 'ai';
import { threadEvents } from '../support/thread-events.js';
import type { JsonValue, ThreadEvent } from '../../src/protocol.js';
import { AiSdkRenderer, type AiSdkChunk } from '../../src/formats/ai-sdk-renderer.js';
import type { StreamResetNotice } from '../../src/formats/reset-notice.js';

const THREAD = 'thread-1';
const EPOCH = '0123456789abcdef';

function events(list: Array<[type: string, payload: JsonValue]>): ThreadEvent[] {
  return threadEvents(list, { threadId: THREAD, epoch: EPOCH });
}

/** One agent run as the reference server's agent sends it (src/demo/agent-simulator). */
const AGENT_RUN: Array<[string, JsonValue]> = [
  ['agent_started', { runId: 'run-a', input: 'hello' }],
  ['agent_thinking', { runId: 'run-a', thought: 'Reading the question.' }],
  ['tool_executing', { runId: 'run-a', tool: 'echo', args: { text: 'hello' } }],
  ['tool_completed', { runId: 'run-a', tool: 'echo', result: 5 }],
  ['assistant_message', { runId: 'run-a', delta: 'You said "hello" ', final: false }],
  ['progress', { runId: 'run-a', percent: 80 }],
  ['assistant_message', { runId: 'run-a', delta: '(5 characters).', final: false }],
  ['assistant_message', { runId: 'run-a', text: 'You said "hello" (5 characters).', final: true }],
  ['agent_completed', { runId: 'run-a', status: 'ok' }],
];

function renderAll(list: ThreadEvent[], renderer = new AiSdkRenderer(THREAD)): AiSdkChunk[] {
  return list.flatMap((event) => renderer.render(event));
}

/**
 * Each chunk against the AI SDK's own chunk schema, then the stream through its own reader,
 * which refuses chunks out of place (a delta without its start, an output without its call).
 * Answers every message it built, each as last built, in order.
 */
async function readMessages(chunks: AiSdkChunk[]): Promise<UIMessage[]> {
  const schema = uiMessageChunkSchema();
  for (const chunk of chunks) {
    const checked = await schema.validate?.(chunk);
    expect({ chunk, ok: checked?.success }).toEqual({ chunk, ok: true });
  }
  const stream = new ReadableStream<UIMessageChunk>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk as UIMessageChunk);
      controller.close();
    },
  });
  const built = new Map<string, UIMessage>();
  const errors: unknown[] = [];
  for await (const message of readUIMessageStream({
    stream,
    terminateOnError: true,
    onError: (error) => errors.push(error),
  })) {
    built.set(message.id, message);
  }
  expect(errors).toEqual([]);
  return [...built.values()];
}

/** The last message the AI SDK's reader built of `chunks`. */
async function read(chunks: AiSdkChunk[]): Promise<UIMessage | undefined> {
  return (await readMessages(chunks)).at(-1);
}

describe('AiSdkRenderer', () => {
  it('is checked by a reader that does refuse a broken stream', async () => {
    await expect(
      read([
        { type: 'start', messageId: 'm' },
        { type: 'text-delta', id: 'x', delta: 'a' },
      ]),
    ).rejects.toThrow();
  });

  it('renders an agent run as one assistant message the AI SDK reads', async () => {
    const chunks = renderAll(events(AGENT_RUN));
    expect(chunks.map((c) => c.type)).toEqual([
      'start',
      'reasoning-start',
      'reasoning-delta',
      'reasoning-end',
      'tool-input-start',
      'tool-input-delta',
      'tool-input-available',
      'tool-output-available',
      'text-start',
      'text-delta',
      'data-progress',
      'text-delta',
      'text-end',
      'finish',
    ]);
    const message = await read(chunks);
    expect(message?.id).toBe('run-a');
    expect(message?.parts).toEqual([
      expect.objectContaining({ type: 'reasoning', text: 'Reading the question.', state: 'done' }),
      expect.objectContaining({
        type: 'tool-echo',
        toolCallId: `${THREAD}:${EPOCH}:3:tool`,
        state: 'output-available',
        input: { text: 'hello' },
        output: 5,
      }),
      expect.objectContaining({
        type: 'text',
        text: 'You said "hello" (5 characters).',
        state: 'done',
      }),
      expect.objectContaining({ type: 'data-progress', data: { runId: 'run-a', percent: 80 } }),
    ]);
  });

  it('resumed at any seq, gives a new reader the same message as an unbroken stream', async () => {
    const all = events(AGENT_RUN);
    const whole = await read(renderAll(all));
    for (let cut = 1; cut < all.length; cut++) {
      const renderer = new AiSdkRenderer(THREAD);
      renderAll(all.slice(0, cut), renderer);
      const resumed = await read([...renderer.prelude(), ...renderAll(all.slice(cut), renderer)]);
      expect({ cut, message: resumed }).toEqual({ cut, message: whole });
    }
  });

  it('wraps an event outside any run in a message of its own, and passes native chunks', async () => {
    const chunks = renderAll(
      events([
        ['user_message', { text: 'hi', userId: 'alice' }],
        ['ai-sdk:start', { messageId: 'native' }],
        ['ai-sdk:text-start', { id: 't' }],
        ['ai-sdk:text-delta', { id: 't', delta: 'Hello' }],
        ['ai-sdk:text-end', { id: 't' }],
        ['ai-sdk:finish', {}],
      ]),
    );
    expect(chunks.slice(0, 4)).toEqual([
      { type: 'start', messageId: `thread-event-${EPOCH}-1` },
      { type: 'data-user_message', data: { text: 'hi', userId: 'alice' } },
      { type: 'finish' },
      { type: 'start', messageId: 'native' },
    ]);
    const first = await read(chunks.slice(0, 3));
    expect(first?.id).toBe(`thread-event-${EPOCH}-1`);
    const native = await read(chunks.slice(3));
    expect(native?.parts).toEqual([expect.objectContaining({ type: 'text', text: 'Hello' })]);
  });

  it('reports a failed run as an error, and finishes a run a new one interrupts', () => {
    const chunks = renderAll(
      events([
        ['agent_started', { runId: 'r1' }],
        ['assistant_message', { delta: 'half', final: false }],
        ['agent_started', { runId: 'r2' }],
        ['agent_completed', { status: 'failed', error: 'model overloaded' }],
      ]),
    );
    expect(chunks.map((c) => c.type)).toEqual([
      'start',
      'text-start',
      'text-delta',
      'text-end',
      'finish',
      'start',
      'error',
      'finish',
    ]);
    expect(chunks[6]).toEqual({ type: 'error', errorText: 'model overloaded' });
  });
});

describe('AiSdkRenderer.reset', () => {
  const NEW_EPOCH = 'fedcba9876543210';
  const replaced: StreamResetNotice = {
    threadId: THREAD,
    reason: 'log_replaced',
    epoch: NEW_EPOCH,
  };
  /** The new log: another run, numbered from 1 again under its own epoch. */
  const newLog = () =>
    events(AGENT_RUN).map((e) => ({
      ...e,
      epoch: NEW_EPOCH,
      payload: { ...(e.payload as object), runId: 'run-b' },
    }));
  const resetMessage = (notice: StreamResetNotice) => ({
    id: `thread-reset-${notice.epoch}-${notice.firstSeq ?? 0}`,
    role: 'assistant',
    parts: [{ type: 'data-thread-reset', data: notice }],
  });

  it('ends the open message, then carries data-thread-reset in a message of its own', () => {
    const renderer = new AiSdkRenderer(THREAD);
    renderAll(
      events([
        ['agent_started', { runId: 'r1' }],
        ['ai-sdk:reasoning-start', { id: 'think' }],
        ['assistant_message', { delta: 'Hel', final: false }],
      ]),
      renderer,
    );
    expect(renderer.reset(replaced)).toEqual([
      { type: 'text-end', id: `${THREAD}:${EPOCH}:3` },
      { type: 'reasoning-end', id: 'think' },
      { type: 'finish', finishReason: 'other' },
      { type: 'start', messageId: `thread-reset-${NEW_EPOCH}-0` },
      {
        type: 'data-thread-reset',
        data: { threadId: THREAD, reason: 'log_replaced', epoch: NEW_EPOCH },
      },
      { type: 'finish' },
    ]);
    expect(renderer.prelude()).toEqual([]);
    const trimmed = { ...replaced, reason: 'cursor_unavailable', headSeq: 9, firstSeq: 4 };
    expect(renderer.reset(trimmed)).toEqual([
      { type: 'start', messageId: `thread-reset-${NEW_EPOCH}-4` },
      { type: 'data-thread-reset', data: trimmed },
      { type: 'finish' },
    ]);
  });

  it('gives the AI SDK reader the old message ended, the notice, then the new log, cut anywhere', async () => {
    const all = events(AGENT_RUN);
    const [whole] = await readMessages(renderAll(newLog()));
    for (let cut = 0; cut <= all.length; cut++) {
      const renderer = new AiSdkRenderer(THREAD);
      const before = renderAll(all.slice(0, cut), renderer);
      const open = renderer.prelude().length > 0;
      const reset = renderer.reset(replaced);
      // The stream restarts its renderer on the new log, as the SSE encoder does.
      const after = renderAll(newLog());
      const messages = await readMessages([...before, ...reset, ...after]);
      expect({ cut, ended: reset.some((c) => c.finishReason === 'other') }).toEqual({
        cut,
        ended: open,
      });
      const old = messages.filter((m) => m.id === 'run-a');
      expect(old).toHaveLength(cut > 0 ? 1 : 0);
      // Nothing of the old message is left streaming.
      const streaming = (old[0]?.parts ?? []).filter(
        (p) => 'state' in p && p.state === 'streaming',
      );
      expect({ cut, streaming }).toEqual({ cut, streaming: [] });
      expect(messages.slice(old.length)).toEqual([resetMessage(replaced), whole]);
    }
  });

  it('goes on with the same log past a gap (a trim), cut anywhere', async () => {
    const all = events(AGENT_RUN);
    for (let cut = 0; cut < all.length; cut++) {
      for (let resume = cut + 1; resume < all.length; resume++) {
        const renderer = new AiSdkRenderer(THREAD);
        const notice = {
          threadId: THREAD,
          reason: 'cursor_unavailable',
          epoch: EPOCH,
          headSeq: all.length,
          firstSeq: resume + 1,
        };
        const before = renderAll(all.slice(0, cut), renderer);
        const reset = renderer.reset(notice);
        const messages = await readMessages([
          ...before,
          ...reset,
          ...renderAll(all.slice(resume), renderer),
        ]);
        expect(messages).toContainEqual(resetMessage(notice));
      }
    }
  });

  it('does not end the message with an error chunk, which would end the reading too', async () => {
    await expect(
      read([
        { type: 'start', messageId: 'm' },
        { type: 'error', errorText: 'thread reset' },
        { type: 'finish' },
      ]),
    ).rejects.toThrow('thread reset');
  });
});

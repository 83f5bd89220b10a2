import { expectValidAgUi } from '../support/ag-ui-validation.js';
import { threadEvents } from '../support/thread-events.js';
import type { JsonValue, ThreadEvent } from '../../src/protocol.js';
import { AgUiRenderer, type AgUiEvent } from '../../src/formats/ag-ui-renderer.js';
import type { StreamResetNotice } from '../../src/formats/reset-notice.js';

const THREAD = 'thread-1';
const EPOCH = '0123456789abcdef';

function events(list: Array<[type: string, payload: JsonValue]>, runId?: string): ThreadEvent[] {
  return threadEvents(list, { threadId: THREAD, epoch: EPOCH, runId });
}

/** What the reference server's agent sends for one user message (src/demo/agent-simulator). */
const AGENT_RUN: Array<[string, JsonValue]> = [
  ['user_message', { text: 'hello', userId: 'alice', clientMessageId: 'c1' }],
  ['agent_started', { runId: 'run-a', input: 'hello' }],
  ['agent_thinking', { runId: 'run-a', thought: 'Reading the question and picking a tool.' }],
  ['tool_executing', { runId: 'run-a', tool: 'echo', args: { text: 'hello' } }],
  ['tool_completed', { runId: 'run-a', tool: 'echo', result: 5 }],
  ['assistant_message', { runId: 'run-a', delta: 'You said "hello" ', final: false }],
  ['assistant_message', { runId: 'run-a', delta: '(5 characters). ', final: false }],
  ['assistant_message', { runId: 'run-a', text: 'You said "hello" (5 characters).', final: true }],
  ['agent_completed', { runId: 'run-a', status: 'ok' }],
  ['user_message', { text: 'again', userId: 'alice', clientMessageId: 'c2' }],
  ['agent_started', { runId: 'run-b' }],
  ['assistant_message', { runId: 'run-b', delta: 'Again: ', final: false }],
  ['progress', { runId: 'run-b', percent: 50 }],
  ['assistant_message', { runId: 'run-b', delta: 'yes.', final: false }],
  ['assistant_message', { runId: 'run-b', text: 'Again: yes.', final: true }],
  ['agent_completed', { runId: 'run-b', status: 'error', error: 'model overloaded' }],
];

function renderAll(list: ThreadEvent[], renderer = new AgUiRenderer(THREAD)): AgUiEvent[] {
  return list.flatMap((event) => renderer.render(event));
}

describe('AgUiRenderer', () => {
  it('is checked by a verifier that does refuse a broken stream', async () => {
    const run = { type: 'RUN_STARTED', threadId: THREAD, runId: 'r' };
    await expect(
      expectValidAgUi([{ type: 'TEXT_MESSAGE_CONTENT', messageId: 'm', delta: 'a' }]),
    ).rejects.toThrow(/First event must be 'RUN_STARTED'/);
    await expect(
      expectValidAgUi([run, { type: 'TEXT_MESSAGE_CONTENT', messageId: 'm', delta: 'a' }]),
    ).rejects.toThrow(/No active text message/);
    await expect(expectValidAgUi([run, { type: 'TOOL_CALL_START' }])).rejects.toThrow();
  });

  it('renders two agent runs and the user messages around them as a valid AG-UI stream', async () => {
    const stream = renderAll(events(AGENT_RUN));
    await expectValidAgUi(stream);
    expect(stream.map((e) => e.type)).toEqual([
      // The user message comes outside a run: a run of its own carries it.
      'RUN_STARTED',
      'TEXT_MESSAGE_START',
      'TEXT_MESSAGE_CONTENT',
      'TEXT_MESSAGE_END',
      'RUN_FINISHED',
      'RUN_STARTED',
      'REASONING_START',
      'REASONING_MESSAGE_START',
      'REASONING_MESSAGE_CONTENT',
      'REASONING_MESSAGE_END',
      'REASONING_END',
      'TOOL_CALL_START',
      'TOOL_CALL_ARGS',
      'TOOL_CALL_END',
      'TOOL_CALL_RESULT',
      'TEXT_MESSAGE_START',
      'TEXT_MESSAGE_CONTENT',
      'TEXT_MESSAGE_CONTENT',
      'TEXT_MESSAGE_END',
      'RUN_FINISHED',
      'RUN_STARTED',
      'TEXT_MESSAGE_START',
      'TEXT_MESSAGE_CONTENT',
      'TEXT_MESSAGE_END',
      'RUN_FINISHED',
      'RUN_STARTED',
      'TEXT_MESSAGE_START',
      'TEXT_MESSAGE_CONTENT',
      'CUSTOM',
      'TEXT_MESSAGE_CONTENT',
      'TEXT_MESSAGE_END',
      'RUN_ERROR',
    ]);
    expect(stream[5]).toEqual({ type: 'RUN_STARTED', threadId: THREAD, runId: 'run-a' });
    const call = stream.find((e) => e.type === 'TOOL_CALL_START');
    const result = stream.find((e) => e.type === 'TOOL_CALL_RESULT');
    expect(call).toMatchObject({ toolCallName: 'echo' });
    expect(result).toMatchObject({ toolCallId: call?.toolCallId, content: '5', role: 'tool' });
    expect(stream.find((e) => e.type === 'TOOL_CALL_ARGS')).toMatchObject({
      delta: '{"text":"hello"}',
    });
    const answer = stream
      .filter((e) => e.type === 'TEXT_MESSAGE_CONTENT' && e.messageId === `${THREAD}:${EPOCH}:6`)
      .map((e) => e.delta)
      .join('');
    expect(answer).toBe('You said "hello" (5 characters). ');
    expect(stream.at(-1)).toEqual({ type: 'RUN_ERROR', message: 'model overloaded' });
  });

  it('resumes at every seq with a prelude that a strict AG-UI client accepts', async () => {
    const all = events(AGENT_RUN);
    const whole = renderAll(all);
    for (let cut = 1; cut < all.length; cut++) {
      const renderer = new AgUiRenderer(THREAD);
      const before = renderAll(all.slice(0, cut), renderer);
      const prelude = renderer.prelude();
      const after = renderAll(all.slice(cut), renderer);
      await expectValidAgUi([...prelude, ...after]);
      // After the prelude the client gets exactly what an unbroken stream had, same ids.
      expect(after).toEqual(whole.slice(before.length));
    }
  });

  it('reopens the run, the open message and a tool call awaiting its result', () => {
    const all = events(AGENT_RUN);
    const renderer = new AgUiRenderer(THREAD);
    renderAll(all.slice(0, 4), renderer); // up to tool_executing
    expect(renderer.prelude().map((e) => e.type)).toEqual([
      'RUN_STARTED',
      'TOOL_CALL_START',
      'TOOL_CALL_ARGS',
      'TOOL_CALL_END',
    ]);
    renderAll(all.slice(4, 6), renderer); // the result, and the first chunk
    expect(renderer.prelude()).toEqual([
      { type: 'RUN_STARTED', threadId: THREAD, runId: 'run-a' },
      { type: 'TEXT_MESSAGE_START', messageId: `${THREAD}:${EPOCH}:6`, role: 'assistant' },
    ]);
    renderAll(all.slice(6, 9), renderer); // to agent_completed
    expect(renderer.prelude()).toEqual([]);
  });

  it('names a new log’s events apart from the old one’s, though their seqs start again', async () => {
    const old = events([['user_message', { text: 'first log' }]]);
    const replaced = old.map((e) => ({
      ...e,
      epoch: 'fedcba9876543210',
      payload: { text: 'second log' },
    }));
    const renderer = new AgUiRenderer(THREAD);
    const stream = [...renderAll(old, renderer), ...renderAll(replaced, renderer)];
    await expectValidAgUi(stream);
    const ids = stream.filter((e) => e.type === 'TEXT_MESSAGE_START').map((e) => e.messageId);
    expect(new Set(ids).size).toBe(2);
  });

  it('passes AG-UI events a producer sent natively, and follows them for the prelude', async () => {
    const native = events([
      ['ag-ui:RUN_STARTED', { threadId: THREAD, runId: 'native-run' }],
      ['ag-ui:TEXT_MESSAGE_START', { messageId: 'm1', role: 'assistant' }],
      ['ag-ui:TEXT_MESSAGE_CONTENT', { messageId: 'm1', delta: 'Hi' }],
      ['ag-ui:TEXT_MESSAGE_END', { messageId: 'm1' }],
      ['ag-ui:RUN_FINISHED', { threadId: THREAD, runId: 'native-run' }],
    ]);
    const stream = renderAll(native);
    await expectValidAgUi(stream);
    expect(stream[2]).toEqual({ type: 'TEXT_MESSAGE_CONTENT', messageId: 'm1', delta: 'Hi' });
    const renderer = new AgUiRenderer(THREAD);
    renderAll(native.slice(0, 3), renderer);
    const resumed = [...renderer.prelude(), ...renderAll(native.slice(3), renderer)];
    await expectValidAgUi(resumed);
  });

  it('wraps a lone event outside any run, and finishes a run a new one interrupts', async () => {
    const stream = renderAll(
      events([
        ['progress', 42],
        ['agent_started', {}],
        ['assistant_message', { delta: 'half', final: false }],
        ['agent_started', { runId: 'second' }],
        ['agent_error', { message: 'boom' }],
      ]),
    );
    await expectValidAgUi(stream);
    expect(stream.map((e) => e.type)).toEqual([
      'RUN_STARTED',
      'CUSTOM',
      'RUN_FINISHED',
      'RUN_STARTED',
      'TEXT_MESSAGE_START',
      'TEXT_MESSAGE_CONTENT',
      'TEXT_MESSAGE_END',
      'RUN_FINISHED',
      'RUN_STARTED',
      'RUN_ERROR',
    ]);
    expect(stream[1]).toEqual({ type: 'CUSTOM', name: 'progress', value: 42 });
    expect(stream[3]).toMatchObject({ runId: `run-${EPOCH}-2` });
  });
});

describe('AgUiRenderer.reset', () => {
  const NEW_EPOCH = 'fedcba9876543210';
  const replaced: StreamResetNotice = {
    threadId: THREAD,
    reason: 'log_replaced',
    epoch: NEW_EPOCH,
  };
  /** The new log: the same conversation, numbered from 1 again under its own epoch. */
  const newLog = () => events(AGENT_RUN).map((e) => ({ ...e, epoch: NEW_EPOCH }));

  it('ends the open message and run, then carries thread.reset in a run of its own', () => {
    const renderer = new AgUiRenderer(THREAD);
    renderAll(
      events([
        ['agent_started', { runId: 'r1' }],
        ['assistant_message', { delta: 'Hel', final: false }],
      ]),
      renderer,
    );
    expect(renderer.reset(replaced)).toEqual([
      { type: 'TEXT_MESSAGE_END', messageId: `${THREAD}:${EPOCH}:2` },
      {
        type: 'RUN_ERROR',
        message:
          "The thread's stream starts again (log_replaced): the rest of this run is not available.",
        code: 'thread_reset',
      },
      { type: 'RUN_STARTED', threadId: THREAD, runId: `thread-reset-${NEW_EPOCH}-0` },
      {
        type: 'CUSTOM',
        name: 'thread.reset',
        value: { threadId: THREAD, reason: 'log_replaced', epoch: NEW_EPOCH },
      },
      { type: 'RUN_FINISHED', threadId: THREAD, runId: `thread-reset-${NEW_EPOCH}-0` },
    ]);
    // Nothing is open any more: a resume here reopens nothing.
    expect(renderer.prelude()).toEqual([]);
    // Between runs only the notice's own run, with what the notice has.
    const trimmed = { ...replaced, reason: 'cursor_unavailable', headSeq: 9, firstSeq: 4 };
    expect(renderer.reset(trimmed)).toEqual([
      { type: 'RUN_STARTED', threadId: THREAD, runId: `thread-reset-${NEW_EPOCH}-4` },
      { type: 'CUSTOM', name: 'thread.reset', value: trimmed },
      { type: 'RUN_FINISHED', threadId: THREAD, runId: `thread-reset-${NEW_EPOCH}-4` },
    ]);
  });

  it('keeps the stream valid for a strict AG-UI client across a new log, cut anywhere', async () => {
    const all = events(AGENT_RUN);
    for (let cut = 0; cut <= all.length; cut++) {
      const renderer = new AgUiRenderer(THREAD);
      const before = renderAll(all.slice(0, cut), renderer);
      const open = renderer.prelude().length > 0;
      const reset = renderer.reset(replaced);
      // The stream restarts its renderer on the new log, as the SSE encoder does.
      const after = renderAll(newLog());
      await expectValidAgUi([...before, ...reset, ...after]);
      expect(reset.some((e) => e.type === 'RUN_ERROR')).toBe(open);
      expect(reset.filter((e) => e.type === 'CUSTOM')).toEqual([
        { type: 'CUSTOM', name: 'thread.reset', value: replaced },
      ]);
      expect(after).toEqual(renderAll(newLog()));
      if (open) {
        // Without the reset, the new log's first run starts inside the old one: refused.
        await expect(expectValidAgUi([...before, ...after])).rejects.toThrow(
          /while a run is still active/,
        );
      }
    }
  });

  it('goes on with the same log past a gap (a trim), cut anywhere', async () => {
    const all = events(AGENT_RUN);
    for (let cut = 0; cut < all.length; cut++) {
      for (let resume = cut + 1; resume < all.length; resume++) {
        const renderer = new AgUiRenderer(THREAD);
        const before = renderAll(all.slice(0, cut), renderer);
        const notice = {
          threadId: THREAD,
          reason: 'cursor_unavailable',
          epoch: EPOCH,
          headSeq: all.length,
          firstSeq: resume + 1,
        };
        const reset = renderer.reset(notice);
        const after = renderAll(all.slice(resume), renderer);
        await expectValidAgUi([...before, ...reset, ...after]);
      }
    }
  });

  it('ends a run whatever a producer’s own AG-UI events left open in it', async () => {
    const native = events([
      ['ag-ui:RUN_STARTED', { threadId: THREAD, runId: 'native-run' }],
      ['ag-ui:STEP_STARTED', { stepName: 'plan' }],
      ['ag-ui:TOOL_CALL_START', { toolCallId: 'c1', toolCallName: 'search' }],
      ['ag-ui:TEXT_MESSAGE_START', { messageId: 'm1', role: 'assistant' }],
    ]);
    const renderer = new AgUiRenderer(THREAD);
    const before = renderAll(native, renderer);
    const reset = renderer.reset(replaced);
    await expectValidAgUi([...before, ...reset, ...renderAll(newLog())]);
    // RUN_FINISHED in its place would be refused: the step and the tool call are still open.
    const finished = reset.map((e) =>
      e.type === 'RUN_ERROR' ? { type: 'RUN_FINISHED', threadId: THREAD, runId: 'native-run' } : e,
    );
    await expect(expectValidAgUi([...before, ...finished])).rejects.toThrow(
      /Cannot send 'RUN_FINISHED' while/,
    );
  });
});

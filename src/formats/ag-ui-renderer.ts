import type { JsonValue, ThreadEvent } from '../protocol.js';
import { asPayload, text } from './payload-fields.js';
import { renderedId, startedRunId } from './event-ids.js';
import { PendingToolCalls, type PendingToolCall } from './pending-tool-calls.js';
import { resetFields, resetId, THREAD_RESET, type StreamResetNotice } from './reset-notice.js';
import { nativeObject, type WireObject } from './wire-object.js';

/** An AG-UI event as it goes on the wire: `type` and its fields (docs.ag-ui.com, events). */
export type AgUiEvent = WireObject;

/** A producer's event of type `ag-ui:<TYPE>` is an AG-UI event already: its payload holds the fields. */
export const AG_UI_NATIVE_PREFIX = 'ag-ui:';

interface OpenRun {
  runId: string;
  /** Opened by the renderer around an event that came outside any run. */
  synthetic: boolean;
}

function json(value: JsonValue | undefined): string {
  return typeof value === 'string' ? value : JSON.stringify(value ?? null);
}

/**
 * Renders one thread's events, in seq order, as an AG-UI event stream that a strict AG-UI
 * client accepts: every event inside a run (`RUN_STARTED` .. `RUN_FINISHED`/`RUN_ERROR`),
 * text messages opened before their content and closed once, tool calls whole. The mapping:
 *
 * | thread event                                   | AG-UI events                                                  |
 * | ---------------------------------------------- | ------------------------------------------------------------- |
 * | `agent_started { runId? }`                     | `RUN_STARTED` (a run still open is finished first)            |
 * | `agent_thinking { thought }`                   | `REASONING_START`, `REASONING_MESSAGE_START/CONTENT/END`, `REASONING_END` |
 * | `assistant_message { delta, final: false }`    | `TEXT_MESSAGE_START` (first chunk), `TEXT_MESSAGE_CONTENT`    |
 * | `assistant_message { text, final: true }`      | `TEXT_MESSAGE_END` (or a whole message if none was open)      |
 * | `tool_executing { tool, args, toolCallId? }`   | `TOOL_CALL_START`, `TOOL_CALL_ARGS` (JSON), `TOOL_CALL_END`   |
 * | `tool_completed { tool, result, toolCallId? }` | `TOOL_CALL_RESULT` (content: the result as JSON text)        |
 * | `agent_completed { status? }`                  | open message closed, then `RUN_FINISHED`; status `error`/`failed`: `RUN_ERROR` |
 * | `agent_error { message? }`                     | `RUN_ERROR`                                                   |
 * | `user_message { text }`                        | a `user` text message: `TEXT_MESSAGE_START/CONTENT/END`       |
 * | `ag-ui:<TYPE> { ...fields }`                   | that AG-UI event, as the producer wrote it                    |
 * | anything else                                  | `CUSTOM { name: type, value: payload }`                       |
 *
 * An event that comes while no run is open (a user message between runs, a custom event)
 * is wrapped in a run of its own, `RUN_STARTED`/`RUN_FINISHED` with run id
 * `thread-event-<epoch>-<seq>`. Ids are derived from the thread, the log's epoch and seqs, never random, so a
 * stream resumed at any seq names everything as an unbroken one would.
 *
 * Resume: feed the events before the resume point to `render` (discarding the output),
 * then send `prelude()`: it reopens what a client starting there needs (the open run, the
 * open text message, tool calls still awaiting their result).
 *
 * Reset (the stream starts again on a new log, or past a gap): `reset(notice)` ends the run
 * the client has open, with `RUN_ERROR { code: 'thread_reset' }` after the open text
 * message is ended, then sends `CUSTOM { name: 'thread.reset', value: notice }` in a run of
 * its own (run id `thread-reset-<epoch>-<firstSeq or 0>`); what follows starts afresh.
 */
export class AgUiRenderer {
  private run: OpenRun | null = null;
  private textMessage: { messageId: string; role: string } | null = null;
  private readonly pendingTools = new PendingToolCalls();

  constructor(private readonly threadId: string) {}

  render(event: ThreadEvent): AgUiEvent[] {
    const native = nativeObject(event, AG_UI_NATIVE_PREFIX);
    if (native) {
      this.track(native);
      return [native];
    }
    const out: AgUiEvent[] = [];
    if (event.type === 'agent_started') {
      out.push(...this.finishRun());
      const runId = startedRunId(event);
      out.push(this.startRun(runId, false));
      return out;
    }
    const synthetic = this.run === null;
    if (synthetic) out.push(this.startRun(`thread-event-${event.epoch}-${event.seq}`, true));
    out.push(...this.renderInRun(event));
    if (synthetic && this.run?.synthetic) out.push(...this.finishRun());
    return out;
  }

  /**
   * The stream starts again (a new log, or past events it can no longer send): what the
   * client has open is closed, the notice follows, and rendering starts afresh.
   *
   * The open run ends with `RUN_ERROR`, not `RUN_FINISHED`. Neither of RUN_FINISHED's
   * meanings is known here: without an outcome it says the run completed, and
   * `outcome: cancelled` that whoever ran it stopped it; the stream only knows that the
   * rest of the run will not reach this client. `RUN_ERROR` ("ends a run that failed")
   * says the run ended without completing, and its `code` tells this apart from an agent's
   * failure. It is also the one end @ag-ui/client's verifyEvents takes whatever is still
   * open (a tool call, step or reasoning a producer opened with native `ag-ui:` events,
   * which this renderer does not all follow), where RUN_FINISHED is refused while anything
   * is; and after it, as after RUN_FINISHED, the verifier takes a new RUN_STARTED. The text
   * message known to be open is ended first, as for `agent_error`, so the client keeps what
   * it got of it as a finished message. After RUN_ERROR only RUN_STARTED may come, so the
   * `CUSTOM` notice goes in a run of its own, as any event outside a run does.
   */
  reset(notice: StreamResetNotice): AgUiEvent[] {
    const out: AgUiEvent[] = [];
    if (this.run) {
      out.push(...this.closeText(), {
        type: 'RUN_ERROR',
        message: `The thread's stream starts again (${notice.reason}): the rest of this run is not available.`,
        code: 'thread_reset',
      });
    }
    this.run = null;
    this.textMessage = null;
    this.pendingTools.clear();
    const runId = resetId(notice);
    out.push(
      { type: 'RUN_STARTED', threadId: this.threadId, runId },
      { type: 'CUSTOM', name: THREAD_RESET, value: resetFields(notice) },
      { type: 'RUN_FINISHED', threadId: this.threadId, runId },
    );
    return out;
  }

  /** What a client that starts reading after the events rendered so far needs first. */
  prelude(): AgUiEvent[] {
    if (!this.run) return [];
    const out: AgUiEvent[] = [
      { type: 'RUN_STARTED', threadId: this.threadId, runId: this.run.runId },
    ];
    for (const call of this.pendingTools) out.push(...toolCall(call));
    if (this.textMessage) out.push({ type: 'TEXT_MESSAGE_START', ...this.textMessage });
    return out;
  }

  private renderInRun(event: ThreadEvent): AgUiEvent[] {
    const payload = asPayload(event.payload);
    const id = renderedId(this.threadId, event);
    switch (event.type) {
      case 'agent_thinking':
        return reasoning(id, text(payload.thought) ?? text(payload.text) ?? json(event.payload));
      case 'assistant_message':
        return payload.final === true
          ? this.endText(id, text(payload.text))
          : this.appendText(id, 'assistant', text(payload.delta) ?? '');
      case 'user_message':
        return [
          ...this.closeText(),
          { type: 'TEXT_MESSAGE_START', messageId: id, role: 'user' },
          ...(text(payload.text)
            ? [{ type: 'TEXT_MESSAGE_CONTENT', messageId: id, delta: text(payload.text) }]
            : []),
          { type: 'TEXT_MESSAGE_END', messageId: id },
        ];
      case 'tool_executing': {
        const call = this.pendingTools.open(payload, `${id}:tool`);
        return [...this.closeText(), ...toolCall(call)];
      }
      case 'tool_completed': {
        const call = this.pendingTools.take(payload);
        return [
          {
            type: 'TOOL_CALL_RESULT',
            messageId: `${id}:result`,
            toolCallId: text(payload.toolCallId) ?? call?.toolCallId ?? `${id}:tool`,
            content: json(payload.result),
            role: 'tool',
          },
        ];
      }
      case 'agent_completed': {
        const status = text(payload.status);
        if (status === 'error' || status === 'failed') {
          return [...this.closeText(), ...this.errorRun(text(payload.error) ?? `run ${status}`)];
        }
        return this.finishRun();
      }
      case 'agent_error':
        return [...this.closeText(), ...this.errorRun(text(payload.message) ?? 'run failed')];
      default:
        return [{ type: 'CUSTOM', name: event.type, value: event.payload }];
    }
  }

  private startRun(runId: string, synthetic: boolean): AgUiEvent {
    this.run = { runId, synthetic };
    return { type: 'RUN_STARTED', threadId: this.threadId, runId };
  }

  /** Closes the open message and finishes the open run, if any. */
  private finishRun(): AgUiEvent[] {
    if (!this.run) return [];
    const out = [
      ...this.closeText(),
      { type: 'RUN_FINISHED', threadId: this.threadId, runId: this.run.runId },
    ];
    this.run = null;
    this.pendingTools.clear();
    return out;
  }

  private errorRun(message: string): AgUiEvent[] {
    this.run = null;
    this.pendingTools.clear();
    return [{ type: 'RUN_ERROR', message }];
  }

  private appendText(id: string, role: string, delta: string): AgUiEvent[] {
    const out: AgUiEvent[] = [];
    if (!this.textMessage) {
      this.textMessage = { messageId: id, role };
      out.push({ type: 'TEXT_MESSAGE_START', messageId: id, role });
    }
    if (delta)
      out.push({ type: 'TEXT_MESSAGE_CONTENT', messageId: this.textMessage.messageId, delta });
    return out;
  }

  private endText(id: string, whole: string | undefined): AgUiEvent[] {
    if (this.textMessage) return this.closeText();
    return [...this.appendText(id, 'assistant', whole ?? ''), ...this.closeText()];
  }

  private closeText(): AgUiEvent[] {
    if (!this.textMessage) return [];
    const { messageId } = this.textMessage;
    this.textMessage = null;
    return [{ type: 'TEXT_MESSAGE_END', messageId }];
  }

  /** Follows a producer's own AG-UI events, so a prelude after them is right too. */
  private track(event: AgUiEvent): void {
    const field = (name: string) => (typeof event[name] === 'string' ? event[name] : '');
    switch (event.type) {
      case 'RUN_STARTED':
        this.run = { runId: field('runId'), synthetic: false };
        break;
      case 'RUN_FINISHED':
      case 'RUN_ERROR':
        this.run = null;
        this.textMessage = null;
        this.pendingTools.clear();
        break;
      case 'TEXT_MESSAGE_START':
        this.textMessage = { messageId: field('messageId'), role: field('role') || 'assistant' };
        break;
      case 'TEXT_MESSAGE_END':
        this.textMessage = null;
        break;
      default:
    }
  }
}

function toolCall(call: PendingToolCall): AgUiEvent[] {
  return [
    { type: 'TOOL_CALL_START', toolCallId: call.toolCallId, toolCallName: call.name },
    { type: 'TOOL_CALL_ARGS', toolCallId: call.toolCallId, delta: json(call.input) },
    { type: 'TOOL_CALL_END', toolCallId: call.toolCallId },
  ];
}

/** A thought as one whole reasoning message, opened and closed around its content. */
function reasoning(messageId: string, delta: string): AgUiEvent[] {
  return [
    { type: 'REASONING_START', messageId },
    { type: 'REASONING_MESSAGE_START', messageId, role: 'reasoning' },
    ...(delta ? [{ type: 'REASONING_MESSAGE_CONTENT', messageId, delta }] : []),
    { type: 'REASONING_MESSAGE_END', messageId },
    { type: 'REASONING_END', messageId },
  ];
}

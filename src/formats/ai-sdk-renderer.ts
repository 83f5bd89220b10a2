import type { ThreadEvent } from '../protocol.js';
import { asPayload, text } from './payload-fields.js';
import { renderedId, startedRunId } from './event-ids.js';
import { PendingToolCalls, type PendingToolCall } from './pending-tool-calls.js';
import { resetFields, resetId, type StreamResetNotice } from './reset-notice.js';
import { nativeObject, type WireObject } from './wire-object.js';

/** A chunk of the AI SDK UI message stream (ai-sdk.dev, stream protocol), as sent on the wire. */
export type AiSdkChunk = WireObject;

/** A producer's event of type `ai-sdk:<chunk type>` is a UI message stream chunk already. */
export const AI_SDK_NATIVE_PREFIX = 'ai-sdk:';

/**
 * Renders one thread's events, in seq order, as the AI SDK's UI message stream: each agent
 * run is one assistant message (`start` .. `finish`, message id = the run id). The mapping:
 *
 * | thread event                                   | UI message stream chunks                                        |
 * | ---------------------------------------------- | --------------------------------------------------------------- |
 * | `agent_started { runId? }`                     | `start { messageId }` (an open message is finished first)       |
 * | `agent_thinking { thought }`                   | `reasoning-start`, `reasoning-delta`, `reasoning-end`           |
 * | `assistant_message { delta, final: false }`    | `text-start` (first chunk), `text-delta`                        |
 * | `assistant_message { text, final: true }`      | `text-end` (or a whole text part if none was open)              |
 * | `tool_executing { tool, args, toolCallId? }`   | `tool-input-start`, `tool-input-delta` (JSON), `tool-input-available` |
 * | `tool_completed { tool, result, toolCallId? }` | `tool-output-available`                                         |
 * | `agent_completed { status? }`                  | `text-end` if open, `finish`; status `error`/`failed`: `error` first |
 * | `agent_error { message? }`                     | `error`, `finish`                                               |
 * | `ai-sdk:<type> { ...fields }`                  | that chunk, as the producer wrote it                            |
 * | anything else (`user_message` too)             | `data-<type> { data: payload }`                                 |
 *
 * An event outside any run is wrapped in a message of its own (`start`/`finish`, message id
 * `thread-event-<epoch>-<seq>`). Ids come from the thread, the log's epoch and seqs, so a resumed stream names
 * everything as an unbroken one. Resume follows the AI SDK's own model (a resumed response
 * is replayed from its start, and the client rebuilds the message): render the events
 * before the resume point (discarding the output), then send `prelude()`, every chunk of
 * the message still open, so the client's reader rebuilds it whole before what follows. A
 * text part cannot be continued otherwise: `text-start` always opens a new part.
 *
 * Reset (the stream starts again on a new log, or past a gap): `reset(notice)` ends the
 * open message (`text-end`/`reasoning-end` for open parts, `finish { finishReason: 'other' }`),
 * then sends `data-thread-reset { data: notice }` in a message of its own (message id
 * `thread-reset-<epoch>-<firstSeq or 0>`); what follows starts a fresh message.
 */
export class AiSdkRenderer {
  private message: { messageId: string; synthetic: boolean } | null = null;
  private textPart: string | null = null;
  /** Reasoning parts a producer's own chunks left open (the renderer's own close at once). */
  private readonly reasoningParts = new Set<string>();
  private readonly pendingTools = new PendingToolCalls();
  /** The chunks of the open message so far: what a resumed client is sent first. */
  private current: AiSdkChunk[] = [];

  constructor(private readonly threadId: string) {}

  render(event: ThreadEvent): AiSdkChunk[] {
    return this.record(this.renderEvent(event));
  }

  /**
   * The stream starts again (a new log, or past events it can no longer send): the open
   * message is ended, the notice follows, and what comes next starts a fresh message.
   *
   * The open message ends with its open parts ended and `finish`, with `finishReason:
   * 'other'` (it did not stop as a run's end would), not with `error`: an `error` chunk
   * fails the reading itself (readUIMessageStream with `terminateOnError`, and useChat,
   * which throws it and stops reading), while this stream goes on. The notice is a
   * `data-thread-reset` part in a message of its own, as every event outside a run is: not
   * `transient`, because a transient data chunk reaches only useChat's `onData` and never
   * the messages readUIMessageStream builds, and outside any message it would be added to
   * the one before.
   */
  reset(notice: StreamResetNotice): AiSdkChunk[] {
    const out: AiSdkChunk[] = [];
    if (this.message) {
      out.push(...this.closeText());
      for (const id of this.reasoningParts) out.push({ type: 'reasoning-end', id });
      out.push({ type: 'finish', finishReason: 'other' });
    }
    this.message = null;
    this.textPart = null;
    this.reasoningParts.clear();
    this.pendingTools.clear();
    out.push(
      { type: 'start', messageId: resetId(notice) },
      { type: 'data-thread-reset', data: resetFields(notice) },
      { type: 'finish' },
    );
    return this.record(out);
  }

  prelude(): AiSdkChunk[] {
    return this.message ? [...this.current] : [];
  }

  /** Keeps the chunks of the open message, for the prelude. */
  private record(out: AiSdkChunk[]): AiSdkChunk[] {
    for (const chunk of out) {
      if (chunk.type === 'start') this.current = [];
      this.current.push(chunk);
      if (chunk.type === 'finish' || chunk.type === 'abort') this.current = [];
    }
    return out;
  }

  private renderEvent(event: ThreadEvent): AiSdkChunk[] {
    const native = nativeObject(event, AI_SDK_NATIVE_PREFIX);
    if (native) {
      this.track(native);
      return [native];
    }
    if (event.type === 'agent_started') {
      const runId = startedRunId(event);
      return [...this.finish(), ...this.start(runId, false)];
    }
    const synthetic = this.message === null;
    const out = synthetic ? this.start(`thread-event-${event.epoch}-${event.seq}`, true) : [];
    out.push(...this.renderInMessage(event));
    if (synthetic && this.message?.synthetic) out.push(...this.finish());
    return out;
  }

  private renderInMessage(event: ThreadEvent): AiSdkChunk[] {
    const payload = asPayload(event.payload);
    const id = renderedId(this.threadId, event);
    switch (event.type) {
      case 'agent_thinking': {
        const delta = text(payload.thought) ?? text(payload.text) ?? JSON.stringify(event.payload);
        return [
          { type: 'reasoning-start', id },
          { type: 'reasoning-delta', id, delta },
          { type: 'reasoning-end', id },
        ];
      }
      case 'assistant_message':
        if (payload.final === true) {
          if (this.textPart) return this.closeText();
          return [...this.appendText(id, text(payload.text) ?? ''), ...this.closeText()];
        }
        return this.appendText(id, text(payload.delta) ?? '');
      case 'tool_executing': {
        const call = this.pendingTools.open(payload, `${id}:tool`);
        return [...this.closeText(), ...toolInput(call)];
      }
      case 'tool_completed': {
        const call = this.pendingTools.take(payload);
        if (!call) {
          // A result with no call this stream has seen: the AI SDK would refuse an orphan output.
          return [{ type: 'data-tool_completed', data: event.payload }];
        }
        return [
          {
            type: 'tool-output-available',
            toolCallId: call.toolCallId,
            output: payload.result ?? null,
          },
        ];
      }
      case 'agent_completed': {
        const status = text(payload.status);
        const failed = status === 'error' || status === 'failed';
        const error = failed
          ? [{ type: 'error', errorText: text(payload.error) ?? `run ${status}` }]
          : [];
        return [...this.closeText(), ...error, ...this.finish()];
      }
      case 'agent_error':
        return [
          ...this.closeText(),
          { type: 'error', errorText: text(payload.message) ?? 'run failed' },
          ...this.finish(),
        ];
      default:
        return [{ type: `data-${event.type}`, data: event.payload }];
    }
  }

  private start(messageId: string, synthetic: boolean): AiSdkChunk[] {
    this.message = { messageId, synthetic };
    // No `start-step`/`finish-step`: a client keeps only what its reader last emitted, and a
    // reader emits nothing for a step boundary, so a resumed message would differ by one.
    return [{ type: 'start', messageId }];
  }

  private finish(): AiSdkChunk[] {
    if (!this.message) return [];
    const out = [...this.closeText(), { type: 'finish' }];
    this.message = null;
    this.pendingTools.clear();
    return out;
  }

  private appendText(id: string, delta: string): AiSdkChunk[] {
    const out: AiSdkChunk[] = [];
    if (!this.textPart) {
      this.textPart = id;
      out.push({ type: 'text-start', id });
    }
    if (delta) out.push({ type: 'text-delta', id: this.textPart, delta });
    return out;
  }

  private closeText(): AiSdkChunk[] {
    if (!this.textPart) return [];
    const id = this.textPart;
    this.textPart = null;
    return [{ type: 'text-end', id }];
  }

  /** Follows a producer's own chunks, so a prelude after them is right too. */
  private track(chunk: AiSdkChunk): void {
    const field = (name: string) => (typeof chunk[name] === 'string' ? chunk[name] : '');
    if (chunk.type === 'start') this.message = { messageId: field('messageId'), synthetic: false };
    else if (chunk.type === 'finish' || chunk.type === 'abort') {
      this.message = null;
      this.textPart = null;
      this.reasoningParts.clear();
      this.pendingTools.clear();
    } else if (chunk.type === 'finish-step') {
      // The AI SDK's reader forgets the step's open parts: an end for one would be refused.
      this.textPart = null;
      this.reasoningParts.clear();
    } else if (chunk.type === 'text-start') this.textPart = field('id');
    else if (chunk.type === 'text-end') this.textPart = null;
    else if (chunk.type === 'reasoning-start') this.reasoningParts.add(field('id'));
    else if (chunk.type === 'reasoning-end') this.reasoningParts.delete(field('id'));
  }
}

function toolInput(call: PendingToolCall): AiSdkChunk[] {
  return [
    { type: 'tool-input-start', toolCallId: call.toolCallId, toolName: call.name },
    {
      type: 'tool-input-delta',
      toolCallId: call.toolCallId,
      inputTextDelta: JSON.stringify(call.input),
    },
    {
      type: 'tool-input-available',
      toolCallId: call.toolCallId,
      toolName: call.name,
      input: call.input,
    },
  ];
}
